package upcmd

import (
	"errors"
	"flag"
	"strings"
	"testing"

	"github.com/netxsim/netxsim/cmd/netxsim/internal/cli/clitest"
)

func TestUsageErrors(t *testing.T) {
	clitest.Exits(t, Run,
		clitest.Case{Args: nil, Code: 2, Err: "--tap NAME is required"},
		clitest.Case{Args: []string{"--netns", "x"}, Code: 2, Err: "--netns needs --tap"},
		clitest.Case{Args: []string{"--tap", "t0", "--ipv4", "198.51.100.2"}, Code: 2, Err: "--ipv4"},
		clitest.Case{Args: []string{"--tap", "t0", "--ipv4", "198.51.100.300/24"}, Code: 2, Err: "--ipv4"},
		clitest.Case{Args: []string{"--tap", "t0", "--ipv4", "2001:db8::2/64"}, Code: 2, Err: "not an IPv4"},
		clitest.Case{Args: []string{"--tap", "t0", "--ipv6", "198.51.100.2/24"}, Code: 2, Err: "not an IPv6"},
		clitest.Case{Args: []string{"--tap", "t0", "--ipv4", "192.0.2.5/24"}, Code: 2, Err: "192.0.2.0/24 is refused"},
		clitest.Case{Args: []string{"--tap", "t0", "--ipv4", "198.51.100.0/24"}, Code: 2, Err: "network or broadcast"},
		clitest.Case{Args: []string{"--tap", "t0", "--mac", "zz:00:00:00:00:01"}, Code: 2, Err: "--mac"},
		clitest.Case{Args: []string{"--tap", "t0", "--mac", "01:00:5e:00:00:01"}, Code: 2, Err: "multicast"},
		clitest.Case{Args: []string{"--tap", "t0", "--mac", "02:00:00:00:00:00:00:01"}, Code: 2, Err: "6-byte"},
		clitest.Case{Args: []string{"--tap", "t0", "--gw4", "203.0.113.1"}, Code: 2, Err: "not on the device's IPv4 subnet"},
		clitest.Case{Args: []string{"--tap", "t0", "--gw4", "2001:db8::1"}, Code: 2, Err: "--gw4"},
		clitest.Case{Args: []string{"--tap", "t0", "--gw6", "198.51.100.1"}, Code: 2, Err: "--gw6"},
		clitest.Case{Args: []string{"--tap", "t0", "--host-ipv4", "198.51.100.1/24"}, Code: 2, Err: "--host-ipv4 needs --netns"},
		clitest.Case{Args: []string{"--tap", "t0", "--netns", "n", "--host-ipv4", "198.51.100.2/24"}, Code: 2, Err: "same address"},
		clitest.Case{Args: []string{"--tap", "t0", "--no-ipv6", "--ipv6", "2001:db8::2/64"}, Code: 2, Err: "contradict"},
		clitest.Case{Args: []string{"--tap", "0123456789abcdef"}, Code: 2, Err: "longer than 15"},
		clitest.Case{Args: []string{"--tap", "a/b"}, Code: 2, Err: "--tap"},
		clitest.Case{Args: []string{"--tap", "t0", "--netns", "../x"}, Code: 2, Err: "plain name"},
		clitest.Case{Args: []string{"--tap", "t0", "--mtu", "100"}, Code: 2, Err: "--mtu"},
		clitest.Case{Args: []string{"--tap", "t0", "extra"}, Code: 2, Err: "unexpected argument"},
		clitest.Case{Args: []string{"--bogus"}, Code: 2, Err: "bogus"})
}

func TestHelp(t *testing.T) {
	code, out, _ := clitest.Run(t, Run, "--help")
	if code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	for _, w := range []string{"--tap", "--netns", "--ipv4", "--pcap", "tap-setup.sh"} {
		if !strings.Contains(out, w) {
			t.Errorf("help lacks %s:\n%s", w, out)
		}
	}
}

// FuzzParse feeds arbitrary command lines (NUL-separated arguments) to the
// flag parser: it must return options or a usage error, never panic, and
// accepted options must be consistent.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"--tap\x00t0",
		"--tap\x00t0\x00--netns\x00n1\x00--ipv4\x00198.51.100.2/24\x00--ipv6\x002001:db8::2/64",
		"--tap\x00t0\x00--gw4\x00198.51.100.1\x00--gw6\x00fe80::1",
		"--tap\x00t0\x00--mac\x0002:00:00:00:00:01\x00--mtu\x009000",
		"--netns\x00x",
		"--tap\x00t0\x00--ipv4\x00none\x00--ipv6\x00none",
		"--tap\x00t0\x00--ipv4\x00198.51.100.2/31",
		"--help",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		var args []string
		if line != "" {
			args = strings.Split(line, "\x00")
		}
		o, err := parse(args)
		if err != nil {
			var ue usageError
			if !errors.As(err, &ue) && !errors.Is(err, flag.ErrHelp) {
				t.Fatalf("%q: error %v is neither usage nor help", args, err)
			}
			return
		}
		if o.TAP == "" || len(o.TAP) > 15 {
			t.Fatalf("%q: accepted tap %q", args, o.TAP)
		}
		if o.IPv4.IsValid() && !o.IPv4.Addr().Is4() {
			t.Fatalf("%q: ipv4 %v", args, o.IPv4)
		}
		if o.IPv6.IsValid() && !o.IPv6.Addr().Is6() {
			t.Fatalf("%q: ipv6 %v", args, o.IPv6)
		}
		if len(o.MAC) != 6 || o.MAC[0]&1 != 0 {
			t.Fatalf("%q: mac %v", args, o.MAC)
		}
		if o.MTU < 1280 || o.MTU > 65521 {
			t.Fatalf("%q: mtu %d", args, o.MTU)
		}
		if o.NetNS == "" && (o.HostIPv4 != defaultHost4 || o.HostIPv6 != defaultHost6) {
			t.Fatalf("%q: host addresses without --netns", args)
		}
	})
}
