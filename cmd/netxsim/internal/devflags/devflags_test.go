package devflags

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/netxsim/netxsim"
	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/tapdev"
)

func parse(t *testing.T, mode NetNSMode, args ...string) (*Device, error) {
	t.Helper()
	var d Device
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	d.Register(fs, mode)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return &d, d.Check(false)
}

// The older spellings of `netxsim ftp` mean the same as the shared ones; "none" and "" are no address.
func TestAliasesAndNone(t *testing.T) {
	d, err := parse(t, OpenOrCreateNetNS, "--ip", "203.0.113.2/24", "--ip6", "none", "--gw", "203.0.113.1")
	if err != nil {
		t.Fatal(err)
	}
	if d.IPv4.String() != "203.0.113.2/24" || d.IPv6.IsValid() || d.Gw4.String() != "203.0.113.1" || !d.Set("ipv4") || !d.Set("gw4") {
		t.Fatalf("aliases: %+v", d)
	}
	d, err = parse(t, CreateNetNS)
	if err != nil {
		t.Fatal(err)
	}
	if d.IPv4 != netxsim.DeviceIPv4 || d.IPv6 != netxsim.DeviceIPv6 || d.MAC.String() != netxsim.DeviceMAC().String() || d.MTU != 1500 {
		t.Fatalf("defaults: %+v", d)
	}
	if d, err = parse(t, CreateNetNS, "--ipv4", ""); err != nil || d.IPv4.IsValid() {
		t.Fatalf(`--ipv4 "": %v %v`, d, err)
	}
}

// A usage error and the address guard both make a command exit 2.
func TestIsUsage(t *testing.T) {
	_, err := parse(t, CreateNetNS, "--ipv4", "192.0.2.9/24")
	if !IsUsage(err) || !strings.Contains(err.Error(), "192.0.2.0/24") {
		t.Fatalf("192.0.2.9: %v", err)
	}
	if IsUsage(tapdev.CheckAddr(netxsim.HostIPv4.Addr())) {
		t.Fatal("IsUsage on a documentation address")
	}
	if IsUsage(errors.New("disk full")) {
		t.Fatal("IsUsage on an ordinary error")
	}
	for _, args := range [][]string{{"--mtu", "1279"}, {"--mtu", "65522"}, {"--mac", "01:00:00:00:00:01"}, {"--gw6", "198.51.100.1"}} {
		if _, err := parse(t, CreateNetNS, args...); !IsUsage(err) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}

func TestVXLANAndRootlessFlags(t *testing.T) {
	d, err := parse(t, CreateNetNS, "--vxlan", "local=127.0.0.1:4789,remote=127.0.0.1:4790,vni=42")
	if err != nil {
		t.Fatal(err)
	}
	if d.VXLAN == nil || d.VXLAN.VNI != 42 || d.VXLAN.Remote.Port() != 4790 || d.MTU != 1450 {
		t.Fatalf("vxlan %+v mtu %d", d.VXLAN, d.MTU)
	}
	if d, err = parse(t, CreateNetNS, "--vxlan", "local=127.0.0.1:1,remote=127.0.0.1:2,vni=1", "--mtu", "1300"); err != nil || d.MTU != 1300 {
		t.Fatalf("--mtu with --vxlan: %v %v", d, err)
	}
	if d, err = parse(t, CreateNetNS, "--rootless"); err != nil || d.TAP != "netxsim0" || !d.Rootless {
		t.Fatalf("--rootless: %+v %v", d, err)
	}
	for _, c := range []struct {
		mode NetNSMode
		args []string
		want string
	}{
		{CreateNetNS, []string{"--vxlan", "local=127.0.0.1:1,remote=127.0.0.1:2"}, "vni= is missing"},
		{CreateNetNS, []string{"--vxlan", "local=127.0.0.1:1,remote=192.0.2.1:2,vni=1"}, "192.0.2.0/24"},
		{CreateNetNS, []string{"--vxlan", "local=127.0.0.1:1,remote=127.0.0.1:2,vni=1", "--tap", "t0"}, "--vxlan excludes"},
		{CreateNetNS, []string{"--vxlan", "local=127.0.0.1:1,remote=127.0.0.1:2,vni=1", "--rootless"}, "--vxlan excludes"},
		{CreateNetNS, []string{"--vxlan", "local=127.0.0.1:1,remote=127.0.0.1:2,vni=1", "--host-ipv4", "198.51.100.1/24"}, "need a TAP"},
		{CreateNetNS, []string{"--rootless", "--netns", "x"}, "exclude each other"},
		{OpenOrCreateNetNS, []string{"--rootless"}, "flag provided but not defined"}, // ftp has none
	} {
		_, err := parse(t, c.mode, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v; want an error with %q", c.args, err, c.want)
		}
		if err != nil && !strings.Contains(c.want, "not defined") && !strings.Contains(c.want, "192.0.2") && !strings.Contains(c.want, "missing") && !IsUsage(err) {
			t.Errorf("%q: %v is not a usage error (exit 2)", c.args, err)
		}
	}
}

// --stack-signature and --windows reach the device's configuration; the profile decides the default.
func TestStackFlags(t *testing.T) {
	d, err := parse(t, CreateNetNS)
	if err != nil {
		t.Fatal(err)
	}
	d.Profile = ftp.ProfileNetXDuo64
	if sig := d.deviceConfig("tap0", nil).EffectiveSignature(); sig != stack.SignatureNetX || d.StackFlags() != "" {
		t.Errorf("netxduo-6.4 device without flags: %v, flags %q; want netx, none", sig, d.StackFlags())
	}
	d.Profile = ftp.ProfileExtended
	if sig := d.deviceConfig("tap0", nil).EffectiveSignature(); sig != stack.SignatureGVisor {
		t.Errorf("extended device: %v, want gvisor", sig)
	}
	d, err = parse(t, CreateNetNS, "--stack-signature", "gvisor", "--windows", "400,65535")
	if err != nil {
		t.Fatal(err)
	}
	d.Profile, d.ControlPort = ftp.ProfileNetXDuo, 2121
	c := d.deviceConfig("tap0", nil)
	if sig := c.EffectiveSignature(); sig != stack.SignatureGVisor || c.Windows != (stack.Windows{Control: 400, Data: 65535, ControlPort: 2121}) {
		t.Errorf("--stack-signature gvisor --windows 400,65535: %v %+v", sig, c.Windows)
	}
	if f := d.StackFlags(); f != "--stack-signature and --windows need" {
		t.Errorf("StackFlags = %q", f)
	}
	for _, bad := range [][]string{{"--stack-signature", "bsd"}, {"--windows", "400"}, {"--windows", "10,2048"}, {"--windows", "400,70000"}} {
		if _, err := parse(t, CreateNetNS, bad...); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
