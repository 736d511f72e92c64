package fsimage

import (
	"bytes"
	"fmt"
	"testing"
)

// BenchmarkCreateMany measures 2,000 files of 4 KiB into one directory on a RAM disk
// (the mtools comparison is in cmd/netxsim/internal/imagecmd).
func BenchmarkCreateMany(b *testing.B) {
	data := bytes.Repeat([]byte{1}, 4096)
	for range b.N {
		dev := NewRAM(64 << 20)
		if err := Format(dev, 64<<20, FormatOptions{Type: FAT16}); err != nil {
			b.Fatal(err)
		}
		v, _ := Open(dev, Options{})
		v.Mkdir("dir")
		for i := range 2000 {
			w, err := v.Create(fmt.Sprintf("dir/%04d data file.bin", i))
			if err != nil {
				b.Fatal(err)
			}
			w.(*File).ReadFrom(bytes.NewReader(data))
			w.Close()
		}
		v.Close()
	}
}

func BenchmarkFuzzBody(b *testing.B) {
	seeds := fuzzSeeds(b)
	for i := range b.N {
		data := seeds[i%len(seeds)]
		v, err := Open(&growDev{b: append([]byte(nil), data...), size: fuzzDevSize}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		budget := 500
		fuzzWalk(nil, v, ".", 0, &budget)
		if w, err := v.Create("new file.txt"); err == nil {
			w.Write(bytes.Repeat([]byte("z"), 3000))
			w.Close()
		}
		v.Check()
		v.Close()
	}
}

// BenchmarkBigWrite writes 256 MiB through File.ReadFrom onto a RAM disk.
func BenchmarkBigWrite(b *testing.B) {
	src := bytes.Repeat([]byte{3}, 256<<20)
	b.SetBytes(int64(len(src)))
	for range b.N {
		dev := NewRAM(300 << 20)
		if err := Format(dev, 300<<20, FormatOptions{Type: FAT32, ClusterSize: 4096}); err != nil {
			b.Fatal(err)
		}
		v, _ := Open(dev, Options{})
		w, _ := v.Create("big")
		w.(*File).ReadFrom(bytes.NewReader(src))
		w.Close()
		v.Close()
	}
}
