//go:build linux

package taptest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"go.uber.org/goleak"

	"github.com/netxsim/netxsim/internal/testio"
	"github.com/netxsim/netxsim/internal/tsharktest"
	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/stack/link"
	"github.com/netxsim/netxsim/tapdev"
)

const helperEnv = "NETXSIM_TAPTEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		// Child run of TestCleanupAfterFailure: no leak check, the test
		// fails on purpose.
		os.Exit(m.Run())
	}
	goleak.VerifyTestMain(m)
}

// TestEnv is the acceptance test of the TAP mode: kernel-side ping (v4,
// v6 link-local, v6 global), kernel-to-device TCP over both families with
// nc, device-to-kernel TCP, and a pcapng with Ethernet-framed ARP and NDP.
func TestEnv(t *testing.T) {
	if why := Skip(); why != "" {
		t.Skip(why)
	}
	testio.NeedTools(t, "ping", "nc")
	pcap := filepath.Join(t.TempDir(), "tap.pcapng")
	var ns, tap string
	t.Run("traffic", func(t *testing.T) {
		env := New(t, Options{Pcap: pcap})
		ns, tap = env.NS, env.TAP
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()

		ll := env.LinkLocalZoned()
		if !ll.IsLinkLocalUnicast() {
			t.Fatalf("device link-local %v", ll)
		}
		for _, args := range [][]string{
			{"-c1", "-W5", env.DevV4.String()},
			{"-6", "-c1", "-W5", ll.String()},
			{"-6", "-c1", "-W5", env.DevV6.String()},
		} {
			if out, err := env.Command(ctx, "ping", args...).CombinedOutput(); err != nil {
				t.Errorf("ping %v: %v\n%s", args, err, out)
			}
		}

		// Kernel -> device: a listener on the device greets each client;
		// nc in the namespace sends a line and reads the greeting.
		ln, err := env.Device.Listen(ctx, netip.AddrPortFrom(netip.Addr{}, 8021))
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		got := make(chan string, 4)
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					fmt.Fprintf(c, "hello %s\n", c.RemoteAddr())
					line, _ := bufio.NewReader(c).ReadString('\n')
					got <- strings.TrimSpace(line)
				}()
			}
		}()
		for _, dst := range []netip.Addr{env.DevV4, env.DevV6} {
			cmd := env.Command(ctx, "nc", "-N", "-w", "5", dst.String(), "8021")
			cmd.Stdin = strings.NewReader("from-kernel " + dst.String() + "\n")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("nc %v: %v\n%s", dst, err, out)
			}
			src := env.HostV4
			if dst.Is6() {
				src = env.HostV6
			}
			// The greeting names the client as the device saw it.
			if !strings.HasPrefix(string(out), "hello ") || !strings.Contains(string(out), src.String()) {
				t.Errorf("nc %v read %q, want a greeting naming %v", dst, out, src)
			}
			select {
			case line := <-got:
				if line != "from-kernel "+dst.String() {
					t.Errorf("device read %q", line)
				}
			case <-ctx.Done():
				t.Fatal("device never got the client's line")
			}
		}

		// Device -> kernel, IPv4: nc -l in the namespace.
		var ncOut bytes.Buffer
		nc := env.Command(context.Background(), "nc", "-l", env.HostV4.String(), "9021")
		nc.Stdout = &ncOut
		if err := env.StartCmd(nc); err != nil {
			t.Fatal(err)
		}
		var c net.Conn
		for ctx.Err() == nil { // until nc listens
			c, err = env.Device.Dial(ctx, netip.AddrPort{}, netip.AddrPortFrom(env.HostV4, 9021))
			if err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("device dial %v:9021: %v", env.HostV4, err)
		}
		io.WriteString(c, "from-device\n")
		c.Close()
		if err := nc.Wait(); err != nil {
			t.Fatalf("nc -l: %v", err)
		}
		if ncOut.String() != "from-device\n" {
			t.Errorf("nc -l read %q", ncOut.String())
		}

		// Device -> kernel, IPv6: a Go listener made inside the namespace,
		// and the device dialling from a chosen local port.
		kln, err := env.KernelDialer().Listen(ctx, netip.AddrPortFrom(env.HostV6, 9022))
		if err != nil {
			t.Fatal(err)
		}
		defer kln.Close()
		acc := testio.AcceptOne(kln)
		c, err = env.Device.Dial(ctx, netip.AddrPortFrom(env.DevV6, 2020), netip.AddrPortFrom(env.HostV6, 9022))
		if err != nil {
			t.Fatalf("device dial [%v]:9022: %v", env.HostV6, err)
		}
		io.WriteString(c, "v6\n")
		c.Close()
		kc := <-acc
		if kc == nil {
			t.Fatal("kernel listener accepted nothing")
		}
		if ra := kc.RemoteAddr().(*net.TCPAddr).AddrPort(); ra != netip.AddrPortFrom(env.DevV6, 2020) {
			t.Errorf("kernel saw the device as %v", ra)
		}
		b, _ := io.ReadAll(kc)
		kc.Close()
		if string(b) != "v6\n" {
			t.Errorf("kernel read %q", b)
		}
	})
	if t.Failed() {
		return
	}
	assertGone(t, ns, tap)
	checkPcap(t, pcap)
}

