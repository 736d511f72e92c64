package imagecmd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// The benchmarks run mtools (the reference) and `netxsim image` (in process, the same code
// path as the command line) on identical fresh images in the same iteration, and report both
// times and their ratio: speedup = mcopy time / fsimage time (above 1: fsimage is faster).

func needTools(b *testing.B) {
	for _, n := range []string{"mkfs.fat", "mcopy"} {
		if _, err := exec.LookPath(n); err != nil {
			b.Skipf("needs %s (dosfstools/mtools): %v", n, err)
		}
	}
}

func mkfsImage(b *testing.B, path string, size int64, args ...string) {
	b.Helper()
	os.Remove(path)
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	f.Truncate(size)
	f.Close()
	if out, err := exec.Command("mkfs.fat", append(args, path)...).CombinedOutput(); err != nil {
		b.Fatalf("mkfs.fat: %v\n%s", err, out)
	}
}

func timed(b *testing.B, name string, args ...string) time.Duration {
	b.Helper()
	start := time.Now()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1", "MTOOLSRC=/dev/null")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s: %v\n%s", name, err, out)
	}
	return time.Since(start)
}

func timedRun(b *testing.B, args ...string) time.Duration {
	b.Helper()
	var out, errOut bytes.Buffer
	start := time.Now()
	if code := Run(context.Background(), args, &out, &errOut); code != 0 {
		b.Fatalf("netxsim image %v: exit %d: %s", args, code, errOut.String())
	}
	return time.Since(start)
}

func report(b *testing.B, ref, ours time.Duration) {
	b.ReportMetric(float64(ref.Milliseconds())/float64(b.N), "mcopy-ms/op")
	b.ReportMetric(float64(ours.Milliseconds())/float64(b.N), "fsimage-ms/op")
	b.ReportMetric(float64(ref)/float64(ours), "speedup")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkBigFile writes a 256 MiB file into a 512 MiB FAT32 image (4 KiB clusters) and
// reads it back out.
func BenchmarkBigFile(b *testing.B) {
	needTools(b)
	dir := b.TempDir()
	src := filepath.Join(dir, "big.bin")
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i*7 + i>>8)
	}
	f, _ := os.Create(src)
	for range 256 {
		f.Write(data)
	}
	f.Close()
	refImg, ourImg := filepath.Join(dir, "ref.img"), filepath.Join(dir, "our.img")
	out := filepath.Join(dir, "out.bin")
	b.Run("write", func(b *testing.B) {
		var ref, ours time.Duration
		for range b.N {
			mkfsImage(b, refImg, 512<<20, "-F", "32", "-s", "8")
			mkfsImage(b, ourImg, 512<<20, "-F", "32", "-s", "8")
			ref += timed(b, "mcopy", "-i", refImg, src, "::/big.bin")
			ours += timedRun(b, "put", "-i", ourImg, src, "/big.bin")
		}
		report(b, ref, ours)
	})
	b.Run("read", func(b *testing.B) {
		var ref, ours time.Duration
		for range b.N {
			os.Remove(out)
			ref += timed(b, "mcopy", "-n", "-i", refImg, "::/big.bin", out)
			os.Remove(out)
			ours += timedRun(b, "get", "-i", ourImg, "/big.bin", out)
		}
		report(b, ref, ours)
		if st, err := os.Stat(out); err != nil || st.Size() != 256<<20 {
			b.Fatalf("read back: %v %v", st, err)
		}
	})
}

// BenchmarkManyFiles copies 2,000 files of 4 KiB into one directory in one command each way.
func BenchmarkManyFiles(b *testing.B) {
	needTools(b)
	dir := b.TempDir()
	srcDir := filepath.Join(dir, "src")
	os.Mkdir(srcDir, 0o755)
	var files []string
	for i := range 2000 {
		p := filepath.Join(srcDir, fmt.Sprintf("%04d data file.bin", i))
		os.WriteFile(p, bytes.Repeat([]byte{byte(i)}, 4096), 0o644)
		files = append(files, p)
	}
	refImg, ourImg := filepath.Join(dir, "ref.img"), filepath.Join(dir, "our.img")
	var ref, ours time.Duration
	for range b.N {
		mkfsImage(b, refImg, 64<<20, "-F", "16")
		mkfsImage(b, ourImg, 64<<20, "-F", "16")
		timed(b, "mmd", "-i", refImg, "::/dir")
		timedRun(b, "mkdir", "-i", ourImg, "/dir")
		ref += timed(b, "mcopy", append(append([]string{"-i", refImg}, files...), "::/dir/")...)
		ours += timedRun(b, append(append([]string{"put", "-i", ourImg}, files...), "/dir/")...)
	}
	report(b, ref, ours)
	var o bytes.Buffer
	Run(context.Background(), []string{"ls", "-i", ourImg, "/dir"}, &o, io.Discard)
	if n := bytes.Count(o.Bytes(), []byte("\n")); n != 2000 {
		b.Fatalf("image lists %d files, want 2000", n)
	}
}
