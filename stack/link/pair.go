package link

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// PairConfig configures a Pair: two endpoints, A and B, joined by a virtual cable.
type PairConfig struct {
	MTU  uint32     // IP MTU of both endpoints; 0: 1500
	AtoB Impairment // what the cable does to frames sent by A
	BtoA Impairment // and to frames sent by B
	Seed uint64     // seeds every direction's random source; the same seed and traffic give the same impairments
}

// Pair is a point-to-point Ethernet link between two endpoints.
type Pair struct {
	a, b   *Endpoint
	ab, ba *direction
	stop   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
	open   atomic.Int32
}

// NewPair starts a link with two endpoints. Close it (or close both endpoints) to stop its goroutines.
func NewPair(cfg PairConfig) (*Pair, error) {
	if err := cfg.AtoB.Validate(); err != nil {
		return nil, fmt.Errorf("AtoB: %w", err)
	}
	if err := cfg.BtoA.Validate(); err != nil {
		return nil, fmt.Errorf("BtoA: %w", err)
	}
	p := &Pair{stop: make(chan struct{})}
	p.a = newEndpoint(cfg.MTU, nil, p.endpointClosed)
	p.b = newEndpoint(cfg.MTU, nil, p.endpointClosed)
	p.ab = newDirection(cfg.AtoB, cfg.Seed, 1, p.b.deliver, p.stop)
	p.ba = newDirection(cfg.BtoA, cfg.Seed, 2, p.a.deliver, p.stop)
	p.a.out = p.ab.send
	p.b.out = p.ba.send
	p.open.Store(2)
	p.wg.Add(2)
	go p.ab.run(&p.wg)
	go p.ba.run(&p.wg)
	return p, nil
}

// A returns the first endpoint.
func (p *Pair) A() *Endpoint { return p.a }

// B returns the second endpoint.
func (p *Pair) B() *Endpoint { return p.b }

// SetImpairment changes the impairments from now on (frames already in flight keep theirs).
func (p *Pair) SetImpairment(atob, btoa Impairment) error {
	if err := atob.Validate(); err != nil {
		return err
	}
	if err := btoa.Validate(); err != nil {
		return err
	}
	p.ab.setImpairment(atob)
	p.ba.setImpairment(btoa)
	return nil
}

// Stats returns the counters of both directions.
func (p *Pair) Stats() (atob, btoa DirStats) { return p.ab.c.snapshot(), p.ba.c.snapshot() }

// endpointClosed stops the link once both stacks have closed their endpoints; it must not wait, as a
// stack closes endpoints while holding its own lock and a link goroutine may be delivering into it.
func (p *Pair) endpointClosed() {
	if p.open.Add(-1) == 0 {
		p.once.Do(func() { close(p.stop) })
	}
}

// Close stops the link's goroutines and waits for them. Frames in flight are discarded.
func (p *Pair) Close() error {
	p.once.Do(func() { close(p.stop) })
	p.wg.Wait()
	return nil
}
