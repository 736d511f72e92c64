package fsimage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
)

func pathErr(op, name string, err error) error {
	if err == nil {
		return nil
	}
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// begin locks the volume for an operation; write says whether it changes the volume.
func (v *FS) begin(write bool) error {
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return fs.ErrClosed
	}
	if write && v.opt.ReadOnly {
		v.mu.Unlock()
		return ErrReadOnly
	}
	return nil
}

// change runs f, a change of the volume's metadata, under the lock of a writer and ends it as
// Options.WriteThrough asks; errors come back as a *fs.PathError of op on name.
func (v *FS) change(op, name string, f func() error) error {
	if err := v.begin(true); err != nil {
		return pathErr(op, name, err)
	}
	defer v.mu.Unlock()
	return pathErr(op, name, v.done(f()))
}

// OpenFile opens name with os.O_* flags (O_RDONLY, O_WRONLY, O_RDWR, O_CREATE, O_EXCL, O_TRUNC,
// O_APPEND). perm without write bits creates a read-only file. Directories open read-only.
func (v *FS) OpenFile(name string, flag int, perm fs.FileMode) (*File, error) {
	write := flag&(os.O_WRONLY|os.O_RDWR) != 0
	if err := v.begin(write || flag&os.O_CREATE != 0); err != nil {
		return nil, pathErr("open", name, err)
	}
	defer v.mu.Unlock()
	f, err := v.openFile(name, flag, perm)
	return f, pathErr("open", name, v.done(err))
}

func (v *FS) openFile(name string, flag int, perm fs.FileMode) (*File, error) {
	write := flag&(os.O_WRONLY|os.O_RDWR) != 0
	n, err := v.resolve(name)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !errors.Is(err, ErrNotDir) && flag&os.O_CREATE != 0:
		d, base, err := v.resolveParent(name)
		if err != nil {
			return nil, err
		}
		attr := byte(AttrArchive)
		if perm != 0 && perm&0o222 == 0 {
			attr |= AttrReadOnly
		}
		n = v.newNode(attr)
		if err := v.link(d, n, base); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	case flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0:
		return nil, fs.ErrExist
	}
	if n.isDir() {
		if write || flag&(os.O_TRUNC|os.O_APPEND) != 0 {
			return nil, ErrIsDir
		}
		if _, err := v.loadDir(n); err != nil {
			return nil, err
		}
	} else if write && n.attr&AttrReadOnly != 0 {
		return nil, ErrReadOnly
	}
	f := &File{v: v, n: n, name: name, read: flag&os.O_WRONLY == 0, write: write, append: flag&os.O_APPEND != 0}
	if write && flag&os.O_TRUNC != 0 && n.size > 0 {
		if err := v.truncate(n, 0); err != nil {
			return nil, err
		}
	}
	n.open++
	return f, nil
}

