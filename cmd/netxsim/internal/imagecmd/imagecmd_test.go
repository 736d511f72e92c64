package imagecmd

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (code int, out, errOut string) {
	t.Helper()
	var o, e bytes.Buffer
	code = Run(context.Background(), args, &o, &e)
	return code, o.String(), e.String()
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := run(t, args...)
	if code != 0 {
		t.Fatalf("netxsim image %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func TestCommands(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "x.img")
	host := filepath.Join(dir, "hello.txt")
	os.WriteFile(host, []byte("hello, FAT\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, "tree", "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "tree", "sub", "deep file.txt"), []byte("deep"), 0o644)

	mustRun(t, "mkfs", "-i", img, "-size", "8M", "-type", "16", "-cluster", "1024", "-label", "TEST")
	info := mustRun(t, "info", "-i", img)
	for _, want := range []string{"type:             FAT16", "cluster size:     1024", "label:            TEST"} {
		if !strings.Contains(info, want) {
			t.Fatalf("info lacks %q:\n%s", want, info)
		}
	}
	mustRun(t, "mkdir", "-i", img, "-p", "/docs/nested dir")
	mustRun(t, "put", "-i", img, host, "/docs/")
	mustRun(t, "-i", img, "put", host, "/Renamed Copy.txt") // -i before the subcommand works too
	mustRun(t, "put", "-i", img, "-r", filepath.Join(dir, "tree"), "/")
	if out := mustRun(t, "cat", "-i", img, "::/docs/hello.txt"); out != "hello, FAT\n" {
		t.Fatalf("cat: %q", out)
	}
	if out := mustRun(t, "cat", "-i", img, "tree/sub/deep file.txt"); out != "deep" {
		t.Fatalf("cat: %q", out)
	}
	mustRun(t, "mv", "-i", img, "/Renamed Copy.txt", "/docs/nested dir")
	ls := mustRun(t, "ls", "-i", img, "-R")
	for _, want := range []string{"docs/", "/docs/nested dir:\nRenamed Copy.txt", "tree/", "deep file.txt"} {
		if !strings.Contains(ls, want) {
			t.Fatalf("ls -R lacks %q:\n%s", want, ls)
		}
	}
	if l := mustRun(t, "ls", "-i", img, "-l", "/docs"); !strings.Contains(l, "----a         11 ") || !strings.Contains(l, "d----") {
		t.Fatalf("ls -l:\n%s", l)
	}
	got := filepath.Join(dir, "got.txt")
	mustRun(t, "get", "-i", img, "/docs/nested dir/Renamed Copy.txt", got)
	if b, _ := os.ReadFile(got); string(b) != "hello, FAT\n" {
		t.Fatalf("get: %q", b)
	}
	// Failures exit 1 with a message; usage errors exit 2.
	if code, _, e := run(t, "rmdir", "-i", img, "/docs"); code != 1 || !strings.Contains(e, "not empty") {
		t.Fatalf("rmdir non-empty: %d %q", code, e)
	}
	if code, _, e := run(t, "cat", "-i", img, "/nope"); code != 1 || !strings.Contains(e, "not exist") {
		t.Fatalf("cat missing: %d %q", code, e)
	}
	if code, _, e := run(t, "mkdir", "-i", img, "/bad:name"); code != 1 || !strings.Contains(e, "invalid") {
		t.Fatalf("bad name: %d %q", code, e)
	}
	for _, args := range [][]string{{"ls"}, {"frobnicate", "-i", img}, {"mv", "-i", img, "a"}, {"ls", "-i", img, "-x"}, {"cat", "-i", img, "../x"}, {}} {
		if code, _, _ := run(t, args...); code != 2 {
			t.Fatalf("%q: exit %d, want 2", args, code)
		}
	}
	for _, args := range [][]string{{"--help"}, {"ls", "--help"}, {"help"}} {
		if code, out, _ := run(t, args...); code != 0 || !strings.Contains(out, "usage:") {
			t.Fatalf("%q: exit %d, output %q", args, code, out)
		}
	}
	if code, _, e := run(t, "ls", "-i", img, "-bogus"); code != 2 || !strings.Contains(e, "-bogus") {
		t.Fatalf("bad flag: %d %q", code, e)
	}
	mustRun(t, "rm", "-i", img, "/docs/hello.txt", "/docs/nested dir/Renamed Copy.txt")
	mustRun(t, "rmdir", "-i", img, "/docs/nested dir")
	if out := mustRun(t, "check", "-i", img); !strings.Contains(out, "2 files") && !strings.Contains(out, "files") {
		t.Fatalf("check: %s", out)
	}
	if _, err := exec.LookPath("fsck.fat"); err == nil {
		if out, err := exec.Command("fsck.fat", "-n", img).CombinedOutput(); err != nil {
			t.Fatalf("fsck.fat: %v\n%s", err, out)
		}
	}
	// check reports damage and exits 1.
	f, _ := os.OpenFile(img, os.O_RDWR, 0)
	// Mark a free cluster near the end as used: a lost cluster.
	fatOff := int64(512) // one reserved sector
	f.WriteAt([]byte{0xFF, 0xFF}, fatOff+2*7000)
	f.WriteAt([]byte{0xFF, 0xFF}, fatOff+2*7000+512*int64(fatSectors(t, img)))
	f.Close()
	if code, out, _ := run(t, "check", "-i", img); code != 1 || !strings.Contains(out, "lost clusters") {
		t.Fatalf("check of a damaged image: %d\n%s", code, out)
	}
}

func fatSectors(t *testing.T, img string) int {
	b := make([]byte, 512)
	f, _ := os.Open(img)
	defer f.Close()
	f.ReadAt(b, 0)
	return int(b[22]) | int(b[23])<<8
}
