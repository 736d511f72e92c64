package client

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/ftp/ftpcheck"
	"github.com/netxsim/netxsim/internal/testio"
	"github.com/netxsim/netxsim/internal/tsharktest"
	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/tapdev/taptest"
)

// The consumer-defined Network is satisfied by both stacks.
var (
	_ Network = (*stack.IP)(nil)
	_ Network = stack.Kernel{}
)

// peer is a real FTP server started on the kernel side of the namespace.
type peer struct {
	name       string
	v4, v6     netip.AddrPort
	user, pass string
	dir        string // writable directory (relative to the login directory)
	feats      bool   // announces SIZE, MDTM, REST STREAM
	// lenient, when set, is used for the netxduo profile's active IPv6 transfers (see pyftpd.py).
	lenient6 netip.AddrPort
	root     string // the server's directory on the host
}

func ftpIDs(t testing.TB) (uid, gid int) {
	t.Helper()
	out, err := exec.Command("id", "-u", "ftp").Output()
	if err != nil {
		t.Skip("needs the system user ftp (made by Debian's vsftpd package)")
	}
	fmt.Sscan(string(out), &uid)
	out, _ = exec.Command("id", "-g", "ftp").Output()
	fmt.Sscan(string(out), &gid)
	return uid, gid
}

// waitListening waits until addr accepts TCP connections from inside the namespace.
func waitListening(t testing.TB, env *taptest.Env, addr netip.AddrPort) {
	t.Helper()
	k := env.KernelDialer()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, err := k.Dial(ctx, netip.AddrPort{}, addr)
		cancel()
		if err == nil {
			c.Close()
			return
		}
	}
	t.Fatalf("nothing listens on %v in the namespace after 15s", addr)
}

// ftpOwnedDir makes the directory name, owned by the system user ftp, in a fresh testio.SharedDir: where
// a peer's user writes. It returns the root, the directory and ftp's uid and gid.
func ftpOwnedDir(t testing.TB, name string) (root, dir string, uid, gid int) {
	t.Helper()
	uid, gid = ftpIDs(t)
	root = testio.SharedDir(t, "nxftp-")
	dir = filepath.Join(root, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	return root, dir, uid, gid
}

func startVsftpd(t *testing.T, env *taptest.Env) peer { return startVsftpdB(t, env) }

func startVsftpdB(t testing.TB, env *taptest.Env) peer {
	testio.NeedTools(t, "vsftpd")
	// Anonymous login with write access: vsftpd refuses a writable anonymous root, so the writable
	// part is a subdirectory owned by ftp.
	root, _, _, _ := ftpOwnedDir(t, "upload")
	conf := filepath.Join(root, "vsftpd.conf")
	cfg := strings.Join([]string{
		"listen=NO", "listen_ipv6=YES", "listen_port=21", "background=NO",
		"anonymous_enable=YES", "no_anon_password=YES", "anon_root=" + root, "local_enable=NO",
		"write_enable=YES", "anon_upload_enable=YES", "anon_mkdir_write_enable=YES",
		"anon_other_write_enable=YES", "anon_umask=022", "anon_world_readable_only=NO",
		"pasv_enable=YES", "pasv_min_port=30000", "pasv_max_port=30999", "port_enable=YES",
		"connect_from_port_20=NO", "seccomp_sandbox=NO", "isolate=NO", "isolate_network=NO",
		"secure_chroot_dir=/var/run/vsftpd/empty", "xferlog_enable=NO", "dirmessage_enable=NO",
		"max_per_ip=0", "max_clients=0", "idle_session_timeout=300", "data_connection_timeout=300",
	}, "\n") + "\n"
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env.Start(t, "/usr/sbin/vsftpd", conf)
	p := peer{name: "vsftpd", v4: netip.AddrPortFrom(env.HostV4, 21), v6: netip.AddrPortFrom(env.HostV6, 21),
		user: "anonymous", pass: "test@example.com", dir: "upload", feats: true, root: root}
	waitListening(t, env, p.v4)
	return p
}

func pureFTPdPath() string {
	if p := os.Getenv("NETXSIM_PUREFTPD"); p != "" {
		return p
	}
	return "/opt/netxsim-peers/pure-ftpd/usr/sbin/pure-ftpd"
}

func startPureFTPd(t *testing.T, env *taptest.Env) peer {
	bin := pureFTPdPath()
	pw := filepath.Join(filepath.Dir(filepath.Dir(bin)), "bin", "pure-pw")
	for _, f := range []string{bin, pw} {
		if _, err := os.Stat(f); err != nil {
			t.Skipf("needs pure-ftpd unpacked from the Debian package (scripts/test.sh does it): %v", err)
		}
	}
	root, home, uid, gid := ftpOwnedDir(t, "home")
	// A virtual user in a PureDB, mapped to the system user ftp.
	passwd, pdb := filepath.Join(root, "pureftpd.passwd"), filepath.Join(root, "pureftpd.pdb")
	cmd := exec.Command(pw, "useradd", "user", "-u", fmt.Sprint(uid), "-g", fmt.Sprint(gid), "-d", home,
		"-f", passwd, "-F", pdb, "-m")
	cmd.Stdin = strings.NewReader("secret\nsecret\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pure-pw useradd: %v\n%s", err, out)
	}
	env.Start(t, bin, "-S", ",2121", "-l", "puredb:"+pdb, "-E", "-A", "-H", "-u", "1", "-p", "31000:31999")
	p := peer{name: "pure-ftpd", v4: netip.AddrPortFrom(env.HostV4, 2121), v6: netip.AddrPortFrom(env.HostV6, 2121),
		user: "user", pass: "secret", feats: true}
	waitListening(t, env, p.v4)
	return p
}

