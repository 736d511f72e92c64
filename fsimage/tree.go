package fsimage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
)

// clean turns "/a/b", "a/b/" or "a//b" into the volume's form "a/b"; "" and "/" are ".".
func clean(name string) string {
	n := strings.TrimPrefix(path.Clean("/"+name), "/")
	if n == "" {
		return "."
	}
	return n
}

// MkdirAll makes the directory dir and any parents that do not exist yet, like os.MkdirAll; an
// existing directory is not an error, an existing file in the way is.
func MkdirAll(v *FS, dir string) error {
	dir = clean(dir)
	if dir == "." {
		return nil
	}
	fi, err := v.Stat(dir)
	switch {
	case err == nil && fi.IsDir():
		return nil
	case err == nil:
		return fmt.Errorf("fsimage: mkdir %s: a file of that name exists", dir)
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	if err := MkdirAll(v, path.Dir(dir)); err != nil {
		return err
	}
	return v.Mkdir(dir)
}

// WriteFile creates (or truncates) the file name, making its directories, and copies r into it. The
// file is complete when WriteFile returns nil.
func WriteFile(v *FS, name string, r io.Reader) error {
	name = clean(name)
	if err := MkdirAll(v, path.Dir(name)); err != nil {
		return err
	}
	w, err := v.Create(name)
	if err != nil {
		return err
	}
	// Large writes suit the cluster allocator; the anonymous struct keeps io.Copy from asking w.
	if _, err := io.CopyBuffer(struct{ io.Writer }{w}, r, make([]byte, 256<<10)); err != nil {
		w.Close()
		return fmt.Errorf("fsimage: write %s: %w", name, err)
	}
	return w.Close()
}
