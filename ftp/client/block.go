package client

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// Block mode (RFC 959 3.4.2): each block is a descriptor byte, a 16-bit big-endian byte count, then
// that many bytes.
const (
	descEOR     = 128 // end of record
	descEOF     = 64  // end of file
	descErrors  = 32  // suspected errors in this block
	descRestart = 16  // the block is a restart marker, not data
	maxBlock    = 0xFFFF
)

// blockReader turns block-mode data back into the file's bytes. The end is the block with the EOF
// descriptor; a connection that ends before it is ErrShortTransfer.
type blockReader struct {
	r      *bufio.Reader
	remain int  // data bytes left in the current block
	skip   bool // the current block is a restart marker: drop it
	last   bool // the current block carries EOF
	eof    bool
}

func newBlockReader(r io.Reader) *blockReader {
	return &blockReader{r: bufio.NewReaderSize(r, 64<<10)}
}

func (b *blockReader) Read(p []byte) (int, error) {
	for {
		if b.eof {
			return 0, io.EOF
		}
		if b.remain == 0 {
			if b.last {
				b.eof = true
				continue
			}
			var h [3]byte
			if _, err := io.ReadFull(b.r, h[:]); err != nil {
				if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
					return 0, fmt.Errorf("%w: block-mode data ended without an end-of-file block", ErrShortTransfer)
				}
				return 0, err
			}
			b.remain = int(h[1])<<8 | int(h[2])
			b.skip = h[0]&descRestart != 0
			b.last = h[0]&descEOF != 0
			continue
		}
		if b.skip {
			if _, err := b.r.Discard(b.remain); err != nil {
				return 0, fmt.Errorf("%w: block-mode data ended inside a restart marker", ErrShortTransfer)
			}
			b.remain = 0
			continue
		}
		if len(p) == 0 {
			return 0, nil
		}
		if len(p) > b.remain {
			p = p[:b.remain]
		}
		n, err := b.r.Read(p)
		b.remain -= n
		if errors.Is(err, io.EOF) {
			if b.remain > 0 {
				return n, fmt.Errorf("%w: block-mode data ended inside a block (%d bytes missing)", ErrShortTransfer, b.remain)
			}
			err = nil
		}
		return n, err
	}
}

// blockWriter writes file data as blocks. Without a declared size every Write becomes blocks of up to
// 65535 bytes. With a declared size (SetSize) the blocks follow that size instead: one header for up
// to 65535 bytes, written before the data as NetX's file_size_set does, and the EOF block right after
// the last byte as NetX's file_write does.
type blockWriter struct {
	w        *bufio.Writer
	declared bool
	left     int64 // declared bytes still to come
	inBlock  int   // bytes still to come in the current declared block
	ended    bool
}

func newBlockWriter(w io.Writer) *blockWriter {
	return &blockWriter{w: bufio.NewWriterSize(w, 64<<10)}
}

func (b *blockWriter) header(desc byte, n int) error {
	_, err := b.w.Write([]byte{desc, byte(n >> 8), byte(n)})
	return err
}

// declare fixes the size; for NetX's byte-for-byte behaviour the first header goes out at once.
func (b *blockWriter) declare(size int64) error {
	b.declared, b.left = true, size
	if size == 0 {
		return nil
	}
	return b.nextDeclaredBlock()
}

func (b *blockWriter) nextDeclaredBlock() error {
	n := int(min(b.left, maxBlock))
	b.inBlock = n
	if err := b.header(0, n); err != nil {
		return err
	}
	return b.w.Flush()
}

func (b *blockWriter) Write(p []byte) (int, error) {
	if b.ended {
		return 0, errors.New("block mode: write after the end-of-file block")
	}
	written := 0
	for len(p) > 0 {
		if b.declared {
			if b.inBlock == 0 {
				if err := b.nextDeclaredBlock(); err != nil {
					return written, err
				}
			}
			n := min(len(p), b.inBlock)
			m, err := b.w.Write(p[:n])
			written += m
			b.inBlock -= m
			b.left -= int64(m)
			if err != nil {
				return written, err
			}
			p = p[n:]
			if b.left == 0 {
				if err := b.end(); err != nil {
					return written, err
				}
			}
			continue
		}
		n := min(len(p), maxBlock)
		if err := b.header(0, n); err != nil {
			return written, err
		}
		m, err := b.w.Write(p[:n])
		written += m
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

// end writes the EOF block (descriptor 64, count 0) once and flushes.
func (b *blockWriter) end() error {
	if !b.ended {
		b.ended = true
		if err := b.header(descEOF, 0); err != nil {
			return err
		}
	}
	return b.w.Flush()
}
