package fsimage

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/netxsim/netxsim/internal/testio"
)

// newImage formats an image file in a temp dir and opens it.
func newImage(t testing.TB, size int64, fo FormatOptions, o Options) (*FS, *os.File, string) {
	t.Helper()
	img := filepath.Join(t.TempDir(), "t.img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := Format(f, size, fo); err != nil {
		t.Fatal(err)
	}
	v, err := Open(f, o)
	if err != nil {
		t.Fatal(err)
	}
	return v, f, img
}

func TestFSTest(t *testing.T) {
	for _, typ := range []FATType{FAT12, FAT16, FAT32} {
		t.Run(typ.String(), func(t *testing.T) {
			size := map[FATType]int64{FAT12: 1440 << 10, FAT16: 16 << 20, FAT32: 40 << 20}[typ]
			dev := NewRAM(size)
			if err := Format(dev, size, FormatOptions{Type: typ, ClusterSize: 512}); err != nil {
				t.Fatal(err)
			}
			v, err := Open(dev, Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range []string{"docs", "docs/deep", "docs/deep/er", "Empty Dir"} {
				if err := v.Mkdir(d); err != nil {
					t.Fatal(err)
				}
			}
			files := map[string]int{"a.txt": 10, "docs/A long name.md": 3000, "docs/deep/er/x": 1, ".dotfile": 0,
				"Ünïcødé.bin": 70000, "docs/empty": 0}
			for i := range 40 {
				files[fmt.Sprintf("docs/deep/file number %03d.dat", i)] = i * 97
			}
			var names []string
			for n, sz := range files {
				testio.CreateFile(t, v, n, bytes.Repeat([]byte{byte(len(n))}, sz))
				names = append(names, n)
			}
			if err := fstest.TestFS(v, names...); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestNames(t *testing.T) {
	testio.NeedTools(t, "mdir", "fsck.fat")
	v, _, img := newImage(t, 1440<<10, FormatOptions{}, Options{})
	for _, bad := range []string{"a:b", "x*", "q?", `back\slash`, "ends.", "ends ", "pipe|", "lt<", "gt>", "quo\"te",
		"ctl\x01", strings.Repeat("n", 256), "emoji 😀"} {
		if _, err := v.Create(bad); !errors.Is(err, ErrInvalidName) || !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("Create(%q) = %v, want ErrInvalidName", bad, err)
		}
	}
	good := []string{"long file name 1.txt", "long file name 2.txt", "LONG FILE NAME 3.TXT", "readme.txt", "ABC.TXT",
		".bashrc", "a.b.c.d", "Ünïcødé файл", "名前.txt", strings.Repeat("n", 255), "  leading spaces", "x+y=z;[1],2"}
	for _, n := range good {
		testio.CreateFile(t, v, n, []byte(n))
	}
	// Case-insensitive lookup finds the same file.
	b, err := v.ReadFile("LONG FILE NAME 1.TXT")
	if err != nil || string(b) != "long file name 1.txt" {
		t.Fatalf("case-insensitive read: %q, %v", b, err)
	}
	if _, err := v.Create("README.TXT"); err != nil {
		t.Fatal(err) // Create of an existing name truncates it, whatever the case
	}
	if err := v.Mkdir("readme.TXT"); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("mkdir over a file differing in case: %v", err)
	}
	want := map[string]string{"long file name 1.txt": "LONGFI~1.TXT", "long file name 2.txt": "LONGFI~2.TXT",
		"LONG FILE NAME 3.TXT": "LONGFI~3.TXT", "readme.txt": "README.TXT", "ABC.TXT": "ABC.TXT", ".bashrc": "BASHRC~1",
		"a.b.c.d": "ABC~1.D", "名前.txt": "__~1.TXT", "x+y=z;[1],2": "X_Y_Z_~1"}
	for n, sn := range want {
		fi, err := v.Stat(n)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Sys().(*EntryInfo).ShortName; got != sn {
			t.Errorf("%q: short name %q, want %q", n, got, sn)
		}
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	fsckClean(t, img)
	tree := mtoolsTree(t, img)
	if len(tree) != len(good) {
		t.Fatalf("mdir lists %d names, want %d: %q", len(tree), len(good), tree)
	}
	for _, n := range good {
		found := false
		for _, m := range tree {
			found = found || m == n
		}
		if !found {
			t.Errorf("mdir does not list %q: %q", n, tree)
		}
	}
}

func TestRenameAndAttributes(t *testing.T) {
	testio.NeedTools(t, "fsck.fat")
	clock := time.Date(2025, 3, 4, 5, 6, 8, 0, time.UTC)
	v, _, img := newImage(t, 16<<20, FormatOptions{Type: FAT16}, Options{Clock: func() time.Time { return clock }})
	testio.CreateFile(t, v, "a", []byte("AAA"))
	testio.CreateFile(t, v, "b", []byte("BBBB"))
	for _, d := range []string{"d1", "d1/sub", "d2"} {
		if err := v.Mkdir(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.Rename("a", "b"); err != nil { // replaces b, like os.Rename
		t.Fatal(err)
	}
	if b, _ := v.ReadFile("b"); string(b) != "AAA" {
		t.Fatalf("b = %q after rename over it", b)
	}
	if err := v.Rename("b", "d1"); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("rename over a directory: %v", err)
	}
	if err := v.Rename("d1", "d1/sub/x"); !errors.Is(err, fs.ErrInvalid) {
		t.Fatalf("rename into own subtree: %v", err)
	}
	if err := v.Rename("d1/sub", "d2/moved sub"); err != nil {
		t.Fatal(err)
	}
	if err := v.Rename("d2/moved sub", "top"); err != nil {
		t.Fatal(err)
	}
	if err := v.Remove("d1"); err != nil {
		t.Fatal(err)
	}
	if err := v.Remove("d2"); err != nil {
		t.Fatal(err)
	}
	testio.CreateFile(t, v, "top/f", []byte("x"))
	if err := v.Remove("top"); !errors.Is(err, ErrNotEmpty) || !errors.Is(err, fs.ErrExist) {
		t.Fatalf("rmdir non-empty: %v", err)
	}
	// Attributes and timestamps.
	if err := v.SetAttr("b", AttrReadOnly|AttrHidden); err != nil {
		t.Fatal(err)
	}
	fi, _ := v.Stat("b")
	if fi.Mode().Perm() != 0o444 || fi.Sys().(*EntryInfo).Attr != AttrReadOnly|AttrHidden {
		t.Fatalf("mode %v attr %#x", fi.Mode(), fi.Sys().(*EntryInfo).Attr)
	}
	if _, err := v.Create("b"); !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("create over read-only: %v", err)
	}
	if err := v.Remove("b"); !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("remove read-only: %v", err)
	}
	if !fi.ModTime().Equal(clock) {
		t.Fatalf("mtime %v, want %v", fi.ModTime(), clock)
	}
	// An open file cannot be removed (FileX refuses too); it can be renamed and keeps working.
	f, err := v.OpenFile("top/f", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Remove("top/f"); !errors.Is(err, ErrBusy) {
		t.Fatalf("remove open file: %v", err)
	}
	if err := v.Rename("top/f", "g"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("yz")); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if b, _ := v.ReadFile("g"); string(b) != "yz" {
		t.Fatalf("g = %q", b)
	}
	// Zero-length files have start cluster 0, also after truncation.
	if err := v.Truncate("g", 0); err != nil {
		t.Fatal(err)
	}
	fi, _ = v.Stat("g")
	if fi.Size() != 0 || fi.Sys().(*EntryInfo).Cluster != 0 {
		t.Fatalf("truncated file: size %d cluster %d", fi.Size(), fi.Sys().(*EntryInfo).Cluster)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	fsckClean(t, img)
}

func TestFullDisk(t *testing.T) {
	testio.NeedTools(t, "fsck.fat", "mcopy")
	for _, typ := range []FATType{FAT12, FAT16, FAT32} {
		t.Run(typ.String(), func(t *testing.T) {
			size := map[FATType]int64{FAT12: 1440 << 10, FAT16: 4 << 20, FAT32: 34 << 20}[typ]
			v, f, img := newImage(t, size, FormatOptions{Type: typ, ClusterSize: 512}, Options{})
			want := map[string][]byte{}
			var err error
			for i := 0; ; i++ {
				name := fmt.Sprintf("file %d.bin", i)
				data := bytes.Repeat([]byte{byte(i)}, 300_000+i)
				var w io.WriteCloser
				if w, err = v.Create(name); err != nil {
					break
				}
				_, err = w.Write(data)
				w.Close()
				if err != nil {
					want[name] = []byte{} // created, then the write failed: empty
					break
				}
				want[name] = data
			}
			if !errors.Is(err, ErrNoSpace) || !strings.Contains(err.Error(), "no space") {
				t.Fatalf("filling the disk ended with %v, want ErrNoSpace", err)
			}
			free := v.Info().FreeClusters
			// Append on a full disk fails too and leaves the file as it was.
			w, err := v.Append("file 0.bin")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(make([]byte, int(free+1)*512)); !errors.Is(err, ErrNoSpace) {
				t.Fatalf("append beyond free space: %v", err)
			}
			w.Close()
			if err := v.Close(); err != nil {
				t.Fatal(err)
			}
			fsckClean(t, img)
			v2, err := Open(f, Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			got := fsTree(t, v2)
			if d := diffTrees(want, got); d != "" {
				t.Fatal(d)
			}
			if d := diffTrees(want, hostTree(t, mtoolsExtract(t, img))); d != "" {
				t.Fatal("mcopy: " + d)
			}
			t.Logf("%s: %d files before full, %d clusters left", typ, len(want), free)
		})
	}
}

func TestRootFull(t *testing.T) {
	testio.NeedTools(t, "fsck.fat")
	v, _, img := newImage(t, 1440<<10, FormatOptions{Type: FAT12}, Options{})
	var err error
	n := 0
	for ; n < 1000; n++ {
		var w io.WriteCloser
		if w, err = v.Create(fmt.Sprintf("F%d", n)); err != nil {
			break
		}
		w.Close()
	}
	if !errors.Is(err, ErrRootFull) || !errors.Is(err, ErrNoSpace) || n != 224 {
		t.Fatalf("after %d files: %v, want ErrRootFull after 224", n, err)
	}
	// Subdirectories grow past one cluster instead.
	if err := v.Remove("F0"); err != nil {
		t.Fatal(err)
	}
	if err := v.Mkdir("sub"); err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		testio.CreateFile(t, v, fmt.Sprintf("sub/a long file name %d", i), nil)
	}
	ents, err := v.ReadDir("sub")
	if err != nil || len(ents) != 300 {
		t.Fatalf("ReadDir: %d, %v", len(ents), err)
	}
	v.Close()
	fsckClean(t, img)
}

func TestWriteThroughAndMBR(t *testing.T) {
	testio.NeedTools(t, "fsck.fat", "mdir")
	img := filepath.Join(t.TempDir(), "p.img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := Format(f, 48<<20, FormatOptions{Type: FAT32, MBR: true, Label: "SDCARD"}); err != nil {
		t.Fatal(err)
	}
	v, err := Open(f, Options{WriteThrough: true})
	if err != nil {
		t.Fatal(err)
	}
	info := v.Info()
	if info.PartitionOffset != 1<<20 || info.Type != FAT32 || info.Label != "SDCARD" {
		t.Fatalf("info %+v", info)
	}
	if err := v.Mkdir("dcim"); err != nil {
		t.Fatal(err)
	}
	testio.CreateFile(t, v, "dcim/picture one.jpg", bytes.Repeat([]byte("jpg"), 5000))
	// No Sync and no Close: write-through must already have put everything on the device.
	v2, err := Open(f, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := v2.ReadFile("dcim/picture one.jpg"); err != nil || len(b) != 15000 {
		t.Fatalf("read back through a second open: %d, %v", len(b), err)
	}
	spec := img + "@@1M"
	if got := mtoolsTree(t, spec); strings.Join(got, ",") != "dcim/,dcim/picture one.jpg" {
		t.Fatalf("mdir on the partition: %q", got)
	}
	// fsck.fat has no offset option: check a copy of the partition.
	part := filepath.Join(t.TempDir(), "part.img")
	if out, err := exec.Command("dd", "if="+img, "of="+part, "bs=1M", "skip=1", "status=none").CombinedOutput(); err != nil {
		t.Fatalf("dd: %v %s", err, out)
	}
	fsckClean(t, part)
}

func TestCheckFindsDamage(t *testing.T) {
	testio.NeedTools(t, "fsck.fat")
	cases := []struct {
		name, want string
		damage     func(v *FS)
	}{
		{"lost cluster", "lost clusters", func(v *FS) { v.fat.set(v.g.maxCluster()-3, clusterEOC) }},
		{"loop", "loops", func(v *FS) {
			n := v.root.d.byName["BIG"]
			v.fat.set(extLast(n.ext), n.cluster)
		}},
		{"cross-link", "cross-linked", func(v *FS) {
			a, b := v.root.d.byName["BIG"], v.root.d.byName["SMALL"]
			v.fat.freeChain(b.cluster)
			b.cluster = a.ext[0].start + 1
			b.size = uint32(v.g.cs)
			v.store(b)
		}},
		{"size mismatch", "needs", func(v *FS) {
			n := v.root.d.byName["SMALL"]
			n.size = uint32(v.g.cs * 3)
			v.store(n)
		}},
		{"bad dotdot", "\"..\" points", func(v *FS) {
			d := v.root.d.byName["DIR"].d
			d.buf[32+26] = 7
			v.markDirty(d, 32, 32)
		}},
		{"free in chain", "free cluster", func(v *FS) {
			n := v.root.d.byName["BIG"]
			v.fat.set(n.cluster+1, clusterFree)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, _, img := newImage(t, 16<<20, FormatOptions{Type: FAT16}, Options{})
			testio.CreateFile(t, v, "big", make([]byte, 20000))
			testio.CreateFile(t, v, "small", []byte("s"))
			if err := v.Mkdir("dir"); err != nil {
				t.Fatal(err)
			}
			if _, err := v.ReadDir("dir"); err != nil {
				t.Fatal(err)
			}
			rep, err := v.Check()
			if err != nil || !rep.OK() {
				t.Fatalf("before damage: %v %v", rep, err)
			}
			c.damage(v)
			if err := v.flush(); err != nil {
				t.Fatal(err)
			}
			rep, err = CheckDevice(v.base)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(strings.Join(rep.Problems, "\n"), c.want) {
				t.Fatalf("Check found %q, want a problem with %q", rep.Problems, c.want)
			}
			out, bad := fsckComplaints(img)
			if !bad {
				t.Fatalf("fsck.fat found nothing, but Check found %q:\n%s", rep.Problems, out)
			}
			t.Logf("Check: %q\nfsck.fat -n: %s", rep.Problems, out)
		})
	}
}

func TestConcurrentSessions(t *testing.T) {
	dev := NewRAM(32 << 20)
	if err := Format(dev, 32<<20, FormatOptions{Type: FAT16}); err != nil {
		t.Fatal(err)
	}
	v, err := Open(dev, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for s := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dir := fmt.Sprintf("session %d", s)
			if err := v.Mkdir(dir); err != nil {
				errs <- err
				return
			}
			for i := range 50 {
				name := fmt.Sprintf("%s/file %d", dir, i)
				data := bytes.Repeat([]byte{byte(s), byte(i)}, 1000+i)
				w, err := v.Create(name)
				if err == nil {
					_, err = w.Write(data)
					w.Close()
				}
				if err == nil {
					var b []byte
					b, err = v.ReadFile(name)
					if err == nil && !bytes.Equal(b, data) {
						err = fmt.Errorf("%s: read back differs", name)
					}
				}
				if err == nil && i%3 == 0 {
					err = v.Remove(name)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	rep, err := v.Check()
	if err != nil || !rep.OK() {
		t.Fatalf("%v %v", rep.Problems, err)
	}
}

func TestLargeSectors(t *testing.T) {
	testio.NeedTools(t, "fsck.fat", "mcopy")
	for _, bps := range []int{1024, 4096} {
		v, _, img := newImage(t, 64<<20, FormatOptions{Type: FAT16, SectorSize: bps}, Options{})
		if got := v.Info().SectorSize; got != bps {
			t.Fatalf("sector size %d, want %d", got, bps)
		}
		if err := v.Mkdir("d"); err != nil {
			t.Fatal(err)
		}
		data := bytes.Repeat([]byte("4k"), 50000)
		testio.CreateFile(t, v, "d/sectors.bin", data)
		if err := v.Close(); err != nil {
			t.Fatal(err)
		}
		fsckClean(t, img)
		want := map[string][]byte{"d/": nil, "d/sectors.bin": data}
		if d := diffTrees(want, hostTree(t, mtoolsExtract(t, img))); d != "" {
			t.Fatalf("%d-byte sectors: %s", bps, d)
		}
	}
}

// serverFileSystem is ftp/server's FileSystem, copied here so a signature drift fails to compile
// in this package too.
type serverFileSystem interface {
	Open(name string) (fs.File, error)
	Create(name string) (io.WriteCloser, error)
	Append(name string) (io.WriteCloser, error)
	Stat(name string) (fs.FileInfo, error)
	ReadDir(name string) ([]fs.DirEntry, error)
	Remove(name string) error
	Rename(oldname, newname string) error
	Mkdir(name string) error
}

var (
	_ serverFileSystem          = (*FS)(nil)
	_ interface{ Sync() error } = (*FS)(nil)
	_ fs.ReadDirFS              = (*FS)(nil)
	_ fs.StatFS                 = (*FS)(nil)
	_ fs.ReadFileFS             = (*FS)(nil)
	_ fs.ReadDirFile            = (*File)(nil)
	_ io.Seeker                 = (*File)(nil)
	_ io.ReaderAt               = (*File)(nil)
	_ io.WriterAt               = (*File)(nil)
)

// TestMain lets the test binary act as a second process holding an image open for writing.
func TestMain(m *testing.M) {
	if img := os.Getenv("FSIMAGE_HOLD_WRITER"); img != "" {
		v, err := OpenFile(img, Options{})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		w, _ := v.Create("from child.txt")
		w.Write([]byte("child"))
		w.Close()
		v.Sync()
		fmt.Println("holding")
		bufio.NewReader(os.Stdin).ReadString('\n') // until the parent says so
		if err := v.Close(); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestLockAcrossProcesses: a second process holding the image for writing makes this one's
// writers and readers fail with its pid and command line named; once it closes, both work and its
// file is there.
func TestLockAcrossProcesses(t *testing.T) {
	img := filepath.Join(t.TempDir(), "a.img")
	f, _ := os.Create(img)
	if err := Format(f, 1440<<10, FormatOptions{}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	cmd := testio.SelfCommand("", "FSIMAGE_HOLD_WRITER="+img)
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "holding" {
		t.Fatalf("child: %q", line)
	}
	for _, ro := range []bool{false, true} {
		_, err := OpenFile(img, Options{ReadOnly: ro})
		var le *LockError
		if !errors.As(err, &le) || le.PID != cmd.Process.Pid || !strings.Contains(err.Error(), fmt.Sprintf("pid %d (%s", cmd.Process.Pid, os.Args[0])) {
			t.Fatalf("ReadOnly=%v beside a writing process: %v; want its pid %d and command", ro, err, cmd.Process.Pid)
		}
	}
	stdin.Write([]byte("\n"))
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	v, err := OpenFile(img, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if b, err := v.ReadFile("from child.txt"); err != nil || string(b) != "child" {
		t.Fatalf("the child's file: %q %v", b, err)
	}
}
