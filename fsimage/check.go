package fsimage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io/fs"
	"strings"
)

// Report is the result of Check: problems found, in the spirit of `fsck.fat -n`.
type Report struct {
	Problems     []string // empty when the volume is consistent
	Files        int
	Dirs         int
	UsedClusters uint32
	FreeClusters uint32
	LostClusters uint32
}

// OK says whether no problem was found.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

const maxProblems = 200

// Check writes cached metadata, then checks the volume as stored on the device: cluster chains
// (loops, cross-links, free or bad clusters inside, out-of-range links), file sizes against
// chain lengths, "." and "..", long-name entries, lost clusters, FSInfo's free count and FAT
// copies that differ. It changes nothing on the device.
func (v *FS) Check() (*Report, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return nil, fs.ErrClosed
	}
	if !v.opt.ReadOnly {
		if err := v.flush(); err != nil {
			return nil, err
		}
	}
	return CheckDevice(v.base)
}

// CheckDevice checks the FAT volume on dev without keeping it open.
func CheckDevice(dev Device) (*Report, error) {
	v, err := openForCheck(dev)
	if err != nil {
		return nil, err
	}
	c := &checker{v: v, owner: make([]uint32, v.g.maxCluster()+1), rep: &Report{}}
	c.run()
	return c.rep, nil
}

// openForCheck parses the boot sector and FAT only; directories are walked by the checker.
func openForCheck(dev Device) (*FS, error) {
	v, err := Open(dev, Options{ReadOnly: true})
	if err == nil {
		return v, nil
	}
	return nil, err
}

type checker struct {
	v     *FS
	owner []uint32 // owner id per cluster, 0 = unowned
	ids   []string // owner id -> path
	rep   *Report

	// For recover: what an interrupted flush left, with where it is.
	record    bool
	drop      []dropSlots
	fatDiffer bool
	starts    map[uint32]fileEntry // first cluster -> the file entry that starts there
}

// dropSlots are directory slots first..last of directory dir that recover marks deleted.
type dropSlots struct {
	dir         string
	first, last int
	what        string
}

// fileEntry is what makes two entries the same file: a moved file caught in both directories.
type fileEntry struct {
	path string
	size uint32
	attr byte
}

func (c *checker) problem(format string, a ...any) {
	if len(c.rep.Problems) < maxProblems {
		c.rep.Problems = append(c.rep.Problems, fmt.Sprintf(format, a...))
	}
}

// claim walks a chain, marking each cluster as owned by path. It returns the chain in order
// (clusters already owned by another entry, or past a defect, are not included).
func (c *checker) claim(path string, first uint32) []uint32 {
	if first == 0 {
		return nil
	}
	c.ids = append(c.ids, path)
	id := uint32(len(c.ids))
	f := c.v.fat
	var chain []uint32
	cl := first
	for {
		if !f.valid(cl) {
			c.problem("%s: chain links to cluster %d, out of range", path, cl)
			return chain
		}
		if o := c.owner[cl]; o != 0 {
			if o == id {
				c.problem("%s: cluster chain loops at cluster %d", path, cl)
			} else {
				c.problem("%s: cross-linked with %s at cluster %d", path, c.ids[o-1], cl)
			}
			return chain
		}
		c.owner[cl] = id
		chain = append(chain, cl)
		next := f.get(cl)
		switch next {
		case clusterEOC:
			return chain
		case clusterFree:
			c.problem("%s: chain runs into a free cluster after cluster %d", path, cl)
			return chain
		case clusterBad:
			c.problem("%s: chain contains a bad cluster after %d", path, cl)
			return chain
		}
		cl = next
	}
}

