package stack_test

import (
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/stack/link"
)

// TestListenerHoldsSYN: with SetAdmit refusing, a connection request is held unanswered (the
// dialer's handshake does not complete, its retransmitted SYN is not held twice) and answered once
// Readmit finds the admit function willing; other ports and a nil admit are untouched.
func TestListenerHoldsSYN(t *testing.T) {
	dev, host, _ := newPair(t, link.PairConfig{}, true)
	ctx := timeout(t, 30*time.Second)
	ln := listen(t, ctx, dev, netip.AddrPortFrom(devV4, 21))
	other := listen(t, ctx, dev, netip.AddrPortFrom(devV4, 2121))
	l := ln.(*stack.Listener)
	var open atomic.Bool
	var asked atomic.Int32
	l.SetAdmit(func(remote netip.AddrPort) bool {
		asked.Add(1)
		if remote.Addr() != hostV4 {
			t.Errorf("admit asked for %s, want the dialer %s", remote, hostV4)
		}
		return open.Load()
	})
	go func() {
		for _, a := range []net.Listener{ln, other} {
			go func() {
				for {
					c, err := a.Accept()
					if err != nil {
						return
					}
					c.Write([]byte("hi"))
					c.Close()
				}
			}()
		}
	}()
	if c, err := host.Dial(ctx, netip.AddrPort{}, netip.AddrPortFrom(devV4, 2121)); err != nil {
		t.Fatalf("another port is held too: %v", err)
	} else {
		c.Close()
	}
	done := make(chan error, 1)
	go func() {
		c, err := host.Dial(ctx, netip.AddrPort{}, netip.AddrPortFrom(devV4, 21))
		if err == nil {
			b := make([]byte, 2)
			_, err = c.Read(b)
			c.Close()
		}
		done <- err
	}()
	for i := 0; i < 2000 && l.Held() == 0; i++ {
		time.Sleep(5 * time.Millisecond)
	}
	if l.Held() != 1 {
		t.Fatalf("held %d requests, want 1", l.Held())
	}
	select {
	case err := <-done:
		t.Fatalf("the held request was answered (%v)", err)
	default:
	}
	l.Readmit() // still refused: stays held
	if l.Held() != 1 {
		t.Fatalf("held %d after a refused Readmit, want 1", l.Held())
	}
	open.Store(true)
	l.Readmit()
	if err := <-done; err != nil {
		t.Fatalf("after Readmit: %v", err)
	}
	if l.Held() != 0 {
		t.Errorf("held %d after Readmit", l.Held())
	}
	if asked.Load() < 3 {
		t.Errorf("admit asked %d times, want at least 3 (the SYN, two Readmits)", asked.Load())
	}
	l.SetAdmit(nil)
	if c, err := host.Dial(ctx, netip.AddrPort{}, netip.AddrPortFrom(devV4, 21)); err != nil {
		t.Fatalf("with a nil admit: %v", err)
	} else {
		c.Close()
	}
}

// TestListenerHoldLimit: past the hold limit the oldest held request is dropped (NetX's listen
// queue); its sender's retransmitted SYN gets it answered later, so every dialer connects.
func TestListenerHoldLimit(t *testing.T) {
	dev, host, _ := newPair(t, link.PairConfig{}, true)
	ctx := timeout(t, 30*time.Second)
	ln := listen(t, ctx, dev, netip.AddrPortFrom(devV4, 21))
	l := ln.(*stack.Listener)
	var open atomic.Bool
	var asked atomic.Int32 // a new request (not a retransmission of a held one) asks
	l.SetHoldLimit(2)
	l.SetAdmit(func(netip.AddrPort) bool { asked.Add(1); return open.Load() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	done := make(chan error, 3)
	for range 3 {
		go func() {
			c, err := host.Dial(ctx, netip.AddrPort{}, netip.AddrPortFrom(devV4, 21))
			if err == nil {
				c.Close()
			}
			done <- err
		}()
	}
	for i := 0; i < 5000 && asked.Load() < 3; i++ {
		time.Sleep(time.Millisecond)
	}
	if n := l.Held(); n != 2 || asked.Load() < 3 {
		t.Fatalf("held %d of %d requests with a limit of 2", n, asked.Load())
	}
	open.Store(true)
	l.Readmit()
	for range 3 {
		if err := <-done; err != nil {
			t.Fatalf("a dialer did not connect: %v", err)
		}
	}
}
