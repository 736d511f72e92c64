package fsimage

import (
	"encoding/binary"
	"fmt"
)

// FATType is the width of a FAT entry: 12, 16 or 32 bits.
type FATType int

// The three FAT types.
const (
	FAT12 FATType = 12
	FAT16 FATType = 16
	FAT32 FATType = 32
)

func (t FATType) String() string { return fmt.Sprintf("FAT%d", int(t)) }

// Cluster-count limits from fatgen103: the count alone decides FAT12 versus FAT16.
const (
	maxClusters12 = 4084
	maxClusters16 = 65524
	maxClusters32 = 0x0FFFFFF5
)

// geom is the volume layout decoded from the BPB. Offsets are bytes from the start of the volume.
type geom struct {
	typ       FATType
	bps       int64 // bytes per sector
	spc       int64 // sectors per cluster
	cs        int64 // cluster size in bytes
	rsvd      int64 // reserved sectors
	nfats     int64
	fatSz     int64 // sectors per FAT
	rootEnt   int64 // fixed root entries (FAT12/16)
	totSec    int64
	fatOff    int64 // first FAT
	rootOff   int64 // fixed root directory (FAT12/16)
	rootBytes int64
	dataOff   int64  // cluster 2
	clusters  uint32 // count of data clusters; valid cluster numbers are 2..clusters+1
	rootClus  uint32 // FAT32 root directory cluster
	fsInfo    int64  // FAT32 FSInfo sector, 0 if none
	bkBoot    int64
	activeFAT int64 // FAT32 with mirroring off: the only FAT in use; -1 when all FATs mirror
	volID     uint32
	label     string
	media     byte
	stateOff  int64 // the boot sector's state byte (BS_Reserved1): bit 0 is the dirty flag
	state     byte  // its value as read
	extBoot   bool  // the extended boot signature is there, so the state byte is ours to use
}

func (g *geom) clusterOff(c uint32) int64 { return g.dataOff + int64(c-2)*g.cs }

// maxCluster is the highest valid cluster number.
func (g *geom) maxCluster() uint32 { return g.clusters + 1 }

func isPow2(x int64) bool { return x > 0 && x&(x-1) == 0 }

// looksLikeBoot says whether sector 0 plausibly holds a FAT boot sector (and not an MBR).
func looksLikeBoot(b []byte) bool {
	if b[0] != 0xEB && b[0] != 0xE9 {
		return false
	}
	bps := int64(binary.LittleEndian.Uint16(b[11:]))
	spc := int64(b[13])
	return bps >= 512 && bps <= 4096 && isPow2(bps) && isPow2(spc) && binary.LittleEndian.Uint16(b[14:]) > 0 && b[16] > 0
}

