package fsimage

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"strings"
)

// resolve finds the node for an io/fs path.
func (v *FS) resolve(name string) (*node, error) {
	if !fs.ValidPath(name) {
		return nil, fs.ErrInvalid
	}
	n := v.root
	if name == "." {
		return n, nil
	}
	for len(name) > 0 {
		elem, rest, _ := strings.Cut(name, "/")
		if !n.isDir() {
			return nil, ErrNotDir
		}
		d, err := v.loadDir(n)
		if err != nil {
			return nil, err
		}
		c := d.byName[fold(elem)]
		if c == nil {
			return nil, fs.ErrNotExist
		}
		n, name = c, rest
	}
	return n, nil
}

// resolveParent finds the directory that holds (or would hold) name, and name's last element.
func (v *FS) resolveParent(name string) (*dir, string, error) {
	if !fs.ValidPath(name) {
		return nil, "", fs.ErrInvalid
	}
	if name == "." {
		return nil, "", fmt.Errorf("the root directory has no parent: %w", fs.ErrInvalid)
	}
	parent, base := ".", name
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		parent, base = name[:i], name[i+1:]
	}
	p, err := v.resolve(parent)
	if err != nil {
		return nil, "", err
	}
	if !p.isDir() {
		return nil, "", ErrNotDir
	}
	d, err := v.loadDir(p)
	if err != nil {
		return nil, "", err
	}
	return d, base, nil
}

// encodeShort writes n's short entry into e (32 bytes).
func (v *FS) encodeShort(n *node, e []byte) {
	copy(e[:11], n.sn[:])
	e[11] = n.attr
	e[12] = n.ntres
	e[13] = n.crtTenth
	binary.LittleEndian.PutUint16(e[14:], n.crtTime)
	binary.LittleEndian.PutUint16(e[16:], n.crtDate)
	binary.LittleEndian.PutUint16(e[18:], n.accDate)
	hi := uint16(0)
	if v.g.typ == FAT32 {
		hi = uint16(n.cluster >> 16)
	}
	binary.LittleEndian.PutUint16(e[20:], hi)
	binary.LittleEndian.PutUint16(e[22:], n.wrtTime)
	binary.LittleEndian.PutUint16(e[24:], n.wrtDate)
	binary.LittleEndian.PutUint16(e[26:], uint16(n.cluster))
	size := n.size
	if n.isDir() {
		size = 0
	}
	binary.LittleEndian.PutUint32(e[28:], size)
}

// store rewrites n's short entry in its directory.
func (v *FS) store(n *node) {
	if n.parent == nil {
		return
	}
	o := 32 * n.slot
	v.encodeShort(n, n.parent.buf[o:o+32])
	v.markDirty(n.parent, o, 32)
}

// stamp sets the modification time (and access date) to now.
func (v *FS) stamp(n *node) {
	t := v.now()
	n.wrtDate, n.wrtTime, n.accDate = fatDate(t), fatTime(t), fatDate(t)
}

// findSlots returns the first index of k consecutive free entries, growing the directory
// by a cluster when needed.
func (v *FS) findSlots(d *dir, k int) (int, error) {
	for {
		slots := len(d.buf) / 32
		run, first := 0, -1
		for i := d.lb; i < slots; i++ {
			b := d.buf[32*i]
			if b != 0 && b != 0xE5 {
				run = 0
				continue
			}
			if first < 0 {
				first = i
			}
			if b == 0 {
				// Everything after the end marker is free.
				if slots-i+run >= k {
					p := i - run
					d.lb = first
					if first == p {
						d.lb = p + k
					}
					return p, nil
				}
				break
			}
			run++
			if run == k {
				p := i - k + 1
				d.lb = first
				if first == p {
					d.lb = p + k
				}
				return p, nil
			}
		}
		if first >= 0 {
			d.lb = first
		} else {
			d.lb = slots
		}
		if err := v.growDir(d); err != nil {
			return 0, err
		}
	}
}

