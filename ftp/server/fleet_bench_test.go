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
// devices picked at random, 8 sessions in flight. N = 100 is the reference for the larger fleets.
//
//	go test -run '^$' -bench Fleet -benchtime 1x ./ftp/server/
func BenchmarkFleet(b *testing.B) {
	var rate100 float64
	for _, n := range []int{100, 1000, 10000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			r := fleet(b, n)
			if n == 100 {
				rate100 = r
			} else if rate100 > 0 {
				b.ReportMetric(r/rate100, "rate/rate100")
			}
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

func fleet(b *testing.B, n int) float64 {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	sw, err := link.NewSwitch(link.SwitchConfig{Ports: n + 1})
	must(b, err)
	defer sw.Close()
	content := bytes.Repeat([]byte("netxsim fleet "), 4096/14+1)[:4096]

	before := settledRSS()
	type device struct {
		ip   *stack.IP
		srv  *server.Server
		addr netip.AddrPort
		done chan error
	}
	devs := make([]device, n)
	for i := range n {
		mac := net.HardwareAddr{2, 0x4e, 0x58, byte(i >> 16), byte(i >> 8), byte(i)}
		a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte((i + 2) >> 8), 15: byte(i + 2)})
		ip, err := stack.New(ctx, stack.Config{Name: "dev", MAC: mac, IPv6: true,
			IPv6Global: []netip.Prefix{netip.PrefixFrom(a, 64)}, SkipDAD: true}, sw.Port(i))
		must(b, err)
		const size = 1 << 20
		img := fsimage.NewRAM(size)
		must(b, fsimage.Format(img, size, fsimage.FormatOptions{}))
		v, err := fsimage.Open(img, fsimage.Options{})
		must(b, err)
		must(b, fsimage.WriteFile(v, "/fw.bin", bytes.NewReader(content)))
		srv := baseServer(v, ftp.ProfileExtended)
		srv.Network = ip
		ln, err := ip.Listen(ctx, netip.AddrPortFrom(a, 21))
		must(b, err)
		d := device{ip: ip, srv: srv, addr: netip.AddrPortFrom(a, 21), done: make(chan error, 1)}
		go func() { d.done <- srv.Serve(ln) }()
		devs[i] = d
	}
	after := settledRSS()
	perDev := float64(after-before) / float64(n)

	host, err := stack.New(ctx, stack.Config{Name: "host", MAC: net.HardwareAddr{2, 0x4e, 0x58, 0xff, 0, 1}, IPv6: true,
		IPv6Global: []netip.Prefix{netip.MustParsePrefix("2001:db8::1/64")}, SkipDAD: true}, sw.Port(n))
	must(b, err)
	defer host.Close()

	const sessions, inFlight = 400, 8
	var next atomic.Int64
	var failed atomic.Int64
	var firstErr atomic.Value
	rng := rand.New(rand.NewPCG(uint64(n), 1))
	order := make([]int, sessions)
	for i := range order {
		order[i] = rng.IntN(n)
	}
	b.ResetTimer()
	start := time.Now()
	var sg sync.WaitGroup
	for range inFlight {
		sg.Add(1)
		go func() {
			defer sg.Done()
			for {
				k := next.Add(1) - 1
				if k >= sessions {
					return
				}
				if err := session(ctx, host, devs[order[k]].addr, len(content)); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	sg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d sessions failed, first: %v", f, sessions, firstErr.Load())
	}
	rate := float64(sessions) / elapsed.Seconds()
	b.ReportMetric(perDev/1024, "KiB/device") // after ResetTimer, which drops reported metrics
	b.ReportMetric(float64(1<<30)/perDev, "devices/GiB")
	b.ReportMetric(rate, "sessions/s")
	st := sw.Counters()
	b.ReportMetric(float64(st.Floods), "floods")

	for _, d := range devs {
		d.srv.Close()
		<-d.done
		d.ip.Close()
	}
	return rate
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
