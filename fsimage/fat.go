package fsimage

import (
	"encoding/binary"
	"fmt"
)

// fatTable is the in-memory copy of the FAT with per-sector dirty bits.
// Raw bytes are kept (not decoded entries) so that write-back is a plain copy and FAT12's
// packing needs no second representation.
type fatTable struct {
	g      *geom
	raw    []byte
	dirty  []uint64 // bit per FAT sector
	nDirty int
	free   uint32 // free clusters, counted at mount and kept exact
	next   uint32 // allocation hint
	// resv are runs of free clusters a streaming write fills without the volume lock (see
	// File.ReadFrom); alloc skips them. They stay free in the table, so a flush meanwhile writes
	// them as free: the data goes to clusters the device does not link, as every write's does.
	resv  []extent // start and n only
	resvN uint32
}

// reserved reports whether c lies in a run a streaming write holds.
func (f *fatTable) reserved(c uint32) bool {
	for _, r := range f.resv {
		if c >= r.start && c < r.start+r.n {
			return true
		}
	}
	return false
}

// usable reports whether c is free and not held by a streaming write.
func (f *fatTable) usable(c uint32) bool {
	return f.get(c) == clusterFree && (len(f.resv) == 0 || !f.reserved(c))
}

// reserve holds up to max free clusters from start on (start must be usable); it returns how many.
// The caller has checked that max clusters are free beyond the ones already held.
func (f *fatTable) reserve(start, max uint32) uint32 {
	n := uint32(0)
	for n < max && start+n <= f.g.maxCluster() && f.usable(start+n) {
		n++
	}
	if n > 0 {
		f.resv = append(f.resv, extent{start: start, n: n})
		f.resvN += n
	}
	return n
}

// unreserve gives up the run reserve returned for start.
func (f *fatTable) unreserve(start uint32) {
	for i, r := range f.resv {
		if r.start == start {
			f.resvN -= r.n
			f.resv = append(f.resv[:i], f.resv[i+1:]...)
			return
		}
	}
}

// findUsable returns the first usable cluster from c on (wrapping), 0 when there is none.
func (f *fatTable) findUsable(c uint32) uint32 {
	maxC := f.g.maxCluster()
	if c < 2 || c > maxC {
		c = 2
	}
	for i := uint32(0); i < f.g.clusters; i++ {
		if f.usable(c) {
			return c
		}
		c++
		if c > maxC {
			c = 2
		}
	}
	return 0
}

const (
	clusterFree = 0
	clusterBad  = 0x0FFFFFF7 // normalized values returned by get
	clusterEOC  = 0x0FFFFFFF
)

// get returns entry c, normalized: EOC as clusterEOC, bad as clusterBad.
func (f *fatTable) get(c uint32) uint32 {
	var v uint32
	switch f.g.typ {
	case FAT12:
		o := c + c/2
		x := uint32(f.raw[o]) | uint32(f.raw[o+1])<<8
		if c&1 != 0 {
			x >>= 4
		}
		v = x & 0xFFF
		if v >= 0xFF8 {
			return clusterEOC
		}
		if v == 0xFF7 {
			return clusterBad
		}
		return v
	case FAT16:
		v = uint32(binary.LittleEndian.Uint16(f.raw[2*c:]))
		if v >= 0xFFF8 {
			return clusterEOC
		}
		if v == 0xFFF7 {
			return clusterBad
		}
		return v
	default:
		v = binary.LittleEndian.Uint32(f.raw[4*c:]) & 0x0FFFFFFF
		if v >= 0x0FFFFFF8 {
			return clusterEOC
		}
		return v
	}
}

// set stores entry c; v is a cluster number, clusterFree or clusterEOC.
func (f *fatTable) set(c, v uint32) {
	switch f.g.typ {
	case FAT12:
		o := c + c/2
		v &= 0xFFF
		if c&1 != 0 {
			f.raw[o] = f.raw[o]&0x0F | byte(v<<4)
			f.raw[o+1] = byte(v >> 4)
		} else {
			f.raw[o] = byte(v)
			f.raw[o+1] = f.raw[o+1]&0xF0 | byte(v>>8)&0x0F
		}
		f.markDirty(int64(o))
		f.markDirty(int64(o + 1))
	case FAT16:
		binary.LittleEndian.PutUint16(f.raw[2*c:], uint16(v))
		f.markDirty(int64(2 * c))
	default:
		o := 4 * c
		old := binary.LittleEndian.Uint32(f.raw[o:])
		// The top four bits are reserved and must be preserved (fatgen103).
		binary.LittleEndian.PutUint32(f.raw[o:], old&0xF0000000|v&0x0FFFFFFF)
		f.markDirty(int64(o))
	}
}

func (f *fatTable) markDirty(byteOff int64) {
	s := byteOff / f.g.bps
	w, b := s/64, uint64(1)<<(s%64)
	if f.dirty[w]&b == 0 {
		f.dirty[w] |= b
		f.nDirty++
	}
}

func (f *fatTable) valid(c uint32) bool { return c >= 2 && c <= f.g.maxCluster() }

// countFree recounts free clusters.
func (f *fatTable) countFree() {
	var n uint32
	for c := uint32(2); c <= f.g.maxCluster(); c++ {
		if f.get(c) == clusterFree {
			n++
		}
	}
	f.free = n
}

