package client

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/netxsim/netxsim/ftp"
)

// blockReader is the client's handle on the one MODE B decoder (ftp.BlockReader): a stream that ends
// before its end-of-file block is ErrShortTransfer.
type blockReader struct{ br *ftp.BlockReader }

func newBlockReader(r io.Reader) *blockReader { return &blockReader{ftp.NewBlockReader(r)} }

func (b *blockReader) Read(p []byte) (int, error) {
	n, err := b.br.Read(p)
	if errors.Is(err, ftp.ErrNoEOFBlock) {
		err = fmt.Errorf("%w: %w", ErrShortTransfer, err)
	}
	return n, err
}

// blockWriter is the client's handle on the one MODE B encoder (ftp.BlockWriter) over a 64 KiB
// buffer: with a declared size (declare) the header goes out alone first, as NetX's file_size_set
// sends it, and the EOF block follows the last byte, as NetX's file_write does.
type blockWriter struct{ *ftp.BlockWriter }

func newBlockWriter(w io.Writer) *blockWriter {
	return &blockWriter{ftp.NewBlockWriter(bufio.NewWriterSize(w, 64<<10))}
}

func (b *blockWriter) declare(size int64) error { return b.Declare(size) }

// end writes the EOF block once and flushes.
func (b *blockWriter) end() error { return b.Close() }
