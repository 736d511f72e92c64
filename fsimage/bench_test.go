package fsimage

import (
	"bytes"
	"fmt"
	"testing"
	"time"
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

// BenchmarkRAMFileIO writes and reads 256 MiB through File.Write and File.Read in chunks of
// several sizes on a warm RAM image (every page touched once, as a RAM disk in use has), beside
// the reference: copy() of the same chunks into and out of a warm slice of the same size, in the
// same iteration.
func BenchmarkRAMFileIO(b *testing.B) {
	const total = 256 << 20
	size := int64(total + 64<<20)
	for _, chunk := range []int{64 << 10, 128 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("chunk=%dKiB", chunk>>10), func(b *testing.B) {
			dev := NewRAM(size)
			for i := range dev.b {
				dev.b[i] = 1
			}
			if err := Format(dev, size, FormatOptions{}); err != nil {
				b.Fatal(err)
			}
			v, err := Open(dev, Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer v.Close()
			ref := make([]byte, size)
			for i := range ref {
				ref[i] = 1
			}
			buf := bytes.Repeat([]byte{7}, chunk)
			var fw, fr, rw, rr time.Duration
			b.SetBytes(total)
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				f, err := v.Create("big")
				if err != nil {
					b.Fatal(err)
				}
				for off := 0; off < total; off += chunk {
					if _, err := f.Write(buf); err != nil {
						b.Fatal(err)
					}
				}
				f.Close()
				fw += time.Since(start)
				start = time.Now()
				for off := 0; off < total; off += chunk {
					copy(ref[off:], buf)
				}
				rw += time.Since(start)
				start = time.Now()
				g, err := v.Open("big")
				if err != nil {
					b.Fatal(err)
				}
				for {
					if _, err := g.Read(buf); err != nil {
						break
					}
				}
				g.Close()
				fr += time.Since(start)
				start = time.Now()
				for off := 0; off < total; off += chunk {
					copy(buf, ref[off:])
				}
				rr += time.Since(start)
				if err := v.Remove("big"); err != nil {
					b.Fatal(err)
				}
			}
			mb := func(d time.Duration) float64 { return float64(b.N) * total / d.Seconds() / 1e6 }
			b.ReportMetric(mb(fw), "write-MB/s")
			b.ReportMetric(mb(rw), "copyin-MB/s")
			b.ReportMetric(mb(fr), "read-MB/s")
			b.ReportMetric(mb(rr), "copyout-MB/s")
		})
	}
}
