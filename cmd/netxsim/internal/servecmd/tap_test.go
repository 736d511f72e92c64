package servecmd

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/netxsim/netxsim/cmd/netxsim/internal/cli/clitest"
	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/ftp/ftpcheck"
	"github.com/netxsim/netxsim/internal/testio"
	"github.com/netxsim/netxsim/tapdev"
	"github.com/netxsim/netxsim/tapdev/taptest"
)

// served is a running `netxsim serve --tap --netns` started by startServe.
type served struct {
	ns        string
	netns     *tapdev.NetNS // ns, opened once serve made it
	out       []string      // stdout lines up to "running;"
	linkLocal netip.AddrPort
	hints     []string
	stop      func() int // stops serve and returns its exit code; idempotent
}

// startServeTAP runs `netxsim serve --tap NS --netns NS args...` in this process and waits until it runs.
// Cleanup stops it and fails the test if the namespace survives.
func startServeTAP(t *testing.T, args ...string) *served {
	t.Helper()
	if why := taptest.Skip(); why != "" {
		t.Skip(why)
	}
	s := &served{ns: taptest.Name("nxv")}
	r := clitest.Start(t, Run, "running;", append([]string{"--tap", s.ns, "--netns", s.ns}, args...)...)
	s.stop = r.Stop
	t.Cleanup(func() {
		s.stop()
		if s.netns != nil {
			s.netns.Close()
		}
		clitest.NetNSGone(t, s.ns)
	})
	netns, err := tapdev.OpenNetNS(s.ns)
	if err != nil {
		t.Fatal(err)
	}
	s.netns = netns
	inHints := false
	for _, l := range strings.Split(r.Stdout(), "\n") {
		s.out = append(s.out, l)
		tl := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(tl, "running;"):
			if !s.linkLocal.IsValid() {
				t.Fatalf("serve printed no link-local address:\n%s", strings.Join(s.out, "\n"))
			}
			return s
		case tl == "connect with:":
			inHints = true
		case inHints:
			s.hints = append(s.hints, tl)
		case strings.HasPrefix(tl, "listening on [fe80:"):
			a, _, _ := strings.Cut(strings.TrimPrefix(tl, "listening on "), " ")
			ap, err := netip.ParseAddrPort(a)
			if err != nil || ap.Addr().Zone() != s.ns {
				t.Fatalf("link-local line %q: %v (want the zone %%%s)", tl, err, s.ns)
			}
			s.linkLocal = ap
		}
	}
	t.Fatalf("serve printed %q but no line starts with it:\n%s", "running;", r.Stdout())
	return nil
}

type lockedBuffer = testio.Buffer

// waitKernelLinkLocal waits until the kernel side of the TAP has a link-local address past DAD, so
// clients have a source address for fe80::/64.
func waitKernelLinkLocal(t *testing.T, s *served) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		out, _ := s.netns.Command(t.Context(), "ip", "-6", "addr", "show", "dev", s.ns, "scope", "link").Output()
		if strings.Contains(string(out), "inet6 fe80:") && !strings.Contains(string(out), "tentative") {
			return
		}
	}
	t.Fatalf("the kernel side of %s has no usable link-local address", s.ns)
}

func shaFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Errorf("%v", err)
		return ""
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestLinkLocalClients: `serve` answers on the device's IPv6 link-local address in both profiles; curl,
// lftp, Python's ftplib and inetutils-ftp in the namespace reach it as fe80::…%TAP, passive (EPSV) and
// active (EPRT), download and upload with SHA-256 equal. The capture of the run verifies clean, and
// stopping the server adds no RST to it (the capture is closed before the stack is torn down).
func TestLinkLocalClients(t *testing.T) {
	for _, prof := range []ftp.Profile{ftp.ProfileNetXDuo, ftp.ProfileExtended} {
		t.Run(string(prof), func(t *testing.T) { linkLocalClients(t, prof) })
	}
}

