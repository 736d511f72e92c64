package fsimage

import (
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"sync"
	"time"

	"github.com/netxsim/netxsim/internal/size"
)

// Options tune an opened volume. The zero value is usable.
type Options struct {
	// Clock gives timestamps for created and modified entries; nil means time.Now.
	Clock func() time.Time
	// Location is the zone FAT's local timestamps are read in; nil means UTC.
	Location *time.Location
	// WriteThrough writes FAT, directory and FSInfo changes to the device at the end of every
	// operation (NetX's fault-tolerant mode) instead of on Sync and Close.
	WriteThrough bool
	// ReadOnly refuses every change.
	ReadOnly bool
}

// FS is an open FAT volume. All methods are safe for concurrent use; one mutex serializes
// them, which is what several FTP sessions on one FileX media get too.
type FS struct {
	mu       sync.Mutex
	dev      Device // volume-relative
	base     Device // what the caller gave
	partOff  int64
	g        *geom
	fat      *fatTable
	root     *node
	opt      Options
	closed   bool
	diskFree uint32 // FSInfo free count as last written
	diskNext uint32
	dirty    map[*dir]struct{}
	zero     []byte
	copyBufs sync.Pool // *[]byte for ReadFrom: one large buffer per file would dominate small copies
	volLabel string
	file     io.Closer // the image file when OpenFile opened it; closed (and its lock released) by Close
	mem      []byte    // the volume's bytes when it is on a *RAM: File.ReadFrom and WriteTo stream to and from them

	pending     []uint32 // chains released since the last flush, freed after the directories (durable.go)
	pendingN    uint32   // clusters in them
	dirtyOnDisk bool     // the boot sector's dirty flag is set on the device
	recovery    Recovery
}

// node is one directory entry in memory. Open files and cached directories point at it,
// so a rename that moves the entry keeps them valid.
type node struct {
	parent   *dir
	name     string
	sn       [11]byte
	ntres    byte
	attr     byte
	crtTenth byte
	crtTime  uint16
	crtDate  uint16
	accDate  uint16
	wrtTime  uint16
	wrtDate  uint16
	cluster  uint32
	size     uint32
	slot     int // index of the short entry in parent.buf
	nslots   int // long-name entries + 1
	ext      []extent
	extOK    bool
	d        *dir
	open     int
	filling  int // streaming ReadFroms receiving into its end without the lock (at most one)
	sending  int // streaming WriteTos sending its data without the lock
}

func (n *node) isDir() bool { return n.attr&AttrDirectory != 0 }

// dir is the cached contents of a directory: its raw entries and a name index.
type dir struct {
	n       *node
	fixed   bool // FAT12/16 root
	buf     []byte
	entries []*node
	byName  map[string]*node
	shorts  map[[11]byte]*node
	dotdot  int // slot of "..", -1 if none
	dirty   []uint64
	lb      int // no free slot below this index
}

func (v *FS) now() time.Time {
	if v.opt.Clock != nil {
		return v.opt.Clock()
	}
	return time.Now()
}

func (v *FS) loc() *time.Location {
	if v.opt.Location != nil {
		return v.opt.Location
	}
	return time.UTC
}

