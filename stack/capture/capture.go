// Package capture records every Ethernet frame that crosses a gVisor link endpoint, in both directions,
// as pcapng (default) or classic pcap with nanosecond timestamps.
//
// Unlike gVisor's link/sniffer, which logs from the network header on, capture keeps the Ethernet header,
// so ARP and NDP framing appear in the file exactly as on the wire. One Writer can serve several wrapped
// endpoints; in pcapng each gets an interface block of its own, named after the interface.
package capture

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/netxsim/netxsim/internal/textenc"
)

// Format selects the file format of a Writer.
type Format int

const (
	// PcapNG writes pcapng with one interface description block per wrapped endpoint.
	PcapNG Format = iota
	// Pcap writes classic libpcap format (nanosecond variant); interface names are not recorded.
	Pcap
)

// String returns the conventional file extension of the format, without the dot.
func (f Format) String() string {
	switch f {
	case PcapNG:
		return "pcapng"
	case Pcap:
		return "pcap"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// ParseFormat accepts "pcapng" or "pcap".
func ParseFormat(s string) (Format, error) {
	switch s {
	case "pcapng", "":
		return PcapNG, nil
	case "pcap":
		return Pcap, nil
	}
	return 0, fmt.Errorf("capture format %q: use pcapng or pcap", s)
}

// snapLen is the largest frame recorded whole; larger frames (GSO super-segments) are truncated.
const snapLen = 262144

// Writer serialises frames from any number of endpoints into one capture file. It is safe for concurrent use.
type Writer struct {
	mu     sync.Mutex
	dst    io.Writer
	closer io.Closer // non-nil when the Writer owns the file
	format Format
	now    func() time.Time

	ng      *pcapgo.NgWriter // created with the first interface (pcapgo writes interface 0 up front)
	classic *pcapgo.Writer
	bufw    flusher
	names   []string
	err     error // first write error; later frames are dropped
	closed  bool
	frames  uint64
}

type flusher interface{ Flush() error }

// NewWriter returns a Writer on w. The caller keeps ownership of w: Close flushes but does not close it.
func NewWriter(w io.Writer, format Format) (*Writer, error) {
	if format != PcapNG && format != Pcap {
		return nil, fmt.Errorf("capture: unknown format %d: use capture.PcapNG or capture.Pcap", int(format))
	}
	cw := &Writer{dst: w, format: format, now: time.Now}
	if format == Pcap {
		bw := &bufWriter{w: w}
		cw.bufw = bw
		cw.classic = pcapgo.NewWriterNanos(bw)
		if err := cw.classic.WriteFileHeader(snapLen, layers.LinkTypeEthernet); err != nil {
			return nil, fmt.Errorf("capture: write pcap header: %w", err)
		}
	}
	return cw, nil
}

// Create creates (or truncates) the file at path and returns a Writer that owns it; Close closes the file.
func Create(path string, format Format) (*Writer, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("capture: create %s: %w (check the directory exists and is writable)", path, err)
	}
	w, err := NewWriter(f, format)
	if err != nil {
		f.Close()
		return nil, err
	}
	w.closer = f
	return w, nil
}

// addInterface registers an interface name and returns its pcapng interface id.
func (w *Writer) addInterface(name string) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, errors.New("capture: writer is closed")
	}
	if w.format == Pcap {
		w.names = append(w.names, name)
		return 0, nil
	}
	intf := pcapgo.NgInterface{Name: name, LinkType: layers.LinkTypeEthernet, TimestampResolution: 9, SnapLength: snapLen}
	if w.ng == nil {
		ng, err := pcapgo.NewNgWriterInterface(w.dst, intf, pcapgo.NgWriterOptions{
			SectionInfo: pcapgo.NgSectionInfo{Application: "netxsim"},
		})
		if err != nil {
			return 0, fmt.Errorf("capture: write pcapng header: %w", err)
		}
		w.ng = ng
		w.bufw = ng
		w.names = append(w.names, name)
		return 0, nil
	}
	id, err := w.ng.AddInterface(intf)
	if err != nil {
		return 0, fmt.Errorf("capture: add interface %s: %w", name, err)
	}
	w.names = append(w.names, name)
	return id, nil
}

// write records one frame. views are the frame's pieces in order; they are copied before returning.
func (w *Writer) write(ifIndex int, views [][]byte) {
	n := 0
	for _, v := range views {
		n += len(v)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.err != nil {
		return
	}
	frame := make([]byte, 0, min(n, snapLen))
	for _, v := range views {
		if room := snapLen - len(frame); len(v) > room {
			frame = append(frame, v[:room]...)
			break
		}
		frame = append(frame, v...)
	}
	ci := gopacket.CaptureInfo{Timestamp: w.now(), CaptureLength: len(frame), Length: n, InterfaceIndex: ifIndex}
	var err error
	if w.ng != nil {
		err = w.ng.WritePacket(ci, frame)
	} else if w.classic != nil {
		ci.InterfaceIndex = 0
		err = w.classic.WritePacket(ci, frame)
	}
	if err != nil {
		w.err = fmt.Errorf("capture: write frame: %w", err)
		return
	}
	w.frames++
}

// Frames returns how many frames have been written so far.
func (w *Writer) Frames() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.frames
}

// Flush writes buffered frames to the underlying writer.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flushLocked()
}

func (w *Writer) flushLocked() error {
	if w.err != nil {
		return w.err
	}
	if w.bufw != nil {
		if err := w.bufw.Flush(); err != nil {
			w.err = fmt.Errorf("capture: flush: %w", err)
			return w.err
		}
	}
	return nil
}

// Close flushes the capture (writing a valid empty pcapng when no endpoint was ever wrapped), closes the
// file if the Writer owns it, and reports the first write error. Frames arriving afterwards are dropped.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	var errs []error
	if w.format == PcapNG && w.ng == nil && w.err == nil {
		ng, err := pcapgo.NewNgWriterInterface(w.dst, pcapgo.NgInterface{Name: "none", LinkType: layers.LinkTypeEthernet, TimestampResolution: 9},
			pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{Application: "netxsim"}})
		if err != nil {
			errs = append(errs, fmt.Errorf("capture: write pcapng header: %w", err))
		} else {
			w.ng, w.bufw = ng, ng
		}
	}
	errs = append(errs, w.flushLocked())
	if w.closer != nil {
		if err := w.closer.Close(); err != nil {
			errs = append(errs, fmt.Errorf("capture: close file: %w", err))
		}
	}
	return errors.Join(errs...)
}

// bufWriter buffers classic pcap output, which pcapgo writes unbuffered.
type bufWriter struct {
	w   io.Writer
	buf []byte
}

func (b *bufWriter) Write(p []byte) (int, error) {
	b.buf = append(b.buf, p...)
	if len(b.buf) >= 64<<10 {
		if err := b.Flush(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (b *bufWriter) Flush() error {
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.w.Write(b.buf)
	b.buf = b.buf[:0]
	return err
}

// UnmarshalText accepts "pcapng" or "pcap" (encoding.TextUnmarshaler, for YAML and flags).
func (f *Format) UnmarshalText(b []byte) error { return textenc.Unmarshal(f, b, ParseFormat) }

// MarshalText writes the format's name.
func (f Format) MarshalText() ([]byte, error) { return []byte(f.String()), nil }
