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

// benchDir is on tmpfs when there is one: both tools then measure their FAT code and system
// calls, not the disk's writeback of dirty pages, which other processes' I/O makes erratic.
func benchDir(b *testing.B) string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "fsimage-bench-"); err == nil {
			b.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return b.TempDir()
}

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

// alternate runs the two measurements in turns, so neither always pays for the other's
// page-cache state.
func alternate(i int, ref, ours func()) {
	if i%2 == 0 {
		ref()
		ours()
	} else {
		ours()
		ref()
	}
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
	dir := benchDir(b)
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
	_ = out
	b.Run("write", func(b *testing.B) {
		var ref, ours time.Duration
		for i := range b.N {
			mkfsImage(b, refImg, 512<<20, "-F", "32", "-s", "8")
			mkfsImage(b, ourImg, 512<<20, "-F", "32", "-s", "8")
			alternate(i,
				func() { ref += timed(b, "mcopy", "-i", refImg, src, "::/big.bin") },
				func() { ours += timedRun(b, "put", "-i", ourImg, src, "/big.bin") })
		}
		report(b, ref, ours)
	})
	b.Run("read", func(b *testing.B) {
		var ref, ours time.Duration
		// Both read to /dev/null: the host's page-cache writeback of a 256 MiB output file
		// would otherwise dominate and punish whichever tool runs second.
		for i := range b.N {
			alternate(i,
				func() { ref += timed(b, "mcopy", "-n", "-i", refImg, "::/big.bin", os.DevNull) },
				func() { ours += timedRun(b, "get", "-i", ourImg, "/big.bin", os.DevNull) })
		}
		report(b, ref, ours)
		timedRun(b, "get", "-i", ourImg, "/big.bin", out)
		if got, err := os.ReadFile(out); err != nil || len(got) != 256<<20 || !bytes.Equal(got[:1<<20], data) {
			b.Fatalf("read back: %d bytes, %v", len(got), err)
		}
	})
}

// BenchmarkManyFiles copies 2,000 files of 4 KiB into one directory in one command each way.
func BenchmarkManyFiles(b *testing.B) {
	needTools(b)
	dir := benchDir(b)
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
	for i := range b.N {
		mkfsImage(b, refImg, 64<<20, "-F", "16")
		mkfsImage(b, ourImg, 64<<20, "-F", "16")
		timed(b, "mmd", "-i", refImg, "::/dir")
		timedRun(b, "mkdir", "-i", ourImg, "/dir")
		alternate(i,
			func() { ref += timed(b, "mcopy", append(append([]string{"-i", refImg}, files...), "::/dir/")...) },
			func() { ours += timedRun(b, append(append([]string{"put", "-i", ourImg}, files...), "/dir/")...) })
	}
	report(b, ref, ours)
	var o bytes.Buffer
	Run(context.Background(), []string{"ls", "-i", ourImg, "/dir"}, &o, io.Discard)
	if n := bytes.Count(o.Bytes(), []byte("\n")); n != 2000 {
		b.Fatalf("image lists %d files, want 2000", n)
	}
}
