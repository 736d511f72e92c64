package stack_test

import (
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/netxsim/netxsim/stack"
)

func TestKernelLoopback(t *testing.T) {
	ctx := timeout(t, 10*time.Second)
	var k stack.Kernel
	for _, lo := range []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")} {
		ln, err := k.Listen(ctx, netip.AddrPortFrom(lo, 0))
		if err != nil {
			t.Skipf("loopback %s unavailable: %v", lo, err)
		}
		go func() {
			c, err := ln.Accept()
			if err == nil {
				c.Write([]byte("hi"))
				c.Close()
			}
		}()
		rp := netip.AddrPortFrom(lo, uint16(ln.Addr().(*net.TCPAddr).Port))
		c, err := k.Dial(ctx, netip.AddrPortFrom(lo, 0), rp) // a local address with an ephemeral port
		if err != nil {
			t.Fatal(err)
		}
		if b, err := io.ReadAll(c); err != nil || string(b) != "hi" {
			t.Errorf("read %q, %v", b, err)
		}
		if la := c.LocalAddr().(*net.TCPAddr); la.IP.String() != lo.String() {
			t.Errorf("local address %s, want %s", la, lo)
		}
		c.Close()
		ln.Close()
	}
	if _, err := k.Dial(ctx, netip.AddrPort{}, netip.MustParseAddrPort("127.0.0.1:1")); err == nil {
		t.Error("dial to a closed port succeeded")
	}
}
