package servecmd

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// serve refuses 192.0.2.0/24 (the build machines' uplink) with exit 2, on the host kernel and on a TAP,
// before any socket or interface is made.
func TestRefuses192_0_2(t *testing.T) {
	for _, args := range [][]string{
		{"--listen", "192.0.2.1:2121", "--ram", "1M", "--anonymous"},
		{"--tap", "nxg0", "--ipv4", "192.0.2.2/24", "--ram", "1M", "--anonymous"},
		{"--tap", "nxg0", "--netns", "nxg0", "--host-ipv4", "192.0.2.1/24", "--ram", "1M", "--anonymous"},
	} {
		var out, errb bytes.Buffer
		code := Run(context.Background(), args, &out, &errb)
		if code != 2 || !strings.Contains(errb.String(), "192.0.2.0/24") {
			t.Errorf("serve %v: exit %d, want 2 naming 192.0.2.0/24; stderr %q", args, code, errb.String())
		}
	}
}