func linkLocalClients(t *testing.T, prof ftp.Profile) {
	root, err := os.MkdirTemp("", "nxv-root-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	work := t.TempDir()
	file := make([]byte, 150000)
	rand.Read(file)
	os.WriteFile(filepath.Join(root, "f.bin"), file, 0o644)
	up := filepath.Join(work, "up.bin")
	upData := make([]byte, 70000)
	rand.Read(upData)
	os.WriteFile(up, upData, 0o644)
	fileSHA, upSHA := shaFile(t, filepath.Join(root, "f.bin")), shaFile(t, up)
	pcap := filepath.Join(work, "ll.pcapng")
	s := startServeTAP(t, "--root", root, "--user", "u:p", "--profile", string(prof), "--pcap", pcap)
	waitKernelLinkLocal(t, s)
	ll := s.linkLocal.Addr()
	host := ll.String() // fe80::…%TAP, as getaddrinfo takes it
	url := fmt.Sprintf("ftp://[%s]:21/", strings.Replace(host, "%", "%25", 1))

	type run struct {
		name  string
		argv  []string
		stdin string
		gets  []string // files under work that must equal f.bin
		puts  []string // files under root that must equal up.bin
	}
	pyscript := `
import ftplib, io, sys
class FTP(ftplib.FTP):
    # ftplib drops the zone of a link-local peer when it opens an EPSV data connection
    # (it connects to getpeername()[0], which has no zone): keep the control connection's
    def makepasv(self):
        host, port = super().makepasv()
        return sys.argv[1], port
f = FTP()
f.connect(sys.argv[1], 21)
f.login("u", "p")
f.set_pasv(sys.argv[2] == "passive")
with open(sys.argv[3], "wb") as out:
    f.retrbinary("RETR f.bin", out.write)
with open(sys.argv[4], "rb") as src:
    f.storbinary("STOR " + sys.argv[5], src)
f.quit()
`
	runs := []run{
		{name: "curl passive get", argv: []string{"curl", "-sS", "-g", "-u", "u:p", "-o", work + "/curl-p.bin", url + "f.bin"}, gets: []string{"curl-p.bin"}},
		// curl -P - binds the control connection's address without its zone (EINVAL on fe80::):
		// -P with the interface name works
		{name: "curl active get", argv: []string{"curl", "-sS", "-g", "-P", s.ns, "-u", "u:p", "-o", work + "/curl-a.bin", url + "f.bin"}, gets: []string{"curl-a.bin"}},
		{name: "curl passive put", argv: []string{"curl", "-sS", "-g", "-u", "u:p", "-T", up, url + "curl-up.bin"}, puts: []string{"curl-up.bin"}},
		{name: "curl active put", argv: []string{"curl", "-sS", "-g", "-P", s.ns, "-u", "u:p", "-T", up, url + "curl-upa.bin"}, puts: []string{"curl-upa.bin"}},
		{name: "lftp passive", argv: []string{"lftp", "-u", "u,p", "-p", "21", "-e", fmt.Sprintf("set ftp:passive-mode on; get f.bin -o %s/lftp-p.bin; put %s -o lftp-up.bin; bye", work, up), host},
			gets: []string{"lftp-p.bin"}, puts: []string{"lftp-up.bin"}},
		{name: "lftp active", argv: []string{"lftp", "-u", "u,p", "-p", "21", "-e", fmt.Sprintf("set ftp:passive-mode off; get f.bin -o %s/lftp-a.bin; put %s -o lftp-upa.bin; bye", work, up), host},
			gets: []string{"lftp-a.bin"}, puts: []string{"lftp-upa.bin"}},
		{name: "ftplib passive", argv: []string{"/usr/bin/python3", "-c", pyscript, host, "passive", work + "/py-p.bin", up, "py-up.bin"}, gets: []string{"py-p.bin"}, puts: []string{"py-up.bin"}},
		{name: "ftplib active", argv: []string{"/usr/bin/python3", "-c", pyscript, host, "active", work + "/py-a.bin", up, "py-upa.bin"}, gets: []string{"py-a.bin"}, puts: []string{"py-upa.bin"}},
		{name: "inetutils-ftp passive", argv: []string{"inetutils-ftp", "-n", "-p", host, "21"},
			stdin: fmt.Sprintf("user u p\nbinary\nget f.bin %s/inet-p.bin\nput %s inet-up.bin\nquit\n", work, up), gets: []string{"inet-p.bin"}, puts: []string{"inet-up.bin"}},
		{name: "inetutils-ftp active", argv: []string{"inetutils-ftp", "-n", "-A", host, "21"},
			stdin: fmt.Sprintf("user u p\nbinary\nget f.bin %s/inet-a.bin\nput %s inet-upa.bin\nquit\n", work, up), gets: []string{"inet-a.bin"}, puts: []string{"inet-upa.bin"}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ran := 0
	for _, r := range runs {
		if _, err := exec.LookPath(r.argv[0]); err != nil {
			t.Logf("%s: skipped: %s is not installed (scripts/test.sh installs it)", r.name, r.argv[0])
			continue
		}
		ran++
		cmd := s.netns.Command(ctx, r.argv[0], r.argv[1:]...)
		cmd.Stdin = strings.NewReader(r.stdin)
		out, err := cmd.CombinedOutput()
		if err != nil || (r.stdin != "" && bytes.Contains(out, []byte("failed"))) {
			t.Errorf("%s: %v\n%s", r.name, err, out)
			continue
		}
		for _, g := range r.gets {
			if got := shaFile(t, filepath.Join(work, g)); got != fileSHA {
				t.Errorf("%s: %s sha256 %s, want %s\n%s", r.name, g, got, fileSHA, out)
			}
		}
		for _, p := range r.puts {
			if got := shaFile(t, filepath.Join(root, p)); got != upSHA {
				t.Errorf("%s: uploaded %s sha256 %s, want %s\n%s", r.name, p, got, upSHA, out)
			}
		}
	}
	if code := s.stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	if t.Failed() {
		return
	}
	f, err := os.Open(pcap)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := ftpcheck.Analyze(ctx, f, ftpcheck.Options{Profile: prof})
	if err != nil {
		t.Fatal(err)
	}
	var txt strings.Builder
	rep.WriteText(&txt)
	linkSessions := 0
	for _, sess := range rep.Sessions {
		if sess.Server.Addr().WithZone("") == ll.WithZone("") {
			linkSessions++
		}
	}
	if linkSessions < ran {
		t.Errorf("%d sessions on the link-local address for %d client runs\n%s", linkSessions, ran, txt.String())
	}
	if rep.Violations != 0 {
		t.Errorf("%d violations in the capture\n%s", rep.Violations, txt.String())
	}
	if n := countRSTs(t, pcap); n.afterLast > 0 {
		t.Errorf("%d RSTs after the last FTP session ended (stop), %d in all", n.afterLast, n.all)
	} else {
		t.Logf("%s: %d client runs, %d link-local sessions, 0 violations; RSTs: %d in all, none from the stop", prof, ran, linkSessions, n.all)
	}
}

type rstCount struct{ all, afterLast int }

// countRSTs counts TCP RST segments in a capture, and those after the last FIN of any connection
// (a stop that resets the connections in TIME_WAIT adds them there).
func countRSTs(t *testing.T, file string) rstCount {
	t.Helper()
	var rsts []int
	lastFIN := 0
	for i0, p := range testio.ReadCapture(t, file) {
		i := i0 + 1
		if tcp, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP); ok {
			if tcp.RST {
				rsts = append(rsts, i)
			}
			if tcp.FIN {
				lastFIN = i
			}
		}
	}
	c := rstCount{all: len(rsts)}
	for _, n := range rsts {
		if n > lastFIN {
			c.afterLast++
		}
	}
	return c
}

// TestHintsRun: every "connect with:" line serve prints runs as printed (in a shell) and exits 0,
// with --anonymous (a password with an @) and with a user.
func TestHintsRun(t *testing.T) {
	for _, login := range [][]string{{"--anonymous"}, {"--user", "demo:s3cret"}} {
		t.Run(login[0], func(t *testing.T) {
			root, err := os.MkdirTemp("", "nxv-hint-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(root) })
			os.WriteFile(filepath.Join(root, "hello.txt"), []byte("hello"), 0o644)
			s := startServeTAP(t, append([]string{"--root", root}, login...)...)
			waitKernelLinkLocal(t, s)
			if len(s.hints) < 3 {
				t.Fatalf("hints %q: want curl, lftp and curl on the link-local address", s.hints)
			}
			clitest.HintsRun(t, s.hints, "hello.txt", 1)
		})
	}
}

// TestServeSlotsOverTAP: a `serve --tap` NetX device with its 4 sessions taken by kernel clients in
// the namespace does not answer a 5th client's SYN at all (the kernel retransmits it, as against
// the real device); once one of the 4 quits, the SYN is answered and the 5th gets its 220. The
// device's own capture shows it: no SYN-ACK to the 5th before the 221 that freed the slot.
func TestServeSlotsOverTAP(t *testing.T) {
	pcap := filepath.Join(t.TempDir(), "slots.pcapng")
	s := startServeTAP(t, "--ram", "1M", "--user", "u:p", "--profile", "netxduo-6.4", "--skip-dad", "--pcap", pcap)
	k := s.netns.Kernel()
	dev := netip.MustParseAddrPort("198.51.100.2:21")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	greet := func(c net.Conn) *rawCtl {
		t.Helper()
		r := newRawCtl(t, c)
		if code := r.reply(); code != 220 {
			t.Fatalf("greeting %d", code)
		}
		return r
	}
	var open []*rawCtl
	for range 4 {
		c, err := k.Dial(ctx, netip.AddrPort{}, dev)
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, greet(c))
	}
	type dialed struct {
		c   net.Conn
		err error
	}
	fifth := make(chan dialed, 1)
	go func() {
		c, err := k.Dial(ctx, netip.AddrPort{}, dev)
		fifth <- dialed{c, err}
	}()
	// the kernel retransmits an unanswered SYN after 1 s: wait past it, the 5th must still wait
	time.Sleep(1500 * time.Millisecond)
	select {
	case d := <-fifth:
		t.Fatalf("the 5th connection completed while 4 sessions are open (%v)", d.err)
	default:
	}
	for _, x := range []struct {
		cmd  string
		want int
	}{{"USER u", 331}, {"PASS p", 230}, {"QUIT", 221}} { // QUIT before login is 530 on NetX
		if code := open[0].do(x.cmd); code != x.want {
			t.Fatalf("%s: %d, want %d", x.cmd, code, x.want)
		}
	}
	d := <-fifth
	if d.err != nil {
		t.Fatalf("the 5th connection after a slot freed: %v", d.err)
	}
	greet(d.c)
	fifthPort := d.c.LocalAddr().(*net.TCPAddr).Port
	if code := s.stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	f, err := os.Open(pcap)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	segs, _, err := ftpcheck.ReadSegments(t.Context(), f)
	if err != nil {
		t.Fatal(err)
	}
	var quit221, synAck, syns int64 = -1, -1, 0
	for _, sg := range segs {
		switch {
		case sg.Src == dev && strings.HasPrefix(string(sg.Payload), "221") && quit221 < 0:
			quit221 = sg.Packet
		case sg.Src == dev && sg.SYN && sg.ACK && int(sg.Dst.Port()) == fifthPort && synAck < 0:
			synAck = sg.Packet
		case sg.Dst == dev && sg.SYN && !sg.ACK && int(sg.Src.Port()) == fifthPort:
			syns++
		}
	}
	if quit221 < 0 || synAck < 0 || synAck < quit221 {
		t.Errorf("the device's SYN-ACK to the 5th client is packet %d, the 221 that freed a slot packet %d: want the SYN-ACK after", synAck, quit221)
	}
	if syns < 2 {
		t.Errorf("the 5th client sent %d SYNs: the first should have gone unanswered and been retransmitted", syns)
	}
}
