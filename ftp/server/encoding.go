package server

import (
	"bufio"
	"io"

	"github.com/netxsim/netxsim/ftp"
)

// Representation and mode on the data connection: TYPE A line ends and MODE B blocks.

// toCRLF turns LF into CRLF for TYPE A downloads (a CR already before the LF is kept as is).
type toCRLF struct {
	w      io.Writer
	lastCR bool
	buf    []byte
}

func (c *toCRLF) Write(p []byte) (int, error) {
	c.buf = c.buf[:0]
	for _, ch := range p {
		if ch == '\n' && !c.lastCR {
			c.buf = append(c.buf, '\r')
		}
		c.buf = append(c.buf, ch)
		c.lastCR = ch == '\r'
	}
	if _, err := c.w.Write(c.buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

// fromCRLF turns CRLF into LF for TYPE A uploads; a CR at a chunk end waits for the next byte.
type fromCRLF struct {
	w         io.Writer
	pendingCR bool
	buf       []byte
}

func (c *fromCRLF) Write(p []byte) (int, error) {
	c.buf = c.buf[:0]
	for _, ch := range p {
		if c.pendingCR {
			c.pendingCR = false
			if ch != '\n' {
				c.buf = append(c.buf, '\r')
			}
		}
		if ch == '\r' {
			c.pendingCR = true
			continue
		}
		c.buf = append(c.buf, ch)
	}
	if _, err := c.w.Write(c.buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *fromCRLF) flush() error {
	if c.pendingCR {
		c.pendingCR = false
		_, err := c.w.Write([]byte{'\r'})
		return err
	}
	return nil
}

// blockWriter and blockReader are the server's handles on the one MODE B codec (ftp.BlockWriter,
// ftp.BlockReader): each undeclared block goes out as one write, header and data together.
type blockWriter struct {
	w  io.Writer
	bw *ftp.BlockWriter
}

func (b *blockWriter) Write(p []byte) (int, error) {
	if b.bw == nil {
		b.bw = ftp.NewBlockWriter(b.w)
	}
	return b.bw.Write(p)
}

// finish writes the EOF block.
func (b *blockWriter) finish() error {
	if b.bw == nil {
		b.bw = ftp.NewBlockWriter(b.w)
	}
	return b.bw.Close()
}

type blockReader struct {
	r  *bufio.Reader
	br *ftp.BlockReader
}

// errNoEOFBlock: the upload's data ended before its end-of-file block (the file is incomplete).
var errNoEOFBlock = ftp.ErrNoEOFBlock

func (b *blockReader) Read(p []byte) (int, error) {
	if b.br == nil {
		b.br = ftp.NewBlockReader(b.r)
	}
	return b.br.Read(p)
}
