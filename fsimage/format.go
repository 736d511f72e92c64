package fsimage

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"
)

// FormatOptions choose the layout of a new volume. The zero value picks everything from the size.
type FormatOptions struct {
	Type        FATType // 0: FAT12 below 16 MiB, FAT16 below 512 MiB, FAT32 above
	ClusterSize int     // bytes, a power of two; 0: Microsoft's defaults for the size
	SectorSize  int     // 0: 512
	Label       string  // up to 11 characters; empty: "NO NAME"
	VolumeID    uint32  // 0: derived from Clock
	RootEntries int     // FAT12/16 root directory entries; 0: 512 (224 for volumes up to 2.88 MB)
	FATs        int     // 0: 2
	MBR         bool    // write an MBR with one partition (as on an SD card) and format the partition
	Clock       func() time.Time
}

// formatPlan is a validated layout: everything Format decides before it writes a byte.
type formatPlan struct {
	bps, partStart, size, totSec     int64
	typ                              FATType
	nfats, rootEnt, rsvd, spc, fatSz int64
	clusters                         int64
	label                            string
}

// CheckFormat reports the error Format would return for these arguments, without writing
// anything: callers that must not touch a file on a bad option check first.
func CheckFormat(size int64, opt FormatOptions) error {
	_, err := planFormat(size, opt)
	return err
}

// planFormat validates every option and computes the layout.
func planFormat(size int64, opt FormatOptions) (formatPlan, error) {
	var p formatPlan
	if size <= 0 {
		return p, fmt.Errorf("fsimage: format: size %d: give a positive size", size)
	}
	if opt.RootEntries < 0 || opt.RootEntries > 0xFFFF {
		return p, fmt.Errorf("fsimage: format: %d root entries: use 1 to 65535 (0: the default)", opt.RootEntries)
	}
	if opt.FATs < 0 || opt.FATs > 2 {
		return p, fmt.Errorf("fsimage: format: %d FATs: use 1 or 2 (0: 2)", opt.FATs)
	}
	if opt.ClusterSize < 0 || opt.SectorSize < 0 {
		return p, fmt.Errorf("fsimage: format: negative cluster or sector size")
	}
	bps := int64(opt.SectorSize)
	if bps == 0 {
		bps = 512
	}
	if bps < 512 || bps > 4096 || !isPow2(bps) {
		return p, fmt.Errorf("fsimage: format: sector size %d: use 512, 1024, 2048 or 4096", bps)
	}
	var partStart int64
	if opt.MBR {
		partStart = 2048 * 512
		if size < 8<<20 {
			partStart = 63 * 512
		}
		if size <= partStart+64*1024 {
			return p, fmt.Errorf("fsimage: format: %d bytes is too small for a partitioned image", size)
		}
		size -= partStart
	}
	totSec := size / bps
	if totSec > 0xFFFFFFFF {
		return p, fmt.Errorf("fsimage: format: %d bytes is beyond FAT's 2^32 sectors", size)
	}
	typ := opt.Type
	if typ == 0 {
		switch {
		case size < 16<<20:
			typ = FAT12
		case size < 512<<20:
			typ = FAT16
		default:
			typ = FAT32
		}
	}
	if typ != FAT12 && typ != FAT16 && typ != FAT32 {
		return p, fmt.Errorf("fsimage: format: FAT type %d: use 12, 16 or 32", typ)
	}
	nfats := int64(opt.FATs)
	if nfats == 0 {
		nfats = 2
	}
	rootEnt := int64(opt.RootEntries)
	rsvd := int64(1)
	if typ == FAT32 {
		rootEnt, rsvd = 0, 32
	} else if rootEnt == 0 {
		rootEnt = 512
		if size <= 2880<<10 {
			rootEnt = 224
		}
	}
	// Round the root directory up to whole sectors.
	rootEnt = (rootEnt*32 + bps - 1) / bps * bps / 32
	if rootEnt > 0xFFFF {
		return p, fmt.Errorf("fsimage: format: %d root entries is more than 65535", rootEnt)
	}
	var spc int64
	if opt.ClusterSize != 0 {
		cs := int64(opt.ClusterSize)
		if !isPow2(cs) || cs < bps || cs/bps > 128 {
			return p, fmt.Errorf("fsimage: format: cluster size %d: use a power of two from the sector size %d to %d", cs, bps, 128*bps)
		}
		spc = cs / bps
	} else {
		spc = defaultSPC(typ, size, bps)
	}
	layout := func(spc int64) (fatSz, clusters int64) {
		rootSecs := rootEnt * 32 / bps
		// Iterate: the FAT's size depends on the cluster count and vice versa.
		fatSz = 1
		for range 64 {
			clusters = (totSec - rsvd - rootSecs - nfats*fatSz) / spc
			need := ((clusters+2)*int64(typ)/8 + 1 + bps - 1) / bps
			if need <= fatSz {
				break
			}
			fatSz = need
		}
		return fatSz, clusters
	}
	fatSz, clusters := layout(spc)
	if opt.ClusterSize == 0 && typ == FAT12 {
		for clusters > maxClusters12 && spc < 128 {
			spc *= 2
			fatSz, clusters = layout(spc)
		}
	}
	if opt.ClusterSize == 0 && typ != FAT12 {
		lo := int64(maxClusters12 + 1)
		if typ == FAT32 {
			lo = maxClusters16 + 1
		}
		for clusters < lo && spc > 1 {
			spc /= 2
			fatSz, clusters = layout(spc)
		}
		for typ == FAT16 && clusters > maxClusters16 && spc < 128 {
			spc *= 2
			fatSz, clusters = layout(spc)
		}
	}
	switch {
	case clusters < 1:
		return p, fmt.Errorf("fsimage: format: %d bytes leaves no room for data", size)
	case typ == FAT12 && clusters > maxClusters12:
		return p, fmt.Errorf("fsimage: format: %d clusters is too many for FAT12 (max %d): use a larger cluster size or FAT16", clusters, maxClusters12)
	case typ == FAT16 && clusters <= maxClusters12:
		return p, fmt.Errorf("fsimage: format: %d clusters is too few for FAT16 (min %d): use a smaller cluster size, a larger image or FAT12", clusters, maxClusters12+1)
	case typ == FAT16 && clusters > maxClusters16:
		return p, fmt.Errorf("fsimage: format: %d clusters is too many for FAT16 (max %d): use a larger cluster size or FAT32", clusters, maxClusters16)
	case typ == FAT32 && clusters <= maxClusters16:
		return p, fmt.Errorf("fsimage: format: %d clusters is too few for FAT32 (min %d): use a smaller cluster size, a larger image or FAT16", clusters, maxClusters16+1)
	case typ == FAT32 && clusters > maxClusters32:
		return p, fmt.Errorf("fsimage: format: too many clusters for FAT32: use a larger cluster size")
	}
	label := strings.ToUpper(opt.Label)
	if len(label) > 11 {
		return p, fmt.Errorf("fsimage: format: label %q is longer than 11 characters", opt.Label)
	}
	for i := 0; i < len(label); i++ {
		if c := label[i]; c != ' ' && !shortChar(c) || c >= 0x80 {
			return p, fmt.Errorf("fsimage: format: label %q: use letters, digits, spaces and %s", opt.Label, shortSpecial)
		}
	}
	return formatPlan{bps: bps, partStart: partStart, size: size, totSec: totSec, typ: typ, nfats: nfats,
		rootEnt: rootEnt, rsvd: rsvd, spc: spc, fatSz: fatSz, clusters: clusters, label: label}, nil
}

