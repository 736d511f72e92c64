package verifycmd

import (
	"bytes"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netxsim/netxsim/cmd/netxsim/internal/cli/clitest"
	"github.com/netxsim/netxsim/ftp/ftpcheck/capgen"
	"github.com/netxsim/netxsim/internal/termtext/ptytest"
)

// writeCapture writes a capture of one FTP control connection from 198.51.100.1 to a server on
// 198.51.100.2:21, its dialogue written by session.
func writeCapture(t *testing.T, session func(s *capgen.FTP)) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.pcapng")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := capgen.New(f)
	if err != nil {
		t.Fatal(err)
	}
	session(c.FTP(netip.MustParseAddrPort("198.51.100.1:40000"), netip.MustParseAddrPort("198.51.100.2:21")))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// retrCapture is a session with one RETR, ended with QUIT and its 221 when quit, else closed by the
// server without a reply to QUIT.
func retrCapture(t *testing.T, quit bool) string {
	return writeCapture(t, func(s *capgen.FTP) {
		s.Login("u", "p")
		s.Transfer(capgen.Transfer{Verb: "RETR", Arg: "f", Setup: "PASV", Data: []byte("hello world")})
		if quit {
			s.Quit()
		} else {
			s.Cmd("QUIT")
			s.Ctl.CloseBoth(capgen.Server)
		}
	})
}

func TestVerify(t *testing.T) {
	good, bad := retrCapture(t, true), retrCapture(t, false)
	dir := t.TempDir()
	code, out, errs := clitest.Run(t, Run, good, "--json", filepath.Join(dir, "r.json"), "--junit", filepath.Join(dir, "r.xml"), "--svg", filepath.Join(dir, "svg"))
	if code != 0 || !strings.Contains(out, "verdict: PASS") {
		t.Fatalf("clean capture: exit %d\n%s\n%s", code, out, errs)
	}
	for _, f := range []string{"r.json", "r.xml", "svg/session-1.svg"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("artifact %s: %v", f, err)
		}
	}
	cases := []clitest.Case{
		{Args: []string{"--profile", "netxduo", bad}, Code: 1, Out: "FAIL quit-221"},
		{Args: []string{filepath.Join(dir, "nope.pcap")}, Code: 1, Err: "cannot read the capture"},
		{Args: []string{filepath.Join(dir, "r.json")}, Code: 1, Err: "not a pcap or pcapng"},
		{Args: []string{"--help"}, Code: 0, Out: "usage: netxsim verify"},
	}
	for _, args := range [][]string{{}, {good, bad}, {"--profile", "x", good}, {"--bogus", good}} {
		cases = append(cases, clitest.Case{Args: args, Code: 2})
	}
	clitest.Exits(t, Run, cases...)
}

// TestStrictFlag: the real-client corpus (wget closes without QUIT) passes with warnings, fails with
// --strict, and the verdict line says which mode judged it.
func TestStrictFlag(t *testing.T) {
	capture := filepath.Join("..", "..", "..", "..", "ftp", "ftpcheck", "testdata", "corpus", "clients-extended.pcapng")
	clitest.Exits(t, Run,
		clitest.Case{Args: []string{"--profile", "extended", capture}, Code: 0, Out: "WARN quit-221", Err: "(lenient)"},
		clitest.Case{Args: []string{"--strict", "--profile", "extended", capture}, Code: 1,
			Out: "FAIL quit-221: the session ended without QUIT", Err: "(strict)"})
}

// TestCaptureTextEscaped: a capture whose server greets with a title change and answers with an
// OSC 52 clipboard write. netxsim verify's ladder on a terminal shows them escaped; to a pipe the
// text keeps the bytes (the JSON has them in any case).
func TestCaptureTextEscaped(t *testing.T) {
	p := writeCapture(t, func(s *capgen.FTP) {
		s.Reply("220 hi\x1b]0;owned\x07")
		s.Cmd("USER u")
		s.Reply("331 \x1b]52;c;cm0gLXJmIH4=\x07 password \u009b31m")
		s.Cmd("QUIT")
		s.Reply("221 bye")
		s.Ctl.CloseBoth(capgen.Server)
	})
	tty, shown := ptytest.Open(t)
	Run(t.Context(), []string{p}, tty, io.Discard)
	got := shown()
	if r := ptytest.Raw(got); r != "" {
		t.Errorf("the terminal got %s raw:\n%q", r, got)
	}
	if !bytes.Contains(got, []byte(`331 \x1b]52;c;`)) {
		t.Errorf("the reply is not shown escaped:\n%q", got)
	}
	_, out, _ := clitest.Run(t, Run, p)
	if !strings.Contains(out, "\x1b]52;c;") {
		t.Errorf("to a pipe the text lost the reply's bytes:\n%q", out)
	}
}
