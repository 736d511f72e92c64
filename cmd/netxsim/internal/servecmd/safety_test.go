package servecmd

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"
	"github.com/netxsim/netxsim/fsimage"
	"github.com/netxsim/netxsim/internal/testio"
)

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
		var errb bytes.Buffer
		code := Run(context.Background(), args, io.Discard, &errb)
		if code != 2 || !strings.Contains(errb.String(), c.flag) || !strings.Contains(errb.String(), c.val) {
			t.Errorf("%s %s: exit %d, stderr %q; want 2 naming the flag and value", c.flag, c.val, code, errb.String())
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
		var errb bytes.Buffer
		done := make(chan int, 1)
		go func() { done <- Run(context.Background(), []string{"--anonymous", "--image", img}, io.Discard, &errb) }()
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

func startServe(t *testing.T, ctx context.Context, args ...string) (addr string, done chan int) {
	t.Helper()
	pr, pw := io.Pipe()
	done = make(chan int, 1)
	args = append([]string{"--listen", "127.0.0.1:0", "--user", "demo:secret", "--profile", "extended"}, args...)
	go func() { done <- Run(ctx, args, pw, os.Stderr); pw.Close() }()
	addr = testio.ListenAddr(pr)
	if addr == "" {
		t.Fatalf("no listening address printed (exit %d)", <-done)
	}
	return addr, done
}

// TestServeLock: a second serve (or an image command) on an image being served is refused with the
// holder named; the first server's acknowledged files are all there afterwards (issue 10 item 1).
func TestServeLock(t *testing.T) {
	img := filepath.Join(t.TempDir(), "disk.img")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, done := startServe(t, ctx, "--image", img, "--image-size", "8M")
	var errb bytes.Buffer
	code := Run(context.Background(), []string{"--listen", "127.0.0.1:0", "--anonymous", "--image", img}, io.Discard, &errb)
	if code != 1 || !strings.Contains(errb.String(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("second serve: exit %d, stderr %q; want 1 naming this process", code, errb.String())
	}
	if _, err := fsimage.OpenFile(img, fsimage.Options{}); err == nil {
		t.Fatal("a second writer opened the image")
	}
	c, err := ftp.Dial(addr, ftp.DialWithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login("demo", "secret"); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := c.Stor(fmt.Sprintf("f%d.txt", i), strings.NewReader(strings.Repeat("x", i*1000))); err != nil {
			t.Fatal(err)
		}
	}
	c.Quit()
	cancel()
	if code := <-done; code != 0 {
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
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(img, os.O_RDWR, 0)
	f.Truncate(8 << 20)
	if err := fsimage.Format(f, 8<<20, fsimage.FormatOptions{}); err != nil {
		t.Fatal(err)
	}
	f.Close()
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
			ctx, cancel := context.WithCancel(context.Background())
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