// Open opens the FAT volume on dev: a bare volume, or the first partition of an MBR.
func Open(dev Device, opt Options) (*FS, error) {
	sec := make([]byte, 4096)
	n, err := dev.ReadAt(sec, 0)
	if n < 512 {
		if err == nil || err == io.EOF {
			err = ErrNotFAT
		}
		return nil, fmt.Errorf("fsimage: read boot sector: %w", err)
	}
	v := &FS{base: dev, dev: dev, opt: opt, dirty: map[*dir]struct{}{}}
	if !looksLikeBoot(sec) {
		off, _, perr := mbrPartition(sec)
		if perr != nil {
			return nil, fmt.Errorf("fsimage: %w", perr)
		}
		v.partOff = off
		v.dev = section{dev, off}
		clear(sec)
		if n, err := v.dev.ReadAt(sec[:512], 0); n < 512 {
			return nil, fmt.Errorf("fsimage: read boot sector of partition at byte %d: %v: %w", off, err, ErrNotFAT)
		}
	}
	g, err := parseBoot(sec)
	if err != nil {
		return nil, fmt.Errorf("fsimage: %w", err)
	}
	v.g = g
	// Probe the last sector before allocating the FAT, so a lying BPB cannot make us
	// allocate more memory than the device holds.
	probe := make([]byte, 1)
	if _, err := v.dev.ReadAt(probe, g.dataOff+int64(g.clusters)*g.cs-1); err != nil {
		return nil, fmt.Errorf("fsimage: image is shorter than its boot sector says (%d sectors): %v: %w", g.totSec, err, ErrCorrupt)
	}
	fatBytes := g.fatSz * g.bps
	// The FAT is cached whole (up to 1 GiB for the largest FAT32): refuse clearly what this
	// machine cannot hold instead of dying in the allocation.
	if err := size.FitsMemory(fatBytes); err != nil {
		return nil, fmt.Errorf("fsimage: the volume's FAT (%d sectors) cannot be cached: %w", g.fatSz, err)
	}
	f := &fatTable{g: g, raw: make([]byte, fatBytes), dirty: make([]uint64, (g.fatSz+63)/64)}
	which := int64(0)
	if g.activeFAT >= 0 {
		which = g.activeFAT
	}
	if _, err := v.dev.ReadAt(f.raw, g.fatOff+which*fatBytes); err != nil {
		return nil, fmt.Errorf("fsimage: read FAT: %v: %w", err, ErrCorrupt)
	}
	f.countFree()
	f.next = 2
	v.fat = f
	v.diskFree, v.diskNext = 0xFFFFFFFF, 0xFFFFFFFF
	if g.typ == FAT32 && g.fsInfo > 0 {
		fi := make([]byte, 512)
		if _, err := v.dev.ReadAt(fi, g.fsInfo*g.bps); err == nil &&
			binary.LittleEndian.Uint32(fi[0:]) == 0x41615252 && binary.LittleEndian.Uint32(fi[484:]) == 0x61417272 {
			v.diskFree = binary.LittleEndian.Uint32(fi[488:])
			v.diskNext = binary.LittleEndian.Uint32(fi[492:])
			if f.valid(v.diskNext) {
				f.next = v.diskNext
			}
		} else {
			g.fsInfo = 0
		}
	}
	if r, ok := dev.(*RAM); ok && v.partOff < int64(len(r.b)) {
		v.mem = r.b[v.partOff:]
	}
	v.zero = make([]byte, max(64<<10, g.cs))
	v.copyBufs.New = func() any { b := make([]byte, 1<<20); return &b }
	v.root = &node{attr: AttrDirectory, name: "."}
	if g.typ == FAT32 {
		v.root.cluster = g.rootClus
	}
	if _, err := v.loadDir(v.root); err != nil {
		return nil, fmt.Errorf("fsimage: root directory: %w", err)
	}
	if g.extBoot && g.state&1 != 0 {
		v.dirtyOnDisk = true
		if opt.ReadOnly {
			v.recovery = Recovery{Dirty: true, ReadOnly: true}
		} else if err := v.recover(); err != nil {
			return nil, fmt.Errorf("fsimage: repair a volume that was not closed cleanly: %w", err)
		}
	}
	return v, nil
}

// loadDir returns the cached contents of directory n, reading them on first use.
func (v *FS) loadDir(n *node) (*dir, error) {
	if n.d != nil {
		return n.d, nil
	}
	d := &dir{n: n, byName: map[string]*node{}, shorts: map[[11]byte]*node{}, dotdot: -1}
	if n == v.root && v.g.typ != FAT32 {
		d.fixed = true
		d.buf = make([]byte, v.g.rootBytes)
		if _, err := v.dev.ReadAt(d.buf, v.g.rootOff); err != nil {
			return nil, fmt.Errorf("read root directory: %v: %w", err, ErrCorrupt)
		}
	} else {
		if n.cluster == 0 {
			return nil, fmt.Errorf("directory %q has no cluster: %w", n.name, ErrCorrupt)
		}
		// A directory whose first cluster is one of its ancestors' is a cycle in a corrupt image:
		// every walk (ReadDir, fs.WalkDir, `image ls -R`) would go round it forever.
		depth := 0
		for d := n.parent; d != nil; d = d.n.parent {
			if d.n.cluster == n.cluster || d.n == v.root && v.g.typ == FAT32 && n.cluster == v.g.rootClus {
				return nil, fmt.Errorf("directory %q is its own ancestor (cluster %d): a directory cycle: %w", n.name, n.cluster, ErrCorrupt)
			}
			if depth++; depth > maxDepth {
				return nil, fmt.Errorf("directory %q is nested more than %d deep: %w", n.name, maxDepth, ErrCorrupt)
			}
		}
		ext, err := v.extents(n)
		if err != nil {
			return nil, err
		}
		d.buf = make([]byte, int64(extLen(ext))*v.g.cs)
		for _, e := range ext {
			o := int64(e.idx) * v.g.cs
			if _, err := v.dev.ReadAt(d.buf[o:o+int64(e.n)*v.g.cs], v.g.clusterOff(e.start)); err != nil {
				return nil, fmt.Errorf("read directory %q: %v: %w", n.name, err, ErrCorrupt)
			}
		}
	}
	d.dirty = make([]uint64, (v.sectors(len(d.buf))+63)/64)
	v.parseDir(d)
	n.d = d
	return d, nil
}

