package capture

import (
	"fmt"

	"github.com/netxsim/netxsim/stack/link"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/link/nested"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// Endpoint wraps an Ethernet-level link endpoint (fdbased with EthernetHeader: true, or stack/link's
// endpoints) and records every frame it sends or receives. It is itself a stack.LinkEndpoint: give it
// to stack.New in place of the wrapped endpoint.
type Endpoint struct {
	nested.Endpoint
	w        *Writer
	ifIndex  int
	name     string
	sendOnly bool // records only what the station sends (see NewSendOnly)
}

var _ stack.LinkEndpoint = (*Endpoint)(nil)
var _ stack.NetworkDispatcher = (*Endpoint)(nil)

// New wraps ep so that its frames go to w under the interface name (the pcapng interface name; use the
// NIC name). Several endpoints may share one Writer.
func New(ep stack.LinkEndpoint, w *Writer, name string) (*Endpoint, error) {
	if ep == nil || w == nil {
		return nil, fmt.Errorf("capture: New needs an endpoint and a Writer")
	}
	id, err := w.addInterface(name)
	if err != nil {
		return nil, err
	}
	e := &Endpoint{w: w, ifIndex: id, name: name}
	e.Endpoint.Init(ep, e)
	return e, nil
}

// NewSendOnly is New for a station on a shared segment (a switch): only the frames the station sends
// are recorded. With every station of a segment wrapped so, each frame is in the capture exactly once,
// as it left its sender, where recording both directions at every port would show it twice.
func NewSendOnly(ep stack.LinkEndpoint, w *Writer, name string) (*Endpoint, error) {
	e, err := New(ep, w, name)
	if err != nil {
		return nil, err
	}
	e.sendOnly = true
	return e, nil
}

// InterfaceIndex is the pcapng interface id of this endpoint's frames (always 0 for classic pcap).
func (e *Endpoint) InterfaceIndex() int { return e.ifIndex }

// DeliverNetworkPacket records an inbound frame and passes it up. The child has consumed the Ethernet
// header into the packet's link header, which ToView/AsSlices still include, so the frame is whole.
func (e *Endpoint) DeliverNetworkPacket(protocol tcpip.NetworkProtocolNumber, pkt *stack.PacketBuffer) {
	if !e.sendOnly {
		e.record(pkt)
	}
	e.Endpoint.DeliverNetworkPacket(protocol, pkt)
}

// record writes pkt as the wire carries it: a TCP super-segment (segmentation offload, in memory or
// from the kernel through a TAP) is written as the MTU-sized frames with full checksums that a
// 1,500-byte wire carries, cut exactly as an impairment would cut it. The packet itself passes on
// whole: capturing changes nothing on the link.
func (e *Endpoint) record(pkt *stack.PacketBuffer) {
	if !link.NeedsWire(pkt.GSOOptions) {
		e.w.write(e.ifIndex, pkt.AsSlices())
		return
	}
	for _, f := range link.PacketFrames(pkt, e.Endpoint.MTU()) {
		e.w.write(e.ifIndex, [][]byte{f})
	}
}

// WritePackets records outbound frames (the stack has already called AddHeader, so the Ethernet
// header is in place) and hands them to the child.
func (e *Endpoint) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	for _, pkt := range pkts.AsSlice() {
		e.record(pkt)
	}
	return e.Endpoint.WritePackets(pkts)
}
