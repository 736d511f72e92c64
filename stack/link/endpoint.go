// Package link is an in-memory Ethernet: a Pair of endpoints joined back to back, and a learning Switch
// with N ports. Each direction can be impaired (loss, delay and jitter, duplication, reordering,
// corruption, rate limit, MTU) reproducibly from a seed. Endpoints add and parse the Ethernet header
// themselves, like gVisor's fdbased endpoint with EthernetHeader: true, so stack.New treats both alike.
package link

import (
	"sync"
	"sync/atomic"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// DefaultMTU is the IP MTU of an endpoint unless configured otherwise.
const DefaultMTU = 1500

// Endpoint is one station's attachment to an in-memory link. It implements stack.LinkEndpoint.
type Endpoint struct {
	mu         sync.RWMutex
	dispatcher stack.NetworkDispatcher
	mac        tcpip.LinkAddress
	onClose    func()

	mtu    atomic.Uint32
	closed atomic.Bool
	out    func(frame []byte) // hands a frame to the wire; never blocks
	closer func()             // tells the link this endpoint is gone
}

var _ stack.LinkEndpoint = (*Endpoint)(nil)

func newEndpoint(mtu uint32, out func([]byte), closer func()) *Endpoint {
	if mtu == 0 {
		mtu = DefaultMTU
	}
	e := &Endpoint{out: out, closer: closer}
	e.mtu.Store(mtu)
	return e
}

// MTU implements stack.LinkEndpoint: the largest IP packet, excluding the Ethernet header.
func (e *Endpoint) MTU() uint32 { return e.mtu.Load() }

// SetMTU implements stack.LinkEndpoint.
func (e *Endpoint) SetMTU(mtu uint32) { e.mtu.Store(mtu) }

// MaxHeaderLength implements stack.LinkEndpoint.
func (*Endpoint) MaxHeaderLength() uint16 { return header.EthernetMinimumSize }

// LinkAddress implements stack.LinkEndpoint.
func (e *Endpoint) LinkAddress() tcpip.LinkAddress {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.mac
}

// SetLinkAddress implements stack.LinkEndpoint; stack.New sets the configured MAC through it.
func (e *Endpoint) SetLinkAddress(addr tcpip.LinkAddress) {
	e.mu.Lock()
	e.mac = addr
	e.mu.Unlock()
}

// Capabilities implements stack.LinkEndpoint. No checksum offload: checksums are real, so corruption
// is caught by the receiving stack as on a real wire.
func (*Endpoint) Capabilities() stack.LinkEndpointCapabilities {
	return stack.CapabilityResolutionRequired
}

// Attach implements stack.LinkEndpoint.
func (e *Endpoint) Attach(d stack.NetworkDispatcher) {
	e.mu.Lock()
	e.dispatcher = d
	e.mu.Unlock()
}

// IsAttached implements stack.LinkEndpoint.
func (e *Endpoint) IsAttached() bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.dispatcher != nil
}

// Wait implements stack.LinkEndpoint. The link's goroutines belong to the Pair or Switch (their Close
// waits for them), so that the stack never waits on a goroutine that may be delivering into it.
func (*Endpoint) Wait() {}

// ARPHardwareType implements stack.LinkEndpoint.
func (*Endpoint) ARPHardwareType() header.ARPHardwareType { return header.ARPHardwareEther }

// AddHeader implements stack.LinkEndpoint.
func (*Endpoint) AddHeader(pkt *stack.PacketBuffer) {
	eth := header.Ethernet(pkt.LinkHeader().Push(header.EthernetMinimumSize))
	eth.Encode(&header.EthernetFields{
		SrcAddr: pkt.EgressRoute.LocalLinkAddress,
		DstAddr: pkt.EgressRoute.RemoteLinkAddress,
		Type:    pkt.NetworkProtocolNumber,
	})
}

// ParseHeader implements stack.LinkEndpoint.
func (*Endpoint) ParseHeader(pkt *stack.PacketBuffer) bool {
	_, ok := pkt.LinkHeader().Consume(header.EthernetMinimumSize)
	return ok
}

// Close implements stack.LinkEndpoint: the endpoint stops sending and receiving.
func (e *Endpoint) Close() {
	if e.closed.Swap(true) {
		return
	}
	e.mu.Lock()
	e.dispatcher = nil
	action := e.onClose
	e.mu.Unlock()
	if e.closer != nil {
		e.closer()
	}
	if action != nil {
		action()
	}
}

// SetOnCloseAction implements stack.LinkEndpoint.
func (e *Endpoint) SetOnCloseAction(action func()) {
	e.mu.Lock()
	e.onClose = action
	e.mu.Unlock()
}

// WritePackets implements stack.LinkEndpoint. Each packet already carries its Ethernet header.
func (e *Endpoint) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	if e.closed.Load() {
		return 0, &tcpip.ErrClosedForSend{}
	}
	n := 0
	for _, pkt := range pkts.AsSlice() {
		size := pkt.Size()
		frame := make([]byte, 0, size)
		for _, v := range pkt.AsSlices() {
			frame = append(frame, v...)
		}
		e.out(frame)
		n++
	}
	return n, nil
}

// deliver hands a frame from the wire to the stack, filtering by destination MAC as a NIC does.
// frame is not modified nor retained.
func (e *Endpoint) deliver(frame []byte) {
	if e.closed.Load() || len(frame) < header.EthernetMinimumSize {
		return
	}
	e.mu.RLock()
	d, mac := e.dispatcher, e.mac
	e.mu.RUnlock()
	if d == nil {
		return
	}
	dst := header.Ethernet(frame).DestinationAddress()
	var typ tcpip.PacketType
	switch {
	case dst == header.EthernetBroadcastAddress:
		typ = tcpip.PacketBroadcast
	case header.IsMulticastEthernetAddress(dst):
		typ = tcpip.PacketMulticast
	case dst == mac:
		typ = tcpip.PacketHost
	default:
		return // another station's unicast (a flooding switch): a NIC filters it out
	}
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(frame)})
	defer pkt.DecRef()
	if !e.ParseHeader(pkt) {
		return
	}
	pkt.PktType = typ
	eth := header.Ethernet(pkt.LinkHeader().Slice())
	d.DeliverNetworkPacket(eth.Type(), pkt)
}

// Inject delivers frame to this endpoint's stack as if it had arrived from the wire, bypassing the
// link and its impairments (the same MAC filtering applies). Tests use it to play a hostile peer.
func (e *Endpoint) Inject(frame []byte) { e.deliver(frame) }
