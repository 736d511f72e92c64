package server

import (
	"bufio"
	"io"

	"github.com/netxsim/netxsim/ftp"
)

// Representation and mode on the data connection: TYPE A line ends and MODE B blocks.

// lineEnds converts TYPE A line ends on their way to w, each chunk in one Write. With toCRLF
// (downloads) a bare LF becomes CRLF; without (uploads) CRLF becomes LF, and a CR at a chunk's end
// waits for the next byte.
type lineEnds struct {
	w      io.Writer
	toCRLF bool
	cr     bool // toCRLF: the last byte was a CR; uploads: a CR is held back
	buf    []byte
}

func (c *lineEnds) Write(p []byte) (int, error) {
	c.buf = c.buf[:0]
	if c.toCRLF {
		for _, ch := range p {
			if ch == '\n' && !c.cr {
				c.buf = append(c.buf, '\r')
			}
			c.buf = append(c.buf, ch)
			c.cr = ch == '\r'
		}
	} else {
		for _, ch := range p {
			if c.cr {
				c.cr = false
				if ch != '\n' {
					c.buf = append(c.buf, '\r')
				}
			}
			if ch == '\r' {
				c.cr = true
				continue
			}
			c.buf = append(c.buf, ch)
		}
	}
	if _, err := c.w.Write(c.buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

// flush writes an upload's held-back CR, at the end of the data.
func (c *lineEnds) flush() error {
	if !c.toCRLF && c.cr {
		c.cr = false
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
