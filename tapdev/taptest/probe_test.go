//go:build linux

package taptest

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"
)

func TestProbeGSO(t *testing.T) {
	env := New(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	k := env.KernelDialer()
	ln, err := k.Listen(ctx, netip.AddrPortFrom(env.HostV4, 5001))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	before := env.Device.Stats()
	d, err := xfer(ctx, ln, func(ctx context.Context) (net.Conn, error) {
		return env.Device.Dial(ctx, netip.AddrPort{}, netip.AddrPortFrom(env.HostV4, 5001))
	}, 32<<20)
	after := env.Device.Stats()
	t.Logf("d2h %v err %v frames out %d in %d", d, err, after.FramesOut-before.FramesOut, after.FramesIn-before.FramesIn)
	dln, _ := env.Device.Listen(ctx, netip.AddrPortFrom(env.DevV4, 5002))
	before = env.Device.Stats()
	d, err = xfer(ctx, dln, func(ctx context.Context) (net.Conn, error) {
		return k.Dial(ctx, netip.AddrPort{}, netip.AddrPortFrom(env.DevV4, 5002))
	}, 32<<20)
	after = env.Device.Stats()
	t.Logf("h2d %v err %v frames out %d in %d", d, err, after.FramesOut-before.FramesOut, after.FramesIn-before.FramesIn)
}
