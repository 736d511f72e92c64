package testio

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
)

// Peer is what Transfer needs of each end: *stack.IP, stack.Kernel and *netxsim.Device have it.
type Peer interface {
	Listen(context.Context, netip.AddrPort) (net.Listener, error)
	Dial(context.Context, netip.AddrPort, netip.AddrPort) (net.Conn, error)
}

// Transfer sends n pseudo-random bytes (seeded by n) from `from` to `to` over a new connection to
// listenAddr, on a port to picks, and fails the test unless all n arrive with the SHA-256 they left with.
func Transfer(t TB, ctx context.Context, to, from Peer, listenAddr netip.Addr, n int64) {
	t.Helper()
	ln, err := to.Listen(ctx, netip.AddrPortFrom(listenAddr.WithZone(""), 0)) // the zone names the dialer's NIC
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	var sum []byte // what the acceptor read, read here once done yields
	var got int64
	done := ServeOne(ln, func(c net.Conn) error {
		h := sha256.New()
		k, err := io.Copy(h, c)
		sum, got = h.Sum(nil), k
		return err
	})
	c, err := from.Dial(ctx, netip.AddrPort{}, netip.AddrPortFrom(listenAddr, port))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	var seed [32]byte
	seed[0] = byte(n)
	h := sha256.New()
	src := io.TeeReader(io.LimitReader(rand.NewChaCha8(seed), n), h)
	if _, err := io.Copy(c, src); err != nil {
		t.Fatalf("send: %v", err)
	}
	c.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		if got != n || !bytes.Equal(sum, h.Sum(nil)) {
			t.Fatalf("received %d bytes sha256 %x, sent %d bytes sha256 %x", got, sum, n, h.Sum(nil))
		}
	case <-ctx.Done():
		t.Fatalf("transfer of %d bytes: %v", n, ctx.Err())
	}
}
