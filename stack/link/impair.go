package link

import (
	"container/heap"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/nested"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// Impairment describes what one direction of a link does to frames. The zero value is a perfect wire.
type Impairment struct {
	Loss      float64 // probability in [0,1] that a frame is dropped
	Duplicate float64 // probability that a frame is delivered twice
	Reorder   float64 // probability that a frame is held back by ReorderDelay, so later frames overtake it
	Corrupt   float64 // probability that one byte after the Ethernet header is flipped (IP/TCP checksums catch it)

	ReorderDelay time.Duration // extra delay of a reordered frame; 0: 1 ms
	Delay        time.Duration // constant one-way delay
	Jitter       time.Duration // uniform extra delay in [0, Jitter)
	Rate         uint64        // bits per second; 0: unlimited
	MTU          uint32        // frames with more payload than this (after the Ethernet header) are dropped; 0: no limit
	QueueLen     int           // frames that may wait in this direction before tail drop; 0: 4096
}

// IsZero reports a perfect wire: frames pass untouched and uncut.
func (im Impairment) IsZero() bool { return im == Impairment{} }

// MaxQueueLen bounds QueueLen: more frames than this waiting in one direction is no longer a link
// but a memory leak.
const MaxQueueLen = 1 << 16

// Validate reports an impairment that makes no sense.
func (im Impairment) Validate() error {
	for _, p := range []struct {
		name string
		v    float64
	}{{"Loss", im.Loss}, {"Duplicate", im.Duplicate}, {"Reorder", im.Reorder}, {"Corrupt", im.Corrupt}} {
		if p.v < 0 || p.v > 1 || p.v != p.v {
			return fmt.Errorf("link: impairment %s=%v: need a probability between 0 and 1", p.name, p.v)
		}
	}
	if im.Delay < 0 || im.Jitter < 0 || im.ReorderDelay < 0 {
		return fmt.Errorf("link: negative delay, jitter or reorder delay")
	}
	if im.QueueLen < 0 || im.QueueLen > MaxQueueLen {
		return fmt.Errorf("link: QueueLen %d: give 0 (the default, 4096) to %d frames", im.QueueLen, MaxQueueLen)
	}
	return nil
}

// DirStats counts what happened to frames in one direction.
type DirStats struct {
	Frames     uint64 // offered by the sender
	Delivered  uint64 // handed to the receiver(s)
	Lost       uint64 // dropped by Loss
	QueueDrops uint64 // tail-dropped: the queue was full
	MTUDrops   uint64 // dropped for exceeding MTU
	Duplicated uint64
	Reordered  uint64
	Corrupted  uint64
	// ChecksumDrops counts corrupted frames dropped on receive for a bad checksum (by this
	// wrapper's receive side, which checks what it corrupted as a NIC would).
	ChecksumDrops uint64
}

type dirCounters struct {
	frames, delivered, lost, queueDrops, mtuDrops, duplicated, reordered, corrupted, checksumDrops atomic.Uint64
}

func (c *dirCounters) snapshot() DirStats {
	return DirStats{
		Frames: c.frames.Load(), Delivered: c.delivered.Load(), Lost: c.lost.Load(), QueueDrops: c.queueDrops.Load(),
		MTUDrops: c.mtuDrops.Load(), Duplicated: c.duplicated.Load(), Reordered: c.reordered.Load(), Corrupted: c.corrupted.Load(),
		ChecksumDrops: c.checksumDrops.Load(),
	}
}

// ImpairConfig configures an Impaired endpoint.
type ImpairConfig struct {
	Tx Impairment // what happens to frames the stack sends, before they reach the wrapped endpoint
	Rx Impairment // what happens to frames arriving from the wrapped endpoint, before the stack sees them
	// Seed and Stream seed the random sources; the same seed, stream and traffic give the same
	// impairments. Give every wrapper on a link its own Stream.
	Seed, Stream uint64
}

// Impaired wraps any Ethernet-level link endpoint (an in-memory wire, a TAP) and impairs the frames
// crossing it in both directions, as gVisor's link/nested wrappers do. A direction with a non-zero
// Impairment works on wire frames: TCP super-segments are first cut into the frames a wire of the
// wrapped endpoint's MTU carries (WireFrames), so loss, reordering and duplication hit whole wire
// frames as on a real cable. A zero direction passes packets through untouched and uncut.
type Impaired struct {
	nested.Endpoint
	tx, rx *direction
	idle   tracker
	wg     sync.WaitGroup
	once   sync.Once
}

var _ stack.LinkEndpoint = (*Impaired)(nil)
var _ stack.GSOEndpoint = (*Impaired)(nil)

// Impair wraps ep. Give the result to stack.New (or to another wrapper) in place of ep.
func Impair(ep stack.LinkEndpoint, cfg ImpairConfig) (*Impaired, error) {
	if ep == nil {
		return nil, fmt.Errorf("link: Impair needs an endpoint")
	}
	if err := cfg.Tx.Validate(); err != nil {
		return nil, fmt.Errorf("tx: %w", err)
	}
	if err := cfg.Rx.Validate(); err != nil {
		return nil, fmt.Errorf("rx: %w", err)
	}
	e := &Impaired{}
	e.Endpoint.Init(ep, e)
	e.tx = newDirection(cfg.Tx, cfg.Seed, 2*cfg.Stream+1, e.sendDown, &e.wg, &e.idle)
	e.rx = newDirection(cfg.Rx, cfg.Seed, 2*cfg.Stream+2, e.sendUp, &e.wg, &e.idle)
	return e, nil
}

// SetImpairment changes both directions from now on (frames already delayed keep their times).
func (e *Impaired) SetImpairment(tx, rx Impairment) error {
	if err := tx.Validate(); err != nil {
		return fmt.Errorf("tx: %w", err)
	}
	if err := rx.Validate(); err != nil {
		return fmt.Errorf("rx: %w", err)
	}
	e.tx.setImpairment(tx)
	e.rx.setImpairment(rx)
	return nil
}

// Stats returns the counters of both directions.
func (e *Impaired) Stats() (tx, rx DirStats) { return e.tx.c.snapshot(), e.rx.c.snapshot() }

// InFlight is the number of frames held back (delayed, reordered, rate-limited) right now.
func (e *Impaired) InFlight() int { return int(e.idle.n.Load()) }

// WaitIdle returns once no frame has been held back for a short quiet period, or ctx is done.
func (e *Impaired) WaitIdle(ctx context.Context) error { return waitIdle(ctx, &e.idle) }

// WritePackets implements stack.LinkEndpoint.
func (e *Impaired) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	if e.tx.impairment().IsZero() {
		n := uint64(pkts.Len())
		e.tx.c.frames.Add(n)
		e.tx.c.delivered.Add(n)
		return e.Endpoint.WritePackets(pkts)
	}
	mtu := e.Endpoint.MTU()
	for _, pkt := range pkts.AsSlice() {
		for _, f := range PacketFrames(pkt, mtu) {
			e.tx.process(f)
		}
	}
	return pkts.Len(), nil
}

