package server_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jftp "github.com/jlaffaye/ftp"
	"go.uber.org/goleak"

	"github.com/netxsim/netxsim"
	"github.com/netxsim/netxsim/fsimage"
	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/ftp/server"
	"github.com/netxsim/netxsim/internal/testio"
	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/stack/link"
	"github.com/netxsim/netxsim/tapdev/taptest"
)

const benchSize = 256 << 20

// pattern is an endless reader of a fixed non-zero 64 KiB block, copied with memmove so that making
// the data costs the same (next to nothing) in the raw and the FTP measurements.
type pattern struct{ off int }

var block = func() []byte {
	b := make([]byte, 64<<10)
	for i := range b {
		b[i] = byte(i*7 + 1)
	}
	return b
}()

func (p *pattern) Read(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		c := copy(b[n:], block[p.off:])
		n += c
		p.off = (p.off + c) % len(block)
	}
	return n, nil
}

// pump copies with 64 KiB reads and writes, the server's own I/O size, bypassing ReaderFrom/WriterTo
// (io.Discard's ReadFrom would read 8 KiB at a time) so raw TCP and FTP move data the same way.
func pump(dst io.Writer, src io.Reader) (int64, error) {
	buf := make([]byte, 64<<10)
	var total int64
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return total, werr
			}
			total += int64(n)
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// devIO is the size of the device end's reads and writes in the raw TCP reference: the server's
// own (fsimage streams up to 1 MiB per call to and from a RAM image), so raw TCP is measured with
// the stack at its best on the device's side, not with smaller calls than FTP makes.
const devIO = 1 << 20