// Format writes a new, empty FAT volume of size bytes to dev (only metadata is written,
// so an image file stays sparse). Every option is checked before the first write.
func Format(dev Device, size int64, opt FormatOptions) error {
	p, err := planFormat(size, opt)
	if err != nil {
		return err
	}
	bps, partStart, totSec, typ := p.bps, p.partStart, p.totSec, p.typ
	nfats, rootEnt, rsvd, spc, fatSz, clusters, label := p.nfats, p.rootEnt, p.rsvd, p.spc, p.fatSz, p.clusters, p.label
	clock := opt.Clock
	if clock == nil {
		clock = time.Now
	}
	now := clock()
	volID := opt.VolumeID
	if volID == 0 {
		volID = uint32(now.UnixNano()) ^ uint32(now.UnixNano()>>32) | 1
	}

	vol := dev
	if opt.MBR {
		ptype := byte(0x0C)
		switch {
		case typ == FAT12:
			ptype = 0x01
		case typ == FAT16 && totSec*bps/512 < 65536:
			ptype = 0x04
		case typ == FAT16:
			ptype = 0x0E
		}
		if err := writeMBR(dev, uint32(partStart/512), uint32(totSec*bps/512), ptype, volID); err != nil {
			return fmt.Errorf("fsimage: format: write MBR: %w", err)
		}
		vol = section{dev, partStart}
	}

	bs := make([]byte, bps)
	bs[0], bs[2] = 0xEB, 0x90
	copy(bs[3:11], "NETXSIM ")
	binary.LittleEndian.PutUint16(bs[11:], uint16(bps))
	bs[13] = byte(spc)
	binary.LittleEndian.PutUint16(bs[14:], uint16(rsvd))
	bs[16] = byte(nfats)
	binary.LittleEndian.PutUint16(bs[17:], uint16(rootEnt))
	if totSec < 0x10000 && typ != FAT32 {
		binary.LittleEndian.PutUint16(bs[19:], uint16(totSec))
	} else {
		binary.LittleEndian.PutUint32(bs[32:], uint32(totSec))
	}
	media := byte(0xF8)
	bs[21] = media
	binary.LittleEndian.PutUint16(bs[24:], 63)  // sectors per track
	binary.LittleEndian.PutUint16(bs[26:], 255) // heads
	binary.LittleEndian.PutUint32(bs[28:], uint32(partStart/512))
	var ext []byte
	if typ == FAT32 {
		bs[1] = 0x58
		binary.LittleEndian.PutUint32(bs[36:], uint32(fatSz))
		binary.LittleEndian.PutUint32(bs[44:], 2) // root cluster
		binary.LittleEndian.PutUint16(bs[48:], 1) // FSInfo
		binary.LittleEndian.PutUint16(bs[50:], 6) // backup boot sector
		ext = bs[64:]
	} else {
		bs[1] = 0x3C
		binary.LittleEndian.PutUint16(bs[22:], uint16(fatSz))
		ext = bs[36:]
	}
	ext[0] = 0x80
	ext[2] = 0x29
	binary.LittleEndian.PutUint32(ext[3:], volID)
	lbl := label
	if lbl == "" {
		lbl = "NO NAME"
	}
	copy(ext[7:18], fmt.Sprintf("%-11s", lbl))
	copy(ext[18:26], fmt.Sprintf("FAT%-5d", int(typ)))
	bs[510], bs[511] = 0x55, 0xAA

	zero := make([]byte, 256<<10)
	zeroRange := func(off, n int64) error {
		for n > 0 {
			k := min(n, int64(len(zero)))
			if _, err := vol.WriteAt(zero[:k], off); err != nil {
				return err
			}
			off, n = off+k, n-k
		}
		return nil
	}
	rootSecs := rootEnt * 32 / bps
	dataOff := (rsvd + nfats*fatSz + rootSecs) * bps
	// Reserved area, FATs and fixed root directory start zeroed; so does the FAT32 root cluster.
	metaEnd := dataOff
	if typ == FAT32 {
		metaEnd += spc * bps
	}
	if err := zeroRange(0, metaEnd); err != nil {
		return fmt.Errorf("fsimage: format: %w", err)
	}
	// Make the image file its full length (sparse) so tools see the whole volume.
	if _, err := vol.WriteAt([]byte{0}, totSec*bps-1); err != nil {
		return fmt.Errorf("fsimage: format: extend image to %d bytes: %w", totSec*bps, err)
	}
	if _, err := vol.WriteAt(bs, 0); err != nil {
		return fmt.Errorf("fsimage: format: write boot sector: %w", err)
	}
	if typ == FAT32 {
		fsi := make([]byte, bps)
		binary.LittleEndian.PutUint32(fsi[0:], 0x41615252)
		binary.LittleEndian.PutUint32(fsi[484:], 0x61417272)
		binary.LittleEndian.PutUint32(fsi[488:], uint32(clusters-1))
		binary.LittleEndian.PutUint32(fsi[492:], 3)
		binary.LittleEndian.PutUint32(fsi[508:], 0xAA550000)
		for _, w := range []struct {
			b   []byte
			sec int64
		}{{fsi, 1}, {bs, 6}, {fsi, 7}} {
			if _, err := vol.WriteAt(w.b, w.sec*bps); err != nil {
				return fmt.Errorf("fsimage: format: %w", err)
			}
		}
	}
	// The first FAT entries: media byte and end-of-chain marks; FAT32's root cluster is EOC too.
	var head []byte
	switch typ {
	case FAT12:
		head = []byte{media, 0xFF, 0xFF}
	case FAT16:
		head = []byte{media, 0xFF, 0xFF, 0xFF}
	case FAT32:
		head = []byte{media, 0xFF, 0xFF, 0x0F, 0xFF, 0xFF, 0xFF, 0x0F, 0xFF, 0xFF, 0xFF, 0x0F}
	}
	for i := int64(0); i < nfats; i++ {
		if _, err := vol.WriteAt(head, (rsvd+i*fatSz)*bps); err != nil {
			return fmt.Errorf("fsimage: format: write FAT: %w", err)
		}
	}
	if label != "" {
		e := make([]byte, 32)
		copy(e[:11], fmt.Sprintf("%-11s", label))
		e[11] = AttrVolumeID
		binary.LittleEndian.PutUint16(e[22:], fatTime(now))
		binary.LittleEndian.PutUint16(e[24:], fatDate(now))
		off := (rsvd + nfats*fatSz) * bps
		if _, err := vol.WriteAt(e, off); err != nil {
			return fmt.Errorf("fsimage: format: write label: %w", err)
		}
	}
	return nil
}

// defaultSPC follows fatgen103's cluster-size tables (by volume size) for FAT16 and FAT32;
// FAT12 starts at one sector and grows until the cluster count fits.
func defaultSPC(typ FATType, size, bps int64) int64 {
	var cs int64
	switch typ {
	case FAT12:
		return 1
	case FAT16:
		switch {
		case size <= 16<<20:
			cs = 1 << 10
		case size <= 128<<20:
			cs = 2 << 10
		case size <= 256<<20:
			cs = 4 << 10
		case size <= 512<<20:
			cs = 8 << 10
		case size <= 1<<30:
			cs = 16 << 10
		case size <= 2<<30:
			cs = 32 << 10
		default:
			cs = 64 << 10
		}
	default:
		switch {
		case size <= 260<<20:
			cs = 512
		case size <= 8<<30:
			cs = 4 << 10
		case size <= 16<<30:
			cs = 8 << 10
		case size <= 32<<30:
			cs = 16 << 10
		default:
			cs = 32 << 10
		}
	}
	return max(1, cs/bps)
}