// growDir appends a zeroed cluster to d.
func (v *FS) growDir(d *dir) error {
	if d.fixed {
		return ErrRootFull
	}
	if int64(len(d.buf))+v.g.cs > maxDirBytes {
		return ErrDirFull
	}
	ext, err := v.extents(d.n)
	if err != nil {
		return err
	}
	c, err := v.alloc(1, extLast(ext), nil)
	if err != nil {
		return err
	}
	// Zero the new cluster on the medium before the FAT links it into the directory (durable.go).
	if _, err := v.dev.WriteAt(make([]byte, v.g.cs), v.g.clusterOff(c)); err != nil {
		v.fat.set(extLast(ext), clusterEOC)
		v.fat.freeChain(c)
		return fmt.Errorf("zero directory cluster: %w", err)
	}
	d.n.ext = extAppend(ext, c)
	d.buf = append(d.buf, make([]byte, v.g.cs)...)
	for int64(len(d.dirty))*64*v.g.bps < int64(len(d.buf)) {
		d.dirty = append(d.dirty, 0)
	}
	return nil
}

// link creates the directory entries for n (fields already set) under name in d.
// n's short name is chosen here; on failure nothing is changed.
func (v *FS) link(d *dir, n *node, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if o := d.byName[fold(name)]; o != nil && o != n {
		return fs.ErrExist
	}
	sn, ntres, ok := exactShort(name)
	var lfn []byte
	if !ok || (d.shorts[sn] != nil && d.shorts[sn] != n) {
		base, ext := basisName(name)
		for i := 1; ; i++ {
			if i > 999999 {
				return fmt.Errorf("no free short alias for %q: %w", name, ErrDirFull)
			}
			sn = aliasName(base, ext, i)
			if o := d.shorts[sn]; o != nil && o != n {
				continue
			}
			if o := d.byName[fold(shortDisplay(sn[:], 0))]; o != nil && o != n {
				continue
			}
			break
		}
		ntres = 0
		lfn = lfnEntries(name, lfnChecksum(sn[:]))
	}
	k := len(lfn)/32 + 1
	var p int
	if n.parent == d && n.nslots >= k && n.nslots > 0 {
		// Renamed within its directory to a name that fits its own slots: reuse them, short entry
		// last, so a rename costs no new entry (a full FAT12/16 root cannot refuse it) and the
		// slots it frees are the leading ones.
		first := n.slot - n.nslots + 1
		for i := first; i < n.slot-k+1; i++ {
			d.buf[32*i] = 0xE5
		}
		p = n.slot - k + 1
		if p > first {
			d.lb = min(d.lb, first)
			v.markDirty(d, 32*first, 32*(p-first))
		}
	} else {
		var err error
		if p, err = v.findSlots(d, k); err != nil {
			return err
		}
	}
	copy(d.buf[32*p:], lfn)
	n.parent, n.name, n.sn, n.ntres, n.slot, n.nslots = d, name, sn, ntres, p+k-1, k
	v.encodeShort(n, d.buf[32*n.slot:32*n.slot+32])
	v.markDirty(d, 32*p, 32*k)
	d.add(n)
	return nil
}

// unlinkSlots marks n's entries deleted in its directory buffer.
func (v *FS) unlinkSlots(d *dir, slot, nslots int) {
	first := slot - nslots + 1
	for i := first; i <= slot; i++ {
		d.buf[32*i] = 0xE5
	}
	v.markDirty(d, 32*first, 32*nslots)
	d.lb = min(d.lb, first)
}

// newNode makes an entry stamped with the current time.
func (v *FS) newNode(attr byte) *node {
	t := v.now()
	return &node{
		attr: attr, crtTenth: fatTenth(t), crtTime: fatTime(t), crtDate: fatDate(t),
		accDate: fatDate(t), wrtTime: fatTime(t), wrtDate: fatDate(t), extOK: true,
	}
}

// dotEntries builds a new directory's first cluster with "." and "..".
func (v *FS) dotEntries(buf []byte, self *node, parent *node) {
	dot := *self
	dot.sn = [11]byte{'.', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '}
	dot.ntres = 0
	v.encodeShort(&dot, buf[0:32])
	dd := dot
	dd.sn[1] = '.'
	dd.cluster = v.parentCluster(parent)
	v.encodeShort(&dd, buf[32:64])
}

// parentCluster is the ".." value for a child of p: 0 for the root, even on FAT32.
func (v *FS) parentCluster(p *node) uint32 {
	if p == v.root {
		return 0
	}
	return p.cluster
}
