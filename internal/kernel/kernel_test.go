package kernel

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/netxsim/netxsim/internal/addrguard"
)

// The host kernel's dialer refuses 192.0.2.0/24 (the build machines' uplink) before any socket
// exists, as remote, as local address and for a listener; IPv4-mapped forms too.
func TestRefusesReserved(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct{ local, remote string }{
		{"", "192.0.2.1:21"}, {"", "[::ffff:192.0.2.1]:21"}, {"192.0.2.7:0", "127.0.0.1:1"},
	} {
		var local netip.AddrPort
		if c.local != "" {
			local = netip.MustParseAddrPort(c.local)
		}
		if _, err := (Kernel{}).Dial(ctx, local, netip.MustParseAddrPort(c.remote)); !errors.Is(err, addrguard.ErrReservedAddress) {
			t.Errorf("dial %s from %s: %v, want ErrReservedAddress", c.remote, c.local, err)
		}
	}
	if _, err := (Kernel{}).Listen(ctx, netip.MustParseAddrPort("192.0.2.1:2121")); !errors.Is(err, addrguard.ErrReservedAddress) {
		t.Errorf("listen: %v, want ErrReservedAddress", err)
	}
	ln, err := (Kernel{}).Listen(ctx, netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatalf("loopback listen: %v", err)
	}
	ln.Close()
}
