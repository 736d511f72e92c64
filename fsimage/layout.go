package fsimage

import (
	"encoding/binary"
	"fmt"
	"time"
)

// The on-disk structures of a new volume, each built from a formatPlan by itself; Format writes them.

// mediaFixed is the media descriptor of a fixed disk, in the boot sector and FAT entry 0.
const mediaFixed = 0xF8

// partitionType is the MBR partition type of the volume (FAT12, FAT16 below 32 MiB, FAT16 LBA, FAT32 LBA).
func (p formatPlan) partitionType() byte {
	switch {
	case p.typ == FAT12:
		return 0x01
	case p.typ == FAT16 && p.totSec*p.bps/512 < 65536:
		return 0x04
	case p.typ == FAT16:
		return 0x0E
	}
	return 0x0C
}

// clear zeroes the reserved area, the FATs and the fixed root directory (and FAT32's root cluster),
// and writes the last byte so an image file has its full length (sparse) and tools see the whole volume.
func (p formatPlan) clear(vol Device) error {
	zero := make([]byte, 256<<10)
	rootSecs := p.rootEnt * 32 / p.bps
	end := (p.rsvd + p.nfats*p.fatSz + rootSecs) * p.bps
	if p.typ == FAT32 {
		end += p.spc * p.bps
	}
	for off := int64(0); off < end; {
		k := min(end-off, int64(len(zero)))
		if _, err := vol.WriteAt(zero[:k], off); err != nil {
			return err
		}
		off += k
	}
	if _, err := vol.WriteAt([]byte{0}, p.totSec*p.bps-1); err != nil {
		return fmt.Errorf("extend image to %d bytes: %w", p.totSec*p.bps, err)
	}
	return nil
}

// bootSector is the volume's first sector: the BPB and the extended boot record.
func (p formatPlan) bootSector(volID uint32) []byte {
	bs := make([]byte, p.bps)
	bs[0], bs[2] = 0xEB, 0x90
	copy(bs[3:11], "NETXSIM ")
	binary.LittleEndian.PutUint16(bs[11:], uint16(p.bps))
	bs[13] = byte(p.spc)
	binary.LittleEndian.PutUint16(bs[14:], uint16(p.rsvd))
	bs[16] = byte(p.nfats)
	binary.LittleEndian.PutUint16(bs[17:], uint16(p.rootEnt))
	if p.totSec < 0x10000 && p.typ != FAT32 {
		binary.LittleEndian.PutUint16(bs[19:], uint16(p.totSec))
	} else {
		binary.LittleEndian.PutUint32(bs[32:], uint32(p.totSec))
	}
	bs[21] = mediaFixed
	binary.LittleEndian.PutUint16(bs[24:], 63)  // sectors per track
	binary.LittleEndian.PutUint16(bs[26:], 255) // heads
	binary.LittleEndian.PutUint32(bs[28:], uint32(p.partStart/512))
	var ext []byte
	if p.typ == FAT32 {
		bs[1] = 0x58
		binary.LittleEndian.PutUint32(bs[36:], uint32(p.fatSz))
		binary.LittleEndian.PutUint32(bs[44:], 2) // root cluster
		binary.LittleEndian.PutUint16(bs[48:], 1) // FSInfo
		binary.LittleEndian.PutUint16(bs[50:], 6) // backup boot sector
		ext = bs[64:]
	} else {
		bs[1] = 0x3C
		binary.LittleEndian.PutUint16(bs[22:], uint16(p.fatSz))
		ext = bs[36:]
	}
	ext[0] = 0x80
	ext[2] = 0x29
	binary.LittleEndian.PutUint32(ext[3:], volID)
	lbl := p.label
	if lbl == "" {
		lbl = "NO NAME"
	}
	copy(ext[7:18], fmt.Sprintf("%-11s", lbl))
	copy(ext[18:26], fmt.Sprintf("FAT%-5d", int(p.typ)))
	bs[510], bs[511] = 0x55, 0xAA
	return bs
}

// fsInfo is FAT32's FSInfo sector: every cluster but the root's is free, the next free is 3.
func (p formatPlan) fsInfo() []byte {
	fsi := make([]byte, p.bps)
	binary.LittleEndian.PutUint32(fsi[0:], 0x41615252)
	binary.LittleEndian.PutUint32(fsi[484:], 0x61417272)
	binary.LittleEndian.PutUint32(fsi[488:], uint32(p.clusters-1))
	binary.LittleEndian.PutUint32(fsi[492:], 3)
	binary.LittleEndian.PutUint32(fsi[508:], 0xAA550000)
	return fsi
}

// fatHead is the first FAT entries: the media byte and end-of-chain marks; FAT32's root cluster is EOC too.
func (p formatPlan) fatHead() []byte {
	switch p.typ {
	case FAT12:
		return []byte{mediaFixed, 0xFF, 0xFF}
	case FAT16:
		return []byte{mediaFixed, 0xFF, 0xFF, 0xFF}
	}
	return []byte{mediaFixed, 0xFF, 0xFF, 0x0F, 0xFF, 0xFF, 0xFF, 0x0F, 0xFF, 0xFF, 0xFF, 0x0F}
}

// labelEntry is the volume-label entry of the root directory.
func labelEntry(label string, now time.Time) []byte {
	e := make([]byte, 32)
	copy(e[:11], fmt.Sprintf("%-11s", label))
	e[11] = AttrVolumeID
	binary.LittleEndian.PutUint16(e[22:], fatTime(now))
	binary.LittleEndian.PutUint16(e[24:], fatDate(now))
	return e
}
