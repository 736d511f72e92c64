package testio

import (
	"errors"
	"io"
	"os"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// TB is the part of testing.TB the helpers need.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// ReadCapture reads a pcapng capture of Ethernet frames (what stack/capture writes) and returns its
// frames decoded, in order; a file that does not read to its end fails the test.
func ReadCapture(t TB, path string) []gopacket.Packet {
	t.Helper()
	var out []gopacket.Packet
	r := ReadPcapNGFile(t, path, func(data []byte, _ gopacket.CaptureInfo) {
		out = append(out, gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default))
	})
	if lt := r.LinkType(); lt != layers.LinkTypeEthernet {
		t.Fatalf("capture %s: link type %v, want Ethernet", path, lt)
	}
	return out
}

// ReadPcapNGFile reads the pcapng file at path to its end, calling each (if not nil) for every frame, and
// returns the reader for its interface table; a file that does not read to its end fails the test.
func ReadPcapNGFile(t TB, path string, each func(data []byte, ci gopacket.CaptureInfo)) *pcapgo.NgReader {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("capture: %v", err)
	}
	defer f.Close()
	r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatalf("capture %s: pcapng: %v", path, err)
	}
	EachFrame(t, r, each)
	return r
}

// EachFrame reads src to its end, calling each (if not nil) for every frame, and returns how many frames
// it read; a read error other than the end fails the test.
func EachFrame(t TB, src gopacket.PacketDataSource, each func(data []byte, ci gopacket.CaptureInfo)) int {
	t.Helper()
	n := 0
	for {
		data, ci, err := src.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return n
		}
		if err != nil {
			t.Fatalf("capture: frame %d: %v", n+1, err)
		}
		if each != nil {
			each(data, ci)
		}
		n++
	}
}
