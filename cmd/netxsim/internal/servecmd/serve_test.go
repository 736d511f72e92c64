package servecmd

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/netxsim/netxsim/cmd/netxsim/internal/cli/clitest"
	"github.com/netxsim/netxsim/fsimage"
)

// serveOn runs `netxsim serve --listen 127.0.0.1:0 args...` in this process until it listens and
// returns it with the address it listens on.
func serveOn(t *testing.T, args ...string) (*clitest.Running, string) {
	t.Helper()
	s := clitest.Start(t, Run, "listening on ", append([]string{"--listen", "127.0.0.1:0"}, args...)...)
	_, addr, _ := strings.Cut(s.Line, "listening on ")
	return s, strings.TrimSpace(addr)
}

// startServe is serveOn with the user demo:secret and the extended profile.
func startServe(t *testing.T, args ...string) (*clitest.Running, string) {
	t.Helper()
	return serveOn(t, append([]string{"--user", "demo:secret", "--profile", "extended"}, args...)...)
}

// loginDemo connects to a startServe server and logs in as demo.
func loginDemo(t *testing.T, addr string) *ftp.ServerConn {
	t.Helper()
	c, err := ftp.Dial(addr, ftp.DialWithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login("demo", "secret"); err != nil {
		t.Fatal(err)
	}
	return c
}

// newImage formats a new image file of size bytes in a temporary directory.
func newImage(t *testing.T, size int64, opt fsimage.FormatOptions) string {
	t.Helper()
	img := filepath.Join(t.TempDir(), "card.img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if err := fsimage.Format(f, size, opt); err != nil {
		t.Fatal(err)
	}
	return img
}

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
	return newRawCtl(t, c)
}

