package ftpcmd

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netxsim/netxsim/cmd/netxsim/internal/cli/clitest"
	"github.com/netxsim/netxsim/cmd/netxsim/internal/servecmd"
	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/internal/termtext/ptytest"
	"github.com/netxsim/netxsim/internal/testio"
)

// hostile names: OSC 0 (window title), OSC 52 (clipboard), clear screen with a carriage return, an
// 8-bit CSI, a right-to-left override.
var hostileNames = []string{
	"a\x1b]0;owned\x07b.txt",
	"clip\x1b]52;c;cm0gLXJmIH4=\x07.txt",
	"x\x1b[2J\ry.txt",
	"c1\u009b31m.txt",
	"bidi\u202etxt.exe",
}

// startServer serves a host directory holding the hostile names with `netxsim serve`.
func startServer(t *testing.T, prof ftp.Profile) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range append([]string{"plain.txt"}, hostileNames...) {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644); err != nil {
			t.Skipf("this file system refuses the name %q: %v", n, err)
		}
	}
	srv := clitest.Start(t, servecmd.Run, "listening on ", "--listen", "127.0.0.1:0", "--root", dir, "--user", "u:p", "--profile", string(prof))
	_, addr, _ := strings.Cut(srv.Line, "listening on ")
	return "ftp://u:p@" + strings.TrimSpace(addr)
}

// TestTerminalEscapes: file names in listings and a server's reply texts carry terminal escape
// sequences. Written to a terminal (a real pseudo-terminal), every one is escaped: nothing the
// terminal would obey arrives, the names are still recognisable. Written to a pipe, a listing keeps
// the server's bytes (scripts get the real names). Both listing commands, both client profiles.
func TestTerminalEscapes(t *testing.T) {
	for _, prof := range []ftp.Profile{ftp.ProfileNetXDuo, ftp.ProfileNetXDuo64, ftp.ProfileExtended} {
		for _, cmd := range []string{"ls", "nlst"} {
			t.Run(string(prof)+"/"+cmd, func(t *testing.T) {
				base := startServer(t, prof)
				s, shown := ptytest.Open(t)
				var errOut bytes.Buffer
				if code := runTo(t, s, &errOut, cmd, "--profile", string(prof), base+"/"); code != 0 {
					t.Fatalf("netxsim ftp %s = %d: %s", cmd, code, errOut.String())
				}
				got := shown()
				if r := ptytest.Raw(got); r != "" {
					t.Errorf("the terminal got %s raw:\n%q", r, got)
				}
				for _, want := range []string{"plain.txt", `a\x1b]0;owned\x07b.txt`, `x\x1b[2J\x0dy.txt`, `c1\u009b31m.txt`, `bidi\u202etxt.exe`} {
					if !bytes.Contains(got, []byte(want)) {
						t.Errorf("the terminal does not show %s:\n%q", want, got)
					}
				}
				// a pipe gets the names as they are
				var out bytes.Buffer
				errOut.Reset()
				if code := runTo(t, &out, &errOut, cmd, "--profile", string(prof), base+"/"); code != 0 {
					t.Fatalf("to a pipe: %d %s", code, errOut.String())
				}
				for _, n := range hostileNames {
					if !strings.Contains(out.String(), n) {
						t.Errorf("to a pipe, %q is missing or changed:\n%q", n, out.String())
					}
				}
			})
		}
	}
}

// TestReplyTextEscaped: a hostile server's reply texts (a greeting and a 530 carrying OSC 52 and a
// title change) reach the terminal escaped, in the error message and in the -v dialogue.
func TestReplyTextEscaped(t *testing.T) {
	for _, verbose := range []bool{false, true} {
		t.Run(fmt.Sprintf("v=%v", verbose), func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			testio.ServeOne(ln, func(c net.Conn) error {
				r := bufio.NewReader(c)
				io.WriteString(c, "220 hi\x1b]0;title\x07\r\n")
				r.ReadString('\n')
				io.WriteString(c, "331 \x1b[2Jpassword\r\n")
				r.ReadString('\n')
				io.WriteString(c, "530 no \x1b]52;c;cm0gLXJmIH4=\x07 \u009b31m\r\n")
				_, err := r.ReadString('\n')
				return err
			})
			s, shown := ptytest.Open(t)
			args := []string{"ls", "ftp://u:p@" + ln.Addr().String() + "/"}
			if verbose {
				args = append(args, "-v")
			}
			if code := runTo(t, io.Discard, s, args...); code != 1 {
				t.Fatalf("exit %d, want 1", code)
			}
			got := shown()
			if r := ptytest.Raw(got); r != "" {
				t.Errorf("the terminal got %s raw:\n%q", r, got)
			}
			if !bytes.Contains(got, []byte(`530 no \x1b]52;c;`)) {
				t.Errorf("the 530 is not shown escaped:\n%q", got)
			}
			if verbose && !bytes.Contains(got, []byte(`< 220 hi\x1b]0;title\x07`)) {
				t.Errorf("the dialogue does not show the greeting escaped:\n%q", got)
			}
		})
	}
}
