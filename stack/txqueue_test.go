package stack_test

import (
	"context"
	"io"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netxsim/netxsim/internal/testio"
	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/stack/link"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/link/nested"
	gstack "gvisor.dev/gvisor/pkg/tcpip/stack"
)

// TestTxQueue: with transmit queues a transfer arrives whole both ways, also through a queue so short
// (4 packets) that it overflows and TCP must recover; a reply and FIN still waiting in the queue of
// a device whose link is slow reach the peer when the device closes at once (Close lets the queue
// write what the stack sent); the queues' goroutines end (TestMain runs goleak).
func TestTxQueue(t *testing.T) {
	p, err := link.NewPair(link.PairConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	dc, hc := devConfig(), hostConfig()
	dc.SkipDAD, hc.SkipDAD = true, true
	dc.TxQueue, hc.TxQueue = stack.DefaultTxQueue, 4
	slow := &slowLink{}
	slow.Init(p.A(), slow)
	dev, err := stack.New(context.Background(), dc, slow)
	if err != nil {
		t.Fatal(err)
	}
	host, err := stack.New(context.Background(), hc, p.B())
	if err != nil {
		dev.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { host.Close() })
	ctx := timeout(t, 60*time.Second)
	testio.Transfer(t, ctx, dev, host, devV4, 8<<20)
	testio.Transfer(t, ctx, host, dev, hostV6, 8<<20)

	ln := listen(t, ctx, host, netip.AddrPortFrom(hostV4, 0))
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		b, err := io.ReadAll(c)
		if err != nil {
			got <- err.Error()
			return
		}
		got <- string(b)
	}()
	slow.delay.Store(int64(50 * time.Millisecond)) // from now on packets wait in the device's queue
	c, err := dev.Dial(ctx, netip.AddrPort{}, netip.MustParseAddrPort(ln.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, "226 Transfer Completed\r\n"); err != nil {
		t.Fatal(err)
	}
	c.Close()
	dev.Close() // at once: the reply and the FIN are still in the queue or on their way to it
	if s := <-got; s != "226 Transfer Completed\r\n" {
		t.Fatalf("peer read %q after the sender closed its stack", s)
	}
}

// slowLink is a link whose writes take delay: a TAP whose kernel side is busy.
type slowLink struct {
	nested.Endpoint
	delay atomic.Int64
}

func (l *slowLink) WritePackets(pkts gstack.PacketBufferList) (int, tcpip.Error) {
	time.Sleep(time.Duration(l.delay.Load()))
	return l.Endpoint.WritePackets(pkts)
}
