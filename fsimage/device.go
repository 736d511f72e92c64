package fsimage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Device is the block device a volume lives on: an image file (*os.File) or memory (*RAM).
// Reads and writes are byte-addressed; the volume only issues sector-aligned I/O for metadata.
type Device interface {
	io.ReaderAt
	io.WriterAt
}

// RAM is an in-memory block device, the RAM disk of an embedded target.
type RAM struct{ b []byte }

// NewRAM returns a zero-filled RAM disk of size bytes.
func NewRAM(size int64) *RAM { return &RAM{b: make([]byte, size)} }

// RAMFrom wraps an existing byte slice (not copied).
func RAMFrom(b []byte) *RAM { return &RAM{b: b} }

// Bytes returns the disk contents (not a copy). A volume on the disk streams File.ReadFrom and
// File.WriteTo to and from these bytes without its lock: read them when no transfer runs (after
// the volume's Sync, say).
func (r *RAM) Bytes() []byte { return r.b }

// Size returns the disk size in bytes.
func (r *RAM) Size() int64 { return int64(len(r.b)) }

// ReadAt implements io.ReaderAt.
func (r *RAM) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("fsimage: negative offset")
	}
	if off >= int64(len(r.b)) {
		return 0, io.EOF
	}
	n := copy(p, r.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// WriteAt implements io.WriterAt; a RAM disk does not grow.
func (r *RAM) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(r.b)) {
		return 0, fmt.Errorf("fsimage: write of %d bytes at %d is beyond the %d-byte RAM disk: %w", len(p), off, len(r.b), ErrNoSpace)
	}
	return copy(r.b[off:], p), nil
}

// section shifts all I/O by a fixed offset: the volume inside an MBR partition.
type section struct {
	dev Device
	off int64
}

func (s section) ReadAt(p []byte, off int64) (int, error)  { return s.dev.ReadAt(p, off+s.off) }
func (s section) WriteAt(p []byte, off int64) (int, error) { return s.dev.WriteAt(p, off+s.off) }

// mbrPartition finds the first used partition of an MBR in sector 0.
// It returns the partition's byte offset and length.
func mbrPartition(sec0 []byte) (off, length int64, err error) {
	if len(sec0) < 512 || sec0[510] != 0x55 || sec0[511] != 0xAA {
		return 0, 0, fmt.Errorf("sector 0 is neither a FAT boot sector nor an MBR: %w", ErrNotFAT)
	}
	for i := 0; i < 4; i++ {
		e := sec0[446+16*i : 446+16*(i+1)]
		typ := e[4]
		lba := binary.LittleEndian.Uint32(e[8:])
		n := binary.LittleEndian.Uint32(e[12:])
		if typ == 0 || lba == 0 || n == 0 {
			continue
		}
		if typ == 0xEE || typ == 0x05 || typ == 0x0F {
			return 0, 0, fmt.Errorf("partition %d has type %#02x (GPT or extended), only a primary FAT partition is supported: %w", i+1, typ, ErrNotFAT)
		}
		return int64(lba) * 512, int64(n) * 512, nil
	}
	return 0, 0, fmt.Errorf("MBR has no used partition: %w", ErrNotFAT)
}

// writeMBR writes an MBR with one partition of the given type at sector startLBA.
func writeMBR(dev Device, startLBA, sectors uint32, typ byte, diskID uint32) error {
	b := make([]byte, 512)
	binary.LittleEndian.PutUint32(b[440:], diskID)
	e := b[446:462]
	// CHS fields set to the "use LBA" maximum, as modern partitioners do.
	copy(e[1:4], []byte{0xFE, 0xFF, 0xFF})
	e[4] = typ
	copy(e[5:8], []byte{0xFE, 0xFF, 0xFF})
	binary.LittleEndian.PutUint32(e[8:], startLBA)
	binary.LittleEndian.PutUint32(e[12:], sectors)
	b[510], b[511] = 0x55, 0xAA
	_, err := dev.WriteAt(b, 0)
	return err
}
