package fsimage

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netxsim/netxsim/internal/testio"
)

// The model: fold(path) -> entry. Paths use the entry's real case.
type mEntry struct {
	path string
	dir  bool
	data []byte
}

type model struct{ m map[string]*mEntry }

func (m *model) get(p string) *mEntry {
	if p == "." {
		return &mEntry{path: ".", dir: true}
	}
	return m.m[fold(p)]
}

func (m *model) children(dir string) []*mEntry {
	var out []*mEntry
	for _, e := range m.m {
		if path.Dir(e.path) == dir {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

func (m *model) tree() map[string][]byte {
	t := map[string][]byte{}
	for _, e := range m.m {
		if e.dir {
			t[e.path+"/"] = nil
		} else {
			t[e.path] = e.data
		}
	}
	return t
}

var namePool = []string{
	"a.txt", "README", "x", "data.bin", "Data.BIN", "long file name 1.txt", "long file name 2.txt",
	"long file name 3.txt", ".hidden", "with.many.dots.tar.gz", "Ünïcødé файл.txt", "日本語",
	"spaces in name", "UPPER.TXT", "MixedCase.Txt", "a+b=c;d,e[f].x", "~tilde~1", "LONGFILENAME.TEXT",
	"sub", "Sub Dir", "z", "0123456789abcdef", "e.e", "verylongfilenamethatgoesonandon.extension",
}

func fsTree(t testing.TB, v *FS) map[string][]byte {
	t.Helper()
	got := map[string][]byte{}
	err := fs.WalkDir(v, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == "." {
			return err
		}
		if d.IsDir() {
			got[p+"/"] = nil
			return nil
		}
		b, err := fs.ReadFile(v, p)
		got[p] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

type modelCase struct {
	typ     FATType
	size    int64
	cluster int
	maxFile int
	ram     bool // on a *RAM: creates and appends stream through ReadFrom, reads check WriteTo
}

func TestModel(t *testing.T) {
	testio.NeedTools(t, "fsck.fat", "mdir", "mcopy")
	cases := []modelCase{
		{FAT12, 1440 << 10, 512, 6 << 10, false},
		{FAT16, 5 << 19, 512, 24 << 10, false},
		{FAT32, 33 << 20, 512, 96 << 10, false},
	}
	for _, c := range cases {
		t.Run(c.typ.String(), func(t *testing.T) {
			t.Parallel()
			runModel(t, c, 25, 400, uint64(c.typ))
		})
		c.ram = true
		t.Run(c.typ.String()+"/ram", func(t *testing.T) {
			t.Parallel()
			runModel(t, c, 25, 400, uint64(c.typ)+7)
		})
	}
}

// chunkReader hands out data in pieces of random size (a connection's segments), the last one
// with io.EOF.
type chunkReader struct {
	data []byte
	r    *rand.Rand
	max  int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(c.data), 1+c.r.IntN(c.max))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	if len(c.data) == 0 && c.r.IntN(2) == 0 {
		return n, io.EOF
	}
	return n, nil
}

// writeData writes data at f's offset: with Write, or on a RAM disk through ReadFrom in random
// pieces. It returns how much is stored.
func writeData(f *File, data []byte, r *rand.Rand, c modelCase) (int, error) {
	if !c.ram {
		return f.Write(data)
	}
	n, err := f.ReadFrom(&chunkReader{data: data, r: r, max: 3 * c.cluster})
	return int(n), err
}

func runModel(t *testing.T, c modelCase, batches, opsPerBatch int, seed uint64) {
	img := filepath.Join(t.TempDir(), "m.img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var dev Device = f
	if c.ram {
		dev = NewRAM(c.size)
	}
	if err := Format(dev, c.size, FormatOptions{Type: c.typ, ClusterSize: c.cluster}); err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2024, 5, 6, 7, 8, 10, 0, time.UTC)
	opt := Options{Clock: func() time.Time { clock = clock.Add(2 * time.Second); return clock }}
	v, err := Open(dev, opt)
	if err != nil {
		t.Fatal(err)
	}
	m := &model{m: map[string]*mEntry{}}
	r := rand.New(rand.NewPCG(seed, 42))
	counts := map[string]int{}
	for b := 0; b < batches; b++ {
		for i := 0; i < opsPerBatch; i++ {
			op := modelStep(t, v, m, r, c)
			counts[op]++
		}
		if err := v.Sync(); err != nil {
			t.Fatal(err)
		}
		if ram, ok := dev.(*RAM); ok { // the tools read the image from a file
			if err := os.WriteFile(img, ram.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		verifyModel(t, v, m, img, b)
		// Reopen from the device every other batch: the on-disk state must be complete.
		if b%2 == 1 {
			if err := v.Close(); err != nil {
				t.Fatal(err)
			}
			if v, err = Open(dev, opt); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("%s: %d ops %v, %d entries at end", c.typ, batches*opsPerBatch, counts, len(m.m))
	v.Close()
}

func verifyModel(t *testing.T, v *FS, m *model, img string, batch int) {
	t.Helper()
	want := m.tree()
	if d := diffTrees(want, fsTree(t, v)); d != "" {
		t.Fatalf("batch %d: fsimage tree differs from model:\n%s", batch, d)
	}
	rep, err := v.Check()
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) > 0 {
		t.Fatalf("batch %d: Check: %v", batch, rep.Problems)
	}
	fsckClean(t, img)
	var wantPaths []string
	for p := range want {
		wantPaths = append(wantPaths, p)
	}
	sort.Strings(wantPaths)
	if got := mtoolsTree(t, img); strings.Join(got, "\n") != strings.Join(wantPaths, "\n") {
		t.Fatalf("batch %d: mdir lists\n%q\nwant\n%q", batch, got, wantPaths)
	}
	if d := diffTrees(want, hostTree(t, mtoolsExtract(t, img))); d != "" {
		t.Fatalf("batch %d: mcopy tree differs from model:\n%s", batch, d)
	}
}

func randDir(m *model, r *rand.Rand) string {
	dirs := []string{"."}
	for _, e := range m.m {
		if e.dir {
			dirs = append(dirs, e.path)
		}
	}
	sort.Strings(dirs)
	return dirs[r.IntN(len(dirs))]
}

func randEntry(m *model, r *rand.Rand, wantDir int) *mEntry {
	var es []*mEntry
	for _, e := range m.m {
		if wantDir < 0 || e.dir == (wantDir == 1) {
			es = append(es, e)
		}
	}
	if len(es) == 0 {
		return nil
	}
	sort.Slice(es, func(i, j int) bool { return es[i].path < es[j].path })
	return es[r.IntN(len(es))]
}

func join(dir, name string) string {
	if dir == "." {
		return name
	}
	return dir + "/" + name
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func isNoSpace(err error) bool { return errors.Is(err, ErrNoSpace) }

// modelStep performs one random operation on v and the model and checks the outcome.
func modelStep(t *testing.T, v *FS, m *model, r *rand.Rand, c modelCase) string {
	t.Helper()
	ops := []string{"create", "create", "write", "append", "truncate", "rename", "remove", "mkdir", "rmdir"}
	op := ops[r.IntN(len(ops))]
	fail := func(format string, a ...any) { t.Helper(); t.Fatalf(op+": "+format, a...) }
	switch op {
	case "create", "mkdir":
		p := join(randDir(m, r), namePool[r.IntN(len(namePool))])
		ex := m.get(p)
		if op == "mkdir" {
			err := v.Mkdir(p)
			switch {
			case ex != nil:
				if !errors.Is(err, fs.ErrExist) {
					fail("mkdir %q over existing: %v", p, err)
				}
			case err == nil:
				m.m[fold(p)] = &mEntry{path: p, dir: true}
			case !isNoSpace(err):
				fail("mkdir %q: %v", p, err)
			default:
				return op + ":full"
			}
			return op
		}
		data := randBytes(r, r.IntN(c.maxFile))
		w, err := v.Create(p)
		if ex != nil && ex.dir {
			if err == nil {
				fail("create over directory %q succeeded", p)
			}
			return op
		}
		if err != nil {
			if isNoSpace(err) {
				return op + ":full"
			}
			fail("create %q: %v", p, err)
		}
		if ex == nil {
			ex = &mEntry{path: p}
			m.m[fold(p)] = ex
		}
		ex.data = nil
		k, err := writeData(w.(*File), data, r, c)
		ex.data = data[:k]
		if err != nil && !isNoSpace(err) {
			fail("write %q: %v", p, err)
		} else if err != nil {
			op += ":full"
		} else if k != len(data) {
			fail("wrote %d of %d bytes without an error", k, len(data))
		}
		if err := w.Close(); err != nil {
			fail("close: %v", err)
		}
	case "write", "append", "truncate":
		e := randEntry(m, r, 0)
		if e == nil {
			return op
		}
		fl, err := v.OpenFile(e.path, os.O_RDWR, 0)
		if err != nil {
			fail("open %q: %v", e.path, err)
		}
		defer fl.Close()
		switch op {
		case "write":
			off := r.IntN(len(e.data) + c.maxFile/4 + 1)
			data := randBytes(r, r.IntN(c.maxFile/2))
			if _, err := fl.WriteAt(data, int64(off)); err != nil {
				if isNoSpace(err) {
					return op + ":full"
				}
				fail("%q: %v", e.path, err)
			}
			if len(data) > 0 {
				if need := off + len(data); need > len(e.data) {
					e.data = append(e.data, make([]byte, need-len(e.data))...)
				}
				copy(e.data[off:], data)
			}
		case "append":
			data := randBytes(r, r.IntN(c.maxFile/2))
			if _, err := fl.Seek(0, io.SeekEnd); err != nil {
				fail("%v", err)
			}
			k, err := writeData(fl, data, r, c)
			e.data = append(e.data, data[:k]...)
			if err != nil {
				if isNoSpace(err) {
					return op + ":full"
				}
				fail("%q: %v", e.path, err)
			}
			if c.ram { // and read it back from a random offset through WriteTo
				off := r.IntN(len(e.data) + 1)
				if _, err := fl.Seek(int64(off), io.SeekStart); err != nil {
					fail("%v", err)
				}
				var got bytes.Buffer
				if _, err := fl.WriteTo(&got); err != nil {
					fail("WriteTo %q: %v", e.path, err)
				}
				if !bytes.Equal(got.Bytes(), e.data[off:]) {
					fail("WriteTo %q from %d: %d bytes differ from the model's %d", e.path, off, got.Len(), len(e.data)-off)
				}
			}
		case "truncate":
			n := r.IntN(len(e.data) + c.maxFile/4 + 1)
			if err := fl.Truncate(int64(n)); err != nil {
				if isNoSpace(err) {
					return op + ":full"
				}
				fail("%q: %v", e.path, err)
			}
			if n <= len(e.data) {
				e.data = e.data[:n]
			} else {
				e.data = append(e.data, make([]byte, n-len(e.data))...)
			}
		}
	case "rename":
		e := randEntry(m, r, -1)
		if e == nil {
			return op
		}
		dst := join(randDir(m, r), namePool[r.IntN(len(namePool))])
		if r.IntN(4) == 0 {
			// Case-only rename in place.
			dst = join(path.Dir(e.path), strings.ToUpper(path.Base(e.path)))
		}
		err := v.Rename(e.path, dst)
		t2 := m.get(dst)
		intoSelf := e.dir && (fold(dst) == fold(e.path) && false || strings.HasPrefix(fold(dst)+"/", fold(e.path)+"/") && fold(dst) != fold(e.path))
		switch {
		case intoSelf:
			if err == nil {
				fail("moving %q into itself as %q succeeded", e.path, dst)
			}
			return op
		case t2 != nil && t2 != e && (t2.dir || e.dir):
			if !errors.Is(err, fs.ErrExist) {
				fail("rename %q over %q: %v", e.path, dst, err)
			}
			return op
		case err != nil:
			if isNoSpace(err) {
				return op + ":full"
			}
			fail("rename %q -> %q: %v", e.path, dst, err)
		}
		if t2 != nil && t2 != e {
			delete(m.m, fold(dst))
		}
		old := e.path
		delete(m.m, fold(old))
		e.path = dst
		m.m[fold(dst)] = e
		if e.dir {
			for _, x := range m.m {
				if strings.HasPrefix(x.path, old+"/") {
					delete(m.m, fold(x.path))
					x.path = dst + x.path[len(old):]
					m.m[fold(x.path)] = x
				}
			}
		}
	case "remove", "rmdir":
		e := randEntry(m, r, map[bool]int{true: 1, false: 0}[op == "rmdir"])
		if e == nil {
			return op
		}
		err := v.Remove(e.path)
		if e.dir && len(m.children(e.path)) > 0 {
			if !errors.Is(err, ErrNotEmpty) {
				fail("rmdir non-empty %q: %v", e.path, err)
			}
			return op
		}
		if err != nil {
			fail("remove %q: %v", e.path, err)
		}
		delete(m.m, fold(e.path))
	}
	return op
}

// TestModelConcurrentWriters extends the model test with writers racing for one image file:
// several handles (as several `netxsim image` commands or servers would) each try to open it for
// writing, do a batch of random operations mirrored in the model, and close it; readers try to
// open it meanwhile. Whoever loses the race gets a *LockError naming this process, and at the end
// the image holds exactly the model: no acknowledged change is lost (without the lock, two
// writers each cache the FAT and overwrite each other's files).
func TestModelConcurrentWriters(t *testing.T) {
	testio.NeedTools(t, "fsck.fat", "mdir", "mcopy")
	for _, c := range []modelCase{
		{FAT12, 1440 << 10, 512, 6 << 10, false},
		{FAT16, 5 << 19, 512, 24 << 10, false},
		{FAT32, 33 << 20, 512, 96 << 10, false},
	} {
		t.Run(c.typ.String(), func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "m.img")
			f, _ := os.Create(img)
			if err := Format(f, c.size, FormatOptions{Type: c.typ, ClusterSize: c.cluster}); err != nil {
				t.Fatal(err)
			}
			f.Close()
			m := &model{m: map[string]*mEntry{}}
			var mu sync.Mutex // guards m and the winners' count; the image lock guards the image
			var wins, losses, reads, readLosses int
			var wg sync.WaitGroup
			pid := fmt.Sprintf("pid %d", os.Getpid())
			// contend opens img 12 times with o. An open that wins is counted in won and runs use with
			// mu held; one that loses is counted in lost and must be the refusal refused accepts (it
			// says what is wrong otherwise).
			contend := func(o Options, won, lost *int, refused func(error) string, use func(v *FS)) {
				defer wg.Done()
				for range 12 {
					v, err := OpenFile(img, o)
					if err != nil {
						if msg := refused(err); msg != "" {
							t.Error(msg)
							return
						}
						mu.Lock()
						*lost++
						mu.Unlock()
						time.Sleep(time.Millisecond)
						continue
					}
					mu.Lock()
					*won++
					use(v)
					mu.Unlock()
					if err := v.Close(); err != nil {
						t.Error(err)
						return
					}
				}
			}
			for w := range 4 {
				wg.Add(2)
				r := rand.New(rand.NewPCG(uint64(c.typ), uint64(w)))
				go contend(Options{}, &wins, &losses, func(err error) string { // writer
					var le *LockError
					if !errors.As(err, &le) || !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), pid) {
						return fmt.Sprintf("losing writer: %v; want a LockError naming %s", err, pid)
					}
					return ""
				}, func(v *FS) {
					for range 30 {
						modelStep(t, v, m, r, c)
					}
				})
				// reader: what it sees is always a whole state of the model
				go contend(Options{ReadOnly: true}, &reads, &readLosses, func(err error) string {
					if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "open for writing") {
						return fmt.Sprintf("losing reader: %v", err)
					}
					return ""
				}, func(v *FS) {
					if d := diffTrees(m.tree(), fsTree(t, v)); d != "" {
						t.Errorf("a reader beside the writers saw a tree unlike the model:\n%s", d)
					}
				})
			}
			wg.Wait()
			t.Logf("%d writer opens won, %d refused; %d reader opens, %d refused", wins, losses, reads, readLosses)
			if wins == 0 || losses == 0 {
				t.Logf("no contention this run (wins %d, losses %d)", wins, losses)
			}
			v, err := OpenFile(img, Options{})
			if err != nil {
				t.Fatal(err)
			}
			verifyModel(t, v, m, img, wins)
			v.Close()
		})
	}
}