// newRawCtl makes c a rawCtl, closed when the test ends.
func newRawCtl(t *testing.T, c net.Conn) *rawCtl {
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

// do sends cmd (nothing when it is empty: the greeting) and returns the reply's code.
func (r *rawCtl) do(cmd string) int {
	r.t.Helper()
	if cmd != "" {
		fmt.Fprintf(r.c, "%s\r\n", cmd)
	}
	return r.reply()
}

func TestUsage(t *testing.T) {
	if code, out, _ := clitest.Run(t, Run, "--help"); code != 0 || !strings.Contains(out, "--root") {
		t.Fatalf("--help: %d %q", code, out)
	}
	for _, args := range [][]string{
		{},              // no back end
		{"--root", "x"}, // nobody can log in
		{"--root", "x", "--ram", "1M", "--anonymous"},
		{"--root", "x", "--anonymous", "--profile", "vsftpd"},
		{"--root", "x", "--user", "nopass"},
		{"--root", "x", "--anonymous", "--pasv-ports", "9-1"},
		{"--root", "x", "--anonymous", "--pcap", "f"},
		{"--root", "x", "--anonymous", "extra"},
	} {
		if code, _, errOut := clitest.Run(t, Run, args...); code != 2 || errOut == "" {
			t.Errorf("%q: exit %d, stderr %q; want 2 and a message", args, code, errOut)
		}
	}
	if code, _, _ := clitest.Run(t, Run, "--root", "/nonexistent/dir", "--anonymous"); code != 1 {
		t.Errorf("missing root: exit %d, want 1", code)
	}
}

// TestServeKernel runs `netxsim serve` on loopback over a directory and over a new image file.
func TestServeKernel(t *testing.T) {
	dir := t.TempDir()
	for _, backend := range [][]string{
		{"--root", dir},
		{"--image", filepath.Join(t.TempDir(), "disk.img"), "--image-size", "16M"},
	} {
		t.Run(backend[0], func(t *testing.T) {
			srv, addr := startServe(t, backend...)
			c, err := ftp.Dial(addr, ftp.DialWithTimeout(10*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Login("demo", "wrong"); err == nil {
				t.Fatal("wrong password accepted")
			}
			c.Quit()
			c = loginDemo(t, addr)
			if err := c.Stor("hello.txt", strings.NewReader("hello")); err != nil {
				t.Fatal(err)
			}
			r, err := c.Retr("hello.txt")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(r)
			r.Close()
			if string(b) != "hello" {
				t.Fatalf("RETR %q", b)
			}
			c.Quit()
			if code := srv.Stop(); code != 0 {
				t.Fatalf("exit %d", code)
			}
		})
	}
}

// serve refuses 192.0.2.0/24 (the build machines' uplink) with exit 2, on the host kernel and on a TAP,
// before any socket or interface is made.
func TestRefuses192_0_2(t *testing.T) {
	clitest.Exits(t, Run,
		clitest.Case{Args: []string{"--listen", "192.0.2.1:2121", "--ram", "1M", "--anonymous"}, Code: 2, Err: "192.0.2.0/24"},
		clitest.Case{Args: []string{"--tap", "nxg0", "--ipv4", "192.0.2.2/24", "--ram", "1M", "--anonymous"}, Code: 2, Err: "192.0.2.0/24"},
		clitest.Case{Args: []string{"--tap", "nxg0", "--netns", "nxg0", "--host-ipv4", "192.0.2.1/24", "--ram", "1M", "--anonymous"}, Code: 2, Err: "192.0.2.0/24"})
}

// TestServeSizes: the sizes of the hostile campaign (a makeslice panic, an out-of-memory death, a
// wrap to 0) and other bad sizes are usage errors naming the flag, before anything is allocated.
func TestServeSizes(t *testing.T) {
	for _, c := range []struct{ flag, val string }{
		{"--ram", "99999999999G"}, {"--ram", "100G"}, {"--ram", "17179869184G"}, {"--ram", "5G"},
		{"--ram", "9223372036854775808"}, {"--ram", "-1M"}, {"--ram", "1.5"}, {"--ram", "1K"}, {"--ram", "x"},
		{"--image-size", "99999999999G"}, {"--image-size", "17179869184G"}, {"--image-size", "0"},
	} {
		args := []string{"--anonymous", c.flag, c.val}
		if c.flag == "--image-size" {
			args = append(args, "--image", filepath.Join(t.TempDir(), "new.img"))
		}
		code, _, errOut := clitest.Run(t, Run, args...)
		if code != 2 || !strings.Contains(errOut, c.flag) || !strings.Contains(errOut, c.val) {
			t.Errorf("%s %s: exit %d, stderr %q; want 2 naming the flag and value", c.flag, c.val, code, errOut)
		}
	}
}

// TestServeNonRegularImage: --image on a FIFO or a device is refused at once (no hang, no endless read).
func TestServeNonRegularImage(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, img := range []string{fifo, "/dev/zero"} {
		var errb lockedBuffer
		done := make(chan int, 1)
		go func() { done <- Run(t.Context(), []string{"--anonymous", "--image", img}, io.Discard, &errb) }()
		select {
		case code := <-done:
			if code != 2 || !strings.Contains(errb.String(), "regular file") || !strings.Contains(errb.String(), img) {
				t.Errorf("--image %s: exit %d, stderr %q", img, code, errb.String())
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("--image %s hangs", img)
		}
	}
}

// TestServeLock: a second serve (or an image command) on an image being served is refused with the
// holder named; the first server's acknowledged files are all there afterwards (issue 10 item 1).
func TestServeLock(t *testing.T) {
	img := filepath.Join(t.TempDir(), "disk.img")
	srv, addr := startServe(t, "--image", img, "--image-size", "8M")
	code, _, errOut := clitest.Run(t, Run, "--listen", "127.0.0.1:0", "--anonymous", "--image", img)
	if code != 1 || !strings.Contains(errOut, fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("second serve: exit %d, stderr %q; want 1 naming this process", code, errOut)
	}
	if _, err := fsimage.OpenFile(img, fsimage.Options{}); err == nil {
		t.Fatal("a second writer opened the image")
	}
	c := loginDemo(t, addr)
	for i := range 5 {
		if err := c.Stor(fmt.Sprintf("f%d.txt", i), strings.NewReader(strings.Repeat("x", i*1000))); err != nil {
			t.Fatal(err)
		}
	}
	c.Quit()
	if code := srv.Stop(); code != 0 {
		t.Fatalf("serve exit %d", code)
	}
	v, err := fsimage.OpenFile(img, fsimage.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("after serve stopped: %v", err)
	}
	defer v.Close()
	for i := range 5 {
		fi, err := v.Stat(fmt.Sprintf("f%d.txt", i))
		if err != nil || fi.Size() != int64(i*1000) {
			t.Fatalf("f%d.txt: %v %v", i, fi, err)
		}
	}
}

// TestServeReclaimsTemp: upload temporary files left by a killed server are removed when the image
// or directory is opened again, and serve says so (issue 10 item 5), on both back ends.
func TestServeReclaimsTemp(t *testing.T) {
	names := []string{".netxsim-upload-0123456789abcdef.part", "sub/.netxsim-upload-feedfacecafebeef.part", "sub/deeper/.netxsim-upload-1.part"}
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "sub", "deeper"), 0o755)
	img := newImage(t, 8<<20, fsimage.FormatOptions{})
	v, err := fsimage.OpenFile(img, fsimage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	v.Mkdir("sub")
	v.Mkdir("sub/deeper")
	for _, n := range append(names, "keep.txt", "sub/keep.part") {
		os.WriteFile(filepath.Join(root, n), []byte("partial"), 0o644)
		w, err := v.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("partial"))
		w.Close()
	}
	v.Close()
	for _, backend := range [][]string{{"--root", root}, {"--image", img}} {
		t.Run(backend[0], func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			pr, pw := io.Pipe()
			done := make(chan int, 1)
			args := append([]string{"--listen", "127.0.0.1:0", "--anonymous"}, backend...)
			go func() { done <- Run(ctx, args, io.Discard, pw); pw.Close() }()
			sc := bufio.NewScanner(pr)
			var msg string
			for sc.Scan() {
				if strings.Contains(sc.Text(), "stale upload") {
					msg = sc.Text()
					break
				}
			}
			go io.Copy(io.Discard, pr)
			cancel()
			<-done
			if !strings.Contains(msg, "removed 3 ") {
				t.Fatalf("serve said %q, want it to report 3 removed files", msg)
			}
		})
	}
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(root, n)); err == nil {
			t.Errorf("root: %s left", n)
		}
	}
	v, err = fsimage.OpenFile(img, fsimage.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	for _, n := range names {
		if _, err := v.Stat(n); err == nil {
			t.Errorf("image: %s left", n)
		}
	}
	for _, n := range []string{"keep.txt", "sub/keep.part"} {
		if _, err := v.Stat(n); err != nil {
			t.Errorf("image: %s removed: %v", n, err)
		}
	}
}

