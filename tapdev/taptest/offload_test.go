//go:build linux

package taptest

import (
	"context"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
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
			if _, err := exec.LookPath("tshark"); err != nil {
				t.Skip("needs tshark (Debian package tshark) to read the capture")
			}
			out, err := exec.Command("tshark", "-r", pcap, "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
				"-T", "fields", "-e", "frame.len", "-e", "ip.checksum.status", "-e", "tcp.checksum.status",
				// what names a bad frame in the failure message
				"-e", "frame.number", "-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "tcp.flags.str", "-e", "tcp.len").Output()
			if err != nil {
				t.Fatalf("tshark: %v", err)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			for _, line := range lines {
				f := strings.Split(line, "\t")
				if l, _ := strconv.Atoi(f[0]); l > 1514 {
					t.Fatalf("captured a %d-byte frame: %q", l, line)
				}
				for _, st := range f[1:min(3, len(f))] {
					if st == "0" {
						t.Fatalf("tshark finds a bad checksum (len, ip, tcp status; frame, source, ports, flags, payload): %q", line)
					}
				}
			}
			if len(lines) < 4*n/1448 {
				t.Errorf("capture holds %d frames for 4 transfers of %d bytes", len(lines), n)
			}
		})
	}
}
