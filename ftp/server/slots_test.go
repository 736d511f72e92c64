package server_test

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/stack"
)

// TestNetXSlotsHoldSYN: a NetX-like device has 4 session slots shared by its IPv4 and IPv6
// listeners. A 5th connection is not answered at all while they are taken (its SYN is held, no
// SYN-ACK: the client's connect has not returned), as NetX queues the SYN without a listening
// socket; when one of the 4 quits, the held SYN is answered and the 5th gets its 220.
func TestNetXSlotsHoldSYN(t *testing.T) {
	for _, prof := range []ftp.Profile{ftp.ProfileNetXDuo64, ftp.ProfileNetXDuo} {
		t.Run(string(prof), func(t *testing.T) {
			fsys, _ := newHostFS(t)
			srv := baseServer(fsys, prof)
			dev, host := memPair(t)
			srv.Network = dev
			ctx := context.Background()
			ln4, err := dev.Listen(ctx, netip.AddrPortFrom(devV4.Addr(), 21))
			if err != nil {
				t.Fatal(err)
			}
			ln6, err := dev.Listen(ctx, netip.AddrPortFrom(devV6.Addr(), 21))
			if err != nil {
				t.Fatal(err)
			}
			e4 := serve(t, srv, ln4, &env{dial: func(ctx context.Context, r netip.AddrPort) (net.Conn, error) {
				return host.Dial(ctx, netip.AddrPort{}, r)
			}})
			e6 := *e4
			e6.ctrl = netip.AddrPortFrom(devV6.Addr(), 21)
			go srv.Serve(ln6) // stopped by serve's cleanup (Close)
			var open []*ctrl
			for i, e := range []*env{e4, e4, e4, &e6} {
				c := e.connect(t)
				c.expect(220, "Connection Ready ")
				if i == 0 {
					c.login("u", "p")
				}
				open = append(open, c)
			}
			type dialed struct {
				c   net.Conn
				err error
			}
			fifth := make(chan dialed, 1)
			dctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			go func() {
				c, err := host.Dial(dctx, netip.AddrPort{}, e6.ctrl)
				fifth <- dialed{c, err}
			}()
			held := ln6.(*stack.Listener)
			for i := 0; i < 2000 && held.Held() == 0; i++ {
				time.Sleep(5 * time.Millisecond)
			}
			if held.Held() != 1 {
				t.Fatalf("the device holds %d connection requests, want the 5th's", held.Held())
			}
			select {
			case d := <-fifth:
				t.Fatalf("the 5th connection was answered while 4 sessions are open (%v)", d.err)
			default:
			}
			open[0].do("QUIT", 221, "Logging Off ")
			d := <-fifth
			if d.err != nil {
				t.Fatalf("5th connection after a slot freed: %v", d.err)
			}
			defer d.c.Close()
			c := &ctrl{t: t, e: &e6, c: d.c, lr: ftp.NewLineReader(d.c, 1<<16)}
			c.expect(220, "Connection Ready ")
			c.login("u", "p")
			if n := held.Held(); n != 0 {
				t.Errorf("%d requests still held", n)
			}
		})
	}
}