// bootChecks checks what fsck.fat checks in the boot sector and the FAT's first entries before it
// trusts the layout: a reserved-sector count that moves the FAT (513 instead of 1) shows as a FAT
// that does not start with the media byte.
func (c *checker) bootChecks() {
	v := c.v
	g := v.g
	if g.extBoot && g.state&1 != 0 {
		c.problem("boot sector: dirty flag set: the volume was not closed cleanly (the next writable open repairs it)")
	}
	if g.media != 0xF0 && g.media < 0xF8 {
		c.problem("boot sector: media byte %#02x is not a valid media descriptor (0xF0, 0xF8-0xFF)", g.media)
	}
	fatBytes := g.fatSz * g.bps
	first := make([]byte, 4)
	for i := int64(0); i < g.nfats; i++ {
		if _, err := v.dev.ReadAt(first, g.fatOff+i*fatBytes); err != nil {
			c.problem("FAT %d unreadable: %v", i+1, err)
			continue
		}
		ok := first[0] == g.media && first[1]&0x0F == 0x0F
		if g.typ != FAT12 {
			ok = ok && first[1] == 0xFF
		}
		if !ok {
			c.problem("FAT %d does not start with the media byte %#02x (found % x): reserved sectors (%d) or FAT size wrong, or the FAT is damaged", i+1, g.media, first[:2], g.rsvd)
		}
	}
	if need := (int64(g.clusters)+2)*int64(g.typ)/8 + 1; fatBytes < need {
		c.problem("boot sector: the FAT (%d bytes) is too small for %d clusters (%d bytes)", fatBytes, g.clusters, need)
	}
	if g.typ == FAT32 {
		bs := make([]byte, 512)
		bk := make([]byte, 512)
		if _, err := v.dev.ReadAt(bs, 0); err == nil {
			if backup := int64(binary.LittleEndian.Uint16(bs[50:])); backup != 0 && backup != 0xFFFF {
				if backup >= g.rsvd {
					c.problem("boot sector: backup boot sector %d is outside the %d reserved sectors", backup, g.rsvd)
				} else if _, err := v.dev.ReadAt(bk, backup*g.bps); err == nil && (!bytes.Equal(bs[:65], bk[:65]) || !bytes.Equal(bs[66:90], bk[66:90])) {
					// (byte 65 is the state byte: its dirty flag is set in the primary only)
					c.problem("boot sector and its backup (sector %d) differ", backup)
				}
			}
		}
	}
}

// badShortName reports a short name fsck.fat renames: a control character, DEL, one of
// *?<>|"\/:. anywhere, or a leading space (0x05 in the first byte stands for 0xE5 and is allowed).
func badShortName(sn []byte) bool {
	if sn[0] == ' ' {
		return true
	}
	for i, ch := range sn[:11] {
		if i == 0 && ch == 0x05 {
			continue
		}
		if ch < ' ' || ch == 0x7F || strings.IndexByte(`*?<>|"\/:.`, ch) >= 0 {
			return true
		}
	}
	return false
}

func (c *checker) run() {
	v := c.v
	f := v.fat
	c.bootChecks()
	// FAT copies must agree.
	fatBytes := v.g.fatSz * v.g.bps
	if v.g.activeFAT < 0 {
		other := make([]byte, fatBytes)
		for i := int64(1); i < v.g.nfats; i++ {
			if _, err := v.dev.ReadAt(other, v.g.fatOff+i*fatBytes); err != nil {
				c.problem("FAT %d unreadable: %v", i+1, err)
				continue
			}
			if !bytes.Equal(other, f.raw) {
				c.problem("FAT %d differs from FAT 1", i+1)
				c.fatDiffer = true
			}
		}
	}
	rootPath := "/"
	if v.g.typ == FAT32 {
		chain := c.claim(rootPath, v.g.rootClus)
		c.walk(rootPath, chain, nil, 0, 0)
	} else {
		buf := make([]byte, v.g.rootBytes)
		if _, err := v.dev.ReadAt(buf, v.g.rootOff); err != nil {
			c.problem("root directory unreadable: %v", err)
			return
		}
		c.entries(rootPath, buf, true, 0, 0)
	}
	// Lost clusters: in use in the FAT, reachable from no entry.
	var used, lost, chains uint32
	for cl := uint32(2); cl <= v.g.maxCluster(); cl++ {
		e := f.get(cl)
		if e == clusterFree || e == clusterBad {
			continue
		}
		used++
		if c.owner[cl] == 0 {
			lost++
			// A chain head is a lost cluster no other lost cluster points to; count heads roughly
			// by clusters whose predecessor is not lost.
			if cl == 2 || c.owner[cl-1] != 0 || f.get(cl-1) != cl {
				chains++
			}
		}
	}
	c.rep.UsedClusters, c.rep.FreeClusters, c.rep.LostClusters = used, f.free, lost
	if lost > 0 {
		c.problem("%d lost clusters (allocated in the FAT, in no file) in about %d chains", lost, chains)
	}
	if v.g.typ == FAT32 && v.g.fsInfo > 0 && v.diskFree != 0xFFFFFFFF && v.diskFree != f.free {
		c.problem("FSInfo free cluster count is %d, the FAT has %d free", v.diskFree, f.free)
	}
}

