package upcmd

import (
	"errors"
	"flag"
	"strings"
	"testing"
)

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
