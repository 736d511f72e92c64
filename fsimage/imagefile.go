package fsimage

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// LockError is returned when an image file is locked by someone else: two writers on one image
// would each cache the FAT and overwrite the other's changes, losing acknowledged files.
type LockError struct {
	Path      string
	Write     bool   // we wanted to write (an exclusive lock)
	PID       int    // the holder as /proc/locks names it; 0 when unknown
	Command   string // its command line, when readable
	HolderMax bool   // the holder has an exclusive (write) lock
}

func (e *LockError) Error() string {
	want := "read"
	if e.Write {
		want = "write"
	}
	holder := "another process"
	if e.PID != 0 {
		holder = fmt.Sprintf("pid %d", e.PID)
		if e.PID == os.Getpid() {
			holder += " (this process)"
		} else if e.Command != "" {
			holder += fmt.Sprintf(" (%s)", e.Command)
		}
	}
	how := "reading"
	if e.HolderMax {
		how = "writing"
	}
	return fmt.Sprintf("fsimage: cannot %s %s: it is open for %s by %s; stop that first (one writer or any number of readers at a time)", want, e.Path, how, holder)
}

func (e *LockError) Unwrap() error { return ErrLocked }

// OpenImageFile opens an image file for Open: it refuses anything but a regular file (a FIFO would
// block, /dev/zero would never end) and takes an advisory lock for the life of the file: exclusive
// when write is true, shared otherwise, without waiting. Close the file to release the lock.
func OpenImageFile(name string, write bool) (*os.File, error) {
	// Stat first: opening a FIFO for reading blocks until a writer comes.
	if fi, err := os.Stat(name); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "open image", Path: name, Err: fmt.Errorf("%w (%s): give an image file", ErrNotRegular, FileKind(fi.Mode()))}
	}
	flag := os.O_RDONLY
	if write {
		flag = os.O_RDWR
	}
	// O_NONBLOCK in case the path was swapped for a FIFO since the Stat; no effect on regular files.
	f, err := os.OpenFile(name, flag|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = &fs.PathError{Op: "open image", Path: name, Err: fmt.Errorf("%w (%s)", ErrNotRegular, FileKind(fi.Mode()))}
	}
	if err == nil {
		err = lockFile(f, name, write)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// FileKind names what a non-regular file is ("a FIFO", "a character device"), for refusals.
func FileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return "not a regular file"
}

// OpenFile opens the image file name (see OpenImageFile; opt.ReadOnly decides the lock) and the
// volume on it. Close closes the file too, releasing the lock.
func OpenFile(name string, opt Options) (*FS, error) {
	f, err := OpenImageFile(name, !opt.ReadOnly)
	if err != nil {
		return nil, err
	}
	v, err := Open(f, opt)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	v.file = f
	return v, nil
}
