//go:build linux

package tapdev

import (
	"errors"
	"net/netip"
	"testing"
)

func TestCheckRefuses192_0_2(t *testing.T) {
	for _, s := range []string{"192.0.2.1", "192.0.2.255", "::ffff:192.0.2.7"} {
		if err := CheckAddr(netip.MustParseAddr(s)); !errors.Is(err, ErrReservedAddress) {
			t.Errorf("CheckAddr(%s) = %v, want ErrReservedAddress", s, err)
		}
	}
	for _, s := range []string{"192.0.2.2/24", "192.0.0.1/16", "128.0.0.1/1"} {
		if err := CheckPrefix(netip.MustParsePrefix(s)); !errors.Is(err, ErrReservedAddress) {
			t.Errorf("CheckPrefix(%s) = %v, want ErrReservedAddress", s, err)
		}
	}
	for _, s := range []string{"198.51.100.2/24", "203.0.113.1/24", "2001:db8::2/64", "192.0.3.1/24", "127.0.0.1/8"} {
		if err := CheckPrefix(netip.MustParsePrefix(s)); err != nil {
			t.Errorf("CheckPrefix(%s) = %v, want nil", s, err)
		}
	}
	if err := CheckAddr(netip.Addr{}); err != nil {
		t.Errorf("CheckAddr(zero) = %v", err)
	}
}

func TestKernelRefuses192_0_2(t *testing.T) {
	_, err := Kernel{}.Dial(t.Context(), netip.AddrPort{}, netip.MustParseAddrPort("192.0.2.1:21"))
	if !errors.Is(err, ErrReservedAddress) {
		t.Fatalf("Kernel.Dial to 192.0.2.1: %v, want ErrReservedAddress (and no packet sent)", err)
	}
	if _, err := (Kernel{}).Listen(t.Context(), netip.MustParseAddrPort("192.0.2.1:2121")); !errors.Is(err, ErrReservedAddress) {
		t.Fatalf("Kernel.Listen on 192.0.2.1: %v, want ErrReservedAddress", err)
	}
}
