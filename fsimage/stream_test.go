package fsimage

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"unsafe"

	"github.com/netxsim/netxsim/internal/testio"
)

// gateReader hands out data, a piece each time next says how much, and tells on ack how much is
// left once the piece is copied: a connection whose next segment has not come yet.
type gateReader struct {
	data []byte
	next chan int // how many bytes the next Read may return; closed: the end
	ack  chan int
}

func (g *gateReader) Read(p []byte) (int, error) {
	k, ok := <-g.next
	if !ok {
		return 0, io.EOF
	}
	n := copy(p, g.data[:min(k, len(g.data), len(p))])
	g.data = g.data[n:]
	g.ack <- len(g.data)
	return n, nil
}

// give lets one piece of up to k bytes through and returns how much is left.
func (g *gateReader) give(k int) int {
	g.next <- k
	return <-g.ack
}

// gateWriter takes what it is given, reporting each Write on seen, then waits for go before the
// next one: a slow peer.
type gateWriter struct {
	bytes.Buffer
	seen chan int
	cont chan struct{}
}

func (g *gateWriter) Write(p []byte) (int, error) {
	n, _ := g.Buffer.Write(p)
	g.seen <- n
	<-g.cont
	return n, nil
}

func ramVolume(t *testing.T, size int64) (*FS, *RAM) {
	t.Helper()
	ram := NewRAM(size)
	if err := Format(ram, size, FormatOptions{ClusterSize: 4096}); err != nil {
		t.Fatal(err)
	}
	v, err := Open(ram, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v, ram
}

func checkClean(t *testing.T, img []byte) {
	t.Helper()
	rep, err := CheckDevice(RAMFrom(img))
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("image problems: %v", rep.Problems)
	}
}

