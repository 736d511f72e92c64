package ftp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// Block mode (MODE B, RFC 959 3.4.2): each block is a descriptor byte, a 16-bit big-endian count and
// that many bytes. The descriptor bits:
const (
	BlockEOR     = 0x80 // end of record
	BlockEOF     = 0x40 // end of file: the last block
	BlockErrors  = 0x20 // suspected errors in this block
	BlockRestart = 0x10 // a restart marker, not data
	// MaxBlock is the most data one block carries.
	MaxBlock = 0xFFFF
)

// ErrNoEOFBlock is the error (wrapped) of a block-mode stream that ends before its end-of-file block:
// the file is not complete.
var ErrNoEOFBlock = errors.New("block mode: data ended before the end-of-file block")

// AppendBlockHeader appends the header of a block of n data bytes (n <= MaxBlock) to b.
func AppendBlockHeader(b []byte, desc byte, n int) []byte {
	return append(b, desc, byte(n>>8), byte(n))
}

// BlockReader turns block-mode data back into the file's bytes: restart markers are dropped, EOR
// blocks are data, the block with the EOF bit (which may carry data) ends the file. The one MODE B
// decoder of the server, the client and the checker.
type BlockReader struct {
	r      *bufio.Reader
	remain int  // data bytes left in the current block
	skip   bool // the current block is a restart marker: drop it
	last   bool // the current block carries EOF
	eof    bool
}

// NewBlockReader reads blocks from r (buffered here).
func NewBlockReader(r io.Reader) *BlockReader {
	return &BlockReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// Read implements io.Reader; a stream cut before the EOF block gives an error wrapping ErrNoEOFBlock.
func (b *BlockReader) Read(p []byte) (int, error) {
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
					return 0, ErrNoEOFBlock
				}
				return 0, err
			}
			b.remain = int(h[1])<<8 | int(h[2])
			b.skip = h[0]&BlockRestart != 0
			b.last = h[0]&BlockEOF != 0
			continue
		}
		if b.skip {
			if _, err := b.r.Discard(b.remain); err != nil {
				return 0, fmt.Errorf("%w (inside a restart marker)", ErrNoEOFBlock)
			}
			b.remain = 0
			continue
		}
		if len(p) == 0 {
			return 0, nil
		}
		n, err := b.r.Read(p[:min(len(p), b.remain)])
		b.remain -= n
		if errors.Is(err, io.EOF) {
			if b.remain > 0 {
				return n, fmt.Errorf("%w (inside a block, %d bytes missing)", ErrNoEOFBlock, b.remain)
			}
			err = nil
		}
		return n, err
	}
}

// BlockWriter writes file data as MODE B blocks; Close writes the EOF block. It has no buffer of its
// own, so what reaches w (and so the segments on the wire) is the caller's choice:
//   - without a declared size every Write becomes blocks of up to MaxBlock bytes, each header and its
//     data in one Write to w (the server's way: one block, one send);
//   - with Declare the blocks follow the declared size instead: the header of up to MaxBlock bytes
//     goes out alone and is flushed before the data, as NetX's client does (nx_ftp_client_file_size_set
//     sends it, nx_ftp_client_file_write the data), and the EOF block follows the last declared byte
//     at once (the client's way, over a bufio.Writer).
//
// When w has a Flush method (bufio.Writer), it is called after a declared header and by Close.
type BlockWriter struct {
	w        io.Writer
	buf      []byte // header and data of one undeclared block
	declared bool
	left     int64 // declared bytes still to come
	inBlock  int   // bytes still to come in the current declared block
	ended    bool
}

// NewBlockWriter writes blocks to w.
func NewBlockWriter(w io.Writer) *BlockWriter { return &BlockWriter{w: w} }

type flusher interface{ Flush() error }

func (b *BlockWriter) flush() error {
	if f, ok := b.w.(flusher); ok {
		return f.Flush()
	}
	return nil
}

// Declare fixes the file's size before any data; a size of 0 writes nothing until Close.
func (b *BlockWriter) Declare(size int64) error {
	b.declared, b.left = true, size
	if size == 0 {
		return nil
	}
	return b.nextDeclaredBlock()
}

func (b *BlockWriter) nextDeclaredBlock() error {
	n := int(min(b.left, MaxBlock))
	b.inBlock = n
	if _, err := b.w.Write(AppendBlockHeader(nil, 0, n)); err != nil {
		return err
	}
	return b.flush()
}

// Write implements io.Writer. With a declared size, bytes beyond it are refused.
func (b *BlockWriter) Write(p []byte) (int, error) {
	if b.ended {
		return 0, errors.New("block mode: write after the end-of-file block")
	}
	written := 0
	for len(p) > 0 {
		if !b.declared {
			n := min(len(p), MaxBlock)
			b.buf = append(AppendBlockHeader(b.buf[:0], 0, n), p[:n]...)
			m, err := b.w.Write(b.buf)
			written += max(m-3, 0)
			if err != nil {
				return written, err
			}
			p = p[n:]
			continue
		}
		if b.left == 0 {
			return written, fmt.Errorf("block mode: %d bytes beyond the declared size", len(p))
		}
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
			if err := b.Close(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// Close writes the EOF block (descriptor 0x40, count 0) once and flushes w; it does not close w.
func (b *BlockWriter) Close() error {
	if !b.ended {
		b.ended = true
		if _, err := b.w.Write(AppendBlockHeader(nil, BlockEOF, 0)); err != nil {
			return err
		}
	}
	return b.flush()
}
