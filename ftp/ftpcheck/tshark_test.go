package ftpcheck

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/netxsim/netxsim/ftp/ftpcheck/capgen"
	"github.com/netxsim/netxsim/internal/tsharktest"
)

func needTool(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("needs %s: %v", n, err)
		}
	}
}

// compareWithTshark checks that tshark reads the same FTP dialogues out of file as ftpcheck did.
func compareWithTshark(t *testing.T, file string, rep *Report, ports ...uint16) {
	t.Helper()
	var ours [][]string
	for _, s := range rep.Sessions {
		ours = append(ours, s.Dialogue())
	}
	tsharktest.Compare(t, file, ours, ports...)
}

func TestTsharkAgreesOnSynthetic(t *testing.T) {
	needTool(t, "tshark")
	data := build(t, func(c *capgen.Capture) {
		for _, f := range faults() {
			f.script(c)
		}
		cleanSession(c, c4, s4, "PORT")
		// multi-line replies, one split over two packets, and a command in mixed case
		f := c.FTP(netip4(40100), s4)
		f.Reply("220-Welcome\r\n  to netxsim\r\n220 Connection Ready")
		f.Cmd("USER u")
		f.Reply("331 Enter password")
		f.Cmd("PASS p")
		f.Reply("230-line one")
		f.Reply("230 Logged in")
		f.Cmd("Mkd /x")
		f.Reply(`200 "/x" Directory Created`)
		f.Quit()
	})
	file := filepath.Join(t.TempDir(), "synthetic.pcapng")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	rep := analyze(t, data, Options{})
	compareWithTshark(t, file, rep)
}

// TestTsharkAgreesOnRealPeers captures curl against pyftpdlib on loopback inside a network namespace
// made for the test, then compares ftpcheck's command/reply sequence with tshark's.
func TestTsharkAgreesOnRealPeers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a network namespace")
	}
	needTool(t, "tshark", "dumpcap", "curl", "/usr/bin/python3", "ip")
	if exec.Command("/usr/bin/python3", "-c", "import pyftpdlib").Run() != nil {
		t.Skip("needs python3-pyftpdlib")
	}
	ns := fmt.Sprintf("ftpcheck-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	inNS := func(ctx context.Context, name string, args ...string) *exec.Cmd {
		return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, name}, args...)...)
	}
	if out, err := inNS(context.Background(), "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up: %v %s", err, out)
	}
	dir, root, file := clientFiles(t, 0o777, 200000, 70000)
	pcap := filepath.Join(dir, "real.pcapng")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	stopCap := startCapture(t, inNS(ctx, "dumpcap", "-i", "lo", "-f", "tcp", "-w", pcap))
	defer stopCap()
	srv := inNS(ctx, "/usr/bin/python3", "-m", "pyftpdlib", "-i", "127.0.0.1", "-p", "2121", "-w", "-d", root, "-r", "60000-60100")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	// wait for the server to be up (startCapture waited for the capture)
	deadline := time.Now().Add(20 * time.Second)
	for inNS(ctx, "/usr/bin/python3", "-c", "import ftplib; f = ftplib.FTP(); f.connect('127.0.0.1', 2121, timeout=2); f.quit()").Run() != nil {
		if time.Now().After(deadline) {
			t.Fatal("server did not start")
		}
		time.Sleep(200 * time.Millisecond)
	}
	base := "ftp://127.0.0.1:2121/"
	for _, args := range [][]string{
		{"-s", "-o", "/dev/null", base + "big.bin"},                                                                              // EPSV
		{"-s", "--disable-epsv", "-o", "/dev/null", base + "big.bin"},                                                            // PASV
		{"-s", "-P", "-", "--disable-eprt", "-o", "/dev/null", base + "big.bin"},                                                 // PORT
		{"-s", "-P", "-", "-o", "/dev/null", base + "big.bin"},                                                                   // EPRT
		{"-s", "-T", filepath.Join(dir, "up.bin"), base + "up.bin"},                                                              // STOR
		{"-s", "-o", "/dev/null", base},                                                                                          // LIST
		{"-s", "-Q", "MKD newdir", "-Q", "RNFR up.bin", "-Q", "RNTO moved.bin", "-Q", "DELE moved.bin", "-o", "/dev/null", base}, // commands
	} {
		if out, err := inNS(ctx, "curl", args...).CombinedOutput(); err != nil {
			t.Fatalf("curl %v: %v %s", args, err, out)
		}
	}
	time.Sleep(500 * time.Millisecond) // let the last FINs reach the capture
	stopCap()

	rep := analyzeFile(t, pcap, Options{})
	var text bytes.Buffer
	rep.WriteText(&text)
	if len(rep.Sessions) < 8 {
		t.Fatalf("found %d sessions, want >= 8 (7 curl runs + the readiness probes)\n%s", len(rep.Sessions), text.String())
	}
	compareWithTshark(t, pcap, rep, 2121)
	if rep.Violations != 0 {
		t.Errorf("real pyftpdlib/curl sessions: %d violations\n%s", rep.Violations, text.String())
	}
	// the real downloads carry the real file
	want := sha256hex(file)
	n := 0
	for _, s := range rep.Sessions {
		for _, tr := range s.Transfers {
			if tr.Verb == "RETR" {
				n++
				if tr.SHA256 != want || tr.Bytes != int64(len(file)) {
					t.Errorf("%s RETR: %d bytes sha %s, want %d %s", s.Name(), tr.Bytes, tr.SHA256, len(file), want)
				}
			}
		}
	}
	if n != 4 {
		t.Errorf("%d RETR transfers, want 4\n%s", n, text.String())
	}
	t.Logf("real capture: %d packets, %d sessions, %d violations\n%s", rep.Capture.Packets, len(rep.Sessions), rep.Violations, text.String())
}
