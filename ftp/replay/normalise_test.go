package replay

import (
	"net/netip"
	"testing"
)

// TestNormalisePassive: a 227's address is normalised only to the server's own address and its
// port always (each counted by name); a 229's port; nothing else, line ends included.
func TestNormalisePassive(t *testing.T) {
	const want = "227 Entering Passive Mode (198,51,100,2,192,0).\r\n"
	for _, tc := range []struct {
		want, have string
		ok         bool
		counted    string
	}{
		{want, "227 Entering Passive Mode (127,0,0,1,192,0).\r\n", true, "227-address"},
		{want, "227 Entering Passive Mode (198,51,100,2,200,9).\r\n", true, "227-port"},
		{want, "227 Entering Passive Mode (10,0,0,9,192,0).\r\n", false, ""},
		{want, "227 Entering Passive Mode (127,0,0,1,192,0).\n", false, ""},
		{want, "227 Entering Passive Mode (127,0,0,1,192,0). \r\n", false, ""},
		{want, "227 Entering passive mode (127,0,0,1,192,0).\r\n", false, ""},
		{"229 Entering Extended Passive Mode (|||49152|)\r\n", "229 Entering Extended Passive Mode (|||50000|)\r\n", true, "229-port"},
		{"229 Entering Extended Passive Mode (|||49152|)\r\n", "229 Extended Passive Mode (|||50000|)\r\n", false, ""},
		{"200 Type Binary \r\n", "200 Type Binary\r\n", false, ""},
	} {
		l := &live{o: &Options{V4: netip.MustParseAddrPort("127.0.0.1:2121")}, norm: map[string]int{}}
		w, g, ok := l.normalisePassive(tc.want, tc.have)
		if ok != tc.ok || (ok && w != g) {
			t.Errorf("%q vs %q: normalised %v, want %v", tc.want, tc.have, ok, tc.ok)
		}
		if tc.counted != "" && l.norm[tc.counted] != 1 {
			t.Errorf("%q vs %q: counts %v, want one %s", tc.want, tc.have, l.norm, tc.counted)
		}
		if tc.counted == "" && len(l.norm) != 0 {
			t.Errorf("%q vs %q: counted %v for a difference", tc.want, tc.have, l.norm)
		}
	}
}