// maxDepth bounds directory nesting; no real tree is this deep, and a corrupt one must not make a
// walk take forever.
const maxDepth = 1024

// maxDirBytes is FAT's directory size limit: 65,536 entries.
const maxDirBytes = 65536 * 32

// extents returns the cluster extents of n, walking its chain on first use.
func (v *FS) extents(n *node) ([]extent, error) {
	if n.extOK {
		return n.ext, nil
	}
	limit := v.g.clusters
	if n.isDir() {
		limit = uint32(maxDirBytes/v.g.cs) + 1
	}
	ext, err := v.fat.chainExtents(n.cluster, limit)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", n.name, err)
	}
	if !n.isDir() && int64(extLen(ext))*v.g.cs < int64(n.size) {
		return nil, fmt.Errorf("%q: %d clusters cannot hold its %d bytes: %w", n.name, extLen(ext), n.size, ErrCorrupt)
	}
	n.ext, n.extOK = ext, true
	return ext, nil
}

func (v *FS) parseDir(d *dir) {
	var (
		units  [20 * 13]uint16
		lfnK   int  // entries in the current long name
		next   int  // ord expected next (counting down), 0 when complete
		sum    byte // checksum of the current long name
		start  = -1
		active bool
	)
	reset := func() { active, start = false, -1 }
	slots := len(d.buf) / 32
	d.lb = slots
	for i := 0; i < slots; i++ {
		e := d.buf[32*i : 32*i+32]
		if e[0] == 0 {
			d.lb = min(d.lb, i)
			break
		}
		if e[0] == 0xE5 {
			d.lb = min(d.lb, i)
			reset()
			continue
		}
		attr := e[11]
		if attr&attrLFNMask == attrLFN {
			ord := int(e[0] & 0x3F)
			switch {
			case e[0]&0x40 != 0 && ord >= 1 && ord <= 20:
				active, lfnK, next, sum, start = true, ord, ord-1, e[13], i
				lfnPart(e, units[13*(ord-1):])
			case active && ord == next && ord >= 1 && e[13] == sum:
				lfnPart(e, units[13*(ord-1):])
				next--
			default:
				reset()
			}
			continue
		}
		if attr&AttrVolumeID != 0 {
			if d.fixed || d.n == v.root {
				v.volLabel = trimLabel(e[:11])
			}
			reset()
			continue
		}
		if e[0] == '.' {
			if string(e[:11]) == "..         " {
				d.dotdot = i
			}
			reset()
			continue
		}
		n := &node{parent: d, slot: i, nslots: 1}
		copy(n.sn[:], e[:11])
		n.ntres = e[12]
		n.attr = attr
		n.crtTenth = e[13]
		n.crtTime = binary.LittleEndian.Uint16(e[14:])
		n.crtDate = binary.LittleEndian.Uint16(e[16:])
		n.accDate = binary.LittleEndian.Uint16(e[18:])
		n.cluster = uint32(binary.LittleEndian.Uint16(e[26:]))
		if v.g.typ == FAT32 {
			n.cluster |= uint32(binary.LittleEndian.Uint16(e[20:])) << 16
		}
		n.wrtTime = binary.LittleEndian.Uint16(e[22:])
		n.wrtDate = binary.LittleEndian.Uint16(e[24:])
		n.size = binary.LittleEndian.Uint32(e[28:])
		if n.isDir() {
			n.size = 0
		}
		if active && next == 0 && sum == lfnChecksum(e[:11]) {
			n.name = decodeUnits(units[:13*lfnK])
			n.nslots = i - start + 1
		}
		reset()
		if n.name == "" || !validElem(n.name) {
			n.name = shortDisplay(n.sn[:], n.ntres)
			n.nslots = 1
			if !validElem(n.name) {
				continue // unreachable by any path; Check reports it
			}
		}
		d.add(n)
	}
}

