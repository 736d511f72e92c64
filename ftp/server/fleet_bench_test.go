package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jftp "github.com/jlaffaye/ftp"
	"go.uber.org/goleak"

	"github.com/netxsim/netxsim/fsimage"
	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/ftp/server"
	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/stack/link"
)

// BenchmarkFleet builds N devices on one in-memory switch in one process, each an IP instance
// (IPv6: 2001:db8::/64 has room for a fleet, IPv4's documentation /24s do not) with an FTP server
// (extended profile) on its own 1 MiB FAT RAM image, plus one host, and measures the resident
// memory each device adds and the rate of login + RETR (4 KiB) + QUIT sessions from the host to
// devices picked at random, 8 sessions in flight. The reference is a 100-device fleet in the same
// process: rounds of sessions alternate between it and the large fleet, so machine load (and the
// process's garbage collector) hit both alike; rates are medians of the rounds.
//
//	go test -run '^$' -bench Fleet -benchtime 1x ./ftp/server/
func BenchmarkFleet(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	// Every goroutine of every fleet (stacks, switch, servers) must be gone after Close.
	before := goleak.IgnoreCurrent()
	defer func() {
		if err := goleak.Find(before); err != nil {
			b.Errorf("goroutines left after closing the fleets: %v", err)
		}
	}()
	ref := newFleet(b, ctx, 100)
	defer ref.close()
	for _, n := range []int{100, 1000, 10000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			f := ref
			if n != 100 {
				f = newFleet(b, ctx, n)
				defer f.close()
			}
			const rounds, per = 5, 200
			var rr, rf []float64
			b.ResetTimer()
			for k := range rounds {
				rr = append(rr, ref.sessions(b, ctx, per, uint64(2*k)))
				rf = append(rf, f.sessions(b, ctx, per, uint64(2*k+1)))
			}
			b.StopTimer()
			b.ReportMetric(f.perDev/1024, "KiB/device")
			b.ReportMetric(float64(1<<30)/f.perDev, "devices/GiB")
			b.ReportMetric(median(rf), "sessions/s")
			b.ReportMetric(median(rr), "ref100-sessions/s")
			b.ReportMetric(median(rf)/median(rr), "rate/rate100")
			b.ReportMetric(float64(f.sw.Counters().Floods), "floods")
		})
	}
}

func rss() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func settledRSS() int64 {
	runtime.GC()
	debug.FreeOSMemory()
	return rss()
}

type fleetDev struct {
	ip   *stack.IP
	srv  *server.Server
	addr netip.AddrPort
	done chan error
}

type fleetNet struct {
	sw     *link.Switch
	host   *stack.IP
	devs   []fleetDev
	perDev float64 // resident bytes each device added
	size   int
}

var fleetContent = bytes.Repeat([]byte("netxsim fleet "), 4096/14+1)[:4096]

func newFleet(b *testing.B, ctx context.Context, n int) *fleetNet {
	sw, err := link.NewSwitch(link.SwitchConfig{Ports: n + 1})
	must(b, err)
	f := &fleetNet{sw: sw, size: n}
	before := settledRSS()
	net6 := byte(n >> 8) // each fleet its own /64, in case two share a process
	for i := range n {
		mac := net.HardwareAddr{2, 0x4e, 0x58, byte(n), byte(i >> 8), byte(i)}
		a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 7: net6, 14: byte((i + 2) >> 8), 15: byte(i + 2)})
		ip, err := stack.New(ctx, stack.Config{Name: "dev", MAC: mac, IPv6: true,
			IPv6Global: []netip.Prefix{netip.PrefixFrom(a, 64)}, SkipDAD: true}, sw.Port(i))
		must(b, err)
		const size = 1 << 20
		img := fsimage.NewRAM(size)
		must(b, fsimage.Format(img, size, fsimage.FormatOptions{}))
		v, err := fsimage.Open(img, fsimage.Options{})
		must(b, err)
		must(b, fsimage.WriteFile(v, "/fw.bin", bytes.NewReader(fleetContent)))
		srv := baseServer(v, ftp.ProfileExtended)
		srv.Network = ip
		ln, err := ip.Listen(ctx, netip.AddrPortFrom(a, 21))
		must(b, err)
		d := fleetDev{ip: ip, srv: srv, addr: netip.AddrPortFrom(a, 21), done: make(chan error, 1)}
		go func() { d.done <- srv.Serve(ln) }()
		f.devs = append(f.devs, d)
	}
	f.perDev = float64(settledRSS()-before) / float64(n)
	hostAddr := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 7: net6, 15: 1})
	f.host, err = stack.New(ctx, stack.Config{Name: "host", MAC: net.HardwareAddr{2, 0x4e, 0x59, byte(n), 0, 1}, IPv6: true,
		IPv6Global: []netip.Prefix{netip.PrefixFrom(hostAddr, 64)}, SkipDAD: true}, sw.Port(n))
	must(b, err)
	return f
}

// sessions runs k sessions to random devices, 8 in flight, and returns sessions per second.
func (f *fleetNet) sessions(b *testing.B, ctx context.Context, k int, seed uint64) float64 {
	const inFlight = 8
	rng := rand.New(rand.NewPCG(uint64(f.size), seed))
	order := make([]int, k)
	for i := range order {
		order[i] = rng.IntN(f.size)
	}
	var next, failed atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	var wg sync.WaitGroup
	for range inFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(k) {
					return
				}
				if err := session(ctx, f.host, f.devs[order[i]].addr, len(fleetContent)); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d sessions failed, first: %v", n, k, firstErr.Load())
	}
	return float64(k) / elapsed.Seconds()
}

func (f *fleetNet) close() {
	f.host.Close()
	for _, d := range f.devs {
		d.srv.Close()
		<-d.done
		d.ip.Close()
	}
	f.sw.Close()
}

// session logs in, fetches /fw.bin and quits, over the host instance.
func session(ctx context.Context, host *stack.IP, addr netip.AddrPort, want int) error {
	c, err := jftp.Dial(addr.String(), jftp.DialWithContext(ctx), jftp.DialWithTimeout(30*time.Second),
		jftp.DialWithDialFunc(func(_, address string) (net.Conn, error) {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return nil, err
			}
			return host.Dial(ctx, netip.AddrPort{}, ap)
		}))
	if err != nil {
		return fmt.Errorf("dial %s: %w", addr, err)
	}
	defer c.Quit()
	if err := c.Login("u", "p"); err != nil {
		return fmt.Errorf("login %s: %w", addr, err)
	}
	r, err := c.Retr("fw.bin")
	if err != nil {
		return fmt.Errorf("retr %s: %w", addr, err)
	}
	got, err := io.Copy(io.Discard, r)
	r.Close()
	if err != nil || got != int64(want) {
		return fmt.Errorf("retr %s: %d bytes, %v", addr, got, err)
	}
	return nil
}
