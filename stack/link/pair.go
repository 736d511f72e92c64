package link

import (
	"context"
	"fmt"
	"sync"
)

// PairConfig configures a Pair: two endpoints, A and B, joined by a virtual cable.
type PairConfig struct {
	MTU  uint32     // IP MTU of both endpoints; 0: 1500
	AtoB Impairment // what the cable does to frames sent by A (A's Impaired wrapper, Tx)
	BtoA Impairment // and to frames sent by B
	Seed uint64     // seeds every direction's random source; the same seed and traffic give the same impairments
}

// Pair is a point-to-point Ethernet link between two endpoints: a plain wire, with an Impaired
// wrapper on each end (which passes packets straight through while its impairments are zero).
type Pair struct {
	wa, wb *Endpoint
	a, b   *Impaired
	wg     sync.WaitGroup
	idle   tracker
	once   sync.Once
}

// NewPair starts a link with two endpoints. Close it to discard what is in flight.
func NewPair(cfg PairConfig) (*Pair, error) {
	if err := cfg.AtoB.Validate(); err != nil {
		return nil, fmt.Errorf("AtoB: %w", err)
	}
	if err := cfg.BtoA.Validate(); err != nil {
		return nil, fmt.Errorf("BtoA: %w", err)
	}
	p := &Pair{}
	p.wa = newEndpoint(cfg.MTU, nil, &p.wg, &p.idle)
	p.wb = newEndpoint(cfg.MTU, nil, &p.wg, &p.idle)
	p.wa.send = p.wb.in.push
	p.wb.send = p.wa.in.push
	var err error
	if p.a, err = Impair(p.wa, ImpairConfig{Tx: cfg.AtoB, Seed: cfg.Seed, Stream: 0}); err != nil {
		return nil, err
	}
	if p.b, err = Impair(p.wb, ImpairConfig{Tx: cfg.BtoA, Seed: cfg.Seed, Stream: 1}); err != nil {
		return nil, err
	}
	return p, nil
}

// A returns the first endpoint (its Impaired wrapper; Tx is AtoB).
func (p *Pair) A() *Impaired { return p.a }

// B returns the second endpoint.
func (p *Pair) B() *Impaired { return p.b }

// SetImpairment changes the impairments from now on (frames already in flight keep theirs).
func (p *Pair) SetImpairment(atob, btoa Impairment) error {
	if err := atob.Validate(); err != nil {
		return err
	}
	if err := btoa.Validate(); err != nil {
		return err
	}
	p.a.tx.setImpairment(atob)
	p.b.tx.setImpairment(btoa)
	return nil
}

// Stats returns the counters of both directions.
func (p *Pair) Stats() (atob, btoa DirStats) {
	atob, btoa = p.a.tx.c.snapshot(), p.b.tx.c.snapshot()
	atob.QueueDrops += p.wb.QueueDrops()
	btoa.QueueDrops += p.wa.QueueDrops()
	atob.ChecksumDrops += p.wb.ChecksumDrops()
	btoa.ChecksumDrops += p.wa.ChecksumDrops()
	return atob, btoa
}

// InFlight is the number of frames on the wire or held back by its impairments right now.
func (p *Pair) InFlight() int { return int(p.idle.n.Load()) + p.a.InFlight() + p.b.InFlight() }

// WaitIdle returns once nothing has been in flight for a short quiet period (2 ms: a stack may
// answer a delivered segment from its own goroutine a moment later), or ctx is done. Use it before
// closing a capture instead of guessing how long the last frames take.
func (p *Pair) WaitIdle(ctx context.Context) error {
	return waitIdle(ctx, &p.idle, &p.a.idle, &p.b.idle)
}

// Close discards the frames in flight and waits for the goroutines delivering them. The stacks
// close their endpoints themselves.
func (p *Pair) Close() error {
	p.once.Do(func() {
		p.a.stop()
		p.b.stop()
		p.wa.in.close()
		p.wb.in.close()
	})
	p.wg.Wait()
	return nil
}
