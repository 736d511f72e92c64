package server

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzBlockReader: MODE B data from the network never panics or loops, and what is written by
// blockWriter reads back the same.
func FuzzBlockReader(f *testing.F) {
	f.Add([]byte{0, 0, 3, 'a', 'b', 'c', 0x40, 0, 0})
	f.Add([]byte{0x10, 0, 2, 'R', 'M', 0x40, 0, 1, 'x'})
	f.Add([]byte{0, 0xff, 0xff, 1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &blockReader{r: bufio.NewReader(bytes.NewReader(data))}
		out, err := io.ReadAll(r)
		if err != nil && !errors.Is(err, errNoEOFBlock) {
			t.Fatalf("unexpected error %v", err)
		}
		if len(out) > len(data) {
			t.Fatalf("read %d bytes out of %d", len(out), len(data))
		}
		// round trip of the input as payload
		var enc bytes.Buffer
		w := &blockWriter{w: &enc}
		w.Write(data)
		w.finish()
		back, err := io.ReadAll(&blockReader{r: bufio.NewReader(&enc)})
		if err != nil || !bytes.Equal(back, data) {
			t.Fatalf("round trip: %d bytes, %v", len(back), err)
		}
	})
}

func TestLineEndConversion(t *testing.T) {
	var b bytes.Buffer
	w := &lineEnds{w: &b, toCRLF: true}
	w.Write([]byte("a\nb\r"))
	w.Write([]byte("\nc\n"))
	if b.String() != "a\r\nb\r\nc\r\n" {
		t.Fatalf("toCRLF: %q", b.String())
	}
	b.Reset()
	f := &lineEnds{w: &b}
	f.Write([]byte("a\r\nb\r"))
	f.Write([]byte("\nc\rd\r"))
	f.flush()
	if b.String() != "a\nb\nc\rd\r" {
		t.Fatalf("fromCRLF: %q", b.String())
	}
}
