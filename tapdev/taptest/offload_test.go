//go:build linux

package taptest

import (
	"context"
	"net"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/netxsim/netxsim/internal/tsharktest"
)

// With virtio-net headers the device and the kernel exchange TCP super-segments both ways, and
// the capture still holds what a 1,500-byte wire carries: no frame above 1,514 bytes, every
// checksum right (tshark checks them). Without offloads the same transfers work frame by frame.
func TestOffloadedTransfers(t *testing.T) {
	for _, off := range []bool{true, false} {
		name := "offload"
		if !off {
			name = "no-offload"
		}
		t.Run(name, func(t *testing.T) {
			pcap := filepath.Join(t.TempDir(), "tap.pcapng")
			const n = 8 << 20
			t.Run("transfers", func(t *testing.T) {
				env := New(t, Options{Pcap: pcap, NoOffload: !off})
				if got := env.tap.Endpoint().Offloads(); got != off {
					t.Fatalf("Offloads() = %v, want %v", got, off)
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				k := env.KernelDialer()
				for _, p := range []struct{ host, dev netip.Addr }{{env.HostV4, env.DevV4}, {env.HostV6, env.DevV6}} {
					hln, err := k.Listen(ctx, netip.AddrPortFrom(p.host, 0))
					if err != nil {
						t.Fatal(err)
					}
					defer hln.Close()
					hport := uint16(hln.Addr().(*net.TCPAddr).Port)
					before := env.Device.Stats().FramesOut
					if _, err := xfer(ctx, hln, func(ctx context.Context) (net.Conn, error) {
						return env.Device.Dial(ctx, netip.AddrPort{}, netip.AddrPortFrom(p.host, hport))
					}, n); err != nil {
						t.Fatalf("device -> %s: %v", p.host, err)
					}
					sent := env.Device.Stats().FramesOut - before
					if off && sent*4 > n/1448 {
						t.Errorf("device sent %d MiB in %d packets: no segmentation offload", n>>20, sent)
					}
					dln, err := env.Device.Listen(ctx, netip.AddrPortFrom(p.dev, 0))
					if err != nil {
						t.Fatal(err)
					}
					defer dln.Close()
					dport := uint16(dln.Addr().(*net.TCPAddr).Port)
					before = env.Device.Stats().FramesIn
					if _, err := xfer(ctx, dln, func(ctx context.Context) (net.Conn, error) {
						return k.Dial(ctx, netip.AddrPort{}, netip.AddrPortFrom(p.dev, dport))
					}, n); err != nil {
						t.Fatalf("%s -> device: %v", p.host, err)
					}
					got := env.Device.Stats().FramesIn - before
					if off && got*4 > n/1448 {
						t.Errorf("device received %d MiB in %d packets: the kernel did not send super-segments", n>>20, got)
					}
				}
			})
			if t.Failed() {
				return
			}
			frames, _ := tsharktest.CheckWire(t, pcap)
			if frames < 4*n/1448 {
				t.Errorf("capture holds %d frames for 4 transfers of %d bytes", frames, n)
			}
		})
	}
}