// TestRootFullStor: on FAT12/16 the root directory has a fixed number of entries. An upload's
// temporary file takes 4 of them (its long name); renaming it to the target must cost nothing
// more, so a STOR (new or overwrite, short or long name) succeeds whenever 4 entries are free
// (issue 10 item 15: it failed while the final file would have fitted).
func TestRootFullStor(t *testing.T) {
	for _, ft := range []struct {
		typ  fsimage.FATType
		size int64
	}{{fsimage.FAT12, 1440 << 10}, {fsimage.FAT16, 16 << 20}} {
		for _, target := range []string{"NEW.TXT", "OLD.TXT", "a long target name.txt"} {
			t.Run(fmt.Sprintf("%s/%s", ft.typ, target), func(t *testing.T) {
				img := newImage(t, ft.size, fsimage.FormatOptions{Type: ft.typ})
				v, err := fsimage.OpenFile(img, fsimage.Options{})
				if err != nil {
					t.Fatal(err)
				}
				slots := v.Info().RootEntries
				w, _ := v.Create("OLD.TXT")
				w.Write([]byte("old"))
				w.Close()
				for i := 0; i < slots-1-4; i++ { // leave exactly 4 entries free
					w, err := v.Create(fmt.Sprintf("F%d.TXT", i))
					if err != nil {
						t.Fatal(err)
					}
					w.Close()
				}
				if w, err := v.Create("X1234567.TXT"); err != nil {
					t.Fatal(err)
				} else {
					w.Close()
					v.Remove("X1234567.TXT") // checks that the count is right: 4 free
				}
				v.Close()
				srv, addr := startServe(t, "--image", img)
				c := loginDemo(t, addr)
				if err := c.Stor(target, strings.NewReader("new content")); err != nil {
					t.Fatalf("STOR %s with 4 root entries free: %v", target, err)
				}
				c.Quit()
				srv.Stop()
				v, err = fsimage.OpenFile(img, fsimage.Options{ReadOnly: true})
				if err != nil {
					t.Fatal(err)
				}
				defer v.Close()
				if b, err := v.ReadFile(target); err != nil || string(b) != "new content" {
					t.Fatalf("%s: %q %v", target, b, err)
				}
				if rep, err := v.Check(); err != nil || !rep.OK() {
					t.Fatalf("check: %v %v", rep, err)
				}
			})
		}
	}
}

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
			args := []string{"--ram", "1M", "--user", "u:p", "--profile", "netxduo-6.4"}
			if crash {
				args = append(args, "--netx-crash")
			}
			srv, addr := serveOn(t, args...)
			c := dialRaw(t, addr)
			for _, x := range []struct {
				cmd  string
				want int
			}{{"", 220}, {"USER u", 331}, {"PASS p", 230}} {
				if got := c.do(x.cmd); got != x.want {
					t.Fatalf("%q: %d, want %d", x.cmd, got, x.want)
				}
			}
			if _, err := io.WriteString(c.c, "RNTO nowhere.txt\r\n"); err != nil {
				t.Fatal(err)
			}
			c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if rest, err := io.ReadAll(c.r); err != nil || len(rest) != 0 {
				t.Errorf("after RNTO without RNFR: %q %v, want the session closed without a reply", rest, err)
			}
			c.c.Close()
			if crash {
				select {
				case <-srv.Ended():
					if code := srv.Wait(); code != 1 {
						t.Errorf("serve exited %d, want 1", code)
					}
				case <-time.After(20 * time.Second):
					t.Fatal("serve still running after the NetX crash")
				}
				if _, err := net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
					t.Error("the FTP server still accepts connections after the crash")
				}
			} else {
				c2 := dialRaw(t, addr) // still serving
				if got := c2.do(""); got != 220 {
					t.Fatalf("greeting of a new session after the defect: %d", got)
				}
				if got := c2.do("USER u"); got != 331 {
					t.Errorf("a new session after the defect: %d", got)
				}
				c2.c.Close()
				if code := srv.Stop(); code != 0 {
					t.Errorf("serve exited %d, want 0", code)
				}
			}
			t.Logf("stderr:\n%s", srv.Stderr())
			for _, w := range []string{"level=ERROR", "nx_ftp_server RNTO without RNFR", "NULL"} {
				if !strings.Contains(srv.Stderr(), w) {
					t.Errorf("stderr does not name the NetX defect (%q):\n%s", w, srv.Stderr())
				}
			}
		})
	}
}
