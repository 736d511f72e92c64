package fsimage

import (
	"errors"
	"io/fs"
)

// sentinel is an error that also matches a broader io/fs error with errors.Is.
type sentinel struct {
	msg  string
	also error
}

func (e *sentinel) Error() string { return e.msg }
func (e *sentinel) Unwrap() error { return e.also }

// Errors callers can test for with errors.Is. Each also matches the io/fs error that fits,
// so code written against io/fs (and the FTP server) needs no knowledge of this package.
var (
	// ErrNoSpace: the volume has too few free clusters for the operation; nothing was changed.
	ErrNoSpace = errors.New("fsimage: no space left on the volume (delete files or use a larger image)")
	// ErrRootFull: the fixed FAT12/16 root directory has no free entry; also matches ErrNoSpace.
	ErrRootFull = &sentinel{"fsimage: root directory is full (FAT12/16 has a fixed number of root entries; use a subdirectory or format with more root entries)", ErrNoSpace}
	// ErrDirFull: a directory reached FAT's limit of 65,536 entries; also matches ErrNoSpace.
	ErrDirFull = &sentinel{"fsimage: directory has reached FAT's limit of 65536 entries", ErrNoSpace}
	// ErrFileTooLarge: FAT file sizes are 32-bit; also matches ErrNoSpace.
	ErrFileTooLarge = &sentinel{"fsimage: file would exceed FAT's size limit of 4 GiB - 1 byte", ErrNoSpace}
	// ErrInvalidName: a name FAT cannot store; matches fs.ErrInvalid.
	ErrInvalidName = &sentinel{"fsimage: invalid FAT file name", fs.ErrInvalid}
	// ErrNotEmpty: removing a directory that still has entries; matches fs.ErrExist.
	ErrNotEmpty = &sentinel{"fsimage: directory not empty", fs.ErrExist}
	// ErrIsDir: a file operation on a directory; matches fs.ErrInvalid.
	ErrIsDir = &sentinel{"fsimage: is a directory", fs.ErrInvalid}
	// ErrNotDir: a path element that should be a directory is a file; matches fs.ErrNotExist.
	ErrNotDir = &sentinel{"fsimage: not a directory", fs.ErrNotExist}
	// ErrBusy: removing or replacing a file that is open, as FileX refuses; matches fs.ErrPermission.
	ErrBusy = &sentinel{"fsimage: file is open (close it first)", fs.ErrPermission}
	// ErrStreaming: changing data that a streaming File.ReadFrom or File.WriteTo on a RAM disk is
	// moving at that moment (writing inside the file's size while it is sent, writing or truncating
	// it while it is received); also matches ErrBusy.
	ErrStreaming = &sentinel{"fsimage: file is being streamed to or from a connection (try again when the transfer ends)", ErrBusy}
	// ErrReadOnly: writing to a volume opened read-only or a file with the read-only attribute.
	ErrReadOnly = &sentinel{"fsimage: read-only", fs.ErrPermission}
	// ErrNotFAT: the device holds no FAT volume this package understands.
	ErrNotFAT = errors.New("fsimage: not a FAT volume")
	// ErrCorrupt: on-disk structures are inconsistent; run Check (or fsck.fat) for details.
	ErrCorrupt = errors.New("fsimage: corrupt volume (run `netxsim image check` or fsck.fat)")
)

// ErrLocked: another writer (or, for a writer, any reader) has the image file open; the error is a
// *LockError naming the holder.
var ErrLocked = errors.New("fsimage: image is in use")

// ErrNotRegular: an image path names a device, FIFO, socket or directory, not a regular file.
var ErrNotRegular = errors.New("fsimage: not a regular file")
