package scenario

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"testing"

	"github.com/netxsim/netxsim/internal/wiresig"
	"github.com/netxsim/netxsim/stack"
)

// Who looks like NetX Duo on the wire: in device-client.yaml the device is NetX's client on its own
// image (netxduo steps): TTL 128, NetX's client window of 2,000 and MSS only in NetX's layout; the
// collector serves with the extended profile and stays Linux-like. A stack: key overrides the rule.
func TestScenarioSignatures(t *testing.T) {
	for _, c := range []struct {
		name     string
		override *stack.Signature
		ttl      uint8
		window   uint16
	}{
		{"default", nil, 128, stack.NetXClientWindow},
		{"gvisor", &[]stack.Signature{stack.SignatureGVisor}[0], 64, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			sc, err := Load("../testdata/scenarios/device-client.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if c.override != nil {
				sc.Devices[0].Stack = &StackSpec{Signature: c.override}
			}
			res, err := Run(context.Background(), sc, Options{Out: t.TempDir()})
			if err != nil || !res.OK {
				t.Fatalf("run: %v, ok %v", err, res != nil && res.OK)
			}
			raw, err := os.ReadFile(res.Artifacts.Capture)
			if err != nil {
				t.Fatal(err)
			}
			dev, peer := netip.MustParseAddr("198.51.100.2"), netip.MustParseAddr("198.51.100.1")
			rep, err := wiresig.Read(bytes.NewReader(raw), dev)
			if err != nil {
				t.Fatal(err)
			}
			col, err := wiresig.Read(bytes.NewReader(raw), peer)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Syns) == 0 || len(col.Syns) == 0 {
				t.Fatalf("%d SYNs of the device, %d of the collector", len(rep.Syns), len(col.Syns))
			}
			for _, s := range rep.Syns {
				netx := bytes.Equal(s.OptionBytes, []byte{2, 4, byte(s.MSS >> 8), byte(s.MSS), 1, 1, 1, 0})
				if s.TTL != c.ttl || c.window != 0 && s.Window != c.window || netx != (c.ttl == 128) {
					t.Errorf("device SYN frame %d: TTL %d window %d options % x; want TTL %d window %d", s.Frame, s.TTL, s.Window, s.OptionBytes, c.ttl, c.window)
				}
			}
			for _, s := range col.Syns {
				if s.TTL != 64 {
					t.Errorf("collector (extended) SYN frame %d: TTL %d, want Linux-like 64", s.Frame, s.TTL)
				}
			}
		})
	}
}
