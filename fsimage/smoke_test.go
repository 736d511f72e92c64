package fsimage

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestSmoke(t *testing.T) {
	needTool(t, "fsck.fat", "mdir")
	for _, c := range []struct {
		typ  FATType
		size int64
	}{{FAT12, 1440 << 10}, {FAT16, 32 << 20}, {FAT32, 64 << 20}} {
		img := filepath.Join(t.TempDir(), "s.img")
		f, err := os.Create(img)
		if err != nil {
			t.Fatal(err)
		}
		if err := Format(f, c.size, FormatOptions{Type: c.typ, Label: "SMOKE"}); err != nil {
			t.Fatal(err)
		}
		fsckClean(t, img)
		v, err := Open(f, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Mkdir("Dir One"); err != nil {
			t.Fatal(err)
		}
		w, err := v.Create("Dir One/long name file.txt")
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, "hello world\n")
		w.Close()
		w, _ = v.Create("readme.txt")
		w.Close()
		if err := v.Close(); err != nil {
			t.Fatal(err)
		}
		fsckClean(t, img)
		t.Log(mtoolsTree(t, img))
		f.Close()
	}
}
