package link

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// frame is what travels on an in-memory wire: a whole Ethernet frame, shared without copying
// between the sender and every receiver (buffer views are reference counted and never modified
// in place), with the sender's offload state.
type wireFrame struct {
	buf buffer.Buffer
	gso stack.GSO // NeedsWire(gso): a super-segment or partial checksum, trusted as from a perfect wire
	// untrusted frames (injected, or corrupted by an impairment) have their checksums checked by
	// the receiving endpoint, as a NIC with receive checksum offload does.
	untrusted bool
}

// defaultQueueLen bounds the frames waiting for one station before tail drop.
const defaultQueueLen = 4096

// inbox queues frames for one receiver. It has no goroutine while empty: the first frame starts
// one, which delivers until the queue is empty and then ends, so an idle fleet of thousands of
// stations costs no goroutines and no buffers.
type inbox struct {
	mu      sync.Mutex
	q       []wireFrame
	spare   []wireFrame
	running bool
	closed  bool
	drops   atomic.Uint64
	offered atomic.Uint64

	deliver func(wireFrame)
	wg      *sync.WaitGroup // the link's: Close waits for every drainer
	idle    *tracker
}

func (b *inbox) push(f wireFrame) {
	b.offered.Add(1)
	b.mu.Lock()
	if b.closed || len(b.q) >= defaultQueueLen {
		b.mu.Unlock()
		b.drops.Add(1)
		f.buf.Release()
		return
	}
	b.q = append(b.q, f)
	b.idle.add(1)
	if !b.running {
		b.running = true
		b.wg.Add(1)
		go b.drain()
	}
	b.mu.Unlock()
}

func (b *inbox) drain() {
	defer b.wg.Done()
	for {
		b.mu.Lock()
		if len(b.q) == 0 || b.closed {
			n := len(b.q)
			for _, f := range b.q {
				f.buf.Release()
			}
			b.q = b.q[:0]
			b.running = false
			b.mu.Unlock()
			b.idle.done(n)
			return
		}
		batch := b.q
		b.q, b.spare = b.spare[:0], nil
		b.mu.Unlock()
		for i, f := range batch {
			b.deliver(f)
			batch[i] = wireFrame{}
		}
		b.idle.done(len(batch))
		b.mu.Lock()
		if b.spare == nil && cap(batch) <= 2*defaultQueueLen {
			b.spare = batch[:0]
		}
		b.mu.Unlock()
	}
}

// close drops what is queued; a running drainer ends after its current batch.
func (b *inbox) close() {
	b.mu.Lock()
	b.closed = true
	n := len(b.q)
	running := b.running // read under the lock: a drainer that ends meanwhile counts its queue itself
	if !running {
		for _, f := range b.q {
			f.buf.Release()
		}
		b.q = nil
	}
	b.mu.Unlock()
	if !running {
		b.idle.done(n)
	}
}

// tracker counts the frames a link has in flight (queued, delayed or being delivered).
type tracker struct {
	n       atomic.Int64
	total   atomic.Uint64 // frames ever added: activity during a quiet period shows here
	mu      sync.Mutex
	waiters []chan struct{}
}

func (t *tracker) add(k int) {
	t.total.Add(uint64(k))
	t.n.Add(int64(k))
}

func (t *tracker) done(k int) {
	if k == 0 {
		return
	}
	if t.n.Add(-int64(k)) == 0 {
		t.mu.Lock()
		for _, w := range t.waiters {
			close(w)
		}
		t.waiters = nil
		t.mu.Unlock()
	}
}

// quiet is how long a link must stay empty for WaitIdle: a stack processes a delivered TCP
// segment in its own goroutine and may answer a moment after the delivery returned.
const quiet = 2 * time.Millisecond

func (t *tracker) waitZero(ctx context.Context) error {
	for {
		t.mu.Lock()
		if t.n.Load() == 0 {
			t.mu.Unlock()
			return nil
		}
		ch := make(chan struct{})
		t.waiters = append(t.waiters, ch)
		t.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Idler is anything that can wait until it has no frame in flight: a Pair, a Switch, an Impaired
// endpoint.
type Idler interface {
	WaitIdle(ctx context.Context) error
}

// WaitIdle returns once every idler has had nothing in flight at the same time for a short
// quiet period (see the Idler's WaitIdle), or ctx is done.
func WaitIdle(ctx context.Context, idlers ...Idler) error {
	for {
		for _, i := range idlers {
			if err := i.WaitIdle(ctx); err != nil {
				return err
			}
		}
		busy := false
		for _, i := range idlers {
			if c, ok := i.(interface{ InFlight() int }); ok && c.InFlight() != 0 {
				busy = true
			}
		}
		if !busy {
			return nil
		}
	}
}

// waitIdle waits until t has been empty for the quiet period.
func waitIdle(ctx context.Context, counts ...*tracker) error {
	for {
		for _, t := range counts {
			if err := t.waitZero(ctx); err != nil {
				return err
			}
		}
		before := make([]uint64, len(counts))
		for i, t := range counts {
			before[i] = t.total.Load()
		}
		timer := time.NewTimer(quiet)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		}
		busy := false
		for i, t := range counts {
			if t.n.Load() != 0 || t.total.Load() != before[i] {
				busy = true
			}
		}
		if !busy {
			return nil
		}
	}
}
