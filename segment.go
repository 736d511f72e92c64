package netxsim

import (
	"errors"
	"fmt"
	"time"

	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/stack/capture"
	"github.com/netxsim/netxsim/stack/link"
	"github.com/netxsim/netxsim/stack/vxlan"
)

// CaptureMode says where a segment's frames are recorded, so that each frame is in the capture once.
type CaptureMode int

const (
	// CaptureFirstPort records both directions at port 0 only: right for a wire between two stations
	// (a Pair), where every frame passes port 0. Frames are recorded as port 0's station sends and
	// receives them (after the wire's impairments on the way in).
	CaptureFirstPort CaptureMode = iota
	// CaptureSent records, at every port, what that port's station sends: right for a switch, where
	// a frame between two other stations never passes port 0.
	CaptureSent
	// CaptureEveryPort records both directions at every port: right when each port is a wire of its
	// own to somewhere outside (a TAP, a tunnel), so no frame passes two ports.
	CaptureEveryPort
	// CaptureNone records nothing on this segment.
	CaptureNone
)

// SegmentOptions describe a segment made from link endpoints (AddSegment).
type SegmentOptions struct {
	// Kind names the segment's kind in messages ("vxlan", ...).
	Kind string
	// Capture says where frames are recorded.
	Capture CaptureMode
	// Kernel says the ports lead to a kernel (a TAP, a tunnel socket): addresses of devices on it and
	// their peers are checked against the refused ranges (tapdev.CheckAddr).
	Kernel bool
	// Close is called once every device on the segment is closed (after the capture), to release
	// what the endpoints need (a link's goroutines, a namespace). Optional.
	Close func() error
	// Idle, when set, knows what the segment has in flight (a link.Pair, link.Switch or link.Impaired
	// wrapper): Close waits on it before closing the capture. Without it Close waits until no frame
	// was captured for twice Settle (its delay and jitter) plus 50 ms.
	Idle   link.Idler
	Settle time.Duration
}

// Segment is one Ethernet broadcast domain with a fixed number of ports; each device takes the next
// free port. Make one with Network.Pair, Network.Switch, Network.TAP or Network.AddSegment.
type Segment struct {
	name  string
	net   *Network
	opt   SegmentOptions
	ports []stack.LinkEndpoint
	used  int // ports handed out
	pair  *link.Pair
	sw    *link.Switch
	tap   *tapSide // TAP segments (tap_linux.go)
	vx    *vxlan.Endpoint
}

// Name is the segment's name.
func (s *Segment) Name() string { return s.name }

// Kind is "pair", "switch", "tap" or the kind given to AddSegment.
func (s *Segment) Kind() string { return s.opt.Kind }

// Ports is the number of ports; FreePorts the number not yet taken by a device.
func (s *Segment) Ports() int { return len(s.ports) }

// FreePorts is the number of ports no device has taken yet.
func (s *Segment) FreePorts() int {
	s.net.mu.Lock()
	defer s.net.mu.Unlock()
	return len(s.ports) - s.used
}

// Pair returns the in-memory pair of a "pair" segment (statistics, impairments), else nil.
func (s *Segment) Pair() *link.Pair { return s.pair }

// Switch returns the in-memory switch of a "switch" segment (statistics, per-port impairments), else nil.
func (s *Segment) Switch() *link.Switch { return s.sw }