// Open opens name for reading (fs.FS). The file also implements io.Seeker and io.ReaderAt,
// and ReadDir for directories.
func (v *FS) Open(name string) (fs.File, error) {
	f, err := v.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Create creates or truncates name for writing. The data is on the volume when Close returns nil
// (and on the device after Sync or Close of the volume, or at once in write-through mode).
func (v *FS) Create(name string) (io.WriteCloser, error) {
	f, err := v.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Append opens name for writing at its end, creating it if missing.
func (v *FS) Append(name string) (io.WriteCloser, error) {
	f, err := v.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o666)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Stat describes name (fs.StatFS).
func (v *FS) Stat(name string) (fs.FileInfo, error) {
	if err := v.begin(false); err != nil {
		return nil, pathErr("stat", name, err)
	}
	defer v.mu.Unlock()
	n, err := v.resolve(name)
	if err != nil {
		return nil, pathErr("stat", name, err)
	}
	return v.info(n), nil
}

// ReadDir lists directory name sorted by name, without "." and ".." (fs.ReadDirFS).
func (v *FS) ReadDir(name string) ([]fs.DirEntry, error) { return v.readDir(name, v.list) }

// ReadDirUnsorted lists directory name in FAT directory order, the order of the entries' slots
// (creation order, deleted slots reused), without "." and "..": the order FileX, and so NetX's FTP
// server, lists in.
func (v *FS) ReadDirUnsorted(name string) ([]fs.DirEntry, error) {
	return v.readDir(name, v.listBySlot)
}

// readDir resolves directory name under the volume's lock and lists it with list.
func (v *FS) readDir(name string, list func(*node) ([]fs.DirEntry, error)) ([]fs.DirEntry, error) {
	if err := v.begin(false); err != nil {
		return nil, pathErr("readdir", name, err)
	}
	defer v.mu.Unlock()
	n, err := v.resolve(name)
	if err == nil && !n.isDir() {
		err = ErrNotDir
	}
	if err != nil {
		return nil, pathErr("readdir", name, err)
	}
	out, err := list(n)
	return out, pathErr("readdir", name, err)
}

func (v *FS) listBySlot(n *node) ([]fs.DirEntry, error) {
	d, err := v.loadDir(n)
	if err != nil {
		return nil, err
	}
	nodes := slices.Clone(d.entries)
	slices.SortStableFunc(nodes, func(a, b *node) int { return a.slot - b.slot })
	out := make([]fs.DirEntry, 0, len(nodes))
	for _, c := range nodes {
		out = append(out, fs.FileInfoToDirEntry(v.info(c)))
	}
	return out, nil
}

func (v *FS) list(n *node) ([]fs.DirEntry, error) {
	d, err := v.loadDir(n)
	if err != nil {
		return nil, err
	}
	out := make([]fs.DirEntry, 0, len(d.entries))
	for _, c := range d.entries {
		out = append(out, fs.FileInfoToDirEntry(v.info(c)))
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

// ReadFile reads a whole file (fs.ReadFileFS).
func (v *FS) ReadFile(name string) ([]byte, error) {
	f, err := v.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if f.n.isDir() {
		return nil, pathErr("read", name, ErrIsDir)
	}
	v.mu.Lock()
	size := int64(f.n.size)
	v.mu.Unlock()
	b := make([]byte, size)
	n, err := f.ReadAt(b, 0)
	if err == io.EOF && n == len(b) {
		err = nil
	}
	return b[:n], err
}

// Mkdir creates directory name with "." and "..".
func (v *FS) Mkdir(name string) error {
	return v.change("mkdir", name, func() error { return v.mkdir(name) })
}

func (v *FS) mkdir(name string) error {
	d, base, err := v.resolveParent(name)
	if err != nil {
		return err
	}
	if d.byName[fold(base)] != nil {
		return fs.ErrExist
	}
	if err := checkName(base); err != nil {
		return err
	}
	c, err := v.alloc(1, 0, nil)
	if err != nil {
		return err
	}
	n := v.newNode(AttrDirectory)
	n.cluster = c
	n.ext = []extent{{start: c, n: 1}}
	if err := v.link(d, n, base); err != nil {
		v.fat.freeChain(c)
		return err
	}
	nd := &dir{n: n, byName: map[string]*node{}, shorts: map[[11]byte]*node{}, dotdot: 1, lb: 2,
		buf: make([]byte, v.g.cs), dirty: make([]uint64, (v.g.spc+63)/64)}
	v.dotEntries(nd.buf, n, d.n)
	// The cluster is free on the medium until the next flush links it: write it now, so that no
	// order of later writes can show an entry pointing at a directory cluster full of old data.
	if _, err := v.dev.WriteAt(nd.buf, v.g.clusterOff(c)); err != nil {
		d.unindex(n)
		v.unlinkSlots(d, n.slot, n.nslots)
		v.fat.freeChain(c)
		return fmt.Errorf("write directory cluster: %w", err)
	}
	n.d = nd
	return nil
}

// Remove removes a file or an empty directory, freeing its clusters.
func (v *FS) Remove(name string) error {
	return v.change("remove", name, func() error { return v.remove(name) })
}

func (v *FS) remove(name string) error {
	n, err := v.resolve(name)
	if err != nil {
		return err
	}
	if n == v.root {
		return fmt.Errorf("cannot remove the root directory: %w", fs.ErrInvalid)
	}
	if n.open > 0 {
		return ErrBusy
	}
	if n.attr&AttrReadOnly != 0 {
		return ErrReadOnly
	}
	if n.isDir() {
		d, err := v.loadDir(n)
		if err != nil {
			return err
		}
		if len(d.entries) > 0 {
			return ErrNotEmpty
		}
	}
	v.destroy(n)
	return nil
}

// destroy deletes n's entry and frees its clusters.
func (v *FS) destroy(n *node) {
	p := n.parent
	p.unindex(n)
	v.unlinkSlots(p, n.slot, n.nslots)
	if n.cluster != 0 {
		v.release(n.cluster)
	}
	if n.d != nil {
		// Its clusters may be reused for file data: never write the cached buffer again.
		delete(v.dirty, n.d)
		n.d = nil
	}
	n.cluster, n.ext, n.size = 0, nil, 0
}

// Rename moves oldname to newname, within or across directories. An existing file at newname
// is replaced, as os.Rename does; an existing directory is not.
func (v *FS) Rename(oldname, newname string) error {
	if err := v.begin(true); err != nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: err}
	}
	defer v.mu.Unlock()
	if err := v.done(v.rename(oldname, newname)); err != nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: err}
	}
	return nil
}

