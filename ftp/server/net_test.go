package server_test

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/netxsim/netxsim"
	"github.com/netxsim/netxsim/ftp/server"
	"github.com/netxsim/netxsim/netxsimtest"
	"github.com/netxsim/netxsim/stack"
)

var (
	devV4, hostV4 = netxsim.DeviceIPv4, netxsim.HostIPv4
	devV6, hostV6 = netxsim.DeviceIPv6, netxsim.HostIPv6
)

// Compile-time proof that both IP flavours satisfy the server's Network.
var (
	_ server.Network = (*stack.IP)(nil)
	_ server.Network = stack.Kernel{}
)

// memPair returns a device and a host IP instance joined by an in-memory Ethernet link, closed at cleanup.
func memPair(t testing.TB) (dev, host *stack.IP) {
	t.Helper()
	env := netxsimtest.New(t, netxsimtest.NoCapture())
	return env.Device.IP(), env.Host.IP()
}

// startMem serves srv on a device IP instance; the test client is a second instance on the same link.
func startMem(t testing.TB, srv *server.Server, fam family) *env {
	t.Helper()
	dev, host := memPair(t)
	devAddr, hostAddr := devV4.Addr(), hostV4.Addr()
	if fam == v6 {
		devAddr, hostAddr = devV6.Addr(), hostV6.Addr()
	}
	srv.Network = dev
	ln, err := dev.Listen(context.Background(), netip.AddrPortFrom(devAddr, 21))
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, srv, ln, &env{
		dial: func(ctx context.Context, remote netip.AddrPort) (net.Conn, error) {
			return host.Dial(ctx, netip.AddrPort{}, remote)
		},
		listen: func(ctx context.Context) (net.Listener, netip.AddrPort, error) {
			l, err := host.Listen(ctx, netip.AddrPortFrom(hostAddr, 0))
			if err != nil {
				return nil, netip.AddrPort{}, err
			}
			ap, err := netip.ParseAddrPort(l.Addr().String())
			return l, ap, err
		},
		client: hostAddr,
		net:    host,
	})
}

// startNet serves srv on the network most tests use: in-memory IP instances.
func startNet(t testing.TB, srv *server.Server, fam family) *env {
	return startMem(t, srv, fam)
}

// networks are both ways to run a server in tests.
var networks = []struct {
	name  string
	start func(testing.TB, *server.Server, family) *env
}{{"mem", startMem}, {"kernel", startKernel}}
