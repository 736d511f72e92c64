package client

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/netxsim/netxsim/stack"
)

// TestPyftpdlibLoopback runs every service against pyftpdlib on the loopback addresses, over the
// host kernel: both profiles, active and passive, IPv4 and IPv6.
func TestPyftpdlibLoopback(t *testing.T) {
	for _, host := range []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")} {
		root := t.TempDir()
		strict := startPyftpd(t, host, root, false, nil)
		lenient := startPyftpd(t, host, root, true, nil)
		for i, v := range variants() {
			t.Run(host.String()+"/"+v.name, func(t *testing.T) {
				srv := strict
				if host.Is6() && v.netxActive() {
					t.Log("pyftpdlib compares EPRT addresses as strings: NetX's full-form address is tested with permit_foreign_addresses on")
					srv = lenient
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				c, err := Dial(ctx, stack.Kernel{}, srv, v.opts...)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if err := c.Login(ctx, "user", "secret"); err != nil {
					t.Fatal(err)
				}
				exercise(t, ctx, c, fmt.Sprintf("d%d", i), true)
				if err := c.Quit(ctx); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}
