package link

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// PortConfig impairs one switch port: In is what the cable does to frames from the station to the
// switch (the port's Impaired wrapper, Tx), Out to frames from the switch to the station (Rx).
type PortConfig struct {
	In, Out Impairment
}

// SwitchConfig configures a Switch.
type SwitchConfig struct {
	Ports int          // number of ports, at least 2
	MTU   uint32       // IP MTU of every port's endpoint; 0: 1500
	Port  []PortConfig // optional, per port (index = port number); missing entries are perfect cables
	Seed  uint64       // seeds every direction's random source
}

// Switch is a learning Ethernet switch: it learns source MACs per port, forwards known unicast to its
// port and floods broadcast, multicast and unknown unicast to every other port, sharing one copy of
// the frame among them.
//
// It scales to fleets of thousands of stations: forwarding runs in the sender's goroutine and reads
// the learning tables without a lock (sync.Map; a write happens only when a station appears or
// moves), ports have no goroutine while idle, and, like the ARP/ND suppression of data-centre
// switches, it remembers which port answers for which IP address (from the sender fields of ARP
// and the source and target of neighbour discovery) and hands an ARP request or a neighbour
// solicitation for a known address to that port alone. So a fleet's neighbour resolution costs each
// session O(1), not O(stations): only the first request for an address never heard floods.
type Switch struct {
	ports []*swPort
	macs  sync.Map // tcpip.LinkAddress -> int (port)
	ips   sync.Map // tcpip.Address -> int (port that owns the address)
	// groups is MLD snooping: IPv6 multicast MAC -> *members, the ports whose stations reported
	// listening to a group with that MAC (learned from MLDv1 and MLDv2 reports).
	groups sync.Map
	wg     sync.WaitGroup
	idle   tracker
	once   sync.Once

	floods, suppressed, snooped atomic.Uint64
}

// members is a copy-on-write set of ports: readers load it without a lock.
type members struct {
	mu    sync.Mutex
	ports atomic.Pointer[[]int]
}

func (m *members) add(port int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var cur []int
	if p := m.ports.Load(); p != nil {
		cur = *p
	}
	for _, q := range cur {
		if q == port {
			return
		}
	}
	next := append(append([]int(nil), cur...), port)
	m.ports.Store(&next)
}

type swPort struct {
	wire *Endpoint
	imp  *Impaired
}

// NewSwitch starts a switch with cfg.Ports ports. Close it to discard what is in flight.
func NewSwitch(cfg SwitchConfig) (*Switch, error) {
	if cfg.Ports < 2 {
		return nil, fmt.Errorf("link: switch with %d ports: need at least 2", cfg.Ports)
	}
	if len(cfg.Port) > cfg.Ports {
		return nil, fmt.Errorf("link: %d port configs for %d ports", len(cfg.Port), cfg.Ports)
	}
	for i, pc := range cfg.Port {
		if err := pc.In.Validate(); err != nil {
			return nil, fmt.Errorf("port %d in: %w", i, err)
		}
		if err := pc.Out.Validate(); err != nil {
			return nil, fmt.Errorf("port %d out: %w", i, err)
		}
	}
	s := &Switch{ports: make([]*swPort, 0, cfg.Ports)}
	for i := range cfg.Ports {
		var pc PortConfig
		if i < len(cfg.Port) {
			pc = cfg.Port[i]
		}
		p := &swPort{wire: newEndpoint(cfg.MTU, nil, &s.wg, &s.idle)}
		port := i
		p.wire.send = func(f wireFrame) { s.forward(port, f) }
		imp, err := Impair(p.wire, ImpairConfig{Tx: pc.In, Rx: pc.Out, Seed: cfg.Seed, Stream: uint64(i)})
		if err != nil {
			return nil, err
		}
		p.imp = imp
		s.ports = append(s.ports, p)
	}
	return s, nil
}

// Port returns the endpoint of port i (0-based): its Impaired wrapper (Tx: In, Rx: Out).
func (s *Switch) Port(i int) *Impaired { return s.ports[i].imp }

// Ports returns the number of ports.
func (s *Switch) Ports() int { return len(s.ports) }

// SetImpairment changes port i's impairments from now on.
func (s *Switch) SetImpairment(i int, pc PortConfig) error {
	if i < 0 || i >= len(s.ports) {
		return fmt.Errorf("link: no port %d (switch has %d)", i, len(s.ports))
	}
	return s.ports[i].imp.SetImpairment(pc.In, pc.Out)
}

