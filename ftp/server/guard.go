package server

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
)

// errHidden is what a client gets for a name that reaches an upload in progress: the same as for a
// name that does not exist, so a temporary file cannot even be probed.
var errHidden = fs.ErrNotExist

// visibleFS is the back end as clients see it: upload temporary files do not exist, whatever name
// reaches them. A literal check of the name is not enough: on FAT every long name also has an 8.3
// alias (".netxsim-upload-….part" is also NETXSI~1.PAR), and a case-insensitive host file system
// matches other spellings, so every component is resolved and the name the back end reports is
// checked as well.
type visibleFS struct{ raw FileSystem }

// hidden reports whether name, or a directory on its way, is an upload temporary file.
func (v visibleFS) hidden(name string) bool {
	if name == "." || name == "" {
		return false
	}
	parts := strings.Split(name, "/")
	for i, p := range parts {
		if isTempName(p) {
			return true
		}
		fi, err := v.raw.Stat(strings.Join(parts[:i+1], "/"))
		if err != nil {
			return false // what does not exist hides nothing (Create checks the literal name above)
		}
		if isTempName(fi.Name()) {
			return true
		}
	}
	return false
}

func hiddenErr(op, name string) error { return &fs.PathError{Op: op, Path: name, Err: errHidden} }

// visible calls the back end's op on name unless name is hidden.
func visible[T any](v visibleFS, op, name string, call func(string) (T, error)) (T, error) {
	if v.hidden(name) {
		var zero T
		return zero, hiddenErr(op, name)
	}
	return call(name)
}

func (v visibleFS) Open(name string) (fs.File, error) { return visible(v, "open", name, v.raw.Open) }

func (v visibleFS) Create(name string) (io.WriteCloser, error) {
	return visible(v, "create", name, v.raw.Create)
}

func (v visibleFS) Append(name string) (io.WriteCloser, error) {
	return visible(v, "append", name, v.raw.Append)
}

func (v visibleFS) Stat(name string) (fs.FileInfo, error) {
	return visible(v, "stat", name, v.raw.Stat)
}

// ReadDir leaves temporary files out of the listing.
func (v visibleFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if v.hidden(name) {
		return nil, hiddenErr("readdir", name)
	}
	es, err := v.raw.ReadDir(name)
	return slices.DeleteFunc(es, func(e fs.DirEntry) bool { return isTempName(e.Name()) }), err
}

// ReadDirUnsorted is the back end's own order (FAT directory order) when it has one.
func (v visibleFS) ReadDirUnsorted(name string) ([]fs.DirEntry, error) {
	u, ok := v.raw.(unsortedDirReader)
	if !ok {
		return v.ReadDir(name)
	}
	if v.hidden(name) {
		return nil, hiddenErr("readdir", name)
	}
	es, err := u.ReadDirUnsorted(name)
	return slices.DeleteFunc(es, func(e fs.DirEntry) bool { return isTempName(e.Name()) }), err
}

func (v visibleFS) Remove(name string) error {
	if v.hidden(name) {
		return hiddenErr("remove", name)
	}
	return v.raw.Remove(name)
}

func (v visibleFS) Rename(oldname, newname string) error {
	if v.hidden(oldname) {
		return hiddenErr("rename", oldname)
	}
	if v.hidden(newname) {
		return hiddenErr("rename", newname)
	}
	return v.raw.Rename(oldname, newname)
}

func (v visibleFS) Mkdir(name string) error {
	if v.hidden(name) {
		return hiddenErr("mkdir", name)
	}
	return v.raw.Mkdir(name)
}

// fileKey names the file behind an io/fs name for per-file locks: every component as the back end
// spells it (so an 8.3 alias and its long name meet), folded to lower case (FAT ignores case; on a
// case-sensitive host directory the folding only makes two files share a lock).
func fileKey(raw FileSystem, name string) string {
	if name == "." {
		return "."
	}
	parts := strings.Split(name, "/")
	resolved := true
	for i := range parts {
		if resolved {
			if fi, err := raw.Stat(strings.Join(parts[:i+1], "/")); err == nil {
				parts[i] = fi.Name()
			} else {
				resolved = false
			}
		}
		parts[i] = strings.ToLower(parts[i])
	}
	return path.Join(parts...)
}

// fileLocks serialises the changes of one file: an APPE reads the current content and renames a
// longer copy over it, so a STOR, another APPE, a DELE or an RNTO in between would be lost.
type fileLocks struct {
	mu sync.Mutex
	m  map[string]*fileLock
}

type fileLock struct {
	ch   chan struct{} // holds a token while locked
	refs int
}

// lock takes the locks of keys (in a fixed order, so two multi-key lockers cannot deadlock) or
// gives up when ctx ends; unlock releases them.
func (l *fileLocks) lock(ctx context.Context, keys ...string) (unlock func(), err error) {
	keys = slices.Compact(slices.Sorted(slices.Values(keys)))
	var held []string
	release := func() {
		for _, k := range held {
			l.release(k)
		}
	}
	for _, k := range keys {
		l.mu.Lock()
		if l.m == nil {
			l.m = make(map[string]*fileLock)
		}
		e := l.m[k]
		if e == nil {
			e = &fileLock{ch: make(chan struct{}, 1)}
			l.m[k] = e
		}
		e.refs++
		l.mu.Unlock()
		select {
		case e.ch <- struct{}{}:
			held = append(held, k)
		case <-ctx.Done():
			l.drop(k)
			release()
			return nil, errors.Join(errors.New("waiting for another change of the same file"), ctx.Err())
		}
	}
	return release, nil
}

func (l *fileLocks) release(k string) {
	l.mu.Lock()
	e := l.m[k]
	l.mu.Unlock()
	<-e.ch
	l.drop(k)
}

func (l *fileLocks) drop(k string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.m[k]; e != nil {
		if e.refs--; e.refs == 0 {
			delete(l.m, k)
		}
	}
}

// lockFiles takes the change locks of the given io/fs names for this session.
func (ss *session) lockFiles(ctx context.Context, names ...string) (func(), error) {
	keys := make([]string, len(names))
	for i, n := range names {
		keys[i] = fileKey(ss.srv.FS, n)
	}
	return ss.srv.locks.lock(ctx, keys...)
}