// startPyftpd runs Debian's pyftpdlib (testdata/pyftpd.py) on host, serving root, and returns its
// address; with env it runs inside env's namespace.
func startPyftpd(t *testing.T, host netip.Addr, root string, foreign bool, env *taptest.Env, extra ...string) netip.AddrPort {
	t.Helper()
	py := "/usr/bin/python3"
	testio.NeedTools(t, "pyftpdlib")
	script, err := filepath.Abs("testdata/pyftpd.py")
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-u", script, host.String(), "0", root}
	if foreign {
		args = append(args, "foreign")
	}
	args = append(args, extra...)
	var cmd *exec.Cmd
	if env == nil {
		cmd = exec.Command(py, args...)
	} else {
		cmd = env.Command(context.Background(), py, args...)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if env == nil {
		if err := cmd.Start(); err != nil {
			t.Fatalf("start pyftpdlib: %v", err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	} else if err := env.StartCmd(cmd); err != nil {
		t.Fatalf("start pyftpdlib: %v", err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	select {
	case l := <-lines:
		p, err := strconv.Atoi(strings.TrimPrefix(l, "PORT "))
		if err != nil {
			t.Fatalf("pyftpdlib said %q, want PORT n", l)
		}
		return netip.AddrPortFrom(host, uint16(p))
	case <-time.After(20 * time.Second):
		t.Fatal("pyftpdlib did not start within 20s")
	}
	return netip.AddrPort{}
}

func startPyftpdNS(t *testing.T, env *taptest.Env) peer {
	root := testio.SharedDir(t, "nxftp-")
	p := peer{name: "pyftpdlib", user: "user", pass: "secret", feats: true}
	p.v4 = startPyftpd(t, env.HostV4, root, false, env)
	p.v6 = startPyftpd(t, env.HostV6, root, false, env)
	p.lenient6 = startPyftpd(t, env.HostV6, root, true, env)
	return p
}

const (
	MiB = 1 << 20
)

// TestInterop runs the client on the device stack on a TAP against real servers on the kernel side
// of a namespace: every service, both profiles, active and passive, IPv4 and IPv6; 0 B, 1 B and
// 10 MiB up and down in every mode, 100 MiB up and down once per server and family (netxduo, active:
// NetX's default path) to keep the run short.
func TestInterop(t *testing.T) {
	env := taptest.New(t, taptest.Options{})
	starters := []struct {
		name  string
		start func(*testing.T, *taptest.Env) peer
	}{{"vsftpd", startVsftpd}, {"pure-ftpd", startPureFTPd}, {"pyftpdlib", startPyftpdNS}}
	for _, s := range starters {
		t.Run(s.name, func(t *testing.T) {
			p := s.start(t, env)
			for _, fam := range []string{"ipv4", "ipv6"} {
				for i, v := range variants() {
					t.Run(fam+"/"+v.name, func(t *testing.T) {
						srv := p.v4
						if fam == "ipv6" {
							srv = p.v6
							if v.netxActive() && p.lenient6.IsValid() {
								t.Log("pyftpdlib compares EPRT addresses as strings: NetX's full-form EPRT is tested with permit_foreign_addresses on")
								srv = p.lenient6
							}
						}
						ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
						defer cancel()
						c := dialAs(t, ctx, env.Device, srv, p.user, p.pass, v.opts...)
						dir := fmt.Sprintf("%s-%d", fam, i)
						if p.dir != "" {
							dir = p.dir + "/" + dir
						}
						exercise(t, ctx, c, dir, p.feats)
						if err := c.Mkdir(ctx, dir); err != nil {
							t.Fatal(err)
						}
						sizes := []int64{0, 1, 10 * MiB}
						if i == 0 {
							sizes = append(sizes, 100*MiB)
						}
						for _, n := range sizes {
							name := fmt.Sprintf("%s/f%d", dir, n)
							roundTrip(t, ctx, c, name, n, uint64(n)+uint64(i))
							if err := c.Delete(ctx, name); err != nil {
								t.Fatal(err)
							}
						}
						if err := c.Rmdir(ctx, dir); err != nil {
							t.Fatal(err)
						}
						if err := c.Quit(ctx); err != nil {
							t.Fatal(err)
						}
					})
				}
			}
		})
	}
}

// TestPyftpdlibLoopback runs every service against pyftpdlib on the loopback addresses, over the
// host kernel: both profiles, active and passive, IPv4 and IPv6.
func TestPyftpdlibLoopback(t *testing.T) {
	for _, host := range []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")} {
		root := t.TempDir()
		strict := startPyftpd(t, host, root, false, nil)
		lenient := startPyftpd(t, host, root, true, nil)
		for i, v := range variants() {
			t.Run(host.String()+"/"+v.name, func(t *testing.T) {
				srv := strict
				if host.Is6() && v.netxActive() {
					t.Log("pyftpdlib compares EPRT addresses as strings: NetX's full-form address is tested with permit_foreign_addresses on")
					srv = lenient
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				c := dialAs(t, ctx, stack.Kernel{}, srv, "user", "secret", v.opts...)
				exercise(t, ctx, c, fmt.Sprintf("d%d", i), true)
				if err := c.Quit(ctx); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// TestCaptureAgreesWithTshark captures our client (on the device stack, on a TAP) talking to vsftpd and
// pyftpdlib in the namespace, over IPv4 and IPv6, active and passive, and reads the capture twice: with
// ftpcheck and with tshark. Both must see the same FTP sessions with the same commands and reply codes
// in the same order, and ftpcheck must find every session well formed.
func TestCaptureAgreesWithTshark(t *testing.T) {
	tsharktest.Need(t)
	pcap := filepath.Join(t.TempDir(), "client.pcapng")
	var ports []uint16
	sessions := 0
	completed := false // false after the subtest: it skipped (no TAP, no vsftpd or pyftpdlib) or failed
	t.Run("sessions", func(t *testing.T) {
		env := taptest.New(t, taptest.Options{Pcap: pcap}) // the capture is closed when this subtest ends
		for _, p := range []peer{startVsftpd(t, env), startPyftpdNS(t, env)} {
			for _, srv := range []netip.AddrPort{p.v4, p.v6} {
				ports = append(ports, srv.Port())
				for _, passive := range []bool{false, true} {
					sessions++
					ctx := testCtx(t)
					c, err := Dial(ctx, env.Device, srv, WithPassive(passive))
					if err != nil {
						t.Fatalf("%s %v: %v", p.name, srv, err)
					}
					if err := c.Login(ctx, p.user, p.pass); err != nil {
						t.Fatalf("%s: login: %v", p.name, err)
					}
					if p.dir != "" {
						if err := c.Chdir(ctx, p.dir); err != nil {
							t.Fatalf("%s: cwd: %v", p.name, err)
						}
					}
					name := fmt.Sprintf("cap-%d.bin", sessions)
					data := randomBytes(100_000, uint64(sessions))
					put(t, ctx, c, name, data)
					if got, err := get(ctx, c, name); err != nil || !bytes.Equal(got, data) {
						t.Fatalf("%s: retr %s: %d bytes, %v", p.name, name, len(got), err)
					}
					if !names(t, ctx, c, "")[name] {
						t.Fatalf("%s: nlst lacks %s", p.name, name)
					}
					if err := c.Quit(ctx); err != nil {
						t.Fatalf("%s: quit: %v", p.name, err)
					}
				}
			}
		}
		completed = true
	})
	if t.Failed() {
		return
	}
	if !completed {
		t.Skip("the capture was not made: the sessions subtest skipped (see its reason: root, vsftpd or python3-pyftpdlib missing)")
	}
	f, err := os.Open(pcap)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := ftpcheck.Analyze(context.Background(), f, ftpcheck.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Sessions) != sessions {
		t.Fatalf("ftpcheck found %d sessions, the test ran %d", len(rep.Sessions), sessions)
	}
	if rep.Violations != 0 {
		var b strings.Builder
		rep.WriteText(&b)
		t.Errorf("ftpcheck: %d violations on real peers:\n%s", rep.Violations, b.String())
	}
	var ours [][]string
	for _, s := range rep.Sessions {
		ours = append(ours, s.Dialogue())
	}
	tsharktest.Compare(t, pcap, ours, ports...)
	t.Logf("%d sessions, ftpcheck and tshark agree on every command and reply code", len(ours))
}

// The bytes each profile sends, checked on the wire against pyftpdlib: NetX's exactly (TYPE I before
// each file, no TYPE before NLST, zero-padded PORT), the extended profile's modern form.
func TestWireBytesPerProfile(t *testing.T) {
	srv := startPyftpd(t, netip.MustParseAddr("127.0.0.1"), t.TempDir(), false, nil)
	port := `\d{3},\d{3}`
	cases := map[string]string{
		"netxduo": `^USER user\r\nPASS secret\r\n` +
			`TYPE I\r\nPORT 127,000,000,001,` + port + `\r\nSTOR f\r\n` +
			`TYPE I\r\nPORT 127,000,000,001,` + port + `\r\nRETR f\r\n` +
			`PORT 127,000,000,001,` + port + `\r\nNLST \r\n` +
			`MKD d\r\nCWD d\r\nCWD /\r\nRNFR f\r\nRNTO g\r\nDELE g\r\nRMD d\r\nQUIT\r\n$`,
		"extended": `^USER user\r\nPASS secret\r\n` +
			`TYPE I\r\nPORT 127,0,0,1,\d{1,3},\d{1,3}\r\nSTOR f\r\n` +
			`PORT 127,0,0,1,\d{1,3},\d{1,3}\r\nRETR f\r\n` +
			`TYPE A\r\nPORT 127,0,0,1,\d{1,3},\d{1,3}\r\nNLST\r\n` +
			`MKD d\r\nCWD d\r\nCWD /\r\nRNFR f\r\nRNTO g\r\nDELE g\r\nRMD d\r\nQUIT\r\n$`,
	}
	for profile, want := range cases {
		t.Run(profile, func(t *testing.T) {
			proxy, rec := recordingProxy(t, netip.MustParseAddr("127.0.0.1"), srv)
			ctx := testCtx(t)
			c := dialAs(t, ctx, stack.Kernel{}, proxy, "user", "secret", WithProfile(ftpProfile(profile)))
			put(t, ctx, c, "f", []byte("hello"))
			if b, err := get(ctx, c, "f"); err != nil || string(b) != "hello" {
				t.Fatalf("get = %q, %v", b, err)
			}
			if n := names(t, ctx, c, ""); !n["f"] {
				t.Fatalf("nlst = %v", n)
			}
			for _, step := range []error{c.Mkdir(ctx, "d"), c.Chdir(ctx, "d"), c.Chdir(ctx, "/"),
				c.Rename(ctx, "f", "g"), c.Delete(ctx, "g"), c.Rmdir(ctx, "d"), c.Quit(ctx)} {
				if step != nil {
					t.Fatal(step)
				}
			}
			ctl := c.LocalAddr().Port()
			c.Close()
			// the proxy finishes copying when the server closes
			got := waitFor(rec, "QUIT\r\n")
			if !regexp.MustCompile(want).MatchString(got) {
				t.Fatalf("client sent:\n%q\nwant match for\n%q", got, want)
			}
			if profile != "netxduo" {
				return
			}
			// NetX's data ports: the control connection's local port + 1, counting up by one.
			for i, m := range regexp.MustCompile(`PORT \d{3},\d{3},\d{3},\d{3},(\d{3}),(\d{3})`).FindAllStringSubmatch(got, -1) {
				hi, _ := strconv.Atoi(m[1])
				lo, _ := strconv.Atoi(m[2])
				if want := int(ctl) + 1 + i; hi*256+lo != want {
					t.Errorf("PORT %d announces port %d, want control port %d + %d = %d", i+1, hi*256+lo, ctl, 1+i, want)
				}
			}
		})
	}
}

func ftpProfile(s string) ftp.Profile { return ftp.Profile(s) }

func waitFor(r *recorder, suffix string) string {
	for i := 0; i < 200; i++ {
		if s := r.String(); strings.HasSuffix(s, suffix) {
			return s
		}
		time.Sleep(10 * time.Millisecond)
	}
	return r.String()
}

const benchSize = 256 * MiB

// repeatReader yields n bytes of a 1 MiB pattern, cheaply.
type repeatReader struct {
	buf  []byte
	left int64
	off  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(int64(len(p)), r.left)], r.buf[r.off:])
	r.off = (r.off + n) % len(r.buf)
	r.left -= int64(n)
	return n, nil
}

// BenchmarkVsftpdTAP moves 256 MiB down and up between vsftpd (kernel side of a namespace) and our
// client on the device stack on the TAP, and the same with curl on the kernel side against the same
// vsftpd, in the same run. It reports MB/s of each and ours/curl ratios.
//
//	go test -run '^$' -bench VsftpdTAP -benchtime 1x ./ftp/client/
func BenchmarkVsftpdTAP(b *testing.B) {
	testio.NeedTools(b, "curl")
	env := taptest.New(b, taptest.Options{})
	p := startVsftpdB(b, env)
	// the file to download, written straight into vsftpd's tree
	big := filepath.Join(p.root, "upload", "big")
	f, err := os.Create(big)
	if err != nil {
		b.Fatal(err)
	}
	pattern := randomBytes(MiB, 42)
	if _, err := io.Copy(f, &repeatReader{buf: pattern, left: benchSize}); err != nil {
		b.Fatal(err)
	}
	f.Close()
	os.Chmod(big, 0o644)
	ctx := context.Background()
	curlURL := fmt.Sprintf("ftp://anonymous:x@%s/upload/", p.v4.Addr())

	mbps := func(n int64, d time.Duration) float64 { return float64(n) / 1e6 / d.Seconds() }
	var oursDown, oursUp, curlDown, curlUp, oursDownActive, oursUpActive float64
	for i := 0; i < b.N; i++ {
		for _, passive := range []bool{true, false} {
			c, err := Dial(ctx, env.Device, p.v4, WithPassive(passive), WithProfile(ftp.ProfileExtended))
			if err != nil {
				b.Fatal(err)
			}
			if err := c.Login(ctx, "anonymous", "x"); err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			d, err := c.Retr(ctx, "upload/big")
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.Copy(io.Discard, d)
			if err != nil || n != benchSize {
				b.Fatalf("download: %d bytes, %v", n, err)
			}
			down := mbps(n, time.Since(start))
			start = time.Now()
			u, err := c.Stor(ctx, "upload/ours")
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(u, &repeatReader{buf: pattern, left: benchSize}); err != nil {
				b.Fatal(err)
			}
			if err := u.Close(); err != nil {
				b.Fatal(err)
			}
			up := mbps(benchSize, time.Since(start))
			c.Delete(ctx, "upload/ours")
			c.Quit(ctx)
			if passive {
				oursDown, oursUp = down, up
			} else {
				oursDownActive, oursUpActive = down, up
			}
		}
		// curl, passive (its default), on the kernel side
		out, err := env.Command(ctx, "curl", "-sS", "-o", "/dev/null", "-w", "%{time_total}", curlURL+"big").Output()
		if err != nil {
			b.Fatalf("curl download: %v", err)
		}
		curlDown = float64(benchSize) / 1e6 / seconds(b, out)
		out, err = env.Command(ctx, "curl", "-sS", "-T", big, "-w", "%{time_total}", curlURL+"curlup").Output()
		if err != nil {
			b.Fatalf("curl upload: %v", err)
		}
		curlUp = float64(benchSize) / 1e6 / seconds(b, out)
		if got, err := os.ReadFile(filepath.Join(p.root, "upload", "curlup")); err != nil || !bytes.Equal(got[:MiB], pattern) {
			b.Fatalf("curl upload did not arrive: %v", err)
		}
		os.Remove(filepath.Join(p.root, "upload", "curlup"))
	}
	// The same stack and TAP without FTP: raw TCP from the kernel side to the device, 256 MiB, to tell
	// the client's share of the gap from the stack's.
	rawDown := rawTCPDown(b, env, pattern)
	b.ReportMetric(rawDown, "raw-tcp-down-MB/s")
	b.ReportMetric(oursDown/rawDown, "down-vs-raw")
	b.ReportMetric(oursDown, "ours-down-MB/s")
	b.ReportMetric(curlDown, "curl-down-MB/s")
	b.ReportMetric(oursDown/curlDown, "down-ratio")
	b.ReportMetric(oursUp, "ours-up-MB/s")
	b.ReportMetric(curlUp, "curl-up-MB/s")
	b.ReportMetric(oursUp/curlUp, "up-ratio")
	b.ReportMetric(oursDownActive, "ours-active-down-MB/s")
	b.ReportMetric(oursUpActive, "ours-active-up-MB/s")
}

func seconds(b *testing.B, out []byte) float64 {
	s, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil || s <= 0 {
		b.Fatalf("curl time %q: %v", out, err)
	}
	return s
}

func rawTCPDown(b *testing.B, env *taptest.Env, pattern []byte) float64 {
	ctx := context.Background()
	ln, err := env.KernelDialer().Listen(ctx, netip.AddrPortFrom(env.HostV4, 0))
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	testio.Send(ln, &repeatReader{buf: pattern, left: benchSize})
	start := time.Now()
	c, err := env.Device.Dial(ctx, netip.AddrPort{}, netip.MustParseAddrPort(ln.Addr().String()))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	n, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, c, make([]byte, copyBuf))
	if err != nil || n != benchSize {
		b.Fatalf("raw TCP: %d bytes, %v", n, err)
	}
	return float64(n) / 1e6 / time.Since(start).Seconds()
}
