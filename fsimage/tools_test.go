package fsimage

// The external oracles, dosfstools and mtools: images they make we read and change, they read and
// check clean what we wrote, and Check finds the damage fsck.fat finds.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/netxsim/netxsim/internal/testio"
)

// fsckComplaints runs fsck.fat -n and says whether it exited non-zero or printed anything
// besides its version line and the "N files, X/Y clusters" summary.
func fsckComplaints(img string) (string, bool) {
	out, err := exec.Command("fsck.fat", "-n", img).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("%v\n%s", err, out), true
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if !strings.HasPrefix(line, "fsck.fat ") && !strings.Contains(line, " files, ") {
			return string(out), true
		}
	}
	return string(out), false
}

// fsckClean fails the test when fsck.fat -n finds anything.
func fsckClean(t testing.TB, img string) {
	t.Helper()
	if out, bad := fsckComplaints(img); bad {
		t.Fatalf("fsck.fat -n %s complains:\n%s", img, out)
	}
}

// mtoolsEnv makes mtools accept any geometry and use no config file.
func mtoolsEnv() []string {
	return append(os.Environ(), "MTOOLS_SKIP_CHECK=1", "MTOOLSRC=/dev/null", "LC_ALL=C.UTF-8")
}

func mtool(t testing.TB, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = mtoolsEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// mtoolsTree lists the image with `mdir -/ -b` as sorted relative paths, directories ending in "/".
func mtoolsTree(t testing.TB, spec string) []string {
	t.Helper()
	out := mtool(t, "mdir", "-/", "-b", "-i", spec, "::/")
	var paths []string
	for _, l := range strings.Split(out, "\n") {
		if p, ok := strings.CutPrefix(l, "::/"); ok && p != "" {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	return paths
}

// mtoolsExtract copies the whole image out with mcopy -s into a new directory.
func mtoolsExtract(t testing.TB, spec string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "x")
	if err := os.Mkdir(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	mtool(t, "mcopy", "-s", "-n", "-m", "-i", spec, "::/*", dst)
	return dst
}

// hostTree reads a host directory as path -> contents, directories as path+"/" -> nil.
func hostTree(t testing.TB, root string) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if info.IsDir() {
			m[rel+"/"] = nil
			return nil
		}
		b, err := os.ReadFile(p)
		m[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func diffTrees(want, got map[string][]byte) string {
	var b strings.Builder
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			fmt.Fprintf(&b, "missing %q\n", k)
		case !bytes.Equal(w, g):
			fmt.Fprintf(&b, "%q: %d bytes, want %d\n", k, len(g), len(w))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			fmt.Fprintf(&b, "unexpected %q\n", k)
		}
	}
	return b.String()
}

// hostFixture writes the tree mtools will copy in: long names, nested directories, empty
// files, dotfiles and 1,000 files in one directory.
func hostFixture(t testing.TB, nMany int) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "src")
	files := map[string][]byte{
		"README.TXT":      []byte("short upper name\n"),
		"readme lower.md": bytes.Repeat([]byte("lower "), 500),
		".dotfile":        []byte("dot"),
		"empty":           nil,
		"A Long Directory Name/nested/deeper/file with spaces.txt": bytes.Repeat([]byte{7}, 9000),
		"A Long Directory Name/nested/.hidden":                     nil,
		"A Long Directory Name/Ünïcødé.txt":                        []byte("unicode"),
		"A Long Directory Name/a.b.c.d.e":                          []byte("dots"),
		"emptydir/.keep":                                           nil,
	}
	for i := 0; i < nMany; i++ {
		// Distinct leading digits keep mtools from its quadratic ~N alias search.
		files[fmt.Sprintf("many/%04d file with a long name.dat", i)] = []byte(fmt.Sprintf("content of %d\n", i))
	}
	for p, b := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestMkfsImages(t *testing.T) {
	testio.NeedTools(t, "mkfs.fat", "fsck.fat", "mcopy", "mdir")
	src := hostFixture(t, 1000)
	srcTree := hostTree(t, src)
	cases := []struct {
		name string
		size int64
		args []string
	}{
		{"FAT12-1.44MB", 1440 << 10, []string{"-F", "12"}},
		{"FAT16-64MiB", 64 << 20, []string{"-F", "16"}},
		{"FAT16-64MiB-4KiB-sectors", 64 << 20, []string{"-F", "16", "-S", "4096", "-s", "1"}},
		{"FAT32-256MiB-512B", 256 << 20, []string{"-F", "32", "-s", "1"}},
		// mtools 4.0 takes the FAT type from the cluster count, so it cannot write mkfs.fat's FAT32
		// volumes of fewer than 65,525 clusters (256 MiB with 4 or 32 KiB clusters); for the tool
		// fill those cluster sizes use sizes where FAT32 is valid. TestMkfsSmallFAT32 covers the
		// 256 MiB ones with fsck.fat alone.
		{"FAT32-1GiB-4KiB", 1 << 30, []string{"-F", "32", "-s", "8"}},
		{"FAT32-3GiB-32KiB", 3 << 30, []string{"-F", "32", "-s", "64"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "mk.img")
			if err := os.Truncate(img, 0); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			f, err := os.Create(img)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := f.Truncate(c.size); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command("mkfs.fat", append(c.args, img)...).CombinedOutput(); err != nil {
				t.Fatalf("mkfs.fat: %v\n%s", err, out)
			}
			ents, _ := os.ReadDir(src)
			args := []string{"-s", "-i", img}
			for _, e := range ents {
				args = append(args, filepath.Join(src, e.Name()))
			}
			mtool(t, "mcopy", append(args, "::/")...)

			v, err := Open(f, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if d := diffTrees(srcTree, fsTree(t, v)); d != "" {
				t.Fatalf("fsimage reads the mtools-filled image differently:\n%s", d)
			}
			rep, err := v.Check()
			if err != nil || !rep.OK() {
				t.Fatalf("Check on the mkfs.fat image: %v %v", rep.Problems, err)
			}
			// Change it through fsimage, mirror the changes, and let the tools judge.
			want := map[string][]byte{}
			for k, b := range srcTree {
				want[k] = b
			}
			for i := 0; i < 1000; i += 2 {
				p := fmt.Sprintf("many/%04d file with a long name.dat", i)
				if err := v.Remove(p); err != nil {
					t.Fatal(err)
				}
				delete(want, p)
			}
			if err := v.Rename("A Long Directory Name/nested", "many/moved nested"); err != nil {
				t.Fatal(err)
			}
			for k, b := range want {
				if rest, ok := strings.CutPrefix(k, "A Long Directory Name/nested/"); ok {
					delete(want, k)
					want["many/moved nested/"+rest] = b
				}
			}
			delete(want, "A Long Directory Name/nested/")
			want["many/moved nested/"] = nil
			big := bytes.Repeat([]byte("0123456789abcdef"), 20000)
			testio.CreateFile(t, v, "many/moved nested/new big file.bin", big)
			want["many/moved nested/new big file.bin"] = big
			w, err := v.Append("readme lower.md")
			if err != nil {
				t.Fatal(err)
			}
			w.Write([]byte("appended"))
			w.Close()
			want["readme lower.md"] = append(append([]byte{}, want["readme lower.md"]...), "appended"...)
			if err := v.Mkdir("new dir"); err != nil {
				t.Fatal(err)
			}
			want["new dir/"] = nil
			testio.CreateFile(t, v, "new dir/empty new", nil)
			want["new dir/empty new"] = []byte{}
			if err := v.Close(); err != nil {
				t.Fatal(err)
			}
			fsckClean(t, img)
			if d := diffTrees(want, hostTree(t, mtoolsExtract(t, img))); d != "" {
				t.Fatalf("mcopy reads the changed image differently:\n%s", d)
			}
		})
	}
}

// TestMkfsSmallFAT32 opens mkfs.fat's 256 MiB FAT32 volumes with 4 and 32 KiB clusters (fewer
// clusters than fatgen103's FAT32 minimum, FAT32 by their BPB as Linux reads them), fills them
// through fsimage, and has fsck.fat judge the result.
func TestMkfsSmallFAT32(t *testing.T) {
	testio.NeedTools(t, "mkfs.fat", "fsck.fat")
	src := hostTree(t, hostFixture(t, 1000))
	for _, spc := range []string{"8", "64"} {
		t.Run(spc, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "mk.img")
			f, err := os.Create(img)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			f.Truncate(256 << 20)
			if out, err := exec.Command("mkfs.fat", "-F", "32", "-s", spc, img).CombinedOutput(); err != nil {
				t.Fatalf("mkfs.fat: %v\n%s", err, out)
			}
			v, err := Open(f, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if v.Info().Type != FAT32 {
				t.Fatalf("type %v", v.Info().Type)
			}
			for p, b := range src {
				if d, ok := strings.CutSuffix(p, "/"); ok {
					if err := mkdirAll(v, d); err != nil {
						t.Fatal(err)
					}
					continue
				}
				if err := mkdirAll(v, filepath.ToSlash(filepath.Dir(p))); err != nil {
					t.Fatal(err)
				}
				testio.CreateFile(t, v, p, b)
			}
			if err := v.Close(); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command("fsck.fat", "-n", img).CombinedOutput()
			if err != nil {
				t.Fatalf("fsck.fat -n: %v\n%s", err, out)
			}
			// fsck.fat warns about the cluster count mkfs.fat chose; anything else is a complaint.
			for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				if !strings.HasPrefix(l, "fsck.fat ") && !strings.Contains(l, " files, ") && !strings.Contains(l, "less then suggested minimum") &&
					!strings.Contains(l, "according to fat_length") && !strings.Contains(l, "but has only") && !strings.Contains(l, "lead to problems") {
					t.Fatalf("fsck.fat -n:\n%s", out)
				}
			}
			v2, err := Open(f, Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			if d := diffTrees(src, fsTree(t, v2)); d != "" {
				t.Fatal(d)
			}
		})
	}
}