func validElem(s string) bool {
	return fs.ValidPath(s) && s != "." && !containsSlash(s)
}

func containsSlash(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return true
		}
	}
	return false
}

// add indexes n under its long and short names.
func (d *dir) add(n *node) {
	d.entries = append(d.entries, n)
	k := fold(n.name)
	if _, ok := d.byName[k]; !ok {
		d.byName[k] = n
	}
	if k2 := fold(shortDisplay(n.sn[:], 0)); k2 != k {
		if _, ok := d.byName[k2]; !ok {
			d.byName[k2] = n
		}
	}
	if _, ok := d.shorts[n.sn]; !ok {
		d.shorts[n.sn] = n
	}
}

// unindex removes n from the maps and the entry list, not from the buffer.
func (d *dir) unindex(n *node) {
	for i, e := range d.entries {
		if e == n {
			d.entries = append(d.entries[:i], d.entries[i+1:]...)
			break
		}
	}
	for _, k := range []string{fold(n.name), fold(shortDisplay(n.sn[:], 0))} {
		if d.byName[k] == n {
			delete(d.byName, k)
		}
	}
	if d.shorts[n.sn] == n {
		delete(d.shorts, n.sn)
	}
}

func decodeUnits(u []uint16) string {
	for i, c := range u {
		if c == 0 {
			u = u[:i]
			break
		}
	}
	rs := make([]rune, 0, len(u))
	for i := 0; i < len(u); i++ {
		c := u[i]
		if c >= 0xD800 && c < 0xDC00 && i+1 < len(u) && u[i+1] >= 0xDC00 && u[i+1] < 0xE000 {
			rs = append(rs, (rune(c)-0xD800)<<10|(rune(u[i+1])-0xDC00)+0x10000)
			i++
			continue
		}
		rs = append(rs, rune(c))
	}
	return string(rs)
}

// markDirty records that bytes [off, off+n) of d.buf changed.
func (v *FS) markDirty(d *dir, off, n int) {
	for s := int64(off) / v.g.bps; s <= int64(off+n-1)/v.g.bps; s++ {
		d.dirty[s/64] |= 1 << (s % 64)
	}
	v.dirty[d] = struct{}{}
}

// flushDir writes d's dirty sectors.
// sectors is the number of (possibly partial) sectors n bytes span.
func (v *FS) sectors(n int) int64 { return (int64(n) + v.g.bps - 1) / v.g.bps }

func (v *FS) flushDir(d *dir) error {
	nsec := v.sectors(len(d.buf))
	spc := v.g.spc
	for s := int64(0); s < nsec; {
		if d.dirty[s/64]&(1<<(s%64)) == 0 {
			s++
			continue
		}
		e := s + 1
		// Coalesce within one cluster (the fixed root is one contiguous run).
		for e < nsec && d.dirty[e/64]&(1<<(e%64)) != 0 && (d.fixed || e%spc != 0) {
			e++
		}
		var off int64
		if d.fixed {
			off = v.g.rootOff + s*v.g.bps
		} else {
			ci := uint32(s / spc)
			x, ok := extFind(d.n.ext, ci)
			if !ok {
				return fmt.Errorf("directory %q: sector %d beyond its chain: %w", d.n.name, s, ErrCorrupt)
			}
			off = v.g.clusterOff(x.start+ci-x.idx) + (s%spc)*v.g.bps
		}
		// A fixed root of an odd entry count can end inside a sector.
		if _, err := v.dev.WriteAt(d.buf[s*v.g.bps:min(e*v.g.bps, int64(len(d.buf)))], off); err != nil {
			return fmt.Errorf("write directory %q: %w", d.n.name, err)
		}
		s = e
	}
	clear(d.dirty)
	return nil
}