// flush writes dirty FAT sectors to every mirrored FAT, coalescing runs of sectors.
func (f *fatTable) flush(dev Device) error {
	if f.nDirty == 0 {
		return nil
	}
	nsec := int64(len(f.raw)) / f.g.bps
	for s := int64(0); s < nsec; {
		if f.dirty[s/64]&(1<<(s%64)) == 0 {
			s++
			continue
		}
		e := s
		for e < nsec && f.dirty[e/64]&(1<<(e%64)) != 0 {
			e++
		}
		chunk := f.raw[s*f.g.bps : e*f.g.bps]
		for i := int64(0); i < f.g.nfats; i++ {
			if f.g.activeFAT >= 0 && i != f.g.activeFAT {
				continue
			}
			off := f.g.fatOff + i*f.g.fatSz*f.g.bps + s*f.g.bps
			if _, err := dev.WriteAt(chunk, off); err != nil {
				return fmt.Errorf("write FAT %d: %w", i+1, err)
			}
		}
		s = e
	}
	clear(f.dirty)
	f.nDirty = 0
	return nil
}

// alloc takes n free clusters, chains them and links the chain after prev (0: none).
// It prefers the clusters right after prev so files stay contiguous. fn receives each
// cluster in order. It fails without changing anything when fewer than n are free.
func (f *fatTable) alloc(n uint32, prev uint32, fn func(c uint32)) (first uint32, err error) {
	if n == 0 {
		return 0, nil
	}
	if f.free-f.resvN < n {
		return 0, fmt.Errorf("need %d clusters of %d bytes, %d free: %w", n, f.g.cs, f.free-f.resvN, ErrNoSpace)
	}
	maxC := f.g.maxCluster()
	c := f.next
	if prev != 0 && prev < maxC {
		c = prev + 1
	}
	if c < 2 || c > maxC {
		c = 2
	}
	last := prev
	for got := uint32(0); got < n; {
		if f.usable(c) {
			if last != 0 {
				f.set(last, c)
			} else {
				first = c
			}
			if first == 0 {
				first = c
			}
			f.set(c, clusterEOC)
			f.free--
			got++
			last = c
			if fn != nil {
				fn(c)
			}
		}
		c++
		if c > maxC {
			c = 2
		}
	}
	if prev != 0 {
		first = f.get(prev)
	}
	f.next = c
	return first, nil
}

// freeChain releases the chain starting at c. It stops at anything that is not a
// valid in-use link, so a damaged chain is never followed into other files.
func (f *fatTable) freeChain(c uint32) {
	for steps := uint32(0); f.valid(c) && steps <= f.g.clusters; steps++ {
		next := f.get(c)
		if next == clusterFree || next == clusterBad {
			return
		}
		f.set(c, clusterFree)
		f.free++
		if next == clusterEOC {
			return
		}
		c = next
	}
}

// extent is a run of contiguous clusters of a chain; idx is the chain index of start.
type extent struct {
	start, n, idx uint32
}

// chainExtents walks the chain from first into extents. limit bounds the walk (clusters);
// a loop, a free link, a bad cluster or an out-of-range link is an ErrCorrupt error.
func (f *fatTable) chainExtents(first uint32, limit uint32) ([]extent, error) {
	if first == 0 {
		return nil, nil
	}
	var ext []extent
	c := first
	var n uint32
	for {
		if !f.valid(c) {
			return ext, fmt.Errorf("cluster chain at %d links to cluster %d, out of range: %w", first, c, ErrCorrupt)
		}
		if n >= limit || n > f.g.clusters {
			return ext, fmt.Errorf("cluster chain at %d is longer than %d clusters (a loop?): %w", first, min(limit, f.g.clusters), ErrCorrupt)
		}
		if k := len(ext); k > 0 && ext[k-1].start+ext[k-1].n == c {
			ext[k-1].n++
		} else {
			ext = append(ext, extent{start: c, n: 1, idx: n})
		}
		n++
		next := f.get(c)
		switch next {
		case clusterEOC:
			return ext, nil
		case clusterFree:
			return ext, fmt.Errorf("cluster chain at %d runs into free cluster after %d: %w", first, c, ErrCorrupt)
		case clusterBad:
			return ext, fmt.Errorf("cluster chain at %d runs into a bad cluster after %d: %w", first, c, ErrCorrupt)
		}
		c = next
	}
}

func extLen(ext []extent) uint32 {
	if len(ext) == 0 {
		return 0
	}
	e := ext[len(ext)-1]
	return e.idx + e.n
}

func extLast(ext []extent) uint32 {
	if len(ext) == 0 {
		return 0
	}
	e := ext[len(ext)-1]
	return e.start + e.n - 1
}

func extAppend(ext []extent, c uint32) []extent {
	if k := len(ext); k > 0 && ext[k-1].start+ext[k-1].n == c {
		ext[k-1].n++
		return ext
	}
	return append(ext, extent{start: c, n: 1, idx: extLen(ext)})
}

// extFind returns the extent holding chain index i (binary search).
func extFind(ext []extent, i uint32) (extent, bool) {
	lo, hi := 0, len(ext)
	for lo < hi {
		m := (lo + hi) / 2
		if ext[m].idx+ext[m].n <= i {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(ext) && ext[lo].idx <= i {
		return ext[lo], true
	}
	return extent{}, false
}
