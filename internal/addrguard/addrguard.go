// Package addrguard is the one address-safety rule of the project, with nothing but the standard
// library so that every place where an address reaches a kernel can ask it: tapdev (namespaces,
// TAPs, kernel sockets in a namespace) and internal/kernel (the host's own sockets).
package addrguard

import (
	"errors"
	"fmt"
	"net/netip"
)

// ErrReservedAddress marks an address netxsim refuses to hand to a kernel: 192.0.2.0/24 is the build
// machines' own uplink, so a frame or socket that slipped out of its namespace would reach a real gateway.
var ErrReservedAddress = errors.New("192.0.2.0/24 is refused (build machines use it for their uplink); use 198.51.100.0/24, 203.0.113.0/24 or 2001:db8::/32")

// reserved is the one list of refused ranges: every place where an address reaches a kernel (namespace
// addresses, kernel sockets, a device on a TAP, the host kernel's dialer) asks CheckAddr.
var reserved = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}

// CheckAddr returns an error wrapping ErrReservedAddress for an address in a refused range (IPv4-mapped
// IPv6 forms included), nil otherwise.
func CheckAddr(a netip.Addr) error {
	a = a.Unmap()
	for _, p := range reserved {
		if p.Contains(a) {
			return fmt.Errorf("address %s: %w", a, ErrReservedAddress)
		}
	}
	return nil
}

// CheckPrefix is CheckAddr for an address with prefix length; it also refuses a prefix that covers a
// refused range (198.0.0.0/7 would route 192.0.2.0/24 onto the link).
func CheckPrefix(p netip.Prefix) error {
	if !p.IsValid() {
		return nil
	}
	if err := CheckAddr(p.Addr()); err != nil {
		return err
	}
	for _, r := range reserved {
		q := netip.PrefixFrom(p.Addr().Unmap(), p.Bits()).Masked()
		if q.Addr().Is4() && q.Bits() <= r.Bits() && q.Contains(r.Addr()) {
			return fmt.Errorf("prefix %s covers 192.0.2.0/24: %w", p, ErrReservedAddress)
		}
	}
	return nil
}
