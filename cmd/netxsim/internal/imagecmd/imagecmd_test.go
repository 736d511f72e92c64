package imagecmd

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netxsim/netxsim/cmd/netxsim/internal/cli/clitest"
	"github.com/netxsim/netxsim/fsimage"
)

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := clitest.Run(t, Run, args...)
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
	if code, _, e := clitest.Run(t, Run, "rmdir", "-i", img, "/docs"); code != 1 || !strings.Contains(e, "not empty") {
		t.Fatalf("rmdir non-empty: %d %q", code, e)
	}
	if code, _, e := clitest.Run(t, Run, "cat", "-i", img, "/nope"); code != 1 || !strings.Contains(e, "not exist") {
		t.Fatalf("cat missing: %d %q", code, e)
	}
	if code, _, e := clitest.Run(t, Run, "mkdir", "-i", img, "/bad:name"); code != 1 || !strings.Contains(e, "invalid") {
		t.Fatalf("bad name: %d %q", code, e)
	}
	var cases []clitest.Case
	for _, args := range [][]string{{"ls"}, {"frobnicate", "-i", img}, {"mv", "-i", img, "a"}, {"ls", "-i", img, "-x"}, {"cat", "-i", img, "../x"}, {}} {
		cases = append(cases, clitest.Case{Args: args, Code: 2})
	}
	for _, args := range [][]string{{"--help"}, {"ls", "--help"}, {"help"}} {
		cases = append(cases, clitest.Case{Args: args, Code: 0, Out: "usage:"})
	}
	clitest.Exits(t, Run, append(cases, clitest.Case{Args: []string{"ls", "-i", img, "-bogus"}, Code: 2, Err: "-bogus"})...)
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
	if code, out, _ := clitest.Run(t, Run, "check", "-i", img); code != 1 || !strings.Contains(out, "lost clusters") {
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

type fatType struct{ typ, size string }

var fatTypes = []fatType{{"12", "1440K"}, {"16", "16M"}, {"32", "40M"}}

// eachFAT runs test once for each FAT type, on a fresh image a.img of that type in the
// subtest's own directory.
func eachFAT(t *testing.T, test func(t *testing.T, ft fatType, dir, img string)) {
	for _, ft := range fatTypes {
		t.Run("FAT"+ft.typ, func(t *testing.T) {
			dir := t.TempDir()
			img := filepath.Join(dir, "a.img")
			mustRun(t, "mkfs", "-i", img, "-size", ft.size, "-type", ft.typ)
			test(t, ft, dir, img)
		})
	}
}

// runWithin is run that fails the test with hang when the command takes longer than 20 s.
func runWithin(t *testing.T, hang string, args ...string) (code int, out, errOut string) {
	t.Helper()
	done := make(chan struct{})
	go func() { code, out, errOut = clitest.Run(t, Run, args...); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal(hang)
	}
	return code, out, errOut
}

func fileHash(t *testing.T, name string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// TestMkfsValidatesFirst: a bad option is a usage error (exit 2) and the existing image is left
// exactly as it was (issue 10 item 3: -type 7, -sector 3, -cluster 3, a long label truncated it).
func TestMkfsValidatesFirst(t *testing.T) {
	eachFAT(t, func(t *testing.T, ft fatType, dir, img string) {
		note := filepath.Join(dir, "note.txt")
		os.WriteFile(note, []byte("keep me"), 0o644)
		mustRun(t, "put", "-i", img, note, "/note.txt")
		before := fileHash(t, img)
		for _, bad := range [][]string{
			{"-type", "7"}, {"-type", "-1"}, {"-sector", "3"}, {"-sector", "8192"}, {"-cluster", "3"},
			{"-cluster", "-512"}, {"-label", "MUCH TOO LONG A LABEL"}, {"-label", "bad*chars"},
			{"-root-entries", "-5"}, {"-root-entries", "70000"}, {"-size", "99999999999G"},
			{"-size", "-1"}, {"-size", "0"}, {"-size", "1x"}, {"-size", "1K"}, {"-size", "17179869184G"},
			{"-type", "12", "-size", "1G"},
		} {
			code, _, errOut := clitest.Run(t, Run, append([]string{"mkfs", "-i", img}, bad...)...)
			if code != 2 || errOut == "" {
				t.Errorf("mkfs %q: exit %d, stderr %q; want 2 and a message", bad, code, errOut)
			}
			if fileHash(t, img) != before {
				t.Fatalf("mkfs %q changed the image", bad)
			}
		}
		if out := mustRun(t, "cat", "-i", img, "/note.txt"); out != "keep me" {
			t.Fatalf("note: %q", out)
		}
	})
}

// TestImageLock: while one writer holds an image, every other writer and reader is refused with an
// error naming the holder, and nothing it holds is lost (issue 10 item 1).
func TestImageLock(t *testing.T) {
	eachFAT(t, func(t *testing.T, ft fatType, dir, img string) {
		src := filepath.Join(dir, "f.txt")
		os.WriteFile(src, []byte("second"), 0o644)
		held, err := fsimage.OpenFile(img, fsimage.Options{})
		if err != nil {
			t.Fatal(err)
		}
		w, _ := held.Create("first.txt")
		w.Write([]byte("first"))
		w.Close()
		pid := fmt.Sprintf("pid %d", os.Getpid())
		for _, args := range [][]string{
			{"put", "-i", img, src, "/f.txt"}, {"mkdir", "-i", img, "/d"}, {"rm", "-i", img, "/first.txt"},
			{"mkfs", "-i", img}, {"ls", "-i", img}, {"cat", "-i", img, "/first.txt"}, {"check", "-i", img},
		} {
			code, _, errOut := clitest.Run(t, Run, args...)
			if code != 1 || !strings.Contains(errOut, "in use") && !strings.Contains(errOut, "open for writing") || !strings.Contains(errOut, pid) {
				t.Errorf("%q while held: exit %d, stderr %q; want 1 naming %s", args, code, errOut, pid)
			}
		}
		if err := held.Close(); err != nil {
			t.Fatal(err)
		}
		// Readers share; a writer waits for none of them but is refused while they read.
		r1, err := fsimage.OpenFile(img, fsimage.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		if out := mustRun(t, "cat", "-i", img, "/first.txt"); out != "first" {
			t.Fatalf("cat beside a reader: %q", out)
		}
		if code, _, errOut := clitest.Run(t, Run, "put", "-i", img, src, "/f.txt"); code != 1 || !strings.Contains(errOut, "open for reading") {
			t.Errorf("put beside a reader: exit %d %q", code, errOut)
		}
		r1.Close()
		mustRun(t, "put", "-i", img, src, "/f.txt")
		if out := mustRun(t, "cat", "-i", img, "/first.txt", "/f.txt"); out != "firstsecond" {
			t.Fatalf("after the lock: %q", out)
		}
	})
}

// TestNonRegularImage: a FIFO, /dev/zero or a directory as the image is refused at once.
func TestNonRegularImage(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, img := range []string{fifo, "/dev/zero", dir} {
		for _, cmd := range []string{"ls", "check", "info", "mkdir", "mkfs"} {
			args := []string{cmd, "-i", img}
			if cmd == "mkdir" {
				args = append(args, "/x")
			}
			code, _, errOut := runWithin(t, fmt.Sprintf("%q hangs", args), args...)
			if code == 0 || !strings.Contains(errOut, "regular file") {
				t.Errorf("%q: exit %d, stderr %q; want a refusal naming a non-regular file", args, code, errOut)
			}
		}
	}
}

// TestPutNoFollow: put -r skips links and FIFOs inside a tree (issue 10 items 6 and 15) and, with
// -L, refuses a link cycle instead of copying 40 nested copies.
func TestPutNoFollow(t *testing.T) {
	eachFAT(t, func(t *testing.T, ft fatType, dir, img string) {
		tree := filepath.Join(dir, "tree")
		os.MkdirAll(filepath.Join(tree, "sub"), 0o755)
		os.WriteFile(filepath.Join(tree, "sub", "f.txt"), []byte("f"), 0o644)
		os.WriteFile(filepath.Join(dir, "outside.txt"), []byte("outside"), 0o644)
		os.Symlink("..", filepath.Join(tree, "sub", "loop"))
		os.Symlink(filepath.Join(dir, "outside.txt"), filepath.Join(tree, "link.txt"))
		if err := syscall.Mkfifo(filepath.Join(tree, "pipe"), 0o600); err != nil {
			t.Fatal(err)
		}
		code, _, errOut := runWithin(t, "put -r hangs on a FIFO", "put", "-i", img, "-r", tree, "/")
		if code != 0 || !strings.Contains(errOut, "skipping symbolic link") || !strings.Contains(errOut, "not a regular file") {
			t.Fatalf("put -r: exit %d, stderr %q", code, errOut)
		}
		ls := mustRun(t, "ls", "-i", img, "-R")
		if !strings.Contains(ls, "f.txt") || strings.Contains(ls, "loop") || strings.Contains(ls, "link.txt") || strings.Contains(ls, "pipe") {
			t.Fatalf("ls -R:\n%s", ls)
		}
		// -L follows the file link but refuses the loop.
		code, _, errOut = clitest.Run(t, Run, "put", "-i", img, "-r", "-L", tree, "/L")
		if code != 1 || !strings.Contains(errOut, "loops back") {
			t.Fatalf("put -r -L over a loop: exit %d, stderr %q", code, errOut)
		}
		if out := mustRun(t, "cat", "-i", img, "/L/link.txt"); out != "outside" {
			t.Fatalf("-L link.txt: %q", out)
		}
		// A FIFO named on the command line is an error, not a hang.
		if code, _, errOut := clitest.Run(t, Run, "put", "-i", img, filepath.Join(tree, "pipe"), "/p"); code != 1 || !strings.Contains(errOut, "not a regular file") {
			t.Fatalf("put FIFO: exit %d, stderr %q", code, errOut)
		}
	})
}

// TestLsCycle: a corrupt image whose subdirectory points back at its parent's cluster makes ls -R
// stop with an error (issue 10 item 7) instead of looping; check reports it.
func TestLsCycle(t *testing.T) {
	eachFAT(t, func(t *testing.T, ft fatType, dir, img string) {
		mustRun(t, "mkdir", "-i", img, "-p", "/a/b")
		// Point /a/b at /a's cluster (and, for FAT32, also a second cycle to the root).
		v, err := fsimage.OpenFile(img, fsimage.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		a, _ := v.Stat("a")
		b, _ := v.Stat("a/b")
		aCl := a.Sys().(*fsimage.EntryInfo).Cluster
		bCl := b.Sys().(*fsimage.EntryInfo).Cluster
		v.Close()
		raw, _ := os.ReadFile(img)
		n := patchCluster(raw, "B          ", bCl, aCl, ft.typ == "32")

		if n == 0 {
			t.Fatal("entry of /a/b not found")
		}
		os.WriteFile(img, raw, 0o644)
		code, out, errOut := runWithin(t, "ls -R loops on a directory cycle", "ls", "-i", img, "-R")
		if code != 1 || !strings.Contains(errOut, "cycle") || len(out) > 4096 {
			t.Fatalf("ls -R: exit %d, %d bytes out, stderr %q", code, len(out), errOut)
		}
		if code, _, _ := clitest.Run(t, Run, "check", "-i", img); code != 1 {
			t.Fatalf("check passes a cycle")
		}
	})
}

// TestLsCycleThroughRoot: on FAT32 the root is a cluster chain too; a subdirectory pointing at it
// is a cycle through the root.
func TestLsCycleThroughRoot(t *testing.T) {
	img := filepath.Join(t.TempDir(), "a.img")
	mustRun(t, "mkfs", "-i", img, "-size", "40M", "-type", "32")
	mustRun(t, "mkdir", "-i", img, "-p", "/a/b")
	v, err := fsimage.OpenFile(img, fsimage.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := v.Stat("a/b")
	bCl := b.Sys().(*fsimage.EntryInfo).Cluster
	v.Close()
	raw, _ := os.ReadFile(img)
	if patchCluster(raw, "B          ", bCl, 2, true) == 0 {
		t.Fatal("entry of /a/b not found")
	}
	os.WriteFile(img, raw, 0o644)
	code, _, errOut := runWithin(t, "ls -R loops on a cycle through the root", "ls", "-i", img, "-R")
	if code != 1 || !strings.Contains(errOut, "cycle") {
		t.Fatalf("ls -R: exit %d, stderr %q", code, errOut)
	}
}

// patchCluster rewrites every directory entry with short name sn whose first cluster is from to
// point at to.
func patchCluster(raw []byte, sn string, from, to uint32, fat32 bool) int {
	n := 0
	for off := 0; off+32 <= len(raw); off += 32 {
		e := raw[off : off+32]
		if !bytes.Equal(e[:11], []byte(sn)) || e[11]&0x10 == 0 {
			continue
		}
		cl := uint32(binary.LittleEndian.Uint16(e[26:]))
		if fat32 {
			cl |= uint32(binary.LittleEndian.Uint16(e[20:])) << 16
		}
		if cl != from {
			continue
		}
		binary.LittleEndian.PutUint16(e[26:], uint16(to))
		binary.LittleEndian.PutUint16(e[20:], uint16(to>>16))
		n++
	}
	return n
}
