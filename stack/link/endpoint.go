// Package link is an in-memory Ethernet: a Pair of endpoints joined back to back, and a learning Switch
// with N ports. The wires are plain and fast: a frame is handed over without a copy, and a stack may
// send TCP super-segments of up to 64 KiB (segmentation offload, as over a Linux veth), which a
// perfect wire carries whole. Impairments (loss, delay and jitter, duplication, reordering,
// corruption, rate limit, MTU) are a wrapper around any link endpoint (Impair), as capture is: they
// cut super-segments into the frames a 1,500-byte wire carries and impair those. Endpoints add and
// parse the Ethernet header themselves, like gVisor's fdbased endpoint with EthernetHeader: true, so
// stack.New treats both alike.
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
	Ethernet // the Ethernet header
	Station  // MTU and MAC

	att Attachment

	closed atomic.Bool
	send   func(f wireFrame) // hands a frame to the wire; never blocks; takes the frame's reference
	closer func()            // tells the link this endpoint is gone
	in     inbox             // frames on their way to this station

	checksumDrops atomic.Uint64
}

var _ stack.LinkEndpoint = (*Endpoint)(nil)

func newEndpoint(mtu uint32, closer func(), wg *sync.WaitGroup, idle *tracker) *Endpoint {
	if mtu == 0 {
		mtu = DefaultMTU
	}
	e := &Endpoint{closer: closer}
	e.in = inbox{deliver: e.deliver, wg: wg, idle: idle}
	e.SetMTU(mtu)
	return e
}

// out puts a frame on the wire (tests use it to play a station).
func (e *Endpoint) out(b []byte) {
	e.send(wireFrame{buf: buffer.MakeWithData(b), untrusted: true})
}

// Capabilities implements stack.LinkEndpoint. Receive checksum offload: the endpoint checks the
// checksums of frames that may be wrong (injected or corrupted) itself, like a NIC, and drops bad
// ones; super-segments from a stack on the same wire are trusted, as Linux trusts them over a veth.
// No transmit checksum offload: a stack computes the checksums of everything it does not segment.
func (*Endpoint) Capabilities() stack.LinkEndpointCapabilities {
	return stack.CapabilityResolutionRequired | stack.CapabilityRXChecksumOffload
}

// GSOMaxSize implements stack.GSOEndpoint.
func (*Endpoint) GSOMaxSize() uint32 { return GSOMaxSize }

// SupportedGSO implements stack.GSOEndpoint: the stack hands over TCP super-segments with a partial
// checksum, as to a NIC with TSO.
func (*Endpoint) SupportedGSO() stack.SupportedGSO { return stack.HostGSOSupported }

// ChecksumDrops counts frames this endpoint dropped for a bad checksum.
func (e *Endpoint) ChecksumDrops() uint64 { return e.checksumDrops.Load() }

// QueueDrops counts frames dropped because this station's queue was full or it was closed.
func (e *Endpoint) QueueDrops() uint64 { return e.in.drops.Load() }

// Attach implements stack.LinkEndpoint.
func (e *Endpoint) Attach(d stack.NetworkDispatcher) { e.att.Attach(d) }

// IsAttached implements stack.LinkEndpoint.
func (e *Endpoint) IsAttached() bool { return e.att.IsAttached() }

// Wait implements stack.LinkEndpoint. The link's goroutines belong to the Pair or Switch (their Close
// waits for them), so that the stack never waits on a goroutine that may be delivering into it.
func (*Endpoint) Wait() {}

// Close implements stack.LinkEndpoint: the endpoint stops sending and receiving.
func (e *Endpoint) Close() {
	if e.closed.Swap(true) {
		return
	}
	action := e.att.Detach()
	e.in.close()
	if e.closer != nil {
		e.closer()
	}
	if action != nil {
		action()
	}
}

// SetOnCloseAction implements stack.LinkEndpoint.
func (e *Endpoint) SetOnCloseAction(action func()) { e.att.SetOnCloseAction(action) }

// WritePackets implements stack.LinkEndpoint. Each packet already carries its Ethernet header; the
// wire takes a reference to its storage, not a copy.
func (e *Endpoint) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	if e.closed.Load() {
		return 0, &tcpip.ErrClosedForSend{}
	}
	n := 0
	for _, pkt := range pkts.AsSlice() {
		e.send(wireFrame{buf: pkt.ToBuffer(), gso: pkt.GSOOptions})
		n++
	}
	return n, nil
}

// writeUntrusted puts a frame on the wire whose checksums the receiver must check (a corrupted one).
func (e *Endpoint) writeUntrusted(b []byte) {
	if !e.closed.Load() {
		e.send(wireFrame{buf: buffer.MakeWithData(b), untrusted: true})
	}
}

// deliver hands a frame from the wire to the stack, filtering by destination MAC as a NIC does. It
// consumes the frame's reference.
func (e *Endpoint) deliver(f wireFrame) {
	if !e.deliverOwned(f) {
		f.buf.Release()
	}
}

// deliverOwned reports whether it handed f's reference on to the stack.
func (e *Endpoint) deliverOwned(f wireFrame) bool {
	if e.closed.Load() || f.buf.Size() < header.EthernetMinimumSize {
		return false
	}
	d, mac := e.att.Dispatcher(), e.LinkAddress()
	if d == nil {
		return false
	}
	hv, _ := f.buf.PullUp(0, header.EthernetMinimumSize)
	dst := header.Ethernet(hv.AsSlice()).DestinationAddress()
	typ, ok := PacketTypeFor(dst, mac)
	if !ok {
		return false // another station's unicast (a flooding switch): a NIC filters it out
	}
	if f.untrusted {
		all, _ := f.buf.PullUp(0, int(f.buf.Size()))
		if !ChecksumsValid(all.AsSlice()) {
			e.checksumDrops.Add(1)
			return false
		}
	}
	// The packet takes the frame's reference: no copy, and no second reference that would make
	// gVisor copy a shared chunk when it pulls up a header.
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: f.buf})
	defer pkt.DecRef()
	if !e.ParseHeader(pkt) {
		return true
	}
	pkt.PktType = typ
	pkt.GSOOptions = f.gso
	eth := header.Ethernet(pkt.LinkHeader().Slice())
	d.DeliverNetworkPacket(eth.Type(), pkt)
	return true
}

// Inject delivers frame to this endpoint's stack as if it had arrived from the wire, bypassing the
// link (the same MAC filtering and checksum checks apply). Tests use it to play a hostile peer.
func (e *Endpoint) Inject(b []byte) {
	e.deliver(wireFrame{buf: buffer.MakeWithData(append([]byte(nil), b...)), untrusted: true})
}