// devCopy is the device end of raw TCP: full devIO reads (io.ReadFull, as fsimage's ReadFrom
// fills its piece of the image) and devIO writes.
func devCopy(dst io.Writer, src io.Reader) (int64, error) {
	buf := make([]byte, devIO)
	var total int64
	for {
		n, err := io.ReadFull(src, buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return total, werr
			}
			total += int64(n)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// fast fails the benchmark unless the device runs the fast configuration (gVisor's own TCP,
// auto-tuned windows): the NetX-like signature's small windows are measured elsewhere
// (stack.BenchmarkSignatureThroughput), and a default that changes must not change these figures.
func fast(b *testing.B, dev *stack.IP) {
	if sig := dev.Signature(); sig != stack.SignatureGVisor {
		b.Fatalf("the device runs the %s stack signature; these benchmarks measure the fast configuration (%s)", sig, stack.SignatureGVisor)
	}
}

// benchPair is two IP instances on an in-memory link without capture, the device explicitly in
// the fast configuration (stack.SignatureGVisor, no fixed windows, no NetX-like profile).
func benchPair(b *testing.B) (dev, host *stack.IP) {
	n := &netxsim.Network{}
	b.Cleanup(func() { n.Close() })
	seg, err := n.Pair("link", link.PairConfig{})
	must(b, err)
	gvisor := stack.SignatureGVisor
	devs, err := n.AddDevices(context.Background(), seg,
		netxsim.DeviceConfig{Config: stack.Config{Name: "dev", MAC: netxsim.MAC(2), IPv4: netxsim.DeviceIPv4,
			SkipDAD: true}, StackSignature: &gvisor},
		netxsim.DeviceConfig{Config: stack.Config{Name: "host", MAC: netxsim.MAC(1), IPv4: netxsim.HostIPv4,
			SkipDAD: true}})
	must(b, err)
	fast(b, devs[0].IP())
	return devs[0].IP(), devs[1].IP()
}

// chunked makes the FTP client's io.Copy write 64 KiB at a time (through WriteTo), as raw TCP's
// pump does, instead of io.Copy's 32 KiB: both sides of the ratio then move data alike.
type chunked struct{ r io.Reader }

func (c chunked) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c chunked) WriteTo(w io.Writer) (int64, error) { return pump(w, c.r) }

// rounds is how many rounds each benchmark iteration takes the medians of.
const rounds = 5

// dialer is how the benchmark's client side connects (host IP instance or the kernel in a netns).
type dialer interface {
	Dial(ctx context.Context, local, remote netip.AddrPort) (net.Conn, error)
}

// rawOnce measures moving n bytes over one new TCP connection, device to host when down, else host
// to device. With mem nil the device end sends a repeated 64 KiB block and drops what it receives:
// its data never leaves the CPU caches. With mem (n bytes, every page touched) it sends mem and
// receives into it, as a file of a RAM image is sent and received: the same stack, plus the
// memory traffic of n distinct bytes, which any file transfer has.
func rawOnce(b *testing.B, dev *stack.IP, host dialer, devAddr netip.Addr, n int64, mem []byte, down bool) time.Duration {
	return rawWith(b, dev, host, devAddr, n, down, func(c net.Conn) (err error) {
		switch {
		case mem != nil && down:
			err = memSend(c, mem[:n])
		case mem != nil:
			_, err = memRecv(mem[:n], c)
		case down:
			_, err = devCopy(c, io.LimitReader(&pattern{}, n))
		default:
			_, err = devCopy(io.Discard, c)
		}
		return err
	})
}

// rawWith times one raw TCP transfer of n bytes over a new connection: the host end sends or
// drains, the device end is devEnd, which sends when down and receives otherwise.
func rawWith(b *testing.B, dev *stack.IP, host dialer, devAddr netip.Addr, n int64, down bool, devEnd func(net.Conn) error) time.Duration {
	ln, err := dev.Listen(context.Background(), netip.AddrPortFrom(devAddr, 0))
	must(b, err)
	defer ln.Close()
	target, err := netip.ParseAddrPort(ln.Addr().String())
	must(b, err)
	errc := testio.ServeOne(ln, devEnd)
	start := time.Now()
	c, err := host.Dial(context.Background(), netip.AddrPort{}, target)
	must(b, err)
	if down {
		_, err = pump(io.Discard, c)
	} else {
		_, err = pump(c, io.LimitReader(&pattern{}, n))
		c.Close()
	}
	must(b, err)
	must(b, <-errc)
	c.Close()
	return time.Since(start)
}

// pairedRound is round i of an FTP benchmark: STOR beside raw TCP host to device (cache-resident
// and RAM-backed), then RETR beside raw TCP device to host, each direction's three transfers back
// to back, in an order that is reversed every other round, so a burst of load from the machine's
// other jobs falls on either side alike.
func pairedRound(b *testing.B, i int, dev *stack.IP, host dialer, devAddr netip.Addr, mem []byte) (r round) {
	s := openFTP(b, netip.AddrPortFrom(devAddr, 21), host)
	defer s.close(b)
	raw := func(mem []byte, down bool) time.Duration { return rawOnce(b, dev, host, devAddr, benchSize, mem, down) }
	up := []func(){
		func() { r.rawUp = raw(nil, false) },
		func() { r.memUp = raw(mem, false) },
		func() { r.stor = s.stor(b, benchSize) },
	}
	down := []func(){
		func() { r.retr = s.retr(b, benchSize) },
		func() { r.memDown = raw(mem, true) },
		func() { r.rawDown = raw(nil, true) },
	}
	if i%2 == 1 {
		slices.Reverse(up)
		slices.Reverse(down)
	}
	for _, f := range append(up, down...) {
		f()
	}
	return r
}

// ftpSession is a logged-in independent client (jlaffaye/ftp, passive).
type ftpSession struct{ c *jftp.ServerConn }

func openFTP(b *testing.B, ctrl netip.AddrPort, host dialer) ftpSession {
	c, err := jftp.Dial(ctrl.String(), jftp.DialWithTimeout(time.Minute),
		jftp.DialWithDialFunc(func(_, address string) (net.Conn, error) {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return nil, err
			}
			return host.Dial(context.Background(), netip.AddrPort{}, ap)
		}))
	must(b, err)
	must(b, c.Login("u", "p"))
	return ftpSession{c}
}

// stor uploads n bytes as big.bin and returns how long it took, 226 included.
func (s ftpSession) stor(b *testing.B, n int64) time.Duration {
	start := time.Now()
	must(b, s.c.Stor("big.bin", chunked{io.LimitReader(&pattern{}, n)}))
	return time.Since(start)
}

// retr downloads big.bin, checks its size and returns how long it took, 226 included.
func (s ftpSession) retr(b *testing.B, n int64) time.Duration {
	start := time.Now()
	r, err := s.c.Retr("big.bin")
	must(b, err)
	got, err := pump(io.Discard, r)
	must(b, err)
	must(b, r.Close())
	d := time.Since(start)
	if got != n {
		b.Fatalf("RETR %d bytes, want %d", got, n)
	}
	return d
}

func (s ftpSession) close(b *testing.B) {
	must(b, s.c.Delete("big.bin"))
	s.c.Quit()
}

