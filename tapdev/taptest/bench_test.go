//go:build linux

package taptest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/stack/link"
)

// benchBytes is what each path carries per iteration.
const benchBytes = 32 << 20

// xfer dials, sends n bytes and returns the time from the dial until the
// acceptor has read the last byte.
func xfer(ctx context.Context, ln net.Listener, dial func(context.Context) (net.Conn, error), n int64) (time.Duration, error) {
	type res struct {
		n   int64
		err error
	}
	got := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- res{err: err}
			return
		}
		defer c.Close()
		k, err := copy64(io.Discard, c)
		got <- res{k, err}
	}()
	start := time.Now()
	c, err := dial(ctx)
	if err != nil {
		ln.Close() // unblock the acceptor
		<-got
		return 0, err
	}
	_, err = copy64(c, io.LimitReader(zeros{}, n))
	c.Close()
	r := <-got
	d := time.Since(start)
	if err == nil {
		err = r.err
	}
	if err == nil && r.n != n {
		err = fmt.Errorf("received %d of %d bytes", r.n, n)
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
