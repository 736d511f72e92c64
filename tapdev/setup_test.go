//go:build linux

package tapdev

import (
	"net"
	"net/netip"
	"strings"
	"testing"
)

// SetupTAP checks the kernel side's addresses before it makes anything, and a failure midway removes
// the namespace it made; a working setup is removed by Close.
func TestSetupTAP(t *testing.T) {
	for cfg, want := range map[*SetupConfig]string{
		{NetNS: "nxsetup-x", CreateNetNS: true, HostAddrs: []netip.Prefix{netip.MustParsePrefix("192.0.2.1/24")}}: "192.0.2.0/24",
		{HostAddrs: []netip.Prefix{netip.MustParsePrefix("198.51.100.1/24")}}:                                     "need a namespace",
	} {
		if _, err := SetupTAP(*cfg); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: %v, want %q", cfg, err, want)
		}
	}
	needRoot(t)
	name := RandomName("nxst")
	// A TAP name the kernel refuses: the namespace made for it goes again.
	if _, err := SetupTAP(SetupConfig{TAP: Config{Name: "bad/name"}, NetNS: name, CreateNetNS: true}); err == nil {
		t.Fatal("a TAP named bad/name was made")
	}
	if NetNSExists(name) {
		deleteNetNS(t, name)
		t.Fatal("the namespace outlived the failed setup")
	}
	s, err := SetupTAP(SetupConfig{TAP: Config{Name: name, MAC: net.HardwareAddr{2, 0x4e, 0x58, 0, 0, 2}}, NetNS: name,
		CreateNetNS: true, HostAddrs: []netip.Prefix{netip.MustParsePrefix("198.51.100.1/24")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Host) != 1 || s.NS == nil || s.TAP.Name() != name {
		t.Errorf("setup %+v", s)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if NetNSExists(name) {
		t.Fatal("the namespace outlived Close")
	}
}

// deleteNetNS removes a namespace a failed check left.
func deleteNetNS(t *testing.T, name string) {
	if ns, err := OpenNetNS(name); err == nil {
		ns.Delete()
	}
}
