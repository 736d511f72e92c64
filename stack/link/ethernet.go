package link

import (
	"sync/atomic"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// Ethernet is the framing every Ethernet link endpoint of the project shares (this package's, the
// TAP's, the VXLAN tunnel's): the 14-byte header a stack pushes and consumes. Embed it for
// MaxHeaderLength, ARPHardwareType, AddHeader and ParseHeader of stack.LinkEndpoint.
type Ethernet struct{}

// MaxHeaderLength implements stack.LinkEndpoint.
func (Ethernet) MaxHeaderLength() uint16 { return header.EthernetMinimumSize }

// ARPHardwareType implements stack.LinkEndpoint.
func (Ethernet) ARPHardwareType() header.ARPHardwareType { return header.ARPHardwareEther }

// AddHeader implements stack.LinkEndpoint: the Ethernet header of the packet's route.
func (Ethernet) AddHeader(pkt *stack.PacketBuffer) {
	eth := header.Ethernet(pkt.LinkHeader().Push(header.EthernetMinimumSize))
	eth.Encode(&header.EthernetFields{
		SrcAddr: pkt.EgressRoute.LocalLinkAddress,
		DstAddr: pkt.EgressRoute.RemoteLinkAddress,
		Type:    pkt.NetworkProtocolNumber,
	})
}

// ParseHeader implements stack.LinkEndpoint.
func (Ethernet) ParseHeader(pkt *stack.PacketBuffer) bool {
	_, ok := pkt.LinkHeader().Consume(header.EthernetMinimumSize)
	return ok
}

// PacketTypeFor filters a received frame by its destination as a NIC does: broadcast and multicast
// frames and those to mac are taken (with the packet type the stack wants), another station's
// unicast is not (ok false).
func PacketTypeFor(dst, mac tcpip.LinkAddress) (typ tcpip.PacketType, ok bool) {
	switch {
	case dst == header.EthernetBroadcastAddress:
		return tcpip.PacketBroadcast, true
	case header.IsMulticastEthernetAddress(dst):
		return tcpip.PacketMulticast, true
	case dst == mac:
		return tcpip.PacketHost, true
	}
	return 0, false
}

// Station is a link endpoint's MTU and Ethernet address, read without a lock on every frame: embed it
// for MTU, SetMTU, LinkAddress and SetLinkAddress of stack.LinkEndpoint.
type Station struct {
	mtu atomic.Uint32
	mac atomic.Pointer[tcpip.LinkAddress]
}

// MTU implements stack.LinkEndpoint: the largest IP packet, excluding the Ethernet header.
func (s *Station) MTU() uint32 { return s.mtu.Load() }

// SetMTU implements stack.LinkEndpoint.
func (s *Station) SetMTU(mtu uint32) { s.mtu.Store(mtu) }

// LinkAddress implements stack.LinkEndpoint.
func (s *Station) LinkAddress() tcpip.LinkAddress {
	if p := s.mac.Load(); p != nil {
		return *p
	}
	return ""
}

// SetLinkAddress implements stack.LinkEndpoint; stack.New sets the configured MAC through it.
func (s *Station) SetLinkAddress(addr tcpip.LinkAddress) { s.mac.Store(&addr) }
