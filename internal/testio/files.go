package testio

import (
	"errors"
	"io"
	"os"
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

// CleanupTB is the part of testing.TB the helpers that leave something to remove need.
type CleanupTB interface {
	TB
	Cleanup(func())
}

// SharedDir makes a fresh directory under /tmp that every user can read and enter, removed at
// cleanup: t.TempDir's parents are 0700, so a server or a command running as another user (ftp,
// nobody) could not reach what the test puts there.
func SharedDir(t CleanupTB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", prefix)
	if err != nil {
		t.Fatalf("shared directory: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("shared directory: %v", err)
	}
	return dir
}
