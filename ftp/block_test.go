package ftp

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestBlockReader(t *testing.T) {
	var in []byte
	in = append(AppendBlockHeader(in, 0, 3), "abc"...)
	in = append(AppendBlockHeader(in, BlockRestart, 2), "xx"...)
	in = append(AppendBlockHeader(in, BlockEOR, 1), "d"...)
	in = append(AppendBlockHeader(in, BlockEOF, 2), "ef"...)
	in = append(in, "trailing garbage is not read"...)
	got, err := io.ReadAll(NewBlockReader(bytes.NewReader(in)))
	if err != nil || string(got) != "abcdef" {
		t.Fatalf("got %q, %v", got, err)
	}
	for _, cut := range []int{0, 2, 5, 8} {
		_, err := io.ReadAll(NewBlockReader(bytes.NewReader(in[:cut])))
		if !errors.Is(err, ErrNoEOFBlock) {
			t.Errorf("cut at %d: %v, want ErrNoEOFBlock", cut, err)
		}
	}
}

// FuzzBlockReader: any input decodes to at most its own length or ends in an error, never a panic.
func FuzzBlockReader(f *testing.F) {
	f.Add([]byte{0, 0, 1, 'a', BlockEOF, 0, 0})
	f.Add([]byte{BlockRestart, 0, 2, 1, 2})
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := io.ReadAll(NewBlockReader(bytes.NewReader(in)))
		if len(out) > len(in) {
			t.Fatalf("%d bytes out of %d in", len(out), len(in))
		}
		if err != nil && !errors.Is(err, ErrNoEOFBlock) {
			t.Fatalf("unexpected error %v", err)
		}
	})
}
