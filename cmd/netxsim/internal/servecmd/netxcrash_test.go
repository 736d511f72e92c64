package servecmd

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/netxsim/netxsim/internal/testio"
)

// TestServeNetXCrash: in netxduo-6.4, RNTO without RNFR (where the real NetX Duo 6.4.2 crashes) closes
// that session and logs an error naming the defect, and the server keeps serving; with --netx-crash
// the whole FTP server stops and serve exits 1 naming it, as the real device would die.
func TestServeNetXCrash(t *testing.T) {
	for _, crash := range []bool{false, true} {
		name := "session"
		if crash {
			name = "netx-crash"
		}
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			args := []string{"--listen", "127.0.0.1:0", "--ram", "1M", "--user", "u:p", "--profile", "netxduo-6.4"}
			if crash {
				args = append(args, "--netx-crash")
			}
			pr, pw := io.Pipe()
			var errb lockedBuffer
			done := make(chan int, 1)
			go func() { done <- Run(ctx, args, pw, &errb); pw.Close() }()
			addr := testio.ListenAddr(pr)
			if addr == "" {
				t.Fatalf("no listening address (exit %d): %s", <-done, errb.String())
			}
			c, r := dialFTP(t, addr)
			for _, x := range [][2]string{{"USER u", "331"}, {"PASS p", "230"}} {
				if got := command(t, c, r, x[0]); !strings.HasPrefix(got, x[1]) {
					t.Fatalf("%s: %q, want %s", x[0], got, x[1])
				}
			}
			if _, err := io.WriteString(c, "RNTO nowhere.txt\r\n"); err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if rest, err := io.ReadAll(r); err != nil || len(rest) != 0 {
				t.Errorf("after RNTO without RNFR: %q %v, want the session closed without a reply", rest, err)
			}
			c.Close()
			if crash {
				select {
				case code := <-done:
					if code != 1 {
						t.Errorf("serve exited %d, want 1", code)
					}
				case <-time.After(20 * time.Second):
					t.Fatal("serve still running after the NetX crash")
				}
				if _, err := net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
					t.Error("the FTP server still accepts connections after the crash")
				}
			} else {
				c2, r2 := dialFTP(t, addr) // still serving
				if got := command(t, c2, r2, "USER u"); !strings.HasPrefix(got, "331") {
					t.Errorf("a new session after the defect: %q", got)
				}
				c2.Close()
				cancel()
				if code := <-done; code != 0 {
					t.Errorf("serve exited %d, want 0", code)
				}
			}
			t.Logf("stderr:\n%s", errb.String())
			for _, w := range []string{"level=ERROR", "nx_ftp_server RNTO without RNFR", "NULL"} {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr does not name the NetX defect (%q):\n%s", w, errb.String())
				}
			}
		})
	}
}

func dialFTP(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if l, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(l, "220") {
		t.Fatalf("greeting %q %v", l, err)
	}
	return c, r
}

func command(t *testing.T, c net.Conn, r *bufio.Reader, cmd string) string {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, cmd+"\r\n"); err != nil {
		t.Fatal(err)
	}
	l, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	return l
}
