package fsimage

import (
	"fmt"
	"math"
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
		if err := writeMBR(dev, uint32(p.partStart/512), uint32(p.totSec*p.bps/512), p.partitionType(), volID); err != nil {
			return fmt.Errorf("fsimage: format: write MBR: %w", err)
		}
		vol = section{dev, p.partStart}
	}
	// The concerns in the order they reach the device: zeroed metadata and the full (sparse) length,
	// the boot sector (with FAT32's FSInfo and backups), the FATs' first entries, the volume label.
	if err := p.clear(vol); err != nil {
		return fmt.Errorf("fsimage: format: %w", err)
	}
	bs := p.bootSector(volID)
	if _, err := vol.WriteAt(bs, 0); err != nil {
		return fmt.Errorf("fsimage: format: write boot sector: %w", err)
	}
	if p.typ == FAT32 {
		fsi := p.fsInfo()
		for _, w := range []struct {
			b   []byte
			sec int64
		}{{fsi, 1}, {bs, 6}, {fsi, 7}} {
			if _, err := vol.WriteAt(w.b, w.sec*p.bps); err != nil {
				return fmt.Errorf("fsimage: format: %w", err)
			}
		}
	}
	head := p.fatHead()
	for i := int64(0); i < p.nfats; i++ {
		if _, err := vol.WriteAt(head, (p.rsvd+i*p.fatSz)*p.bps); err != nil {
			return fmt.Errorf("fsimage: format: write FAT: %w", err)
		}
	}
	if p.label != "" {
		if _, err := vol.WriteAt(labelEntry(p.label, now), (p.rsvd+p.nfats*p.fatSz)*p.bps); err != nil {
			return fmt.Errorf("fsimage: format: write label: %w", err)
		}
	}
	return nil
}

// clusterSize is one row of a cluster-size table: volumes up to upTo bytes get clusters of size bytes.
type clusterSize struct{ upTo, size int64 }

// fatgen103's cluster-size tables by volume size; the last row takes every larger volume.
var (
	fat16Clusters = []clusterSize{{16 << 20, 1 << 10}, {128 << 20, 2 << 10}, {256 << 20, 4 << 10},
		{512 << 20, 8 << 10}, {1 << 30, 16 << 10}, {2 << 30, 32 << 10}, {math.MaxInt64, 64 << 10}}
	fat32Clusters = []clusterSize{{260 << 20, 512}, {8 << 30, 4 << 10}, {16 << 30, 8 << 10},
		{32 << 30, 16 << 10}, {math.MaxInt64, 32 << 10}}
)

// defaultSPC follows fatgen103's cluster-size tables (by volume size) for FAT16 and FAT32;
// FAT12 starts at one sector and grows until the cluster count fits.
func defaultSPC(typ FATType, size, bps int64) int64 {
	table := fat32Clusters
	switch typ {
	case FAT12:
		return 1
	case FAT16:
		table = fat16Clusters
	}
	var cs int64
	for _, row := range table {
		if size <= row.upTo {
			cs = row.size
			break
		}
	}
	return max(1, cs/bps)
}
