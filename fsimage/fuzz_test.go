package fsimage

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// fuzzDevSize is the RAM disk a fuzz input is laid on: the input is its prefix and the rest
// reads as zeros, so a few KiB of input can describe a FAT16 or FAT32 volume.
const fuzzDevSize = 5 << 19

// seedImage builds a small populated volume; only its first used bytes matter for fuzzing.
func seedImage(t testing.TB, typ FATType, size int64, cs int, mbr bool) []byte {
	dev := NewRAM(size)
	if err := Format(dev, size, FormatOptions{Type: typ, ClusterSize: cs, RootEntries: 32, FATs: 2, MBR: mbr, Label: "FUZZ"}); err != nil {
		t.Fatal(err)
	}
	v, err := Open(dev, Options{})
	if err != nil {
		t.Fatal(err)
	}
	v.Mkdir("dir")
	v.Mkdir("dir/a long sub directory")
	for i, n := range []string{"a.txt", "dir/long file name.bin", "dir/a long sub directory/x", "empty", "Ünï.txt"} {
		w, err := v.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(bytes.Repeat([]byte{byte('a' + i)}, i*700))
		w.Close()
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	b := dev.Bytes()
	end := len(b)
	for end > 0 && b[end-1] == 0 {
		end--
	}
	return b[:end]
}

func fuzzSeeds(t testing.TB) [][]byte {
	return [][]byte{
		seedImage(t, FAT12, 160<<10, 512, false),
		seedImage(t, FAT12, 200<<10, 1024, true),
		seedImage(t, FAT16, 2200<<10, 512, false),
	}
}

// TestWriteFuzzSeeds regenerates testdata/fuzz/FuzzImage seeds when FSIMAGE_WRITE_SEEDS=1.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("FSIMAGE_WRITE_SEEDS") != "1" {
		t.Skip("set FSIMAGE_WRITE_SEEDS=1 to regenerate the fuzz seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzImage")
	os.MkdirAll(dir, 0o755)
	for i, s := range fuzzSeeds(t) {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// growDev is a RAM disk of a fixed virtual size that stores only what was written: the
// zero tail costs nothing, which keeps fuzzing fast.
type growDev struct {
	b    []byte
	size int64
}

func (g *growDev) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= g.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), g.size-off))
	k := 0
	if off < int64(len(g.b)) {
		k = copy(p[:n], g.b[off:])
	}
	clear(p[k:n])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (g *growDev) WriteAt(p []byte, off int64) (int, error) {
	end := off + int64(len(p))
	if off < 0 || end > g.size {
		return 0, ErrNoSpace
	}
	if end > int64(len(g.b)) {
		g.b = append(g.b, make([]byte, end-int64(len(g.b)))...)
	}
	return copy(g.b[off:], p), nil
}

// FuzzImage opens arbitrary images, walks and reads them, changes them and checks them:
// no panic, no endless loop on cyclic chains or directory cycles, only errors.
func FuzzImage(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > fuzzDevSize {
			return
		}
		watchdog := time.AfterFunc(10*time.Second, func() {
			st := make([]byte, 1<<20)
			panic("fuzz input ran for 10s (endless loop?):\n" + string(st[:runtime.Stack(st, true)]))
		})
		defer watchdog.Stop()
		dev := &growDev{b: append([]byte(nil), data...), size: fuzzDevSize}
		v, err := Open(dev, Options{})
		if err != nil {
			if !errors.Is(err, ErrNotFAT) && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open error matches neither ErrNotFAT nor ErrCorrupt: %v", err)
			}
			return
		}
		budget := 500
		fuzzWalk(t, v, ".", 0, &budget)
		// Changes on a damaged volume must fail cleanly or succeed.
		if w, err := v.Create("new file.txt"); err == nil {
			w.Write(bytes.Repeat([]byte("z"), 3000))
			w.Close()
		}
		v.Mkdir("new dir")
		v.Rename("a.txt", "new dir/b.txt")
		v.Remove("empty")
		v.Remove("dir")
		v.Truncate("dir/long file name.bin", 10)
		if _, err := v.Check(); err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrNotFAT) && !errors.Is(err, ErrNoSpace) {
			t.Fatalf("Check: %v", err)
		}
		v.Close()
	})
}

// fuzzWalk visits at most *budget entries: a damaged directory can list thousands of
// subdirectories that are all the same directory, which no depth bound alone tames.
func fuzzWalk(t *testing.T, v *FS, dir string, depth int, budget *int) {
	if depth > 8 {
		return
	}
	ents, err := v.ReadDir(dir)
	if err != nil {
		return
	}
	if *budget -= len(ents); *budget < 0 {
		return
	}
	for _, e := range ents {
		p := e.Name()
		if dir != "." {
			p = dir + "/" + p
		}
		if e.IsDir() {
			fuzzWalk(t, v, p, depth+1, budget)
			continue
		}
		f, err := v.Open(p)
		if err != nil {
			continue
		}
		io.Copy(io.Discard, f)
		if ra, ok := f.(io.ReaderAt); ok {
			ra.ReadAt(make([]byte, 100), 700)
		}
		f.Close()
		if _, err := v.Stat(p); err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Stat %q: %v", p, err)
		}
	}
}
