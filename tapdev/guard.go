package tapdev

import (
	"fmt"
	"net/netip"

	"github.com/netxsim/netxsim/internal/addrguard"
)

// ErrReservedAddress marks an address netxsim refuses to hand to a kernel (internal/addrguard, the one
// list of refused ranges; the kernel dialer of internal/kernel asks it too).
var ErrReservedAddress = addrguard.ErrReservedAddress

// CheckAddr returns an error wrapping ErrReservedAddress for an address in a refused range (IPv4-mapped
// IPv6 forms included), nil otherwise.
func CheckAddr(a netip.Addr) error { return addrguard.CheckAddr(a) }

// CheckPrefix is CheckAddr for an address with prefix length; it also refuses a prefix that covers a
// refused range (198.0.0.0/7 would route 192.0.2.0/24 onto the link).
func CheckPrefix(p netip.Prefix) error { return addrguard.CheckPrefix(p) }

// MTU limits of every link netxsim makes (TAPs, in-memory segments, the commands' --mtu, scenarios):
// IPv6 needs 1280; an Ethernet frame (14-byte header) must fit in 65535 bytes.
const (
	MinMTU = 1280
	MaxMTU = 65535 - 14
)

// CheckMTU reports an MTU outside MinMTU..MaxMTU.
func CheckMTU(mtu uint32) error {
	if mtu < MinMTU || mtu > MaxMTU {
		return fmt.Errorf("MTU %d out of range %d..%d (IPv6 needs at least %d)", mtu, MinMTU, MaxMTU, MinMTU)
	}
	return nil
}