// parseBoot decodes and validates a boot sector. devSize, when > 0, bounds the layout.
func parseBoot(b []byte) (*geom, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("boot sector: "+format+": %w", append(a, ErrNotFAT)...)
	}
	if len(b) < 512 {
		return nil, bad("short read")
	}
	g := &geom{activeFAT: -1}
	g.bps = int64(binary.LittleEndian.Uint16(b[11:]))
	g.spc = int64(b[13])
	g.rsvd = int64(binary.LittleEndian.Uint16(b[14:]))
	g.nfats = int64(b[16])
	g.rootEnt = int64(binary.LittleEndian.Uint16(b[17:]))
	tot16 := int64(binary.LittleEndian.Uint16(b[19:]))
	g.media = b[21]
	fat16sz := int64(binary.LittleEndian.Uint16(b[22:]))
	tot32 := int64(binary.LittleEndian.Uint32(b[32:]))
	if b[510] != 0x55 || b[511] != 0xAA {
		return nil, bad("no 0x55AA signature")
	}
	if g.bps < 512 || g.bps > 4096 || !isPow2(g.bps) {
		return nil, bad("bytes per sector %d is not 512, 1024, 2048 or 4096", g.bps)
	}
	if !isPow2(g.spc) {
		return nil, bad("sectors per cluster %d is not a power of two", g.spc)
	}
	g.cs = g.bps * g.spc
	if g.cs > 256<<10 {
		return nil, bad("cluster size %d is larger than 256 KiB", g.cs)
	}
	if g.rsvd == 0 || g.nfats == 0 {
		return nil, bad("reserved sectors %d, FAT count %d: both must be at least 1", g.rsvd, g.nfats)
	}
	g.totSec = tot16
	if g.totSec == 0 {
		g.totSec = tot32
	}
	g.fatSz = fat16sz
	var ext []byte
	if fat16sz == 0 {
		g.typ = FAT32
		g.fatSz = int64(binary.LittleEndian.Uint32(b[36:]))
		flags := binary.LittleEndian.Uint16(b[40:])
		if flags&0x80 != 0 {
			g.activeFAT = int64(flags & 0x0F)
		}
		if v := binary.LittleEndian.Uint16(b[42:]); v != 0 {
			return nil, bad("FAT32 version %#x is not 0", v)
		}
		g.rootClus = binary.LittleEndian.Uint32(b[44:])
		g.fsInfo = int64(binary.LittleEndian.Uint16(b[48:]))
		g.bkBoot = int64(binary.LittleEndian.Uint16(b[50:]))
		if g.rootEnt != 0 {
			return nil, bad("FAT32 volume with %d fixed root entries", g.rootEnt)
		}
		ext = b[64:]
	} else {
		ext = b[36:]
	}
	if ext[2] == 0x29 {
		g.volID = binary.LittleEndian.Uint32(ext[3:])
		g.label = trimLabel(ext[7:18])
	}
	if g.fatSz == 0 {
		return nil, bad("FAT size is 0")
	}
	if g.activeFAT >= g.nfats {
		return nil, bad("active FAT %d of %d", g.activeFAT, g.nfats)
	}
	g.rootBytes = g.rootEnt * 32
	rootSecs := (g.rootBytes + g.bps - 1) / g.bps
	meta := g.rsvd + g.nfats*g.fatSz + rootSecs
	if g.totSec <= meta {
		return nil, bad("%d total sectors leave no data area after %d metadata sectors", g.totSec, meta)
	}
	count := (g.totSec - meta) / g.spc
	g.fatOff = g.rsvd * g.bps
	g.rootOff = g.fatOff + g.nfats*g.fatSz*g.bps
	g.dataOff = g.rootOff + rootSecs*g.bps
	if g.typ != FAT32 {
		if count > maxClusters16 {
			return nil, bad("%d clusters is too many for FAT16", count)
		}
		g.typ = FAT16
		if count <= maxClusters12 {
			g.typ = FAT12
		}
		if g.rootEnt == 0 {
			return nil, bad("FAT12/16 volume without root directory entries")
		}
	} else if count > maxClusters32 {
		return nil, bad("%d clusters is too many for FAT32", count)
	}
	if count < 1 {
		return nil, bad("no data clusters")
	}
	// The FAT must hold an entry for every cluster.
	capacity := g.fatSz * g.bps * 8 / int64(g.typ)
	if capacity < count+2 {
		return nil, bad("FAT of %d sectors holds %d entries, the volume has %d clusters", g.fatSz, capacity, count)
	}
	g.clusters = uint32(count)
	if g.typ == FAT32 && (g.rootClus < 2 || g.rootClus > g.maxCluster()) {
		return nil, bad("root cluster %d out of range", g.rootClus)
	}
	if g.fsInfo >= g.rsvd {
		g.fsInfo = 0
	}
	// The state byte sits before the extended boot signature (0x29 or 0x28), as Linux and
	// fsck.fat use it; without the signature the byte may be anything, so it is left alone.
	g.stateOff = 37
	if g.typ == FAT32 {
		g.stateOff = 65
	}
	if sig := b[g.stateOff+1]; sig == 0x29 || sig == 0x28 {
		g.extBoot = true
		g.state = b[g.stateOff]
	}
	return g, nil
}

func trimLabel(b []byte) string {
	s := string(b)
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == 0) {
		s = s[:len(s)-1]
	}
	if s == "NO NAME" {
		return ""
	}
	return s
}