// AddSegment adds a segment whose ports are the given link endpoints (Ethernet-level: they add and
// parse the Ethernet header, like stack/link's endpoints and tapdev's). It is how a kind of segment
// plugs in: Pair, Switch and TAP are built on it, and so can a tunnel (VXLAN) or a hardware port be.
// The Network owns the endpoints from now on: a port no device took is closed by Close.
func (n *Network) AddSegment(name string, ports []stack.LinkEndpoint, opt SegmentOptions) (*Segment, error) {
	if len(ports) == 0 {
		return nil, fmt.Errorf("netxsim: segment %s: no ports", name)
	}
	for i, p := range ports {
		if p == nil {
			return nil, fmt.Errorf("netxsim: segment %s: port %d is nil", name, i)
		}
	}
	if opt.Kind == "" {
		opt.Kind = "segment"
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.claim("segment", name); err != nil {
		return nil, err
	}
	if _, err := n.writer(); err != nil {
		return nil, err
	}
	s := &Segment{name: name, net: n, opt: opt, ports: ports}
	n.segments = append(n.segments, s)
	n.settle = max(n.settle, 2*opt.Settle+50*time.Millisecond)
	return s, nil
}

// Pair adds an in-memory cable between two devices, impaired per direction as cfg says (port 0 is A,
// port 1 is B). A zero cfg.Seed takes the Network's.
func (n *Network) Pair(name string, cfg link.PairConfig) (*Segment, error) {
	cfg.Seed = n.seed(cfg.Seed)
	p, err := link.NewPair(cfg)
	if err != nil {
		return nil, fmt.Errorf("netxsim: pair %s: %w", name, err)
	}
	s, err := n.AddSegment(name, []stack.LinkEndpoint{p.A(), p.B()}, SegmentOptions{
		Kind: "pair", Capture: CaptureFirstPort, Close: p.Close, Idle: p, Settle: settle(cfg.AtoB, cfg.BtoA),
	})
	if err != nil {
		p.Close()
		return nil, err
	}
	s.pair = p
	return s, nil
}

// Switch adds an in-memory learning switch with cfg.Ports ports, each impaired as cfg.Port says. A
// zero cfg.Seed takes the Network's.
func (n *Network) Switch(name string, cfg link.SwitchConfig) (*Segment, error) {
	cfg.Seed = n.seed(cfg.Seed)
	sw, err := link.NewSwitch(cfg)
	if err != nil {
		return nil, fmt.Errorf("netxsim: switch %s: %w", name, err)
	}
	ports := make([]stack.LinkEndpoint, sw.Ports())
	var ims []link.Impairment
	for i := range ports {
		ports[i] = sw.Port(i)
	}
	for _, pc := range cfg.Port {
		ims = append(ims, pc.In, pc.Out)
	}
	s, err := n.AddSegment(name, ports, SegmentOptions{
		Kind: "switch", Capture: CaptureSent, Close: sw.Close, Idle: sw, Settle: settle(ims...),
	})
	if err != nil {
		sw.Close()
		return nil, err
	}
	s.sw = sw
	return s, nil
}

// settle is the longest a frame may be held by the impairments: delay, jitter and reordering. Twice
// that, a frame sent and its answer, is what waitQuiet waits; the Network adds 50 ms.
func settle(ims ...link.Impairment) time.Duration {
	var d time.Duration
	for _, im := range ims {
		rd := im.ReorderDelay
		if im.Reorder > 0 && rd == 0 {
			rd = time.Millisecond
		}
		d = max(d, im.Delay+im.Jitter+rd)
	}
	return d
}

// take hands out the next free port, wrapped for the capture as the segment's mode says, and returns
// its index. n.mu is held.
func (s *Segment) take(dev string) (stack.LinkEndpoint, int, error) {
	if s.used >= len(s.ports) {
		return nil, 0, fmt.Errorf("netxsim: %s %s has no free port (%d taken): make it with more ports", s.opt.Kind, s.name, len(s.ports))
	}
	i := s.used
	ep := s.ports[i]
	cw := s.net.cw
	var err error
	switch {
	case cw == nil || s.opt.Capture == CaptureNone:
	case s.opt.Capture == CaptureSent:
		ep, err = capture.NewSendOnly(ep, cw, dev)
	case s.opt.Capture == CaptureEveryPort, s.opt.Capture == CaptureFirstPort && i == 0:
		ep, err = capture.New(ep, cw, dev)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("netxsim: capture on %s: %w", s.name, err)
	}
	s.used++
	return ep, i, nil
}

// close closes the ports no device took, then what the segment's kind needs released.
func (s *Segment) close() error {
	s.net.mu.Lock()
	free := s.ports[s.used:]
	s.used = len(s.ports)
	s.net.mu.Unlock()
	for _, ep := range free {
		ep.Close()
	}
	var err error
	if s.opt.Close != nil {
		err = s.opt.Close()
	}
	if err != nil {
		return fmt.Errorf("netxsim: close %s %s: %w", s.opt.Kind, s.name, err)
	}
	return nil
}

var errNoFS = errors.New("the device has no file system: give it one with FormatRAM, UseImage or UseFS")