// TestStreamingReceiveBeside: while a streaming ReadFrom waits for its connection, the volume
// stays usable (other files are written into other clusters, a Sync writes a consistent image
// that does not show the bytes in flight), and changing the file being received is refused.
func TestStreamingReceiveBeside(t *testing.T) {
	v, ram := ramVolume(t, 64<<20)
	data := bytes.Repeat([]byte("0123456789abcdef"), 3<<16) // 3 MiB
	w, err := v.Create("up.bin")
	if err != nil {
		t.Fatal(err)
	}
	g := &gateReader{data: data, next: make(chan int), ack: make(chan int)}
	done := make(chan error, 1)
	var got int64
	go func() {
		var err error
		got, err = w.(*File).ReadFrom(g)
		done <- err
	}()
	g.give(streamMax) // the first piece whole
	g.give(1000)      // ReadFrom waits inside its second piece now

	other := bytes.Repeat([]byte{0xA5}, 1<<20)
	testio.CreateFile(t, v, "other.bin", other)
	if err := v.Sync(); err != nil {
		t.Fatal(err)
	}
	snap := bytes.Clone(ram.Bytes())
	checkClean(t, snap)
	sv, err := Open(RAMFrom(snap), Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := sv.Stat("up.bin"); err != nil || fi.Size() != streamMax {
		t.Fatalf("synced image: up.bin %v, %v; want the first piece (%d bytes) alone", fi, err, streamMax)
	}

	w2, err := v.OpenFile("up.bin", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w2.Write([]byte("x")); !errors.Is(err, ErrStreaming) || !errors.Is(err, ErrBusy) {
		t.Errorf("write beside a streaming receive: %v, want ErrStreaming", err)
	}
	if err := w2.Truncate(10); !errors.Is(err, ErrStreaming) {
		t.Errorf("truncate beside a streaming receive: %v, want ErrStreaming", err)
	}
	w2.Close()

	for g.give(70000) > 0 {
	}
	close(g.next)
	if err := <-done; err != nil || got != int64(len(data)) {
		t.Fatalf("ReadFrom: %d, %v; want %d", got, err, len(data))
	}
	w.Close()
	for name, want := range map[string][]byte{"up.bin": data, "other.bin": other} {
		b, err := fsReadFile(v, name)
		if err != nil || !bytes.Equal(b, want) {
			t.Errorf("%s: %d bytes, %v; want %d", name, len(b), err, len(want))
		}
	}
	if err := v.Sync(); err != nil {
		t.Fatal(err)
	}
	checkClean(t, bytes.Clone(ram.Bytes()))
}

func fsReadFile(v *FS, name string) ([]byte, error) {
	f, err := v.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// TestStreamingSendBeside: while a streaming WriteTo waits for its peer, the file's data cannot
// change under it, but it can grow, and the peer gets the file as it was.
func TestStreamingSendBeside(t *testing.T) {
	v, _ := ramVolume(t, 16<<20)
	data := bytes.Repeat([]byte("abcdefgh"), 3<<17) // 3 MiB
	testio.CreateFile(t, v, "down.bin", data)
	r, err := v.Open("down.bin")
	if err != nil {
		t.Fatal(err)
	}
	g := &gateWriter{seen: make(chan int), cont: make(chan struct{})}
	done := make(chan error, 1)
	go func() { _, err := r.(*File).WriteTo(g); done <- err }()
	<-g.seen // WriteTo is inside its first Write

	w, err := v.OpenFile("down.bin", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteAt([]byte("x"), 5); !errors.Is(err, ErrStreaming) {
		t.Errorf("write inside a file being sent: %v, want ErrStreaming", err)
	}
	if err := w.Truncate(100); !errors.Is(err, ErrStreaming) {
		t.Errorf("shrinking a file being sent: %v, want ErrStreaming", err)
	}
	if _, err := w.WriteAt([]byte("tail"), int64(len(data))); err != nil {
		t.Errorf("appending to a file being sent: %v", err)
	}
	w.Close()
	close(g.cont)
	go func() {
		for range g.seen {
		}
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	close(g.seen)
	if want := append(bytes.Clone(data), "tail"...); !bytes.Equal(g.Bytes(), want) {
		t.Errorf("sent %d bytes, want %d (the file as it grew)", g.Len(), len(want))
	}
}

// ramReader checks where ReadFrom reads into: the RAM disk (streaming) or a buffer.
type ramReader struct {
	r       io.Reader
	ram     []byte
	outside int // reads into memory outside the RAM disk
}

func (c *ramReader) Read(p []byte) (int, error) {
	if len(p) > 0 {
		lo := uintptr(unsafe.Pointer(unsafe.SliceData(c.ram)))
		at := uintptr(unsafe.Pointer(unsafe.SliceData(p)))
		if at < lo || at >= lo+uintptr(len(c.ram)) {
			c.outside++
		}
	}
	return c.r.Read(p)
}

// TestStreamingAfterRemove: the clusters of a file removed a moment ago are free only after the
// next flush; a streaming receive that needs them flushes (as an allocation does) and keeps
// streaming instead of falling back to the buffered copy.
func TestStreamingAfterRemove(t *testing.T) {
	v, ram := ramVolume(t, 48<<20)
	big := bytes.Repeat([]byte{1}, 40<<20)
	testio.CreateFile(t, v, "old.bin", big)
	if err := v.Remove("old.bin"); err != nil {
		t.Fatal(err)
	}
	w, err := v.Create("new.bin")
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("streamed"), 4<<20) // 32 MiB: more than was free before the flush
	rr := &ramReader{r: bytes.NewReader(data), ram: ram.Bytes()}
	if n, err := w.(*File).ReadFrom(rr); err != nil || n != int64(len(data)) {
		t.Fatalf("ReadFrom: %d, %v", n, err)
	}
	w.Close()
	if rr.outside > 0 {
		t.Errorf("%d reads went to a buffer, not to the RAM disk", rr.outside)
	}
	if b, err := fsReadFile(v, "new.bin"); err != nil || !bytes.Equal(b, data) {
		t.Fatalf("new.bin: %d bytes, %v", len(b), err)
	}
	if err := v.Sync(); err != nil {
		t.Fatal(err)
	}
	checkClean(t, bytes.Clone(ram.Bytes()))
}

// TestStreamingConcurrent: several streaming receives and sends at once on one volume, as several
// FTP sessions make them: each file gets its own clusters and its own bytes.
func TestStreamingConcurrent(t *testing.T) {
	v, ram := ramVolume(t, 64<<20)
	const n = 4
	want := make([][]byte, n)
	for i := range want {
		want[i] = bytes.Repeat([]byte{byte('a' + i), byte(i)}, (3<<20+i*4099)/2)
	}
	testio.CreateFile(t, v, "seed.bin", want[0])
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			w, err := v.Create(fmt.Sprintf("f%d.bin", i))
			if err == nil {
				r := &chunkReader{data: want[i], r: rand.New(rand.NewPCG(uint64(i), 1)), max: 200 << 10}
				_, err = w.(*File).ReadFrom(r)
				if cerr := w.Close(); err == nil {
					err = cerr
				}
			}
			errs <- err
		}()
		go func() { // meanwhile, sends of another file
			defer wg.Done()
			f, err := v.Open("seed.bin")
			if err == nil {
				var got bytes.Buffer
				_, err = f.(*File).WriteTo(&got)
				f.Close()
				if err == nil && !bytes.Equal(got.Bytes(), want[0]) {
					err = fmt.Errorf("seed.bin sent as %d bytes, want %d", got.Len(), len(want[0]))
				}
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		if b, err := fsReadFile(v, fmt.Sprintf("f%d.bin", i)); err != nil || !bytes.Equal(b, want[i]) {
			t.Errorf("f%d.bin: %d bytes, %v; want %d", i, len(b), err, len(want[i]))
		}
	}
	if err := v.Sync(); err != nil {
		t.Fatal(err)
	}
	checkClean(t, bytes.Clone(ram.Bytes()))
}
