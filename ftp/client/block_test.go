package client

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// NetX's file_size_set + file_write: one header with the size, the data, then the EOF block.
func TestBlockWriterDeclaredSizeIsNetX(t *testing.T) {
	var out bytes.Buffer
	bw := newBlockWriter(&out)
	if err := bw.declare(28); err != nil {
		t.Fatal(err)
	}
	data := "ABCDEFGHIJKLMNOPQRSTUVWXYZ \n"
	bw.Write([]byte(data[:10]))
	bw.Write([]byte(data[10:]))
	want := append(append([]byte{0, 0, 28}, data...), 64, 0, 0)
	if err := bw.end(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("block stream = %v\nwant %v", out.Bytes(), want)
	}
}

func TestBlockRoundTrip(t *testing.T) {
	for _, declared := range []bool{false, true} {
		for _, n := range []int{0, 1, 65535, 65536, 200_000} {
			data := randomBytes(n, uint64(n))
			var wire bytes.Buffer
			bw := newBlockWriter(&wire)
			if declared {
				bw.declare(int64(n))
			}
			// odd write sizes
			for p := data; len(p) > 0; {
				k := min(len(p), 70_001)
				if _, err := bw.Write(p[:k]); err != nil {
					t.Fatal(err)
				}
				p = p[k:]
			}
			if err := bw.end(); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(newBlockReader(&wire))
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("declared %v, %d bytes: got %d bytes, %v", declared, n, len(got), err)
			}
		}
	}
}

func TestBlockReaderDescriptors(t *testing.T) {
	// a restart marker (16) is skipped, an EOR (128) block is data, EOF may carry data too
	wire := []byte{16, 0, 3, 'x', 'y', 'z', 128, 0, 2, 'a', 'b', 64 | 128, 0, 1, 'c', 0, 0, 1, 'J'}
	got, err := io.ReadAll(newBlockReader(bytes.NewReader(wire)))
	if err != nil || string(got) != "abc" {
		t.Fatalf("got %q, %v; want abc (bytes after EOF ignored)", got, err)
	}
	for _, bad := range [][]byte{{}, {0, 0}, {0, 0, 5, 'a'}, {16, 0, 4, 'a'}} {
		_, err := io.ReadAll(newBlockReader(bytes.NewReader(bad)))
		if !errors.Is(err, ErrShortTransfer) {
			t.Errorf("%v: %v, want ErrShortTransfer", bad, err)
		}
	}
}

func FuzzBlockReader(f *testing.F) {
	f.Add([]byte{0, 0, 3, 'a', 'b', 'c', 64, 0, 0})
	f.Add([]byte{16, 0, 3, 'x', 'y', 'z', 64, 0, 1, 'q'})
	f.Add([]byte{0, 255, 255})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, wire []byte) {
		got, err := io.ReadAll(newBlockReader(bytes.NewReader(wire)))
		if len(got) > len(wire) {
			t.Fatalf("%d data bytes from %d wire bytes", len(got), len(wire))
		}
		if err != nil && !errors.Is(err, ErrShortTransfer) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		if err == nil {
			// a complete stream re-encodes to something that decodes to the same data
			var re bytes.Buffer
			bw := newBlockWriter(&re)
			bw.Write(got)
			bw.end()
			again, err := io.ReadAll(newBlockReader(&re))
			if err != nil || !bytes.Equal(again, got) {
				t.Fatalf("re-encoded stream decodes to %d bytes, %v", len(again), err)
			}
		}
	})
}

// FuzzReadReply feeds arbitrary server output to the client's reply reader: it must end (reply,
// error or EOF) without panicking, and every reply it returns has a code 100..599.
func FuzzReadReply(f *testing.F) {
	for _, s := range []string{
		"220 ready\r\n",
		"220-a\r\n220-b\r\n 220 c\r\n220 end\r\n",
		"211-Features:\r\n SIZE\r\n MDTM\r\n REST STREAM\r\n211 End\r\n",
		"227 Entering Passive Mode (198,51,100,2,192,0).\r\n",
		"229 Entering Extended Passive Mode (|||49152|)\n",
		"999 x\r\n", "22", "220", "abc\r\n", "220-unterminated\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		rr := newReplyReader(bytes.NewReader(in))
		for i := 0; i < len(in)+1; i++ {
			code, msg, err := rr.read()
			if err != nil {
				return
			}
			if code < 100 || code > 599 {
				t.Fatalf("code %d accepted", code)
			}
			if strings.Count(msg, "\n") > len(in) {
				t.Fatalf("more lines than input bytes")
			}
		}
		t.Fatalf("more replies than input bytes")
	})
}

func FuzzParseMDTM(f *testing.F) {
	for _, s := range []string{"20240102030405", "20240102030405.5", "19700101000000.123456789", "x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := ParseMDTM(s)
		if err == nil && tm.Location().String() != "UTC" {
			t.Fatalf("ParseMDTM(%q) not in UTC", s)
		}
	})
}
