package taptest

import (
	"net/netip"
	"testing"

	"github.com/netxsim/netxsim/tapdev"
)

// VethPair makes two network namespaces (names from prefix) joined by a veth pair with the TAP's MTU
// of 1500, 203.0.113.1/24 on a's end and 203.0.113.2/24 on b's, both up: the kernel-to-kernel
// reference the benchmarks compare against. Both namespaces are deleted at cleanup.
func VethPair(tb testing.TB, prefix string) (a, b *tapdev.NetNS) {
	tb.Helper()
	a, err := tapdev.CreateNetNS(Name(prefix))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { a.Delete() })
	b, err = tapdev.CreateNetNS(Name(prefix))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { b.Delete() })
	an, bn := Name("nxv"), Name("nxv")
	if err := a.AddVeth(an, bn, b); err != nil {
		tb.Fatal(err)
	}
	for _, s := range []struct {
		ns   *tapdev.NetNS
		link string
		p    string
	}{{a, an, "203.0.113.1/24"}, {b, bn, "203.0.113.2/24"}} {
		for _, err := range []error{s.ns.SetMTU(s.link, 1500), s.ns.AddAddr(s.link, netip.MustParsePrefix(s.p)), s.ns.LinkUp(s.link)} {
			if err != nil {
				tb.Fatal(err)
			}
		}
	}
	return a, b
}