// DeliverNetworkPacket implements stack.NetworkDispatcher for frames from the wrapped endpoint.
func (e *Impaired) DeliverNetworkPacket(protocol tcpip.NetworkProtocolNumber, pkt *stack.PacketBuffer) {
	if e.rx.impairment().IsZero() {
		e.rx.c.frames.Add(1)
		e.rx.c.delivered.Add(1)
		e.Endpoint.DeliverNetworkPacket(protocol, pkt)
		return
	}
	for _, f := range PacketFrames(pkt, e.Endpoint.MTU()) {
		e.rx.process(f)
	}
}

// Inject delivers frame to the stack as if it had come from the wire, bypassing the impairments
// (bad checksums are dropped, as by a NIC). Tests use it to play a hostile peer.
func (e *Impaired) Inject(frame []byte) {
	if ChecksumsValid(frame) {
		e.up(append([]byte(nil), frame...))
	}
}

// Close implements stack.LinkEndpoint: held-back frames are discarded, then the wrapped endpoint closes.
func (e *Impaired) Close() {
	e.stop()
	e.Endpoint.Close()
}

// stop discards held-back frames and waits for the goroutines releasing them.
func (e *Impaired) stop() {
	e.once.Do(func() {
		e.tx.close()
		e.rx.close()
	})
	e.wg.Wait()
}

