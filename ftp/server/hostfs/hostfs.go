// Package hostfs serves a host directory to the FTP server, confined with os.Root: no name, ".."
// sequence or symbolic link can reach outside the directory (the kernel enforces it per lookup).
package hostfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"syscall"
)

// FS is a host directory; its methods have the signatures of ftp/server's FileSystem.
// Names are io/fs style ("." is the root), as the server passes them.
type FS struct {
	root *os.Root
}

// New opens dir as the root of a file system.
func New(dir string) (*FS, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("hostfs: open %s as the FTP root (it must be an existing directory): %w", dir, err)
	}
	return &FS{root: r}, nil
}

// Close releases the directory.
func (f *FS) Close() error { return f.root.Close() }

// Name is the host directory.
func (f *FS) Name() string { return f.root.Name() }

func check(op, name string) error {
	if !fs.ValidPath(name) {
		return &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	return nil
}

// ErrNotRegular is the error for a FIFO, a device or a socket: the server only serves regular
// files and directories, since opening or reading anything else can block without end (a FIFO
// without a writer) or never end (a character device).
var ErrNotRegular = errors.New("not a regular file or directory")

// open opens name without blocking (O_NONBLOCK: a FIFO would wait for its other end) and refuses
// anything but a regular file or a directory. O_NONBLOCK has no effect on those two.
func (f *FS) open(op, name string, flag int) (*os.File, error) {
	if err := check(op, name); err != nil {
		return nil, err
	}
	h, err := f.root.OpenFile(name, flag|syscall.O_NONBLOCK, 0o644)
	if err != nil {
		return nil, err
	}
	fi, err := h.Stat()
	if err == nil && !fi.Mode().IsRegular() && !fi.IsDir() {
		err = &fs.PathError{Op: op, Path: name, Err: ErrNotRegular}
	}
	if err != nil {
		h.Close()
		return nil, err
	}
	return h, nil
}

// Open opens a file or directory for reading; *os.File is also an io.Seeker and io.ReaderAt.
func (f *FS) Open(name string) (fs.File, error) {
	h, err := f.open("open", name, os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	return h, nil
}

// Create creates or truncates a regular file.
func (f *FS) Create(name string) (io.WriteCloser, error) {
	h, err := f.open("create", name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return nil, err
	}
	return h, nil
}

// Append opens a file for writing at its end, creating it if missing.
func (f *FS) Append(name string) (io.WriteCloser, error) {
	h, err := f.open("append", name, os.O_WRONLY|os.O_CREATE|os.O_APPEND)
	if err != nil {
		return nil, err
	}
	return h, nil
}

// Stat describes a file (following symbolic links that stay inside the root).
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	if err := check("stat", name); err != nil {
		return nil, err
	}
	return f.root.Stat(name)
}

// ReadDir lists a directory sorted by name.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	entries, err := f.ReadDirUnsorted(name)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, nil
}

// ReadDirUnsorted lists a directory in the order the operating system returns it (as `ls -U`): the
// order mcopy would write the entries into a FAT image made from the directory, which is what a NetX
// device holding these files would list. It is not creation order on most Linux file systems.
func (f *FS) ReadDirUnsorted(name string) ([]fs.DirEntry, error) {
	d, err := f.open("readdir", name, os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.ReadDir(-1)
}

// Remove removes a file or an empty directory.
func (f *FS) Remove(name string) error {
	if err := check("remove", name); err != nil {
		return err
	}
	if name == "." {
		return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrPermission}
	}
	return f.root.Remove(name)
}

// Rename renames a file or directory, replacing an existing file newname.
func (f *FS) Rename(oldname, newname string) error {
	if err := check("rename", oldname); err != nil {
		return err
	}
	if err := check("rename", newname); err != nil {
		return err
	}
	if oldname == "." || newname == "." {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: fs.ErrPermission}
	}
	if fi, err := f.root.Lstat(newname); err == nil && fi.IsDir() {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: fs.ErrExist}
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return f.root.Rename(oldname, newname)
}

// Mkdir creates a directory.
func (f *FS) Mkdir(name string) error {
	if err := check("mkdir", name); err != nil {
		return err
	}
	return f.root.Mkdir(name, 0o755)
}