// memSend writes mem to dst in devIO pieces, as fsimage's WriteTo hands a connection the image.
func memSend(dst io.Writer, mem []byte) error {
	for off := 0; off < len(mem); off += devIO {
		if _, err := dst.Write(mem[off:min(off+devIO, len(mem))]); err != nil {
			return err
		}
	}
	return nil
}

// memRecv reads src into mem in devIO pieces (io.ReadFull, as fsimage's ReadFrom fills its piece
// of the image) until src ends.
func memRecv(mem []byte, src io.Reader) (int64, error) {
	var total int64
	for off := 0; off < len(mem); off += devIO {
		n, err := io.ReadFull(src, mem[off:min(off+devIO, len(mem))])
		total += int64(n)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
	n, err := io.Copy(io.Discard, src) // more than mem holds: not expected
	if n > 0 {
		err = fmt.Errorf("%d bytes beyond the %d expected", n, len(mem))
	}
	return total, err
}

// benchMem is a RAM buffer of benchSize bytes with every page touched.
func benchMem() []byte {
	b := make([]byte, benchSize)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	return b
}

// ftpTransfers measures STOR then RETR of n bytes with an independent client (jlaffaye/ftp, passive).
func ftpTransfers(b *testing.B, ctrl netip.AddrPort, host dialer, n int64) (stor, retr time.Duration) {
	s := openFTP(b, ctrl, host)
	defer s.close(b)
	return s.stor(b, n), s.retr(b, n)
}

// round is one round's durations: raw TCP each way (the reference), raw TCP each way to and from
// RAM (zero when not measured), FTP STOR and RETR.
type round struct{ rawDown, rawUp, memDown, memUp, stor, retr time.Duration }

// bestOf runs k rounds, raw and FTP interleaved so both see the same machine load (the build
// machines are shared), and reports the median of each throughput and of each round's ratio.
func bestOf(b *testing.B, k int, one func(i int) round) {
	m := map[string][]float64{}
	mb := func(d time.Duration) float64 { return float64(benchSize) / d.Seconds() / 1e6 }
	for i := 0; i < k; i++ {
		r := one(i)
		add := func(name string, v float64) { m[name] = append(m[name], v) }
		add("raw-down-MB/s", mb(r.rawDown))
		add("raw-up-MB/s", mb(r.rawUp))
		add("retr-MB/s", mb(r.retr))
		add("stor-MB/s", mb(r.stor))
		add("retr/raw", r.rawDown.Seconds()/r.retr.Seconds())
		add("stor/raw", r.rawUp.Seconds()/r.stor.Seconds())
		if r.memDown > 0 {
			add("rawmem-down-MB/s", mb(r.memDown))
			add("rawmem-up-MB/s", mb(r.memUp))
			add("retr/rawmem", r.memDown.Seconds()/r.retr.Seconds())
			add("stor/rawmem", r.memUp.Seconds()/r.stor.Seconds())
		}
	}
	for name, v := range m {
		b.ReportMetric(median(v), name)
		if strings.Contains(name, "/raw") {
			b.Logf("%s: %s", name, strings.Trim(fmt.Sprintf("%.2f", v), "[]"))
		}
	}
}

func median(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2]
}

// benchImage is a FAT RAM disk big enough for one 256 MiB file plus its temporary upload.
func benchImage(b *testing.B) server.FileSystem {
	size := int64(2*benchSize + 64<<20)
	dev := fsimage.NewRAM(size)
	must(b, fsimage.Format(dev, size, fsimage.FormatOptions{}))
	v, err := fsimage.Open(dev, fsimage.Options{})
	must(b, err)
	b.Cleanup(func() { v.Close() })
	// Touch the image's memory once, as a RAM disk in use has: a fresh allocation faults in every
	// page on its first write, which costs as much as the transfer and is no part of FTP.
	must(b, fsimage.WriteFile(v, "warm.bin", io.LimitReader(&pattern{}, size-8<<20)))
	must(b, v.Remove("warm.bin"))
	must(b, v.Sync()) // as the server syncs after a DELE: the clusters are free again
	return v
}

// BenchmarkMemLink256MiB: STOR and RETR of 256 MiB between two IP instances on the in-memory link,
// each as a ratio to raw TCP over the same link measured in the same iteration.
//
//	go test -run '^$' -bench MemLink256MiB -benchtime 3x ./ftp/server/
func BenchmarkMemLink256MiB(b *testing.B) {
	for _, be := range []string{"fsimage", "hostfs"} {
		b.Run(be, func(b *testing.B) {
			dev, host := benchPair(b)
			var fsys server.FileSystem
			if be == "fsimage" {
				fsys = benchImage(b)
			} else {
				fsys, _ = newHostFS(b)
			}
			srv := baseServer(fsys, ftp.ProfileNetXDuo)
			srv.Network = dev
			ln, err := dev.Listen(context.Background(), netip.AddrPortFrom(devV4.Addr(), 21))
			must(b, err)
			serve(b, srv, ln, &env{})
			mem := benchMem()
			b.SetBytes(benchSize)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				bestOf(b, rounds, func(i int) round { return pairedRound(b, i, dev, host, devV4.Addr(), mem) })
			}
		})
	}
}

