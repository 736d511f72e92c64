package stack_test

import (
	"context"
	"errors"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/stack/link"
)

// Both stacks report a refused connection as syscall.ECONNREFUSED, so callers need no string matching.
func TestDialRefusedIsECONNREFUSED(t *testing.T) {
	ctx := timeout(t, 10*time.Second)
	_, host, _ := newPair(t, link.PairConfig{}, true)
	_, err := host.Dial(ctx, netip.AddrPort{}, netip.AddrPortFrom(devV4, 9))
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("user-space stack: dial to a closed port: %v, want ECONNREFUSED", err)
	}
	// A kernel port that nothing listens on: take one and close it again.
	ln, err := stack.Kernel{}.Listen(ctx, netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	closed := netip.MustParseAddrPort(ln.Addr().String())
	ln.Close()
	if _, err = (stack.Kernel{}).Dial(ctx, netip.AddrPort{}, closed); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("kernel: dial to a closed port: %v, want ECONNREFUSED", err)
	}
}

// A handshake nobody answers ends in ETIMEDOUT once gVisor gives up; the context bounds the wait here,
// so the test only checks the error's shape when the stack's own timeout came first.
func TestDialTimeoutIsETIMEDOUTOrContext(t *testing.T) {
	ctx := timeout(t, 300*time.Millisecond)
	_, host, p := newPair(t, link.PairConfig{}, true)
	if err := p.SetImpairment(link.Impairment{Loss: 1}, link.Impairment{Loss: 1}); err != nil {
		t.Fatal(err)
	}
	_, err := host.Dial(ctx, netip.AddrPort{}, netip.AddrPortFrom(devV4, 21))
	if err == nil {
		t.Fatal("dial over a dead link succeeded")
	}
	if !errors.Is(err, syscall.ETIMEDOUT) && !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("dial over a dead link: %v, want ETIMEDOUT or the context's deadline", err)
	}
}
