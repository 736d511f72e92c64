package ftp

import (
	"context"
	"net"
	"net/netip"
)

// Network is the one Listen/Dial interface of the project: what the FTP server and client need from
// an IP stack (control and data connections, active mode dialing from a chosen local port). The
// simulated device's IP instance (*stack.IP), the kernel (stack.Kernel, tapdev.Kernel) and a
// netxsim.Device satisfy it; ftp/server and ftp/client name it as their Network.
type Network interface {
	// Listen opens a TCP listener; an unspecified address listens on every address.
	Listen(ctx context.Context, addr netip.AddrPort) (net.Listener, error)
	// Dial opens a TCP connection; local may be zero, a port alone (FTP's port 20) or a full address.
	Dial(ctx context.Context, local, remote netip.AddrPort) (net.Conn, error)
}

// AddrPortOf converts a connection's or a listener's address from any Network (the kernel's
// *net.TCPAddr, gVisor's gonet, a wrapper's own net.Addr) to netip form, IPv4-mapped addresses
// unmapped and zones kept; nil or an address that does not parse gives the zero AddrPort.
func AddrPortOf(a net.Addr) netip.AddrPort {
	var ap netip.AddrPort
	switch v := a.(type) {
	case nil:
		return netip.AddrPort{}
	case *net.TCPAddr:
		ap = v.AddrPort()
	default:
		var err error
		if ap, err = netip.ParseAddrPort(a.String()); err != nil {
			return netip.AddrPort{}
		}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
