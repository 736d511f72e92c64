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
