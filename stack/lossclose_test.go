package stack_test

import (
	"context"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/stack/link"
)

// FTP's active mode in miniature, many times over a lossy link: one side writes a short file and
// closes, the other must see EOF. A FIN that is lost must be sent again until it is acknowledged.
// gVisor's RACK tail loss probe could leave no retransmission timer armed (the FIN was never sent
// again) and a retransmitted handshake inflated the RTO to seconds; see configure in stack.go.
func TestShortTransfersCloseUnderLoss(t *testing.T) {
	imp := link.Impairment{Loss: 0.05, Reorder: 0.02, Duplicate: 0.01, Delay: time.Millisecond, Jitter: 500 * time.Microsecond}
	dev, host, _ := newPair(t, link.PairConfig{AtoB: imp, BtoA: imp, Seed: 42}, true)
	payload := make([]byte, 64<<10)
	for d, dir := range []struct {
		name          string
		listenerSends bool
	}{
		{"dialer sends", false},
		{"listener sends", true},
	} {
		for i := range 40 {
			// Every round gets a listening port of its own: the dialer's port 20 is fixed, so a
			// port picked at random could repeat the 4-tuple of an earlier connection still in
			// TIME-WAIT, and Dial would rightly fail.
			port := uint16(30000 + 100*d + i)
			shortTransfer(t, dev, host, port, dir.listenerSends, payload, dir.name, i)
		}
	}
}

// shortTransfer connects dialer port 20 to listener's port, sends payload one way and closes.
func shortTransfer(t *testing.T, dialer, listener *stack.IP, port uint16, listenerSends bool, payload []byte, name string, round int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	ln, err := listener.Listen(ctx, netip.AddrPortFrom(hostV4, port))
	if err != nil {
		t.Fatalf("%s round %d: listen: %v", name, round, err)
	}
	defer ln.Close()
	accepted := acceptOne(ln)
	dc, err := dialer.Dial(ctx, netip.AddrPortFrom(netip.Addr{}, 20), netip.AddrPortFrom(hostV4, port))
	if err != nil {
		t.Fatalf("%s round %d: dial: %v", name, round, err)
	}
	defer dc.Close()
	var ac net.Conn
	select {
	case ac = <-accepted:
	case <-ctx.Done():
	}
	if ac == nil {
		t.Fatalf("%s round %d: accept failed", name, round)
	}
	defer ac.Close()
	w, r := dc, ac
	if listenerSends {
		w, r = ac, dc
	}
	go func() { w.Write(payload); w.Close() }()
	r.SetReadDeadline(time.Now().Add(8 * time.Second))
	n, err := io.Copy(io.Discard, r)
	if err != nil || n != int64(len(payload)) {
		t.Fatalf("%s round %d: got %d bytes, err %v", name, round, n, err)
	}
}