// BenchmarkTAP256MiB: the same over a TAP, the client being the kernel in the namespace (root only).
//
//	go test -run '^$' -bench TAP256MiB -benchtime 3x ./ftp/server/
func BenchmarkTAP256MiB(b *testing.B) {
	e := taptest.New(b, taptest.Options{NoIPv6: true})
	fast(b, e.Device)
	srv := baseServer(benchImage(b), ftp.ProfileNetXDuo)
	srv.Network = e.Device
	ln, err := e.Device.Listen(context.Background(), netip.AddrPortFrom(e.DevV4, 21))
	must(b, err)
	serve(b, srv, ln, &env{})
	host := e.KernelDialer()
	mem := benchMem()
	b.SetBytes(benchSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bestOf(b, rounds, func(i int) round { return pairedRound(b, i, e.Device, host, e.DevV4, mem) })
	}
}

// logins runs n concurrent sessions that each connect, log in anonymously and quit. A session the
// server drops (vsftpd's listen backlog of 32 overflows under 300 simultaneous SYNs) is retried, as
// a real client would, and counted.
func logins(b *testing.B, addr string, n, window int) (time.Duration, int) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, window)
	var retries atomic.Int64
	errs := make(chan error, n)
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			var err error
			for try := 0; try < 50; try++ {
				if err = loginOnce(addr); err == nil {
					break
				}
				retries.Add(1)
				time.Sleep(time.Duration(try+1) * 10 * time.Millisecond)
			}
			errs <- err
		}()
	}
	wg.Wait()
	d := time.Since(start)
	close(errs)
	for err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	return d, int(retries.Load())
}

