package fsimage

import (
	"fmt"
	"strings"
)

// Crash safety. A volume on a file must survive the process being killed at any moment: every
// file whose operation returned (and was synced) intact, the old version of a file being replaced
// intact, and the image consistent after the next open. The rules:
//
//   - File data goes to clusters that are free on the device (the FAT on the device does not link
//     them yet), so writing it can hurt nothing.
//   - A flush writes, in this order, with a device sync between the steps: the dirty flag in the
//     boot sector; the FAT with new allocations (freed clusters are still linked, see release);
//     the directories; then the FAT again with the freed clusters released, FSInfo, and the dirty
//     flag cleared. So the device never has an entry pointing at a free cluster, and clusters a
//     directory on the device still references are never reused for new data.
//   - A new directory cluster is written (zeroed, with "." and "..") before anything links it.
//   - Replacing a file by rename in the same directory under the same name rewrites the target's
//     short entry in place: one 32-byte entry in one sector.
//
// A kill inside a flush can still leave what FAT cannot update atomically: allocated clusters that
// no entry reaches yet (lost clusters), FAT copies that differ, a long name whose short entry was
// not written, or a moved file's entry in both directories. The dirty flag says so (fsck.fat reports
// "Dirty bit is set"), and the next writable Open repairs exactly those (see recover).

// release frees the chain at c once the directories that may still reference it on the device
// have been written (at the next flush); until then its clusters cannot be reused.
func (v *FS) release(c uint32) {
	if c == 0 {
		return
	}
	n := uint32(0)
	for x := c; v.fat.valid(x) && n <= v.g.clusters; n++ {
		next := v.fat.get(x)
		if next == clusterFree || next == clusterBad || next == clusterEOC {
			n++
			break
		}
		x = next
	}
	v.pending = append(v.pending, c)
	v.pendingN += n
}

// alloc takes clusters like fatTable.alloc; when too few are free but released clusters are
// waiting for a flush, it flushes (a consistent point: callers allocate before they change
// entries) and tries again.
func (v *FS) alloc(n, prev uint32, fn func(c uint32)) (uint32, error) {
	first, err := v.fat.alloc(n, prev, fn)
	if err != nil && len(v.pending) > 0 && !v.opt.ReadOnly {
		if ferr := v.flush(); ferr != nil {
			return 0, ferr
		}
		first, err = v.fat.alloc(n, prev, fn)
	}
	return first, err
}

// setDirty writes the boot sector's dirty flag (bit 0 of the state byte).
func (v *FS) setDirty(dirty bool) error {
	if !v.g.extBoot || v.dirtyOnDisk == dirty {
		return nil
	}
	if !dirty && len(v.recovery.Problems) > 0 && !v.opt.ReadOnly {
		return nil // damage recover left alone: keep telling fsck.fat
	}
	b := v.g.state &^ 1
	if dirty {
		b |= 1
	}
	if _, err := v.dev.WriteAt([]byte{b}, v.g.stateOff); err != nil {
		return fmt.Errorf("fsimage: write the boot sector's dirty flag: %w", err)
	}
	v.dirtyOnDisk = dirty
	return nil
}

// barrier makes the writes so far durable before the next step (a device sync, when there is one).
func (v *FS) barrier() error {
	if s, ok := v.base.(interface{ Sync() error }); ok {
		if err := s.Sync(); err != nil {
			return fmt.Errorf("fsimage: sync: %w", err)
		}
	}
	return nil
}

// Recovery is what Open repaired on a volume that was not closed cleanly (its dirty flag was set:
// the process writing it was killed, or the machine lost power, in the middle of a flush).
type Recovery struct {
	Dirty        bool     // the volume was not closed cleanly
	ReadOnly     bool     // opened read-only: nothing was repaired
	LostClusters uint32   // allocated clusters no entry reached, freed
	FATCopies    bool     // FAT copies differed; the first was copied to the others
	Entries      []string // directory entries removed: orphaned long names, second entries of a moved file
	Problems     []string // problems left for fsck.fat (nothing was repaired when there were any)
}