type untrustedWriter interface{ writeUntrusted([]byte) }

func (e *Impaired) sendDown(f []byte, corrupted bool) {
	if corrupted {
		if w, ok := e.Endpoint.Child().(untrustedWriter); ok {
			w.writeUntrusted(f)
			return
		}
	}
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(f)})
	if len(f) >= header.EthernetMinimumSize {
		pkt.NetworkProtocolNumber = header.Ethernet(f).Type()
	}
	var l stack.PacketBufferList
	l.PushBack(pkt)
	e.Endpoint.WritePackets(l)
	l.Reset()
}

func (e *Impaired) sendUp(f []byte, corrupted bool) {
	if corrupted && !ChecksumsValid(f) {
		e.rx.c.checksumDrops.Add(1)
		return
	}
	e.up(f)
}

func (e *Impaired) up(f []byte) {
	if len(f) < header.EthernetMinimumSize {
		return
	}
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(f)})
	defer pkt.DecRef()
	if _, ok := pkt.LinkHeader().Consume(header.EthernetMinimumSize); !ok {
		return
	}
	eth := header.Ethernet(pkt.LinkHeader().Slice())
	switch dst := eth.DestinationAddress(); {
	case dst == header.EthernetBroadcastAddress:
		pkt.PktType = tcpip.PacketBroadcast
	case header.IsMulticastEthernetAddress(dst):
		pkt.PktType = tcpip.PacketMulticast
	default:
		pkt.PktType = tcpip.PacketHost
	}
	e.Endpoint.DeliverNetworkPacket(eth.Type(), pkt)
}

// direction impairs one way through an Impaired endpoint. Frames enter through process, in the
// sender's goroutine; those due now leave at once, the others wait in a heap for a goroutine that
// exists only while frames wait.
type direction struct {
	mu       sync.Mutex
	imp      Impairment
	rng      *rand.Rand
	pending  frameHeap
	seq      uint64
	busyTill time.Time
	running  bool
	closed   bool
	wake     chan struct{}

	deliver func(f []byte, corrupted bool)
	wg      *sync.WaitGroup
	idle    *tracker
	c       dirCounters
}

func newDirection(imp Impairment, seed, stream uint64, deliver func([]byte, bool), wg *sync.WaitGroup, idle *tracker) *direction {
	return &direction{
		imp:     imp,
		rng:     rand.New(rand.NewPCG(seed, stream)),
		wake:    make(chan struct{}, 1),
		deliver: deliver,
		wg:      wg,
		idle:    idle,
	}
}

func (d *direction) setImpairment(imp Impairment) {
	d.mu.Lock()
	d.imp = imp
	d.mu.Unlock()
}

func (d *direction) impairment() Impairment {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.imp
}

type timedFrame struct {
	at        time.Time
	seq       uint64
	frame     []byte
	corrupted bool
}

type frameHeap []timedFrame

func (h frameHeap) Len() int { return len(h) }
func (h frameHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
}
func (h frameHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *frameHeap) Push(x any)   { *h = append(*h, x.(timedFrame)) }
func (h *frameHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = timedFrame{}
	*h = old[:len(old)-1]
	return x
}

