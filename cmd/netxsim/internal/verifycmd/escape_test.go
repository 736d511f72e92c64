package verifycmd

import (
	"bytes"
	"context"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netxsim/netxsim/ftp/ftpcheck/capgen"
	"github.com/netxsim/netxsim/internal/termtext/ptytest"
)

// TestCaptureTextEscaped: a capture whose server greets with a title change and answers with an
// OSC 52 clipboard write. netxsim verify's ladder on a terminal shows them escaped; to a pipe the
// text keeps the bytes (the JSON has them in any case).
func TestCaptureTextEscaped(t *testing.T) {
	p := filepath.Join(t.TempDir(), "hostile.pcapng")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	c, err := capgen.New(f)
	if err != nil {
		t.Fatal(err)
	}
	s := c.FTP(netip.MustParseAddrPort("198.51.100.1:40000"), netip.MustParseAddrPort("198.51.100.2:21"))
	s.Reply("220 hi\x1b]0;owned\x07")
	s.Cmd("USER u")
	s.Reply("331 \x1b]52;c;cm0gLXJmIH4=\x07 password \u009b31m")
	s.Cmd("QUIT")
	s.Reply("221 bye")
	s.Ctl.CloseBoth(capgen.Server)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()

	tty, shown := ptytest.Open(t)
	Run(context.Background(), []string{p}, tty, io.Discard)
	got := shown()
	if r := ptytest.Raw(got); r != "" {
		t.Errorf("the terminal got %s raw:\n%q", r, got)
	}
	if !bytes.Contains(got, []byte(`331 \x1b]52;c;`)) {
		t.Errorf("the reply is not shown escaped:\n%q", got)
	}
	_, out, _ := run(p)
	if !strings.Contains(out, "\x1b]52;c;") {
		t.Errorf("to a pipe the text lost the reply's bytes:\n%q", out)
	}
}