func (r Recovery) String() string {
	if !r.Dirty {
		return "clean"
	}
	if r.ReadOnly {
		return "not closed cleanly; opened read-only, so not repaired (the next writable open repairs it)"
	}
	var parts []string
	if r.LostClusters > 0 {
		parts = append(parts, fmt.Sprintf("%d lost clusters freed", r.LostClusters))
	}
	if r.FATCopies {
		parts = append(parts, "FAT copies resynchronised")
	}
	if len(r.Entries) > 0 {
		parts = append(parts, fmt.Sprintf("%d half-written directory entries removed", len(r.Entries)))
	}
	if len(r.Problems) > 0 {
		parts = append(parts, fmt.Sprintf("%d problems left alone (run fsck.fat): %s", len(r.Problems), strings.Join(r.Problems, "; ")))
	}
	if len(parts) == 0 {
		return "not closed cleanly; nothing to repair"
	}
	return "not closed cleanly: " + strings.Join(parts, ", ")
}

// Recovery reports what Open repaired; the zero value when the volume was closed cleanly.
func (v *FS) Recovery() Recovery {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.recovery
}

// recoverable are the checker's findings an interrupted flush can leave and recover repairs.
func recoverable(p string) bool {
	for _, s := range []string{"dirty flag set", "lost clusters", "differs from FAT 1", "FSInfo free cluster count",
		"long-name entries without their short entry", "long-name entries at the end without",
		"does not match its short entry", "second entry of the same file"} {
		if strings.Contains(p, s) {
			return true
		}
	}
	return false
}

// recover repairs what a flush interrupted by a kill can leave (see the top of this file), and
// only when nothing else is wrong: on a volume damaged in other ways, freeing "lost" clusters
// could destroy files in a directory that cannot be read, so then it changes nothing.
func (v *FS) recover() error {
	r := Recovery{Dirty: true}
	c := &checker{v: nil, rep: &Report{}, record: true}
	cv, err := openForCheck(v.base)
	if err != nil {
		return err
	}
	c.v = cv
	c.owner = make([]uint32, cv.g.maxCluster()+1)
	c.run()
	for _, p := range c.rep.Problems {
		if !recoverable(p) {
			r.Problems = append(r.Problems, p)
		}
	}
	if len(r.Problems) > 0 {
		v.recovery = r
		return nil
	}
	// Entries first: a removed duplicate keeps its clusters (the other entry owns them).
	for _, s := range c.drop {
		n, err := v.resolve(strings.TrimPrefix(s.dir, "/"))
		if s.dir == "/" {
			n, err = v.root, nil
		}
		if err != nil {
			r.Problems = append(r.Problems, fmt.Sprintf("%s: %v", s.dir, err))
			continue
		}
		d, err := v.loadDir(n)
		if err != nil {
			r.Problems = append(r.Problems, fmt.Sprintf("%s: %v", s.dir, err))
			continue
		}
		for _, e := range d.entries {
			if e.slot == s.last {
				d.unindex(e)
				break
			}
		}
		v.unlinkSlots(d, s.last, s.last-s.first+1)
		r.Entries = append(r.Entries, s.what)
	}
	for cl := uint32(2); cl <= v.g.maxCluster(); cl++ {
		if e := v.fat.get(cl); e != clusterFree && e != clusterBad && c.owner[cl] == 0 {
			v.fat.set(cl, clusterFree)
			v.fat.free++
			r.LostClusters++
		}
	}
	if c.fatDiffer {
		r.FATCopies = true
		for i := range v.fat.dirty {
			v.fat.dirty[i] = ^uint64(0)
		}
		v.fat.nDirty = int(v.g.fatSz)
	}
	v.recovery = r
	return v.flush()
}
