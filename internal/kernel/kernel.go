// Package kernel is the one kernel dialer of the project: Listen and Dial over the host operating
// system's TCP/IP stack, with SO_REUSEADDR on a chosen local port (FTP's port 20 while earlier data
// connections sit in TIME-WAIT), refusing 192.0.2.0/24 before any socket exists (internal/addrguard).
// It imports nothing but the standard library and addrguard, so the FTP server can default to it
// without pulling in gVisor; stack.Kernel and tapdev.Kernel are built on it.
package kernel

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"github.com/netxsim/netxsim/internal/addrguard"
)

// Kernel offers Listen and Dial (ftp.Network) over the host's TCP/IP stack; the zero value is ready
// to use.
type Kernel struct{}

// Listen opens a kernel TCP listener; the zero or unspecified address listens on all addresses.
func (Kernel) Listen(ctx context.Context, addr netip.AddrPort) (net.Listener, error) {
	if err := addrguard.CheckAddr(addr.Addr()); err != nil {
		return nil, fmt.Errorf("kernel listen %s: %w", addr, err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, tcpNetwork(addr.Addr()), hostPort(addr))
	if err != nil {
		return nil, fmt.Errorf("kernel listen %s: %w", addr, err)
	}
	return ln, nil
}

// Dial opens a kernel TCP connection; local may be zero, a port alone, or a full address. A chosen local
// port is bound with SO_REUSEADDR (ports below 1024 need CAP_NET_BIND_SERVICE).
func (Kernel) Dial(ctx context.Context, local, remote netip.AddrPort) (net.Conn, error) {
	// The refused ranges are checked before any socket exists, so nothing is sent toward them.
	for _, a := range []netip.Addr{remote.Addr(), local.Addr()} {
		if err := addrguard.CheckAddr(a); err != nil {
			return nil, fmt.Errorf("kernel dial %s: %w", remote, err)
		}
	}
	var d net.Dialer
	if local.Addr().IsValid() || local.Port() != 0 {
		la := &net.TCPAddr{Port: int(local.Port())}
		if local.Addr().IsValid() {
			la.IP = local.Addr().AsSlice()
			la.Zone = local.Addr().Zone()
		}
		d.LocalAddr = la
		d.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			if err := c.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
			}); err != nil {
				return err
			}
			return serr
		}
	}
	c, err := d.DialContext(ctx, "tcp", remote.String())
	if err != nil {
		return nil, fmt.Errorf("kernel dial %s: %w", remote, err)
	}
	return c, nil
}

func hostPort(ap netip.AddrPort) string {
	if !ap.Addr().IsValid() {
		return fmt.Sprintf(":%d", ap.Port())
	}
	return ap.String()
}

// tcpNetwork keeps a listener on a v4 address from being dual-stack and vice versa.
func tcpNetwork(a netip.Addr) string {
	switch {
	case !a.IsValid() || a.IsUnspecified():
		return "tcp"
	case a.Is4() || a.Is4In6():
		return "tcp4"
	default:
		return "tcp6"
	}
}
