package fsimage

import (
	"io"
	"io/fs"
)

// serverFileSystem is ftp/server's FileSystem, copied here so a signature drift fails to compile
// in this package too.
type serverFileSystem interface {
	Open(name string) (fs.File, error)
	Create(name string) (io.WriteCloser, error)
	Append(name string) (io.WriteCloser, error)
	Stat(name string) (fs.FileInfo, error)
	ReadDir(name string) ([]fs.DirEntry, error)
	Remove(name string) error
	Rename(oldname, newname string) error
	Mkdir(name string) error
}

var (
	_ serverFileSystem          = (*FS)(nil)
	_ interface{ Sync() error } = (*FS)(nil)
	_ fs.ReadDirFS              = (*FS)(nil)
	_ fs.StatFS                 = (*FS)(nil)
	_ fs.ReadFileFS             = (*FS)(nil)
	_ fs.ReadDirFile            = (*File)(nil)
	_ io.Seeker                 = (*File)(nil)
	_ io.ReaderAt               = (*File)(nil)
	_ io.WriterAt               = (*File)(nil)
)