func checkPcap(t *testing.T, path string) {
	t.Helper()
	seen := map[string]int{}
	for _, p := range testio.ReadCapture(t, path) {
		if p.Layer(layers.LayerTypeEthernet) == nil {
			t.Fatalf("frame without Ethernet header: % x", p.Data())
		}
		for _, l := range []gopacket.LayerType{layers.LayerTypeARP, layers.LayerTypeICMPv6NeighborSolicitation,
			layers.LayerTypeICMPv6NeighborAdvertisement, layers.LayerTypeICMPv4, layers.LayerTypeTCP} {
			if p.Layer(l) != nil {
				seen[l.String()]++
			}
		}
	}
	for _, want := range []string{"ARP", "ICMPv6NeighborSolicitation", "ICMPv6NeighborAdvertisement", "ICMPv4", "TCP"} {
		if seen[want] == 0 {
			t.Errorf("pcapng has no %s frame (saw %v)", want, seen)
		}
	}
}

// assertGone checks that neither the namespace nor the TAP exists.
func assertGone(t *testing.T, ns, tap string) {
	t.Helper()
	if ns == "" || tap == "" {
		t.Fatal("names unknown")
	}
	if tapdev.NetNSExists(ns) {
		t.Errorf("namespace %s left behind", ns)
	}
	// The TAP lived inside the namespace; make sure it did not end up in
	// ours either (where a deleted namespace would return a physical
	// device).
	own, err := tapdev.CurrentNetNS()
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	if own.HasLink(tap) {
		t.Errorf("link %s left behind in this namespace", tap)
	}
}

// TestCleanupAfterFailure runs a test that builds an Env and fails midway
// in a child process, then checks that the child left nothing behind.
func TestCleanupAfterFailure(t *testing.T) {
	if why := Skip(); why != "" {
		t.Skip(why)
	}
	cmd := testio.SelfCommand("TestHelperFailMidway", helperEnv+"=1")
	out, err := cmd.CombinedOutput()
	if cmd.ProcessState == nil || cmd.ProcessState.Success() {
		t.Fatalf("child should have failed, got err=%v\n%s", err, out)
	}
	var ns, tap string
	for _, l := range strings.Split(string(out), "\n") {
		if _, rest, ok := strings.Cut(l, "ENV "); ok {
			fmt.Sscan(rest, &ns, &tap)
		}
	}
	if !strings.Contains(string(out), "failing on purpose") || ns == "" {
		t.Fatalf("child did not get to its failure:\n%s", out)
	}
	if strings.Contains(string(out), "taptest cleanup:") {
		t.Errorf("child cleanup reported errors:\n%s", out)
	}
	assertGone(t, ns, tap)
}

func TestHelperFailMidway(t *testing.T) {
	if os.Getenv(helperEnv) == "" {
		t.Skip("helper for TestCleanupAfterFailure")
	}
	env := New(t, Options{Pcap: filepath.Join(t.TempDir(), "x.pcapng")})
	fmt.Printf("ENV %s %s\n", env.NS, env.TAP)
	env.Start(t, "sleep", "600") // a peer the cleanup must kill
	if _, err := env.Device.Listen(context.Background(), netip.AddrPortFrom(netip.Addr{}, 21)); err != nil {
		t.Error(err)
	}
	t.Fatal("failing on purpose, with a peer running and a listener open")
}

// TestParallelEnvs runs two environments at once: distinct names, each
// device reachable in its own namespace.
func TestParallelEnvs(t *testing.T) {
	if why := Skip(); why != "" {
		t.Skip(why)
	}
	names := make(chan [2]string, 2)
	for i := range 2 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			env := New(t, Options{NoIPv6: i == 1})
			names <- [2]string{env.NS, env.TAP}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if d, err := env.Device.Ping(ctx, env.HostV4); err != nil {
				t.Errorf("device ping host: %v (%v)", err, d)
			}
		})
	}
	t.Cleanup(func() {
		close(names)
		var seen []string
		for n := range names {
			seen = append(seen, n[0])
			assertGone(t, n[0], n[1])
		}
		if len(seen) == 2 && seen[0] == seen[1] {
			t.Errorf("two environments share the name %s", seen[0])
		}
	})
}

func TestName(t *testing.T) {
	a, b := Name("nxs"), Name("nxs")
	if len(a) > 15 || a == b || !strings.HasPrefix(a, "nxs") {
		t.Errorf("Name: %q %q", a, b)
	}
}

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

// benchBytes is what each path carries per iteration.
const benchBytes = 32 << 20

