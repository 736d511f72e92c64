package server

import (
	"net/netip"
	"sync"
	"time"
)

// maxFailureRecords bounds the per-address failure table: beyond it, records that no longer lock
// anything are dropped first, then the oldest.
const maxFailureRecords = 4096

// failureBudget counts failed logins per client address (an IPv6 client by its /64, which one
// host usually owns whole) across all its connections. Once an address has spent its budget every
// further failure locks it out for a time that doubles with each failure, up to a maximum; while
// locked out, PASS is refused without asking the login callback, so guessing stops paying off even
// with many parallel connections. A successful login clears the address's record; a record also
// lapses after lockMax without failures.
type failureBudget struct {
	budget            int
	lockBase, lockMax time.Duration
	now               func() time.Time

	mu sync.Mutex
	m  map[netip.Addr]*failureRecord
}

type failureRecord struct {
	failures int
	until    time.Time // locked out before this moment
	last     time.Time // last failure
}

func budgetKey(a netip.Addr) netip.Addr {
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a
}

// locked tells how long the address stays locked out (0: not locked).
func (b *failureBudget) locked(a netip.Addr) time.Duration {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.m[budgetKey(a)]
	if r == nil {
		return 0
	}
	return max(r.until.Sub(b.now()), 0)
}

// fail records a failed login and returns the lock-out it caused (0: budget not yet spent).
func (b *failureBudget) fail(a netip.Addr) time.Duration {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	k := budgetKey(a)
	r := b.m[k]
	if r != nil && now.Sub(r.last) > b.lockMax && !now.Before(r.until) {
		r = nil // lapsed
	}
	if r == nil {
		if b.m == nil {
			b.m = make(map[netip.Addr]*failureRecord)
		}
		if len(b.m) >= maxFailureRecords {
			b.prune(now)
		}
		r = &failureRecord{}
		b.m[k] = r
	}
	r.failures++
	r.last = now
	over := r.failures - b.budget
	if over < 0 {
		return 0
	}
	lock := b.lockBase
	for i := 0; i < over && lock < b.lockMax; i++ {
		lock *= 2
	}
	lock = min(lock, b.lockMax)
	if u := now.Add(lock); u.After(r.until) {
		r.until = u
	}
	return lock
}

func (b *failureBudget) succeed(a netip.Addr) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	k := budgetKey(a)
	if r := b.m[k]; r != nil && !b.now().Before(r.until) {
		delete(b.m, k)
	}
}

// prune drops lapsed records and, if the table is still full, the one with the oldest failure.
func (b *failureBudget) prune(now time.Time) {
	var oldest netip.Addr
	var oldestT time.Time
	for k, r := range b.m {
		if now.Sub(r.last) > b.lockMax && !now.Before(r.until) {
			delete(b.m, k)
			continue
		}
		if oldestT.IsZero() || r.last.Before(oldestT) {
			oldest, oldestT = k, r.last
		}
	}
	if len(b.m) >= maxFailureRecords {
		delete(b.m, oldest)
	}
}

// records is the table's size (for tests through Server.FailureRecords).
func (b *failureBudget) records() int {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.m)
}
