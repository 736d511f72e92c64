package servecmd

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/netxsim/netxsim/ftp"
)

// rawCtl is a bare control connection: the test decides every byte.
type rawCtl struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawCtl {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawCtl{t: t, c: c, r: bufio.NewReader(c)}
}

// reply reads one (possibly multi-line) reply and returns its code.
func (r *rawCtl) reply() int {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(15 * time.Second))
	for {
		line, err := r.r.ReadString('\n')
		if err != nil {
			r.t.Fatalf("reading a reply: %v", err)
		}
		if len(line) >= 4 && line[3] == ' ' {
			var code int
			fmt.Sscanf(line[:3], "%d", &code)
			return code
		}
	}
}

func (r *rawCtl) do(cmd string) int {
	r.t.Helper()
	fmt.Fprintf(r.c, "%s\r\n", cmd)
	return r.reply()
}

// TestSIGTERMStopsStuckSessions: `netxsim serve --root` over a directory holding a FIFO, with
// sessions in every state that could block: one that asked for the FIFO (refused at once, never
// opened blocking), one whose download the client never reads (the server blocked writing), one
// whose upload never sends a byte (blocked reading), one that trickles its USER line without ever
// logging in. SIGTERM stops the server: the process exits on its own, cleanly, with every session
// closed. Every profile, IPv4 and IPv6 (a wait bounds the test; on failure it is killed).
func TestSIGTERMStopsStuckSessions(t *testing.T) {
	if testing.Short() {
		t.Skip("starts six server processes")
	}
	for _, prof := range []ftp.Profile{ftp.ProfileNetXDuo, ftp.ProfileNetXDuo64, ftp.ProfileExtended} {
		for _, host := range []string{"127.0.0.1", "::1"} {
			t.Run(string(prof)+"/"+host, func(t *testing.T) {
				testSIGTERM(t, prof, host)
			})
		}
	}
}

func testSIGTERM(t *testing.T, prof ftp.Profile, host string) {
	if ln, err := net.Listen("tcp", net.JoinHostPort(host, "0")); err != nil {
		t.Skipf("no %s loopback: %v", host, err)
	} else {
		ln.Close()
	}
	root := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(root, "pipe"), 0o644); err != nil {
		t.Skipf("no FIFOs: %v", err)
	}
	if err := os.WriteFile(filepath.Join(root, "big.bin"), make([]byte, 32<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	var errOut strings.Builder
	var mu sync.Mutex
	cmd, addr := childArgs(t, lockedWriter{&mu, &errOut}, "--listen", net.JoinHostPort(host, "0"), "--user", "u:p", "--profile", string(prof), "--root", root)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			cmd.Process.Kill()
			<-exited
		}
	}()
	six := strings.Contains(host, ":")
	login := func() *rawCtl {
		c := dialRaw(t, addr)
		c.reply()
		c.do("USER u")
		if code := c.do("PASS p"); code != 230 {
			t.Fatalf("login: %d", code)
		}
		c.do("TYPE I")
		return c
	}
	// active data connections from the server to a listener of ours (a port above 1024)
	dataListener := func(c *rawCtl) net.Listener {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		ap := netip.MustParseAddrPort(ln.Addr().String())
		cmd := "PORT " + ftp.FormatPORT(ap, false)
		if six {
			cmd = "EPRT " + ftp.FormatEPRT(ap)
		}
		if code := c.do(cmd); code != 200 {
			t.Fatalf("%s: %d", cmd, code)
		}
		return ln
	}
	// 1: the FIFO, refused without blocking; the session stays logged in
	fifo := login()
	dl := dataListener(fifo)
	fmt.Fprintf(fifo.c, "RETR pipe\r\n")
	if code := fifo.reply(); code < 400 {
		t.Fatalf("RETR pipe: %d", code)
	}
	dl.Close()
	// 2: a download nobody reads
	down := login()
	dl = dataListener(down)
	fmt.Fprintf(down.c, "RETR big.bin\r\n")
	dconn, err := dl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer dconn.Close()
	if code := down.reply(); code != 125 && code != 150 {
		t.Fatalf("RETR big.bin: %d", code)
	}
	// 3: an upload that never sends
	up := login()
	ul := dataListener(up)
	fmt.Fprintf(up.c, "STOR new.bin\r\n")
	uconn, err := ul.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer uconn.Close()
	up.reply()
	// 4: a USER line that never ends (the last slot of NetX's four)
	slow := dialRaw(t, addr)
	slow.reply()
	slow.c.Write([]byte("US"))

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			mu.Lock()
			t.Errorf("serve exited with %v after SIGTERM; stderr:\n%s", err, errOut.String())
			mu.Unlock()
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30 s of SIGTERM with sessions stuck on a FIFO, a stalled download, an idle upload and a trickled login")
	}
	// every session was closed by the server
	for _, c := range []*rawCtl{fifo, down, up, slow} {
		c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			if _, err := c.r.ReadByte(); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Errorf("a control connection is still open after the server exited")
				}
				break
			}
		}
	}
	if _, err := os.Stat(filepath.Join(root, "new.bin")); err == nil {
		t.Errorf("the interrupted upload was stored")
	}
	es, _ := os.ReadDir(root)
	for _, e := range es {
		if strings.HasPrefix(e.Name(), ".netxsim-upload-") {
			t.Errorf("temporary %s left", e.Name())
		}
	}

}

type lockedWriter struct {
	mu *sync.Mutex
	w  *strings.Builder
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