// xfer dials, sends n bytes and returns the time from the dial until the
// acceptor has read the last byte.
func xfer(ctx context.Context, ln net.Listener, dial func(context.Context) (net.Conn, error), n int64) (time.Duration, error) {
	var got int64 // what the acceptor read, read here once done yields
	done := testio.ServeOne(ln, func(c net.Conn) (err error) {
		got, err = copy64(io.Discard, c)
		return err
	})
	start := time.Now()
	c, err := dial(ctx)
	if err != nil {
		ln.Close() // unblock the acceptor
		<-done
		return 0, err
	}
	_, err = copy64(c, io.LimitReader(zeros{}, n))
	c.Close()
	rerr := <-done
	d := time.Since(start)
	if err == nil {
		err = rerr
	}
	if err == nil && got != n {
		err = fmt.Errorf("received %d of %d bytes", got, n)
	}
	return d, err
}

// copy64 copies with 64 KiB reads and writes on every path alike. io.Copy would not: io.Discard's
// ReadFrom reads 8 KiB at a time and a kernel socket's WriteTo has its own loop, which would compare
// the stacks' costs per call rather than per byte.
func copy64(dst io.Writer, src io.Reader) (int64, error) {
	return io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, make([]byte, 64<<10))
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

type path struct {
	name string
	ln   net.Listener
	dial func(context.Context) (net.Conn, error)
}

// BenchmarkTCPThroughput measures bulk TCP over the TAP in both directions
// (device <-> kernel in the namespace) and, in the same run as reference,
// kernel to kernel over a veth pair between two namespaces, with the same
// MTU, and two IP instances on the in-memory link. It reports MB/s for
// each and the ratios to veth.
func BenchmarkTCPThroughput(b *testing.B) {
	env := New(b, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	// Reference: kernel <-> kernel over a veth pair, two namespaces.
	va, vb := VethPair(b, "nxb")

	k := env.KernelDialer()
	hostLn, err := k.Listen(ctx, netip.AddrPortFrom(env.HostV4, 5001))
	if err != nil {
		b.Fatal(err)
	}
	defer hostLn.Close()
	devLn, err := env.Device.Listen(ctx, netip.AddrPortFrom(env.DevV4, 5002))
	if err != nil {
		b.Fatal(err)
	}
	defer devLn.Close()
	vethLn, err := vb.Kernel().Listen(ctx, netip.MustParseAddrPort("203.0.113.2:5003"))
	if err != nil {
		b.Fatal(err)
	}
	defer vethLn.Close()

	// For comparison: two IP instances on the in-memory link, same MTU.
	pair, err := link.NewPair(link.PairConfig{MTU: 1500})
	if err != nil {
		b.Fatal(err)
	}
	defer pair.Close()
	memDev, err := stack.New(context.Background(), stack.Config{Name: "mdev", MAC: DevMAC, IPv4: DevPrefix4}, pair.A())
	if err != nil {
		b.Fatal(err)
	}
	defer memDev.Close()
	memHost, err := stack.New(context.Background(), stack.Config{Name: "mhost", MAC: net.HardwareAddr{2, 0x4e, 0x58, 0, 0, 1}, IPv4: HostPrefix4}, pair.B())
	if err != nil {
		b.Fatal(err)
	}
	defer memHost.Close()
	memLn, err := memHost.Listen(ctx, netip.AddrPortFrom(HostPrefix4.Addr(), 5004))
	if err != nil {
		b.Fatal(err)
	}
	defer memLn.Close()

	paths := []path{
		{"device->host", hostLn, func(ctx context.Context) (net.Conn, error) {
			return env.Device.Dial(ctx, netip.AddrPort{}, netip.AddrPortFrom(env.HostV4, 5001))
		}},
		{"host->device", devLn, func(ctx context.Context) (net.Conn, error) {
			return k.Dial(ctx, netip.AddrPort{}, netip.AddrPortFrom(env.DevV4, 5002))
		}},
		{"veth kernel->kernel", vethLn, func(ctx context.Context) (net.Conn, error) {
			return va.Kernel().Dial(ctx, netip.AddrPort{}, netip.MustParseAddrPort("203.0.113.2:5003"))
		}},
		{"in-memory device->host", memLn, func(ctx context.Context) (net.Conn, error) {
			return memDev.Dial(ctx, netip.AddrPort{}, netip.AddrPortFrom(HostPrefix4.Addr(), 5004))
		}},
	}
	total := make([]time.Duration, len(paths))
	b.SetBytes(benchBytes * int64(len(paths)))
	b.ResetTimer()
	for range b.N {
		for i, p := range paths {
			d, err := xfer(ctx, p.ln, p.dial, benchBytes)
			if err != nil {
				b.Fatalf("%s: %v", p.name, err)
			}
			total[i] += d
		}
	}
	b.StopTimer()
	mbps := make([]float64, len(paths))
	for i := range paths {
		mbps[i] = float64(benchBytes) * float64(b.N) / total[i].Seconds() / 1e6
	}
	b.ReportMetric(mbps[0], "d2h-MB/s")
	b.ReportMetric(mbps[1], "h2d-MB/s")
	b.ReportMetric(mbps[2], "veth-MB/s")
	b.ReportMetric(mbps[0]/mbps[2], "d2h/veth")
	b.ReportMetric(mbps[1]/mbps[2], "h2d/veth")
	b.ReportMetric(mbps[3], "mem-MB/s")
	b.ReportMetric(mbps[3]/mbps[2], "mem/veth")
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		b.Fatal("timed out")
	}
}
