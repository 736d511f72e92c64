package netxsim

import (
	"net"
	"net/netip"

	"github.com/netxsim/netxsim/tapdev"
)

// The documentation addresses every command, scenario and test uses: the device is .2 / ::2, the host
// (or the kernel side of a TAP) .1 / ::1.
var (
	DeviceIPv4 = IPv4(2)
	HostIPv4   = IPv4(1)
	DeviceIPv6 = IPv6(2)
	HostIPv6   = IPv6(1)
)

// ErrReservedAddress is returned (wrapped) for an address in 192.0.2.0/24, the build machines' uplink.
var ErrReservedAddress = tapdev.ErrReservedAddress

// IPv4 returns 198.51.100.n/24 (RFC 5737 TEST-NET-2), host n of the documentation network.
func IPv4(n byte) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 51, 100, n}), 24)
}

// IPv6 returns 2001:db8::n/64 (RFC 3849), host n of the documentation network.
func IPv6(n byte) netip.Prefix {
	var a [16]byte
	a[0], a[1], a[2], a[3], a[15] = 0x20, 0x01, 0x0d, 0xb8, n
	return netip.PrefixFrom(netip.AddrFrom16(a), 64)
}

// MAC returns the locally administered unicast address 02:4e:58:00:00:n ("NX"); DeviceMAC is MAC(2).
func MAC(n byte) net.HardwareAddr { return net.HardwareAddr{0x02, 0x4e, 0x58, 0, 0, n} }

// DeviceMAC is the device's default Ethernet address, 02:4e:58:00:00:02.
func DeviceMAC() net.HardwareAddr { return MAC(2) }
