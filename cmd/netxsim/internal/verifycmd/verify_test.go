package verifycmd

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netxsim/netxsim/ftp/ftpcheck/capgen"
)

func writeCapture(t *testing.T, quit bool) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.pcapng")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	c, err := capgen.New(f)
	if err != nil {
		t.Fatal(err)
	}
	s := c.FTP(netip.MustParseAddrPort("198.51.100.1:40000"), netip.MustParseAddrPort("198.51.100.2:21"))
	s.Login("u", "p")
	s.Transfer(capgen.Transfer{Verb: "RETR", Arg: "f", Setup: "PASV", Data: []byte("hello world")})
	if quit {
		s.Quit()
	} else {
		s.Cmd("QUIT")
		s.Ctl.CloseBoth(capgen.Server)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return p
}

func run(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestVerify(t *testing.T) {
	good, bad := writeCapture(t, true), writeCapture(t, false)
	dir := t.TempDir()
	code, out, errs := run(good, "--json", filepath.Join(dir, "r.json"), "--junit", filepath.Join(dir, "r.xml"), "--svg", filepath.Join(dir, "svg"))
	if code != 0 || !strings.Contains(out, "verdict: PASS") {
		t.Fatalf("clean capture: exit %d\n%s\n%s", code, out, errs)
	}
	for _, f := range []string{"r.json", "r.xml", "svg/session-1.svg"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("artifact %s: %v", f, err)
		}
	}
	if code, out, _ := run("--profile", "netxduo", bad); code != 1 || !strings.Contains(out, "FAIL quit-221") {
		t.Errorf("missing 221: exit %d\n%s", code, out)
	}
	if code, _, errs := run(filepath.Join(dir, "nope.pcap")); code != 1 || !strings.Contains(errs, "cannot read the capture") {
		t.Errorf("missing file: exit %d %s", code, errs)
	}
	if code, _, errs := run(filepath.Join(dir, "r.json")); code != 1 || !strings.Contains(errs, "not a pcap or pcapng") {
		t.Errorf("not a capture: exit %d %s", code, errs)
	}
	for _, args := range [][]string{{}, {good, bad}, {"--profile", "x", good}, {"--bogus", good}} {
		if code, _, _ := run(args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if code, out, _ := run("--help"); code != 0 || !strings.Contains(out, "usage: netxsim verify") {
		t.Errorf("--help: exit %d %q", code, out)
	}
}

// TestStrictFlag: the real-client corpus (wget closes without QUIT) passes with warnings, fails with
// --strict, and the verdict line says which mode judged it.
func TestStrictFlag(t *testing.T) {
	capture := filepath.Join("..", "..", "..", "..", "ftp", "ftpcheck", "testdata", "corpus", "clients-extended.pcapng")
	code, out, errs := run("--profile", "extended", capture)
	if code != 0 || !strings.Contains(errs, "(lenient)") || !strings.Contains(out, "WARN quit-221") {
		t.Fatalf("lenient: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, errs = run("--strict", "--profile", "extended", capture)
	if code != 1 || !strings.Contains(errs, "(strict)") || !strings.Contains(out, "FAIL quit-221: the session ended without QUIT") {
		t.Fatalf("strict: exit %d\n%s\n%s", code, out, errs)
	}
}
