package servecmd

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/netxsim/netxsim/internal/testio"
)

func TestUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Run(context.Background(), []string{"--help"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "--root") {
		t.Fatalf("--help: %d %q", code, out.String())
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
		errb.Reset()
		if code := Run(context.Background(), args, io.Discard, &errb); code != 2 || errb.Len() == 0 {
			t.Errorf("%q: exit %d, stderr %q; want 2 and a message", args, code, errb.String())
		}
	}
	if code := Run(context.Background(), []string{"--root", "/nonexistent/dir", "--anonymous"}, io.Discard, &errb); code != 1 {
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
			ctx, cancel := context.WithCancel(context.Background())
			pr, pw := io.Pipe()
			done := make(chan int, 1)
			args := append([]string{"--listen", "127.0.0.1:0", "--user", "demo:secret", "--profile", "extended"}, backend...)
			go func() { done <- Run(ctx, args, pw, os.Stderr); pw.Close() }()
			addr := testio.ListenAddr(pr)
			if addr == "" {
				cancel()
				t.Fatalf("no listening address printed (exit %d)", <-done)
			}
			c, err := ftp.Dial(addr, ftp.DialWithTimeout(10*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Login("demo", "wrong"); err == nil {
				t.Fatal("wrong password accepted")
			}
			c.Quit()
			c, err = ftp.Dial(addr, ftp.DialWithTimeout(10*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Login("demo", "secret"); err != nil {
				t.Fatal(err)
			}
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
			cancel()
			if code := <-done; code != 0 {
				t.Fatalf("exit %d", code)
			}
		})
	}
}