func loginOnce(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 30*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	fail := func(err error) error { return fmt.Errorf("login at %s: %w", addr, err) }
	c.SetDeadline(time.Now().Add(60 * time.Second))
	lr := ftp.NewLineReader(bufio.NewReader(c), 4096)
	expect := func(want int) error {
		code, text, err := lr.ReadReply()
		if err != nil {
			return fail(err)
		}
		if code != want {
			return fmt.Errorf("%s: got %d %s, want %d", addr, code, text, want)
		}
		return nil
	}
	if err := expect(220); err != nil {
		return err
	}
	for _, step := range []struct {
		cmd  string
		code int
	}{{"USER anonymous", 331}, {"PASS guest@example.com", 230}, {"QUIT", 221}} {
		if _, err := io.WriteString(c, step.cmd+"\r\n"); err != nil {
			return err
		}
		if err := expect(step.code); err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkLogins300: 300 concurrent anonymous logins against our server (extended profile, host
// kernel loopback) and against vsftpd on the same loopback, in the same run: all 300 at once
// (burst), and with at most 32 in flight (vsftpd's listen backlog), which compares per-login cost.
//
//	go test -run '^$' -bench Logins300 -benchtime 3x ./ftp/server/
func BenchmarkLogins300(b *testing.B) {
	const n = 300
	fsys, _ := newHostFS(b)
	srv := &server.Server{FS: fsys, Profile: ftp.ProfileExtended, Network: stack.Kernel{},
		Login: server.Users(nil, server.ReadOnly), MaxSessions: -1}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(b, err)
	serve(b, srv, ln, &env{})
	ours := ln.Addr().String()
	theirs := startVsftpd(b)
	for _, window := range []int{n, 32} {
		b.Run(fmt.Sprintf("inflight=%d", window), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				d1, r1 := logins(b, ours, n, window)
				d2, r2 := logins(b, theirs, n, window)
				b.ReportMetric(d1.Seconds()*1000, "netxsim-ms")
				b.ReportMetric(d2.Seconds()*1000, "vsftpd-ms")
				b.ReportMetric(float64(r1), "netxsim-retries")
				b.ReportMetric(float64(r2), "vsftpd-retries")
				b.ReportMetric(d1.Seconds()/d2.Seconds(), "netxsim/vsftpd")
			}
		})
	}
}

// startVsftpd runs vsftpd in the foreground on a free loopback port with a temporary configuration.
func startVsftpd(b *testing.B) string {
	bin, err := exec.LookPath("vsftpd")
	if err != nil {
		if _, err2 := os.Stat("/usr/sbin/vsftpd"); err2 != nil {
			b.Skipf("needs vsftpd: %v", err)
		}
		bin = "/usr/sbin/vsftpd"
	}
	if os.Geteuid() != 0 {
		b.Skip("needs root: vsftpd insists on running as root")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(b, err)
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := b.TempDir()
	root := filepath.Join(dir, "root")
	must(b, os.Mkdir(root, 0o555))
	empty := filepath.Join(dir, "empty")
	must(b, os.Mkdir(empty, 0o555))
	conf := filepath.Join(dir, "vsftpd.conf")
	must(b, os.WriteFile(conf, []byte(strings.Join([]string{
		"listen=YES", "listen_ipv6=NO", "listen_address=127.0.0.1", fmt.Sprintf("listen_port=%d", port),
		"background=NO", "anonymous_enable=YES", "no_anon_password=NO", "anon_root=" + root,
		"local_enable=NO", "write_enable=NO", "max_clients=0", "max_per_ip=0", "secure_chroot_dir=" + empty,
		"seccomp_sandbox=NO", "isolate=NO", "isolate_network=NO", "xferlog_enable=NO", "syslog_enable=NO",
		"vsftpd_log_file=" + filepath.Join(dir, "log"), "dual_log_enable=NO", "ftp_username=ftp",
	}, "\n")+"\n"), 0o644))
	cmd := exec.Command(bin, conf)
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	must(b, cmd.Start())
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for i := 0; i < 200; i++ {
		if err := loginOnce(addr); err == nil {
			return addr
		}
		time.Sleep(25 * time.Millisecond)
	}
	b.Fatalf("vsftpd did not come up on %s: %s", addr, out.String())
	return ""
}

// rawTCPFile is rawTCP with the device's end on a file of the image: it sends name's content and
// stores what it receives into a new file, without FTP. It isolates what FTP itself costs from
// what moving the data into and out of the FAT image costs. The file's end moves data the way the
// server does (File.WriteTo and ReadFrom, streaming between the connection and the RAM image).
func rawTCPFile(b *testing.B, dev *stack.IP, host dialer, devAddr netip.Addr, v *fsimage.FS, name string, n int64) (down, up time.Duration) {
	down = rawWith(b, dev, host, devAddr, n, true, func(c net.Conn) error {
		f, err := v.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = f.(*fsimage.File).WriteTo(c) // as the server sends from a RAM image
		return err
	})
	up = rawWith(b, dev, host, devAddr, n, false, func(c net.Conn) error {
		f, err := v.Create("raw-up.bin")
		if err != nil {
			return err
		}
		if _, err = f.(*fsimage.File).ReadFrom(c); err != nil { // as the server receives into one
			return err
		}
		return f.Close()
	})
	must(b, v.Remove("raw-up.bin"))
	return down, up
}

// BenchmarkMemLinkFTPvsFile256MiB: FTP STOR and RETR against raw TCP whose device end reads or
// writes a file of the same FAT image (in-memory link), alternating, medians of 5 rounds: the
// ratio is what the FTP server adds to moving the bytes between the network and the image.
//
//	go test -run '^$' -bench MemLinkFTPvsFile -benchtime 1x ./ftp/server/
func BenchmarkMemLinkFTPvsFile256MiB(b *testing.B) {
	dev, host := benchPair(b)
	fsys := benchImage(b)
	v := fsys.(*fsimage.FS)
	must(b, fsimage.WriteFile(v, "src.bin", io.LimitReader(&pattern{}, benchSize)))
	srv := baseServer(fsys, ftp.ProfileNetXDuo)
	srv.Network = dev
	ln, err := dev.Listen(context.Background(), netip.AddrPortFrom(devV4.Addr(), 21))
	must(b, err)
	serve(b, srv, ln, &env{})
	b.SetBytes(benchSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bestOf(b, rounds, func(int) (r round) {
			r.rawDown, r.rawUp = rawTCPFile(b, dev, host, devV4.Addr(), v, "src.bin", benchSize)
			r.stor, r.retr = ftpTransfers(b, netip.AddrPortFrom(devV4.Addr(), 21), host, benchSize)
			return r
		})
	}
}

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

// rss is the process's resident memory (VmRSS), 0 where /proc does not tell.
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

// settledRSS is rss right after a garbage collection that returns freed memory to the system.
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