func mkdirAll(v *FS, p string) error {
	if p == "." {
		return nil
	}
	if fi, err := v.Stat(p); err == nil && fi.IsDir() {
		return nil
	}
	if err := mkdirAll(v, filepath.ToSlash(filepath.Dir(p))); err != nil {
		return err
	}
	return v.Mkdir(p)
}

// TestCheckMatchesFsck: damage that fsck.fat -n rejects (issue 10 item 16: reserved sectors 513, a
// directory with a non-zero size, bad short names, and more) is found by Check too, on every FAT
// type; an undamaged image passes both.
func TestCheckMatchesFsck(t *testing.T) {
	testio.NeedTools(t, "fsck.fat")
	types := []struct {
		typ  FATType
		size int64
	}{{FAT12, 1440 << 10}, {FAT16, 16 << 20}, {FAT32, 40 << 20}}
	// entry finds the short entry named sn in the raw image.
	entry := func(raw []byte, sn string) int {
		i := bytes.Index(raw, []byte(sn))
		for i >= 0 && i%32 != 0 {
			j := bytes.Index(raw[i+1:], []byte(sn))
			if j < 0 {
				return -1
			}
			i += 1 + j
		}
		return i
	}
	cases := []struct {
		name, want string
		damage     func(raw []byte, g *geom) bool
	}{
		{"reserved sectors 513", "media byte", func(raw []byte, g *geom) bool {
			binary.LittleEndian.PutUint16(raw[14:], 513)
			return true
		}},
		{"directory size", "non-zero size", func(raw []byte, g *geom) bool {
			e := entry(raw, "SUBDIR     ")
			binary.LittleEndian.PutUint32(raw[e+28:], 4096)
			return e >= 0
		}},
		{"star in short name", "bad short name", func(raw []byte, g *geom) bool {
			e := entry(raw, "FILE    TXT")
			raw[e+2] = '*'
			return e >= 0
		}},
		{"dot in short name", "bad short name", func(raw []byte, g *geom) bool {
			e := entry(raw, "FILE    TXT")
			raw[e+2] = '.'
			return e >= 0
		}},
		{"leading space", "bad short name", func(raw []byte, g *geom) bool {
			e := entry(raw, "FILE    TXT")
			raw[e] = ' '
			return e >= 0
		}},
		{"control character", "bad short name", func(raw []byte, g *geom) bool {
			e := entry(raw, "FILE    TXT")
			raw[e+9] = 0x01
			return e >= 0
		}},
		{"FAT media byte", "media byte", func(raw []byte, g *geom) bool {
			raw[g.fatOff] = 0x00
			return true
		}},
	}
	for _, ty := range types {
		for _, c := range cases {
			t.Run(ty.typ.String()+"/"+c.name, func(t *testing.T) {
				v, f, img := newImage(t, ty.size, FormatOptions{Type: ty.typ}, Options{})
				if err := v.Mkdir("SUBDIR"); err != nil {
					t.Fatal(err)
				}
				testio.CreateFile(t, v, "FILE.TXT", []byte("data"))
				g := *v.g
				if err := v.Close(); err != nil {
					t.Fatal(err)
				}
				f.Close()
				fsckClean(t, img)
				raw, _ := os.ReadFile(img)
				if !c.damage(raw, &g) {
					t.Fatal("entry to damage not found")
				}
				os.WriteFile(img, raw, 0o644)
				out, bad := fsckComplaints(img)
				if !bad {
					t.Skipf("fsck.fat accepts this damage:\n%s", out)
				}
				df, err := os.Open(img)
				if err != nil {
					t.Fatal(err)
				}
				defer df.Close()
				rep, err := CheckDevice(df)
				if err != nil {
					t.Logf("CheckDevice refuses the image: %v", err)
					return
				}
				if !strings.Contains(strings.Join(rep.Problems, "\n"), c.want) {
					t.Fatalf("fsck.fat -n rejects the image but Check found %q (want %q)\nfsck.fat: %s", rep.Problems, c.want, out)
				}
			})
		}
	}
}
