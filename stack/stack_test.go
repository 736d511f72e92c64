package stack_test

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/netxsim/netxsim"
	"github.com/netxsim/netxsim/internal/testio"
	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/stack/capture"
	"github.com/netxsim/netxsim/stack/link"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var (
	devMAC  = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x02}
	hostMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	devV4   = netxsim.DeviceIPv4.Addr()
	hostV4  = netxsim.HostIPv4.Addr()
	devV6   = netxsim.DeviceIPv6.Addr()
	hostV6  = netxsim.HostIPv6.Addr()
)

func devConfig() stack.Config {
	return stack.Config{Name: "dev0", MAC: devMAC, IPv4: netxsim.DeviceIPv4, IPv6: true, IPv6Global: []netip.Prefix{netxsim.DeviceIPv6}}
}

func hostConfig() stack.Config {
	return stack.Config{Name: "host0", MAC: hostMAC, IPv4: netxsim.HostIPv4, IPv6: true, IPv6Global: []netip.Prefix{netxsim.HostIPv6}}
}

// newPair starts device and host instances on an in-memory pair, through the library; everything is
// closed at cleanup.
func newPair(t testing.TB, cfg link.PairConfig, skipDAD bool) (dev, host *stack.IP, p *link.Pair) {
	t.Helper()
	var n netxsim.Network
	t.Cleanup(func() { n.Close() })
	seg, err := n.Pair("link", cfg)
	if err != nil {
		t.Fatal(err)
	}
	dc, hc := devConfig(), hostConfig()
	dc.SkipDAD, hc.SkipDAD = skipDAD, skipDAD
	ds, err := n.AddDevices(context.Background(), seg, netxsim.DeviceConfig{Config: dc}, netxsim.DeviceConfig{Config: hc})
	if err != nil {
		t.Fatal(err)
	}
	return ds[0].IP(), ds[1].IP(), seg.Pair()
}

// startCaptured starts dc on p's end A and hc on end B, DAD skipped, the device's end seen through a
// capture into w (named as dc), the host's too when hostToo; both close at cleanup, the host first.
func startCaptured(t *testing.T, p *link.Pair, w *capture.Writer, hostToo bool, dc, hc stack.Config) (dev, host *stack.IP) {
	t.Helper()
	dc.SkipDAD, hc.SkipDAD = true, true
	cfgs, ends := []stack.Config{dc, hc}, []stack.LinkEndpoint{p.A(), p.B()}
	ips := make([]*stack.IP, 2)
	for i := range ips {
		if i == 0 || hostToo {
			ce, err := capture.New(ends[i], w, cfgs[i].Name)
			if err != nil {
				t.Fatal(err)
			}
			ends[i] = ce
		}
		ip, err := stack.New(context.Background(), cfgs[i], ends[i])
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ip.Close() })
		ips[i] = ip
	}
	return ips[0], ips[1]
}

func TestListenDialV4V6(t *testing.T) {
	dev, host, _ := newPair(t, link.PairConfig{}, false)
	ctx := timeout(t, 30*time.Second)
	for _, tc := range []struct {
		name string
		addr netip.Addr
	}{{"v4", devV4}, {"v6", devV6}, {"v6-linklocal", dev.LinkLocal()}, {"v6-linklocal-zone", dev.LinkLocal().WithZone("host0")}} {
		t.Run(tc.name+"/host-to-dev", func(t *testing.T) { testio.Transfer(t, ctx, dev, host, tc.addr, 1<<20) })
	}
	for _, a := range []netip.Addr{hostV4, hostV6} {
		t.Run(a.String()+"/dev-to-host", func(t *testing.T) { testio.Transfer(t, ctx, host, dev, a, 1<<20) })
	}
}

// timeout is a context for the whole test that ends after d, cancelled at cleanup.
func timeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// listen listens on ip at ap for the rest of the test: the listener closes at cleanup.
func listen(t testing.TB, ctx context.Context, ip interface {
	Listen(context.Context, netip.AddrPort) (net.Listener, error)
}, ap netip.AddrPort) net.Listener {
	t.Helper()
	ln, err := ip.Listen(ctx, ap)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// closeAll accepts on ln until it closes, closing every connection at once.
func closeAll(ln net.Listener) {
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}