// flush writes all cached metadata in the crash-safe order of durable.go: dirty flag; FAT with
// new allocations; directories; FAT with released chains freed, FSInfo; dirty flag cleared. A
// device sync separates the steps, so the order holds on the medium too, not only in the page
// cache.
func (v *FS) flush() error {
	if v.fat.nDirty == 0 && len(v.dirty) == 0 && len(v.pending) == 0 && !v.fsInfoStale() && !v.dirtyOnDisk {
		return nil
	}
	if !v.dirtyOnDisk {
		// File data written since the last flush must be on the medium before metadata links it.
		if err := v.barrier(); err != nil {
			return err
		}
		if err := v.setDirty(true); err != nil {
			return err
		}
	}
	if err := v.fat.flush(v.dev); err != nil {
		return fmt.Errorf("fsimage: %w", err)
	}
	if len(v.dirty) > 0 {
		if err := v.barrier(); err != nil {
			return err
		}
		for d := range v.dirty {
			if err := v.flushDir(d); err != nil {
				return fmt.Errorf("fsimage: %w", err)
			}
			delete(v.dirty, d)
		}
	}
	if len(v.pending) > 0 {
		if err := v.barrier(); err != nil {
			return err
		}
		for _, c := range v.pending {
			v.fat.freeChain(c)
		}
		v.pending, v.pendingN = v.pending[:0], 0
		if err := v.fat.flush(v.dev); err != nil {
			return fmt.Errorf("fsimage: %w", err)
		}
	}
	if v.fsInfoStale() {
		b := make([]byte, 8)
		binary.LittleEndian.PutUint32(b, v.fat.free)
		binary.LittleEndian.PutUint32(b[4:], v.fat.next)
		if _, err := v.dev.WriteAt(b, v.g.fsInfo*v.g.bps+488); err != nil {
			return fmt.Errorf("fsimage: write FSInfo: %w", err)
		}
		v.diskFree, v.diskNext = v.fat.free, v.fat.next
	}
	if err := v.barrier(); err != nil {
		return err
	}
	return v.setDirty(false)
}

func (v *FS) fsInfoStale() bool {
	return v.g.typ == FAT32 && v.g.fsInfo > 0 && (v.fat.free != v.diskFree || v.fat.next != v.diskNext)
}

// done ends a changing operation: in write-through mode the metadata goes out now.
func (v *FS) done(err error) error {
	if v.opt.WriteThrough {
		if ferr := v.flush(); ferr != nil && err == nil {
			err = ferr
		}
	}
	return err
}

// Sync writes all cached metadata to the device, then syncs the device if it can.
func (v *FS) Sync() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return fs.ErrClosed
	}
	if v.opt.ReadOnly {
		return nil
	}
	return v.flush() // ends with a device sync
}

// Close writes cached metadata and closes the volume (not the device).
func (v *FS) Close() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return fs.ErrClosed
	}
	v.closed = true
	var err error
	if !v.opt.ReadOnly {
		err = v.flush()
	}
	if v.file != nil {
		if cerr := v.file.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// Info describes a volume.
type Info struct {
	Type            FATType
	SectorSize      int
	ClusterSize     int
	Clusters        uint32 // data clusters
	FreeClusters    uint32
	TotalBytes      int64 // data area
	FreeBytes       int64
	FATs            int
	RootEntries     int // FAT12/16 fixed root directory
	Label           string
	VolumeID        uint32
	PartitionOffset int64 // 0 for a bare volume
}

// Info reports the volume's layout and free space.
func (v *FS) Info() Info {
	v.mu.Lock()
	defer v.mu.Unlock()
	label := v.volLabel
	if label == "" {
		label = v.g.label
	}
	return Info{
		Type: v.g.typ, SectorSize: int(v.g.bps), ClusterSize: int(v.g.cs),
		Clusters: v.g.clusters, FreeClusters: v.fat.free + v.pendingN,
		TotalBytes: int64(v.g.clusters) * v.g.cs, FreeBytes: int64(v.fat.free+v.pendingN) * v.g.cs,
		FATs: int(v.g.nfats), RootEntries: int(v.g.rootEnt), Label: label, VolumeID: v.g.volID,
		PartitionOffset: v.partOff,
	}
}
