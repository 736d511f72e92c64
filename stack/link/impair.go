package link

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip/header"
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

// MaxQueueLen bounds QueueLen: the queue is allocated up front, and more frames than this waiting
// in one direction is no longer a link but a memory leak.
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
}

type dirCounters struct {
	frames, delivered, lost, queueDrops, mtuDrops, duplicated, reordered, corrupted atomic.Uint64
}

func (c *dirCounters) snapshot() DirStats {
	return DirStats{
		Frames: c.frames.Load(), Delivered: c.delivered.Load(), Lost: c.lost.Load(), QueueDrops: c.queueDrops.Load(),
		MTUDrops: c.mtuDrops.Load(), Duplicated: c.duplicated.Load(), Reordered: c.reordered.Load(), Corrupted: c.corrupted.Load(),
	}
}

// direction is one impaired, one-way channel with a goroutine of its own: frames enter through send
// (never blocking; tail drop when full) and leave through deliver, in departure-time order.
type direction struct {
	mu  sync.Mutex
	imp Impairment

	rng     *rand.Rand // only used by the run goroutine, so no lock
	in      chan []byte
	deliver func([]byte)
	stop    <-chan struct{}
	c       dirCounters

	// owned by run
	pending  frameHeap
	seq      uint64
	busyTill time.Time
}

func newDirection(imp Impairment, seed uint64, stream uint64, deliver func([]byte), stop <-chan struct{}) *direction {
	q := imp.QueueLen
	if q == 0 {
		q = 4096
	}
	return &direction{
		imp:     imp,
		rng:     rand.New(rand.NewPCG(seed, stream)),
		in:      make(chan []byte, q),
		deliver: deliver,
		stop:    stop,
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

// send queues a frame; it never blocks, as a NIC's transmit ring drops when full.
func (d *direction) send(frame []byte) {
	d.c.frames.Add(1)
	select {
	case <-d.stop:
		return
	default:
	}
	select {
	case d.in <- frame:
	default:
		d.c.queueDrops.Add(1)
	}
}

type timedFrame struct {
	at    time.Time
	seq   uint64
	frame []byte
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

func (d *direction) run(wg *sync.WaitGroup) {
	defer wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		if len(d.pending) > 0 {
			timer.Reset(time.Until(d.pending[0].at))
		}
		select {
		case <-d.stop:
			return
		case f := <-d.in:
			timer.Stop()
			d.process(f)
			// Drain what is already queued before sleeping: keeps throughput up under load.
			for n := 0; n < 64; n++ {
				select {
				case f := <-d.in:
					d.process(f)
					continue
				default:
				}
				break
			}
		case <-timer.C:
		}
		d.release(time.Now())
	}
}

func (d *direction) release(now time.Time) {
	for len(d.pending) > 0 && !d.pending[0].at.After(now) {
		tf := heap.Pop(&d.pending).(timedFrame)
		d.c.delivered.Add(1)
		d.deliver(tf.frame)
	}
}

func (d *direction) process(frame []byte) {
	imp := d.impairment()
	if imp.MTU != 0 && len(frame)-header.EthernetMinimumSize > int(imp.MTU) {
		d.c.mtuDrops.Add(1)
		return
	}
	if imp.Loss > 0 && d.rng.Float64() < imp.Loss {
		d.c.lost.Add(1)
		return
	}
	copies := 1
	if imp.Duplicate > 0 && d.rng.Float64() < imp.Duplicate {
		copies = 2
		d.c.duplicated.Add(1)
	}
	if imp.Corrupt > 0 && len(frame) > header.EthernetMinimumSize && d.rng.Float64() < imp.Corrupt {
		frame = append([]byte(nil), frame...) // the duplicate, if any, is corrupted the same way: one wire copy
		i := header.EthernetMinimumSize + d.rng.IntN(len(frame)-header.EthernetMinimumSize)
		frame[i] ^= byte(1 + d.rng.IntN(255))
		d.c.corrupted.Add(1)
	}
	now := time.Now()
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
			d.c.delivered.Add(1)
			d.deliver(frame)
			continue
		}
		if len(d.pending) >= cap(d.in) {
			d.c.queueDrops.Add(1)
			continue
		}
		d.seq++
		heap.Push(&d.pending, timedFrame{at: at, seq: d.seq, frame: frame})
	}
}
