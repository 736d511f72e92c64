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
	"runtime"
	"runtime/metrics"
	"sync"
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
	// frames carry MSS payload bytes in about MSS+66+32 file bytes, plus an ACK per two segments
	perTransfer := size * capgen.MSS / (capgen.MSS + 98 + 49) / 8
	src := randReader{rand.NewChaCha8([32]byte{1})}
	return captureFile(tb, path, func(c *capgen.Capture) {
		for i, setup := range []string{"PORT", "PASV"} {
			s := c.FTP(netip.AddrPortFrom(host4, uint16(40000+i)), netip.AddrPortFrom(dev4, 21))
			s.Login("bench", "bench")
			for j := range 4 {
				verb := []string{"RETR", "STOR"}[j%2]
				s.Transfer(capgen.Transfer{Verb: verb, Arg: fmt.Sprintf("f%d", j), Setup: setup, Reader: io.LimitReader(src, perTransfer)})
			}
			s.Quit()
		}
	})
}

// captureFile streams the capture that script writes to path (for captures too large to build in
// memory, as build does) and returns its size.
func captureFile(tb testing.TB, path string, script func(c *capgen.Capture)) int64 {
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	writeCapture(tb, f, script)
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

// writeManyStreams writes a capture of sessions FTP sessions one after another, each logging in,
// downloading a small file over a passive data connection and quitting: 2*sessions TCP streams.
func writeManyStreams(tb testing.TB, path string, sessions int) {
	data := make([]byte, 100)
	captureFile(tb, path, func(c *capgen.Capture) {
		for i := range sessions {
			client := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + i%200)}), uint16(20000+(i/200)%20000))
			s := c.FTP(client, netip.AddrPortFrom(dev4, 21))
			s.Login("u", "p")
			s.Transfer(capgen.Transfer{Verb: "RETR", Arg: fmt.Sprintf("f%d", i), Setup: "PASV", Data: data})
			s.Quit()
			c.Sleep(time.Millisecond)
		}
	})
}

// peakHeap samples the live heap while fn runs and returns its peak (after a GC before fn, so it
// starts from what the test already holds).
func peakHeap(fn func()) (peak, before uint64) {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	before = sample[0].Value.Uint64()
	peak = before
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for {
			metrics.Read(s)
			peak = max(peak, s[0].Value.Uint64())
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	})
	fn()
	close(stop)
	wg.Wait()
	return peak, before
}

// TestManyStreamsMemory: a capture of 100,000 TCP streams (50,000 sessions, each with a data
// connection). Handed out as they complete (Options.OnSession, OnOther), the sessions' state is
// released: the heap's peak stays small, where keeping every session (the Report of a plain
// Analyze, measured in the same run) grows with the streams. Numbers are logged; the bound
// asserted is memory, not time.
func TestManyStreamsMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 streams: not in -short")
	}
	sessions := 50_000
	path := filepath.Join(t.TempDir(), "many.pcapng")
	writeManyStreams(t, path, sessions)
	st, _ := os.Stat(path)
	analyze := func(opts Options) *Report { return analyzeFile(t, path, opts) }
	var streamed, passed, others int
	var rep *Report
	peakStream, base := peakHeap(func() {
		rep = analyze(Options{
			OnSession: func(s *Session) error {
				streamed++
				if s.Passed() && len(s.Transfers) == 1 && s.Transfers[0].Data != nil && s.Transfers[0].Bytes == 100 {
					passed++
				}
				return nil
			},
			OnOther: func(*DataConn) error { others++; return nil },
		})
	})
	if streamed != sessions || passed != sessions || others != 0 || rep.SessionCount != sessions || rep.SessionsPassed != sessions || len(rep.Sessions) != 0 {
		t.Fatalf("streamed %d sessions (%d passed, %d other connections), report %d/%d, %d kept; want %d all passing",
			streamed, passed, others, rep.SessionsPassed, rep.SessionCount, len(rep.Sessions), sessions)
	}
	if rep.Capture.Connections != 2*sessions {
		t.Fatalf("%d TCP connections, want %d (trailing ACKs must not make new ones)", rep.Capture.Connections, 2*sessions)
	}
	// the way netxsim verify --json FILE runs: every output written while the capture is read
	jsonPath := filepath.Join(t.TempDir(), "many.json")
	jf, err := os.Create(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	defer jf.Close()
	peakJSON, base3 := peakHeap(func() {
		w := &Writer{Text: io.Discard, JSON: jf, JUnit: io.Discard}
		defer w.Close()
		r := analyze(w.Options(Options{}))
		if err := w.Finish(r); err != nil {
			t.Fatal(err)
		}
	})
	jst, _ := jf.Stat()
	var kept *Report
	peakKeep, base2 := peakHeap(func() { kept = analyze(Options{}) })
	if len(kept.Sessions) != sessions || kept.Violations != 0 {
		t.Fatalf("plain Analyze: %d sessions, %d violations", len(kept.Sessions), kept.Violations)
	}
	mb := func(n, b uint64) float64 { return float64(n-min(n, b)) / (1 << 20) }
	t.Logf("capture %d MB, %d streams: heap peak above the start %.1f MB streamed, %.1f MB streamed with text, JSON (%d MB) and JUnit, %.1f MB keeping every session",
		st.Size()>>20, 2*sessions, mb(peakStream, base), mb(peakJSON, base3), jst.Size()>>20, mb(peakKeep, base2))
	runtime.KeepAlive(kept)
	if got := mb(peakStream, base); got > 64 {
		t.Errorf("streaming %d streams peaked at %.1f MB of heap: state is not released", 2*sessions, got)
	}
	if got := mb(peakJSON, base3); got > 64 {
		t.Errorf("writing the reports of %d streams peaked at %.1f MB of heap: not written incrementally", 2*sessions, got)
	}
}
