package hostfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestConfinement(t *testing.T) {
	top := t.TempDir()
	root := filepath.Join(top, "root")
	if err := os.MkdirAll(filepath.Join(root, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(top, "secret"), []byte("s"), 0o644)
	os.Symlink("../secret", filepath.Join(root, "out"))
	os.Symlink("/", filepath.Join(root, "slash"))
	f, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, name := range []string{"out", "slash/etc/passwd", "../secret", "/etc/passwd", "d/../../secret"} {
		if r, err := f.Open(name); err == nil {
			r.Close()
			t.Errorf("Open(%q) escaped the root", name)
		}
	}
	if w, err := f.Create("slash/tmp/x"); err == nil {
		w.Close()
		t.Error("Create through a link to / succeeded")
	}
	if err := f.Remove("."); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("Remove(.) = %v", err)
	}
	if _, err := f.Stat("a/../b"); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("unclean name accepted: %v", err)
	}
}

func TestOperations(t *testing.T) {
	f, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := f.Create("b.txt")
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "hello")
	w.Close()
	w, _ = f.Append("b.txt")
	io.WriteString(w, " world")
	w.Close()
	if err := f.Mkdir("a"); err != nil {
		t.Fatal(err)
	}
	if err := f.Mkdir("a"); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Mkdir twice: %v", err)
	}
	es, _ := f.ReadDir(".")
	if len(es) != 2 || es[0].Name() != "a" || es[1].Name() != "b.txt" {
		t.Errorf("ReadDir: %v", es)
	}
	if err := f.Rename("b.txt", "a"); err == nil {
		t.Error("Rename over a directory succeeded")
	}
	w, _ = f.Create("c.txt")
	w.Close()
	if err := f.Rename("c.txt", "b.txt"); err != nil {
		t.Errorf("Rename over a file: %v", err)
	}
	fi, err := f.Stat("b.txt")
	if err != nil || fi.Size() != 0 {
		t.Errorf("after replace: %v %v", fi, err)
	}
	if err := f.Remove("a"); err != nil {
		t.Error(err)
	}
	if _, err := f.Stat("a"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat removed: %v", err)
	}
}
