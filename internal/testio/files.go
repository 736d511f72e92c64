package testio

import (
	"errors"
	"io"
)

// Creator is a file system that makes new files for writing: fsimage.FS, hostfs.FS, any
// server.FileSystem.
type Creator interface {
	Create(name string) (io.WriteCloser, error)
}

// CreateFile creates name on fsys with data as its content and fails the test if creating,
// writing or closing fails (a full image shows at the close).
func CreateFile(t TB, fsys Creator, name string, data []byte) {
	t.Helper()
	w, err := fsys.Create(name)
	if err == nil {
		_, err = w.Write(data)
		err = errors.Join(err, w.Close())
	}
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
}
