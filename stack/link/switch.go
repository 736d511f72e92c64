package link

import (
	"fmt"
	"sync"
	"sync/atomic"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// PortConfig impairs one switch port: In is what the cable does to frames from the station to the
// switch, Out to frames from the switch to the station.
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
// port and floods broadcast, multicast and unknown unicast to every other port.
type Switch struct {
	ports []*swPort
	mu    sync.RWMutex
	table map[tcpip.LinkAddress]int

	stop chan struct{}
	once sync.Once
	wg   sync.WaitGroup
	open atomic.Int32
}

type swPort struct {
	ep      *Endpoint
	in, out *direction
}

// NewSwitch starts a switch with cfg.Ports ports. Close it (or close every endpoint) to stop it.
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
	s := &Switch{table: map[tcpip.LinkAddress]int{}, stop: make(chan struct{})}
	for i := range cfg.Ports {
		var pc PortConfig
		if i < len(cfg.Port) {
			pc = cfg.Port[i]
		}
		p := &swPort{}
		p.ep = newEndpoint(cfg.MTU, nil, s.endpointClosed)
		port := i
		p.in = newDirection(pc.In, cfg.Seed, uint64(2*i+1), func(f []byte) { s.forward(port, f) }, s.stop)
		p.out = newDirection(pc.Out, cfg.Seed, uint64(2*i+2), p.ep.deliver, s.stop)
		p.ep.out = p.in.send
		s.ports = append(s.ports, p)
	}
	s.open.Store(int32(cfg.Ports))
	s.wg.Add(2 * cfg.Ports)
	for _, p := range s.ports {
		go p.in.run(&s.wg)
		go p.out.run(&s.wg)
	}
	return s, nil
}

// Port returns the endpoint of port i (0-based).
func (s *Switch) Port(i int) *Endpoint { return s.ports[i].ep }

// Ports returns the number of ports.
func (s *Switch) Ports() int { return len(s.ports) }

// SetImpairment changes port i's impairments from now on.
func (s *Switch) SetImpairment(i int, pc PortConfig) error {
	if i < 0 || i >= len(s.ports) {
		return fmt.Errorf("link: no port %d (switch has %d)", i, len(s.ports))
	}
	if err := pc.In.Validate(); err != nil {
		return err
	}
	if err := pc.Out.Validate(); err != nil {
		return err
	}
	s.ports[i].in.setImpairment(pc.In)
	s.ports[i].out.setImpairment(pc.Out)
	return nil
}

// Stats returns port i's counters: in (station to switch) and out (switch to station).
func (s *Switch) Stats(i int) (in, out DirStats) {
	return s.ports[i].in.c.snapshot(), s.ports[i].out.c.snapshot()
}

// forward runs on port `from`'s in-direction goroutine.
func (s *Switch) forward(from int, frame []byte) {
	if len(frame) < header.EthernetMinimumSize {
		return
	}
	eth := header.Ethernet(frame)
	src, dst := eth.SourceAddress(), eth.DestinationAddress()
	if !header.IsMulticastEthernetAddress(src) {
		s.mu.RLock()
		known, ok := s.table[src]
		s.mu.RUnlock()
		if !ok || known != from {
			s.mu.Lock()
			s.table[src] = from
			s.mu.Unlock()
		}
	}
	if dst != header.EthernetBroadcastAddress && !header.IsMulticastEthernetAddress(dst) {
		s.mu.RLock()
		to, ok := s.table[dst]
		s.mu.RUnlock()
		if ok {
			if to != from {
				s.ports[to].out.send(frame)
			}
			return
		}
	}
	for i, p := range s.ports {
		if i != from {
			p.out.send(frame) // frames are never modified in place (corruption copies), so sharing is safe
		}
	}
}

func (s *Switch) endpointClosed() {
	if s.open.Add(-1) == 0 {
		s.once.Do(func() { close(s.stop) })
	}
}

// Close stops the switch's goroutines and waits for them.
func (s *Switch) Close() error {
	s.once.Do(func() { close(s.stop) })
	s.wg.Wait()
	return nil
}