// walk checks a cluster-chained directory.
func (c *checker) walk(path string, chain []uint32, _ []byte, self, parent uint32) {
	v := c.v
	buf := make([]byte, int64(len(chain))*v.g.cs)
	for i, cl := range chain {
		if _, err := v.dev.ReadAt(buf[int64(i)*v.g.cs:int64(i+1)*v.g.cs], v.g.clusterOff(cl)); err != nil {
			c.problem("%s: directory cluster %d unreadable: %v", path, cl, err)
			return
		}
	}
	c.entries(path, buf, path == "/", self, parent)
}

// entries checks the entries of one directory and recurses into subdirectories.
func (c *checker) entries(path string, buf []byte, isRoot bool, self, parent uint32) {
	v := c.v
	slots := len(buf) / 32
	if !isRoot {
		if slots < 2 || string(buf[:11]) != ".          " || buf[11]&AttrDirectory == 0 {
			c.problem("%s: first entry is not \".\"", path)
		} else if cl := entCluster(v, buf[:32]); cl != self {
			c.problem("%s: \".\" points to cluster %d, not %d", path, cl, self)
		}
		if slots < 2 || string(buf[32:43]) != "..         " || buf[43]&AttrDirectory == 0 {
			c.problem("%s: second entry is not \"..\"", path)
		} else if cl := entCluster(v, buf[32:64]); cl != parent {
			c.problem("%s: \"..\" points to cluster %d, not %d", path, cl, parent)
		}
	}
	seen := map[string]bool{}
	shorts := map[string]bool{}
	lfnPending := 0 // entries of an unfinished long name
	var lfnSum byte
	var lfnNext int
	lfnStart, lfnLast := 0, 0
	orphan := func(int) {
		if c.record && lfnPending > 0 {
			c.drop = append(c.drop, dropSlots{path, lfnStart, lfnLast, fmt.Sprintf("%s: orphaned long-name entries at slots %d-%d", path, lfnStart, lfnLast)})
		}
	}
	for i := 0; i < slots; i++ {
		e := buf[32*i : 32*i+32]
		if e[0] == 0 {
			break
		}
		if e[0] == 0xE5 {
			if lfnPending > 0 {
				c.problem("%s: long-name entries without their short entry", path)
				orphan(i - 1)
				lfnPending = 0
			}
			continue
		}
		if e[11]&attrLFNMask == attrLFN {
			lfnLast = i
			ord := int(e[0] & 0x3F)
			switch {
			case e[0]&0x40 != 0:
				if lfnPending > 0 {
					c.problem("%s: long-name entries without their short entry", path)
					orphan(i - 1)
				}
				lfnPending, lfnSum, lfnNext, lfnStart = 1, e[13], ord-1, i
			case lfnPending > 0 && ord == lfnNext && e[13] == lfnSum:
				lfnPending++
				lfnNext--
			default:
				c.problem("%s: long-name entry out of sequence at slot %d", path, i)
				lfnPending = 0
			}
			continue
		}
		entryStart := i
		if lfnPending > 0 {
			if lfnNext != 0 || lfnSum != lfnChecksum(e[:11]) {
				c.problem("%s: long name at slot %d does not match its short entry (checksum)", path, i)
				orphan(i - 1)
			} else {
				entryStart = lfnStart
			}
			lfnPending = 0
		}
		if e[11]&AttrVolumeID != 0 {
			if !isRoot {
				c.problem("%s: volume label entry outside the root directory", path)
			}
			continue
		}
		if e[0] == '.' {
			if isRoot || (i > 1) {
				c.problem("%s: stray %q entry at slot %d", path, strings.TrimSpace(string(e[:11])), i)
			}
			continue
		}
		sn := string(e[:11])
		if badShortName(e[:11]) {
			c.problem("%s: bad short name %q (control character, one of *?<>|\"\\/:. or a leading space)", path, sn)
		}
		if shorts[sn] {
			c.problem("%s: duplicate short name %q", path, strings.TrimSpace(sn))
		}
		shorts[sn] = true
		name := shortDisplay(e[:11], e[12])
		p := strings.TrimSuffix(path, "/") + "/" + name
		if seen[fold(name)] {
			c.problem("%s: duplicate name", p)
		}
		seen[fold(name)] = true
		cl := entCluster(v, e)
		size := binary.LittleEndian.Uint32(e[28:])
		if e[11]&AttrDirectory != 0 {
			c.rep.Dirs++
			if size != 0 {
				c.problem("%s: directory has non-zero size %d (directories record 0)", p, size)
			}
			if cl == 0 {
				c.problem("%s: directory without a cluster", p)
				continue
			}
			if f := v.fat; f.valid(cl) && c.owner[cl] != 0 {
				c.problem("%s: directory cross-linked with %s at cluster %d", p, c.ids[c.owner[cl]-1], cl)
				continue
			}
			chain := c.claim(p, cl)
			if int64(len(chain))*v.g.cs > maxDirBytes {
				c.problem("%s: directory larger than 65536 entries", p)
				continue
			}
			if len(chain) > 0 {
				c.walk(p, chain, nil, cl, self)
			}
			continue
		}
		c.rep.Files++
		if size == 0 {
			if cl != 0 {
				c.problem("%s: empty file has start cluster %d (should be 0)", p, cl)
				c.claim(p, cl)
			}
			continue
		}
		if cl == 0 {
			c.problem("%s: %d bytes but no cluster", p, size)
			continue
		}
		if c.record {
			if c.starts == nil {
				c.starts = map[uint32]fileEntry{}
			}
			if fe, ok := c.starts[cl]; ok && fe.size == size && fe.attr == e[11] {
				// The same file under two entries: a rename caught between writing the new entry
				// and deleting the old one. Either entry is the file; the second one goes.
				c.problem("%s: second entry of the same file as %s (an interrupted rename)", p, fe.path)
				c.drop = append(c.drop, dropSlots{path, entryStart, i, fmt.Sprintf("%s: second entry of %s", p, fe.path)})
				continue
			}
			c.starts[cl] = fileEntry{p, size, e[11]}
		}
		chain := c.claim(p, cl)
		need := (int64(size) + v.g.cs - 1) / v.g.cs
		if int64(len(chain)) != need {
			c.problem("%s: size %d needs %d clusters, chain has %d", p, size, need, len(chain))
		}
	}
	if lfnPending > 0 {
		c.problem("%s: long-name entries at the end without their short entry", path)
		orphan(slots - 1)
	}
}

func entCluster(v *FS, e []byte) uint32 {
	cl := uint32(binary.LittleEndian.Uint16(e[26:]))
	if v.g.typ == FAT32 {
		cl |= uint32(binary.LittleEndian.Uint16(e[20:])) << 16
	}
	return cl
}
