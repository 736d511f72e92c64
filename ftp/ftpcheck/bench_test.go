package ftpcheck

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/netxsim/netxsim/ftp/ftpcheck/capgen"
)

// randReader streams pseudo-random bytes (cheap, and not all zero, so hashing is honest).
type randReader struct{ r *rand.ChaCha8 }

func (r randReader) Read(p []byte) (int, error) { return r.r.Read(p) }

// writeBigCapture streams a capture of about size bytes to path: two sessions (active PORT and
// passive PASV), each doing four RETR/STOR transfers, nearly all of it transfer data.
func writeBigCapture(tb testing.TB, path string, size int64) int64 {
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	c, err := capgen.New(f)
	if err != nil {
		tb.Fatal(err)
	}
	// frames carry MSS payload bytes in about MSS+66+32 file bytes, plus an ACK per two segments
	perTransfer := size * capgen.MSS / (capgen.MSS + 98 + 49) / 8
	src := randReader{rand.NewChaCha8([32]byte{1})}
	for i, setup := range []string{"PORT", "PASV"} {
		s := c.FTP(netip.AddrPortFrom(host4, uint16(40000+i)), netip.AddrPortFrom(dev4, 21))
		s.Login("bench", "bench")
		for j := range 4 {
			verb := []string{"RETR", "STOR"}[j%2]
			s.Transfer(capgen.Transfer{Verb: verb, Arg: fmt.Sprintf("f%d", j), Setup: setup, Reader: io.LimitReader(src, perTransfer)})
		}
		s.Quit()
	}
	if err := c.Close(); err != nil {
		tb.Fatal(err)
	}
	st, err := f.Stat()
	if err != nil {
		tb.Fatal(err)
	}
	return st.Size()
}

// BenchmarkAnalyze1GiB analyses a 1 GiB capture and, in the same run, times `tshark -r FILE -Y ftp`
// on the same file; it reports both and their ratio. Run with:
//
//	go test -run='^$' -bench=Analyze1GiB -benchtime=1x ./ftp/ftpcheck/
func BenchmarkAnalyze1GiB(b *testing.B) {
	size := int64(1 << 30)
	if s := os.Getenv("FTPCHECK_BENCH_BYTES"); s != "" {
		fmt.Sscan(s, &size)
	}
	path := filepath.Join(b.TempDir(), "big.pcapng")
	written := writeBigCapture(b, path, size)
	b.SetBytes(written)
	var tsharkSec float64
	if _, err := exec.LookPath("tshark"); err == nil {
		start := time.Now()
		out, err := exec.Command("tshark", "-r", path, "-Y", "ftp").Output()
		if err != nil {
			b.Fatalf("tshark: %v", err)
		}
		tsharkSec = time.Since(start).Seconds()
		b.Logf("tshark -r FILE -Y ftp: %.2f s, %d lines of output", tsharkSec, countLines(out))
	}
	b.ResetTimer()
	var rep *Report
	for b.Loop() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		rep, err = Analyze(context.Background(), f, Options{})
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	ours := b.Elapsed().Seconds() / float64(b.N)
	if rep.Violations != 0 || len(rep.Sessions) != 2 {
		b.Fatalf("benchmark capture: %d sessions, %d violations", len(rep.Sessions), rep.Violations)
	}
	b.ReportMetric(ours, "ftpcheck-s/op")
	if tsharkSec > 0 {
		b.ReportMetric(tsharkSec, "tshark-s")
		b.ReportMetric(tsharkSec/ours, "x-faster-than-tshark")
	}
	b.Logf("capture %d bytes, %d packets; ftpcheck %.2f s, tshark %.2f s", written, rep.Capture.Packets, ours, tsharkSec)
}

func countLines(b []byte) int {
	n := 0
	for _, c := range b {
		if c == '\n' {
			n++
		}
	}
	return n
}