// process impairs one wire frame. frame may alias the sender's storage: it is copied if kept.
func (d *direction) process(frame []byte) {
	d.c.frames.Add(1)
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	imp := d.imp
	if imp.MTU != 0 && len(frame)-header.EthernetMinimumSize > int(imp.MTU) {
		d.mu.Unlock()
		d.c.mtuDrops.Add(1)
		return
	}
	if imp.Loss > 0 && d.rng.Float64() < imp.Loss {
		d.mu.Unlock()
		d.c.lost.Add(1)
		return
	}
	copies := 1
	if imp.Duplicate > 0 && d.rng.Float64() < imp.Duplicate {
		copies = 2
		d.c.duplicated.Add(1)
	}
	frame = append([]byte(nil), frame...)
	corrupted := false
	if imp.Corrupt > 0 && len(frame) > header.EthernetMinimumSize && d.rng.Float64() < imp.Corrupt {
		// The duplicate, if any, is corrupted the same way: one wire copy.
		i := header.EthernetMinimumSize + d.rng.IntN(len(frame)-header.EthernetMinimumSize)
		frame[i] ^= byte(1 + d.rng.IntN(255))
		d.c.corrupted.Add(1)
		corrupted = true
	}
	qlen := imp.QueueLen
	if qlen == 0 {
		qlen = defaultQueueLen
	}
	now := time.Now()
	var now2 [][]byte
	for range copies {
		at := now
		if imp.Rate > 0 {
			start := now
			if d.busyTill.After(start) {
				start = d.busyTill
			}
			d.busyTill = start.Add(time.Duration(float64(len(frame)*8) / float64(imp.Rate) * float64(time.Second)))
			at = d.busyTill
		}
		at = at.Add(imp.Delay)
		if imp.Jitter > 0 {
			at = at.Add(time.Duration(d.rng.Int64N(int64(imp.Jitter))))
		}
		if imp.Reorder > 0 && d.rng.Float64() < imp.Reorder {
			rd := imp.ReorderDelay
			if rd == 0 {
				rd = time.Millisecond
			}
			at = at.Add(rd)
			d.c.reordered.Add(1)
		}
		if !at.After(now) && len(d.pending) == 0 {
			now2 = append(now2, frame)
			continue
		}
		if len(d.pending) >= qlen {
			d.c.queueDrops.Add(1)
			continue
		}
		d.seq++
		heap.Push(&d.pending, timedFrame{at: at, seq: d.seq, frame: frame, corrupted: corrupted})
		d.idle.add(1)
		if !d.running {
			d.running = true
			d.wg.Add(1)
			go d.run()
		} else {
			select {
			case d.wake <- struct{}{}:
			default:
			}
		}
	}
	d.mu.Unlock()
	for _, f := range now2 {
		d.c.delivered.Add(1)
		d.deliver(f, corrupted)
	}
}

// run releases held-back frames at their time and ends when none is left.
func (d *direction) run() {
	defer d.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		d.mu.Lock()
		if d.closed || len(d.pending) == 0 {
			n := len(d.pending)
			d.pending = nil
			d.running = false
			d.mu.Unlock()
			d.idle.done(n)
			return
		}
		now := time.Now()
		var due []timedFrame
		for len(d.pending) > 0 && !d.pending[0].at.After(now) {
			due = append(due, heap.Pop(&d.pending).(timedFrame))
		}
		var wait time.Duration
		if len(due) == 0 {
			wait = d.pending[0].at.Sub(now)
		}
		d.mu.Unlock()
		for _, tf := range due {
			d.c.delivered.Add(1)
			d.deliver(tf.frame, tf.corrupted)
		}
		d.idle.done(len(due))
		if len(due) > 0 {
			continue
		}
		timer.Reset(wait)
		select {
		case <-timer.C:
		case <-d.wake:
			timer.Stop() // Go 1.23 timers: no stale tick is left to drain
		}
	}
}

// close discards held-back frames; the releasing goroutine ends.
func (d *direction) close() {
	d.mu.Lock()
	d.closed = true
	if !d.running {
		n := len(d.pending)
		d.pending = nil
		d.mu.Unlock()
		d.idle.done(n)
		return
	}
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}
