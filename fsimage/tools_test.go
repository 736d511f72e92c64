package fsimage

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// needTool skips the test when an external oracle is missing.
func needTool(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("needs %s (dosfstools/mtools): %v", n, err)
		}
	}
}

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