// Stats returns port i's counters: in (station to switch) and out (switch to station).
func (s *Switch) Stats(i int) (in, out DirStats) {
	in, out = s.ports[i].imp.Stats()
	out.Frames = s.ports[i].wire.in.offered.Load() // offered by the switch, before the station's MAC filter
	out.QueueDrops += s.ports[i].wire.QueueDrops()
	out.ChecksumDrops += s.ports[i].wire.ChecksumDrops()
	return in, out
}

// SwitchStats counts the switch's forwarding decisions.
type SwitchStats struct {
	Floods     uint64 // frames sent to every other port
	Suppressed uint64 // ARP requests and neighbour solicitations sent to the one port that owns the address
	Snooped    uint64 // IPv6 multicast sent only to the ports that joined its group, or MLD reports kept from hosts
}

// Counters returns the switch-wide counters.
func (s *Switch) Counters() SwitchStats {
	return SwitchStats{Floods: s.floods.Load(), Suppressed: s.suppressed.Load(), Snooped: s.snooped.Load()}
}

// InFlight is the number of frames queued in the switch or held back by port impairments.
func (s *Switch) InFlight() int {
	n := int(s.idle.n.Load())
	for _, p := range s.ports {
		n += p.imp.InFlight()
	}
	return n
}

// WaitIdle returns once nothing has been in flight for a short quiet period, or ctx is done.
func (s *Switch) WaitIdle(ctx context.Context) error {
	t := []*tracker{&s.idle}
	for _, p := range s.ports {
		t = append(t, &p.imp.idle)
	}
	return waitIdle(ctx, t...)
}

// forward runs in the sending station's goroutine; it takes f's reference.
func (s *Switch) forward(from int, f wireFrame) {
	if f.buf.Size() < header.EthernetMinimumSize {
		f.buf.Release()
		return
	}
	hv, _ := f.buf.PullUp(0, header.EthernetMinimumSize)
	eth := header.Ethernet(hv.AsSlice())
	src, dst, typ := eth.SourceAddress(), eth.DestinationAddress(), eth.Type()
	if !header.IsMulticastEthernetAddress(src) {
		if known, ok := s.macs.Load(src); !ok || known.(int) != from {
			s.macs.Store(src, from)
		}
	}
	if dst != header.EthernetBroadcastAddress && !header.IsMulticastEthernetAddress(dst) {
		if to, ok := s.macs.Load(dst); ok {
			if to.(int) != from {
				s.ports[to.(int)].wire.in.push(f)
			} else {
				f.buf.Release()
			}
			return
		}
	} else if to, ok := s.neighbourTarget(from, typ, &f); ok {
		s.suppressed.Add(1)
		s.ports[to].wire.in.push(f)
		return
	} else if typ == header.IPv6ProtocolNumber && dst != ipv6AllNodesMAC && dst[0] == 0x33 && dst[1] == 0x33 {
		if s.snoop(from, &f) {
			s.snooped.Add(1)
			f.buf.Release()
			return
		}
		if m, ok := s.groups.Load(dst); ok {
			if p := m.(*members).ports.Load(); p != nil {
				s.snooped.Add(1)
				for _, to := range *p {
					if to != from {
						s.ports[to].wire.in.push(wireFrame{buf: f.buf.Clone(), gso: f.gso, untrusted: f.untrusted})
					}
				}
				f.buf.Release()
				return
			}
		}
	}
	s.floods.Add(1)
	for i, p := range s.ports {
		if i != from {
			p.wire.in.push(wireFrame{buf: f.buf.Clone(), gso: f.gso, untrusted: f.untrusted})
		}
	}
	f.buf.Release()
}

