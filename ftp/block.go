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
