package client

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"
)

// kernel is the host's own TCP/IP stack as a Network.
type kernel struct{}

func (kernel) Listen(ctx context.Context, ap netip.AddrPort) (net.Listener, error) {
	var lc net.ListenConfig
	return lc.Listen(ctx, "tcp", ap.String())
}

func (kernel) Dial(ctx context.Context, local, remote netip.AddrPort) (net.Conn, error) {
	var d net.Dialer
	if local.IsValid() {
		d.LocalAddr = net.TCPAddrFromAddrPort(local)
	}
	return d.DialContext(ctx, "tcp", remote.String())
}

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
				c, err := Dial(ctx, kernel{}, srv, v.opts...)
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