// neighbourTarget learns address owners from ARP and NDP and returns the one port an ARP request
// or a neighbour solicitation needs to reach, if its target is known and not on the sender's port.
func (s *Switch) neighbourTarget(from int, typ tcpip.NetworkProtocolNumber, f *wireFrame) (int, bool) {
	const eth = header.EthernetMinimumSize
	switch typ {
	case header.ARPProtocolNumber:
		v, ok := f.buf.PullUp(eth, header.ARPSize)
		if !ok {
			return 0, false
		}
		arp := header.ARP(v.AsSlice())
		if !arp.IsValid() {
			return 0, false
		}
		sender := tcpip.AddrFrom4Slice(arp.ProtocolAddressSender())
		if sender != (tcpip.Address{}) && !sender.Unspecified() {
			s.learnIP(sender, from)
		}
		if arp.Op() != header.ARPRequest {
			return 0, false
		}
		return s.owner(tcpip.AddrFrom4Slice(arp.ProtocolAddressTarget()), from)
	case header.IPv6ProtocolNumber:
		const icmpOff = header.IPv6MinimumSize
		v, ok := f.buf.PullUp(eth, icmpOff+header.ICMPv6NeighborSolicitMinimumSize)
		if !ok {
			return 0, false
		}
		ip := header.IPv6(v.AsSlice())
		if ip.TransportProtocol() != header.ICMPv6ProtocolNumber {
			return 0, false
		}
		icmp := header.ICMPv6(v.AsSlice()[icmpOff:])
		if t := icmp.Type(); t != header.ICMPv6NeighborSolicit && t != header.ICMPv6NeighborAdvert {
			return 0, false
		}
		target := header.NDPNeighborSolicit(icmp.MessageBody()).TargetAddress() // NA has the same layout
		if src := ip.SourceAddress(); !src.Unspecified() {
			s.learnIP(src, from)
		} else if icmp.Type() == header.ICMPv6NeighborSolicit {
			// Duplicate address detection: the sender will own the target. An existing owner must
			// still hear the probe, so ask before learning.
			to, ok := s.owner(target, from)
			if _, known := s.ips.Load(target); !known {
				s.ips.Store(target, from)
			}
			return to, ok
		}
		if icmp.Type() != header.ICMPv6NeighborSolicit {
			return 0, false
		}
		return s.owner(target, from)
	}
	return 0, false
}

// ipv6AllNodesMAC is ff02::1's: every station listens, so it always floods.
const ipv6AllNodesMAC = tcpip.LinkAddress("\x33\x33\x00\x00\x00\x01")

// snoop learns group membership from an MLD report and reports whether f is one: reports go to
// multicast routers only (a snooping switch's rule), and there are none on our segments, so hosts
// never process each other's reports, which would make a fleet's start O(stations²).
func (s *Switch) snoop(from int, f *wireFrame) bool {
	const eth = header.EthernetMinimumSize
	if f.buf.Size() > eth+header.IPv6MinimumSize+2048 {
		return false // not an MLD report of ours
	}
	b := f.buf.Flatten()
	if len(b) < eth+header.IPv6MinimumSize {
		return false
	}
	ip := header.IPv6(b[eth:])
	next, off := ip.NextHeader(), eth+header.IPv6MinimumSize
	if next == 0 { // hop-by-hop options, which carry MLD's router alert
		if len(b) < off+8 {
			return false
		}
		next, off = b[off], off+8*(int(b[off+1])+1)
	}
	if next != uint8(header.ICMPv6ProtocolNumber) || len(b) < off+8 {
		return false
	}
	icmp := b[off:]
	join := func(group []byte) {
		var mac [6]byte
		mac[0], mac[1] = 0x33, 0x33
		copy(mac[2:], group[12:16])
		m, _ := s.groups.LoadOrStore(tcpip.LinkAddress(mac[:]), &members{})
		m.(*members).add(from)
	}
	switch header.ICMPv6Type(icmp[0]) {
	case header.ICMPv6MulticastListenerReport:
		if len(icmp) >= 24 {
			join(icmp[8:24])
		}
		return true
	case header.ICMPv6MulticastListenerDone:
		return true // membership is kept: a stale member only receives a frame it filters
	case header.ICMPv6MulticastListenerV2Report:
		n := int(icmp[6])<<8 | int(icmp[7])
		rec := icmp[8:]
		for range n {
			if len(rec) < 20 {
				break
			}
			typ, aux, srcs := rec[0], int(rec[1]), int(rec[2])<<8|int(rec[3])
			if typ != 3 || srcs != 0 { // all but CHANGE_TO_INCLUDE {}: the station listens
				join(rec[4:20])
			}
			l := 20 + 16*srcs + 4*aux
			if len(rec) < l {
				break
			}
			rec = rec[l:]
		}
		return true
	}
	return false
}

func (s *Switch) learnIP(a tcpip.Address, port int) {
	if known, ok := s.ips.Load(a); !ok || known.(int) != port {
		s.ips.Store(a, port)
	}
}

func (s *Switch) owner(a tcpip.Address, from int) (int, bool) {
	to, ok := s.ips.Load(a)
	if !ok || to.(int) == from {
		return 0, false
	}
	return to.(int), true
}

// Close discards the frames in flight and waits for the goroutines delivering them.
func (s *Switch) Close() error {
	s.once.Do(func() {
		for _, p := range s.ports {
			p.imp.stop()
			p.wire.in.close()
		}
	})
	s.wg.Wait()
	return nil
}
