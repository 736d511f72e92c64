package netxsim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/netxsim/netxsim/stack/capture"
	"github.com/netxsim/netxsim/stack/link"
)

// Network is a set of segments and the devices on them, with one capture. The zero value is ready to
// use; set the exported fields before the first segment is added. Its methods are safe for concurrent
// use. Close it to stop everything.
type Network struct {
	// Capture, when set, is the capture file (created with the first segment): every frame of every
	// segment, each once (see Segment for where it is recorded). CaptureFormat picks pcapng (default)
	// or pcap. CaptureWriter, when set instead, receives the frames; the Network closes it too.
	Capture       string
	CaptureFormat capture.Format
	CaptureWriter *capture.Writer
	// Seed seeds the impairments of in-memory segments whose config has none; 0: 1.
	Seed uint64
	// Logger receives the stacks' and servers' logs; nil: quiet.
	Logger *slog.Logger
	// ShutdownTimeout bounds how long Close waits for FTP sessions to end; 0: 10 s.
	ShutdownTimeout time.Duration

	mu       sync.Mutex
	cw       *capture.Writer
	segments []*Segment
	devices  []*Device
	names    map[string]bool
	closed   bool
	frames   uint64 // frames captured, frozen by Close
	settle   time.Duration
	closeErr error
}

// ErrClosed is returned by methods of a closed Network.
var ErrClosed = errors.New("netxsim: network closed")

func (n *Network) log() *slog.Logger {
	if n.Logger != nil {
		return n.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (n *Network) seed(s uint64) uint64 {
	switch {
	case s != 0:
		return s
	case n.Seed != 0:
		return n.Seed
	}
	return 1
}

// writer returns the capture writer, creating the file on first use; nil without a capture.
// n.mu is held.
func (n *Network) writer() (*capture.Writer, error) {
	if n.cw != nil {
		return n.cw, nil
	}
	switch {
	case n.CaptureWriter != nil:
		n.cw = n.CaptureWriter
	case n.Capture != "":
		w, err := capture.Create(n.Capture, n.CaptureFormat)
		if err != nil {
			return nil, fmt.Errorf("netxsim: capture: %w", err)
		}
		n.cw = w
	}
	return n.cw, nil
}

// claim reserves a device or segment name; names are unique in a Network (they name pcapng
// interfaces and log lines). n.mu is held.
func (n *Network) claim(kind, name string) error {
	if n.closed {
		return ErrClosed
	}
	if name == "" {
		return fmt.Errorf("netxsim: a %s needs a name", kind)
	}
	if n.names == nil {
		n.names = map[string]bool{}
	}
	if n.names[kind+"/"+name] {
		return fmt.Errorf("netxsim: a %s named %q exists", kind, name)
	}
	n.names[kind+"/"+name] = true
	return nil
}

// Frames returns the number of frames captured so far (after Close: in total).
func (n *Network) Frames() uint64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed || n.cw == nil {
		return n.frames
	}
	return n.cw.Frames()
}

// Devices returns the devices in the order they were added.
func (n *Network) Devices() []*Device {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]*Device(nil), n.devices...)
}

// Device returns the device of that name, or nil.
func (n *Network) Device(name string) *Device {
	n.mu.Lock()
	defer n.mu.Unlock()
	return find(n.devices, name, (*Device).Name)
}

// Segment returns the segment of that name, or nil.
func (n *Network) Segment(name string) *Segment {
	n.mu.Lock()
	defer n.mu.Unlock()
	return find(n.segments, name, (*Segment).Name)
}

func find[T any](list []*T, name string, nameOf func(*T) string) *T {
	for _, x := range list {
		if nameOf(x) == name {
			return x
		}
	}
	return nil
}

// Close stops the network in the one right order and returns every error on the way:
//  1. FTP clients are closed and FTP servers shut down (sessions end, files are complete);
//  2. the links are given time to go quiet, so the last FINs and ACKs are captured;
//  3. the capture is closed, before any stack goes away (a stack's teardown resets connections in
//     TIME-WAIT, which is not part of any session);
//  4. file systems are synced, the IP instances closed (newest first);
//  5. the segments are closed: links, TAPs, and the namespaces made for them.
//
// Close is safe to call more than once; later calls return the first call's result.
func (n *Network) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return n.closeErr
	}
	n.closed = true
	devices := append([]*Device(nil), n.devices...)
	segments := append([]*Segment(nil), n.segments...)
	cw := n.cw
	n.mu.Unlock()

	var errs []error
	timeout := n.ShutdownTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for i := len(devices) - 1; i >= 0; i-- {
		errs = append(errs, devices[i].stopApps(ctx))
	}
	if cw != nil {
		n.waitQuiet(ctx, cw, segments)
		frames := cw.Frames()
		errs = append(errs, cw.Close())
		n.mu.Lock()
		n.frames = frames
		n.mu.Unlock()
	}
	for i := len(devices) - 1; i >= 0; i-- {
		errs = append(errs, devices[i].closeStack())
	}
	for i := len(segments) - 1; i >= 0; i-- {
		errs = append(errs, segments[i].close())
	}
	n.mu.Lock()
	n.closeErr = errors.Join(errs...)
	n.mu.Unlock()
	return n.closeErr
}

// waitQuiet lets the last FINs and ACKs cross the links before the capture closes. When every
// segment knows what it has in flight, it waits for them all to be idle at once (link.WaitIdle);
// otherwise (a TAP: the kernel's side is not ours to count) it returns once no frame has been
// captured for the settle time of the slowest segment (its delays and jitter, twice, plus 50 ms).
// Either way at most the settle time plus 3 s: stray periodic traffic (MLD reports) must not hold
// Close.
func (n *Network) waitQuiet(ctx context.Context, cw *capture.Writer, segments []*Segment) {
	var idlers []link.Idler
	for _, s := range segments {
		if s.opt.Idle == nil {
			idlers = nil
			break
		}
		idlers = append(idlers, s.opt.Idle)
	}
	n.mu.Lock()
	settle := max(n.settle, 50*time.Millisecond)
	n.mu.Unlock()
	deadline := time.Now().Add(settle + 3*time.Second)
	if len(idlers) > 0 {
		ictx, cancel := context.WithDeadline(ctx, deadline)
		defer cancel()
		link.WaitIdle(ictx, idlers...)
		return
	}
	last, quietSince := cw.Frames(), time.Now()
	for time.Now().Before(deadline) {
		select {
		case <-time.After(10 * time.Millisecond):
		case <-ctx.Done():
			return
		}
		if f := cw.Frames(); f != last {
			last, quietSince = f, time.Now()
		} else if time.Since(quietSince) >= settle {
			return
		}
	}
}
