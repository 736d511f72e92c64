package server

import (
	"net/netip"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestFailureBudgetBackoff(t *testing.T) {
	clk := &fakeClock{time.Unix(1e9, 0)}
	b := &failureBudget{budget: 3, lockBase: 5 * time.Second, lockMax: time.Minute, now: clk.now}
	a := netip.MustParseAddr("203.0.113.7")
	for i := 1; i < 3; i++ {
		if lock := b.fail(a); lock != 0 {
			t.Fatalf("failure %d locked for %v, budget is 3", i, lock)
		}
	}
	want := []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second, time.Minute, time.Minute}
	for i, w := range want {
		if lock := b.fail(a); lock != w {
			t.Fatalf("failure %d: locked for %v, want %v", 3+i, lock, w)
		}
	}
	if got := b.locked(a); got != time.Minute {
		t.Fatalf("locked = %v", got)
	}
	b.succeed(a) // a success while locked out cannot happen and does not clear the lock
	if b.locked(a) == 0 {
		t.Fatal("succeed cleared an active lock-out")
	}
	if b.locked(netip.MustParseAddr("203.0.113.8")) != 0 {
		t.Fatal("another address is locked")
	}
	clk.t = clk.t.Add(61 * time.Second)
	if b.locked(a) != 0 {
		t.Fatal("still locked after the lock-out")
	}
	clk.t = clk.t.Add(2 * time.Minute) // a record lapses after lockMax without failures
	if lock := b.fail(a); lock != 0 {
		t.Fatalf("a lapsed record still counted: locked for %v", lock)
	}
	b.fail(a)
	b.succeed(a)
	if b.records() != 0 {
		t.Fatal("a success left the record")
	}
}

func TestFailureBudgetIPv6Prefix(t *testing.T) {
	clk := &fakeClock{time.Unix(1e9, 0)}
	b := &failureBudget{budget: 2, lockBase: time.Second, lockMax: time.Minute, now: clk.now}
	// one host owns its /64: rotating through it does not buy new guesses
	b.fail(netip.MustParseAddr("2001:db8:1:2::1"))
	b.fail(netip.MustParseAddr("2001:db8:1:2::ffff"))
	if b.locked(netip.MustParseAddr("2001:db8:1:2:abcd::9")) == 0 {
		t.Fatal("the /64 is not locked")
	}
	if b.locked(netip.MustParseAddr("2001:db8:1:3::1")) != 0 {
		t.Fatal("the neighbouring /64 is locked")
	}
	// IPv4-mapped is the IPv4 address
	b.fail(netip.MustParseAddr("198.51.100.9"))
	b.fail(netip.MustParseAddr("::ffff:198.51.100.9"))
	if b.locked(netip.MustParseAddr("198.51.100.9")) == 0 {
		t.Fatal("mapped and plain IPv4 counted apart")
	}
}

// TestFailureBudgetBounded: a flood of addresses does not grow the table past its bound, and the
// addresses locked out most recently stay locked.
func TestFailureBudgetBounded(t *testing.T) {
	clk := &fakeClock{time.Unix(1e9, 0)}
	b := &failureBudget{budget: 1, lockBase: time.Minute, lockMax: time.Hour, now: clk.now}
	for i := range 3 * maxFailureRecords {
		clk.t = clk.t.Add(time.Millisecond)
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		b.fail(a)
		if n := b.records(); n > maxFailureRecords {
			t.Fatalf("%d records after %d addresses", n, i+1)
		}
	}
	i := 3*maxFailureRecords - 1
	last := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
	if b.locked(last) == 0 {
		t.Fatal("the latest address is not locked")
	}
}