func (v *FS) rename(oldname, newname string) error {
	n, err := v.resolve(oldname)
	if err != nil {
		return err
	}
	if n == v.root {
		return fmt.Errorf("cannot rename the root directory: %w", fs.ErrInvalid)
	}
	d, base, err := v.resolveParent(newname)
	if err != nil {
		return err
	}
	if err := checkName(base); err != nil {
		return err
	}
	if n.isDir() {
		for a := d.n; a != nil; a = parentNode(a) {
			if a == n {
				return fmt.Errorf("cannot move a directory into itself: %w", fs.ErrInvalid)
			}
		}
	}
	var victim *node
	if t := d.byName[fold(base)]; t != nil && t != n {
		switch {
		case t.isDir():
			return fmt.Errorf("target is a directory: %w", fs.ErrExist)
		case n.isDir():
			return fmt.Errorf("cannot replace a file with a directory: %w", fs.ErrExist)
		case t.open > 0:
			return ErrBusy
		case t.attr&AttrReadOnly != 0:
			return ErrReadOnly
		}
		// The replaced file goes only once the new entry exists, so a failed rename
		// (no room for the new name) loses nothing.
		victim = t
		d.unindex(t)
	} else if t == n && n.name == base {
		return nil
	}
	old, slot, nslots := n.parent, n.slot, n.nslots
	oldName, oldSn, oldNt := n.name, n.sn, n.ntres
	if victim != nil && victim.parent == d && victim.name == base && !n.isDir() {
		// Replacing a file under its own name (an upload's temporary file renamed over the
		// target): take over the target's entry, long name and alias included, so the change on
		// the medium is its short entry alone (atomic) and costs no new slot (a full FAT12/16
		// root cannot make it fail).
		old.unindex(n)
		n.parent, n.name, n.sn, n.ntres, n.slot, n.nslots = d, victim.name, victim.sn, victim.ntres, victim.slot, victim.nslots
		v.store(n)
		d.add(n)
		v.unlinkSlots(old, slot, nslots)
		v.release(victim.cluster)
		victim.parent, victim.cluster, victim.ext, victim.size = nil, 0, nil, 0
		return nil
	}
	old.unindex(n)
	if err := v.link(d, n, base); err != nil {
		n.parent, n.slot, n.nslots, n.name, n.sn, n.ntres = old, slot, nslots, oldName, oldSn, oldNt
		old.add(n)
		if victim != nil {
			d.add(victim)
		}
		return err
	}
	if old != d || n.slot != slot { // else link reused the entry's own slots
		v.unlinkSlots(old, slot, nslots)
	}
	if victim != nil {
		v.destroy(victim)
	}
	if n.isDir() && old != d {
		cd, err := v.loadDir(n)
		if err != nil {
			return err
		}
		if cd.dotdot >= 0 {
			e := cd.buf[32*cd.dotdot : 32*cd.dotdot+32]
			pc := v.parentCluster(d.n)
			e[26], e[27] = byte(pc), byte(pc>>8)
			if v.g.typ == FAT32 {
				e[20], e[21] = byte(pc>>16), byte(pc>>24)
			}
			v.markDirty(cd, 32*cd.dotdot, 32)
		}
	}
	return nil
}

func parentNode(n *node) *node {
	if n.parent == nil {
		return nil
	}
	return n.parent.n
}

// Attributes of a file (AttrReadOnly, AttrHidden, AttrSystem, AttrArchive; AttrDirectory is fixed).
func (v *FS) SetAttr(name string, attr byte) error {
	return v.change("chattr", name, func() error {
		n, err := v.resolve(name)
		if err == nil && n == v.root {
			err = fs.ErrInvalid
		}
		if err != nil {
			return err
		}
		n.attr = n.attr&AttrDirectory | attr&(AttrReadOnly|AttrHidden|AttrSystem|AttrArchive)
		v.store(n)
		return nil
	})
}

// Truncate changes the size of file name.
func (v *FS) Truncate(name string, size int64) error {
	return v.change("truncate", name, func() error {
		n, err := v.resolve(name)
		if err == nil && n.isDir() {
			err = ErrIsDir
		}
		if err == nil && n.attr&AttrReadOnly != 0 {
			err = ErrReadOnly
		}
		if err == nil {
			err = v.truncate(n, size)
		}
		return err
	})
}
