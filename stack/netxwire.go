package stack

import (
	"encoding/binary"
	"sync"
	"sync/atomic"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/nested"
	gstack "gvisor.dev/gvisor/pkg/tcpip/stack"
)

// netxWire sits between the stack and the link endpoint of a SignatureNetX instance and changes
// what gVisor has no option for (see docs/stack.md):
//
//   - IPv4 identification: gVisor puts 0 in every DF datagram (all of TCP) and a hashed per-peer
//     counter in the others; NetX counts up by one per packet for the whole instance, from 1. Every
//     outgoing IPv4 header gets the next number and its checksum is recomputed (gVisor computes
//     IPv4 header checksums in software always, so this is exact with or without offloads).
//   - TCP options: gVisor always offers timestamps and window scaling in its own SYN and answers a
//     peer's SACK-permitted, timestamps and window scale in its SYN-ACK (only SACK has a stack
//     option). NetX offers and accepts only MSS. So the SYN options a peer sends are blanked (NOP)
//     before gVisor sees them, and every SYN and SYN-ACK gVisor sends is rebuilt with NetX's option
//     area (MSS, NOP, NOP, NOP, EOL; netxSyn): neither side then uses the others, as with NetX, and
//     the bytes are the real device's.
type netxWire struct {
	nested.Endpoint
	id atomic.Uint32 // last IPv4 identification sent
	// out serialises numbering and sending: gVisor writes from several goroutines, and a datagram
	// numbered first must reach the wire first, as on NetX's single IP thread (the IDs in a capture
	// then count up by one in frame order).
	out sync.Mutex

	mu               sync.Mutex // fragments of one datagram share one new identification
	fragOld, fragNew uint16
	fragSet          bool
}

func newNetXWire(ep gstack.LinkEndpoint) *netxWire {
	w := &netxWire{}
	w.Endpoint.Init(ep, w)
	return w
}

// WritePackets implements gstack.LinkEndpoint.
func (w *netxWire) WritePackets(pkts gstack.PacketBufferList) (int, tcpip.Error) {
	w.out.Lock()
	defer w.out.Unlock()
	var out gstack.PacketBufferList
	var made []*gstack.PacketBuffer
	for _, pkt := range pkts.AsSlice() {
		if np := w.egress(pkt); np != nil {
			made = append(made, np)
			pkt = np
		}
		out.PushBack(pkt)
	}
	if made == nil {
		return w.Endpoint.WritePackets(pkts)
	}
	// A rebuilt SYN replaces the stack's in a list of our own; the caller keeps owning its packets
	// (and a link endpoint that queues takes its own reference), so ours are released here.
	n, err := w.Endpoint.WritePackets(out)
	for _, np := range made {
		np.DecRef()
	}
	return n, err
}

// egress gives an outgoing packet NetX's IPv4 identification and, for a TCP SYN, NetX's option
// area: it returns the rebuilt SYN to send instead, or nil when pkt was changed in place (or not).
func (w *netxWire) egress(pkt *gstack.PacketBuffer) *gstack.PacketBuffer {
	nh := pkt.NetworkHeader().Slice()
	var src, dst []byte
	switch pkt.NetworkProtocolNumber {
	case header.IPv4ProtocolNumber:
		if len(nh) < header.IPv4MinimumSize || nh[0]>>4 != 4 {
			return nil
		}
		w.renumber(pkt, nh)
		src, dst = nh[12:16], nh[16:20]
	case header.IPv6ProtocolNumber:
		if len(nh) < header.IPv6MinimumSize {
			return nil
		}
		src, dst = nh[8:24], nh[24:40]
	default:
		return nil
	}
	if pkt.TransportProtocolNumber != header.TCPProtocolNumber {
		return nil
	}
	th := pkt.TransportHeader().Slice()
	if len(th) < header.TCPMinimumSize || header.TCPFlags(th[13])&header.TCPFlagSyn == 0 {
		return nil
	}
	if np := w.netxSyn(pkt, nh, th, src, dst); np != nil {
		return np
	}
	// Not rebuilt (no MSS option, IPv6 extension headers): blank what NetX would not send in place.
	// Is the checksum complete (software) or only the pseudo-header sum left for the NIC (offload)?
	// Only a complete one must follow the blanked bytes.
	full := tcpChecksum(src, dst, th, pkt.Data().Size(), pkt.Data().Checksum()) == 0xffff
	old := onesSum(th)
	if !blankSynOptions(th, false) {
		return nil
	}
	if full {
		fixChecksum(th[16:18], old, onesSum(th))
	}
	return nil
}

// netxSynOptionsLen is the length of NetX Duo's SYN option area: MSS (4 bytes), NOP, NOP, NOP, EOL.
const netxSynOptionsLen = 8

// netxSyn rebuilds a SYN or SYN-ACK with NetX Duo's option area, exactly as the real device sends it
// (02 04 MSS MSS 01 01 01 00: a 28-byte TCP header), in place of gVisor's (MSS alone in a SYN-ACK, or
// MSS with timestamps and window scale in its own SYN). gVisor has no option for the layout and a
// header cannot grow or shrink in place, so the packet is made anew: same IP header (lengths and
// checksum updated), same TCP header fields, full TCP checksum (valid with or without offloads).
// It returns nil when pkt has no MSS option or the IPv6 header is followed by extension headers.
func (w *netxWire) netxSyn(pkt *gstack.PacketBuffer, nh, th, src, dst []byte) *gstack.PacketBuffer {
	hl := int(th[12]>>4) * 4
	if hl < header.TCPMinimumSize || hl > len(th) || pkt.GSOOptions.Type != gstack.GSONone {
		return nil
	}
	mss, ok := mssOption(th[header.TCPMinimumSize:hl])
	if !ok {
		return nil
	}
	if pkt.NetworkProtocolNumber == header.IPv6ProtocolNumber && (len(nh) != header.IPv6MinimumSize || nh[6] != uint8(header.TCPProtocolNumber)) {
		return nil
	}
	payload := pkt.Data().AsRange().ToSlice()
	tcpLen := header.TCPMinimumSize + netxSynOptionsLen
	newTH := make([]byte, tcpLen)
	copy(newTH, th[:header.TCPMinimumSize])
	newTH[12] = byte(tcpLen/4)<<4 | th[12]&0x0f
	copy(newTH[header.TCPMinimumSize:], []byte{header.TCPOptionMSS, 4, byte(mss >> 8), byte(mss), header.TCPOptionNOP, header.TCPOptionNOP, header.TCPOptionNOP, header.TCPOptionEOL})
	newTH[16], newTH[17] = 0, 0
	binary.BigEndian.PutUint16(newTH[16:18], ^tcpChecksum(src, dst, newTH, len(payload), onesFold(onesSum(payload))))

	newNH := append([]byte(nil), nh...)
	if pkt.NetworkProtocolNumber == header.IPv4ProtocolNumber {
		ihl := int(newNH[0]&0xf) * 4
		binary.BigEndian.PutUint16(newNH[2:4], uint16(len(newNH)+tcpLen+len(payload)))
		newNH[10], newNH[11] = 0, 0
		binary.BigEndian.PutUint16(newNH[10:12], ^onesFold(onesSum(newNH[:ihl])))
	} else {
		binary.BigEndian.PutUint16(newNH[4:6], uint16(tcpLen+len(payload)))
	}
	// The NIC added the Ethernet header before WritePackets: carry it over.
	lh := pkt.LinkHeader().Slice()
	np := gstack.NewPacketBuffer(gstack.PacketBufferOptions{
		ReserveHeaderBytes: len(lh) + len(newNH) + tcpLen,
		Payload:            buffer.MakeWithData(payload),
	})
	copy(np.TransportHeader().Push(tcpLen), newTH)
	copy(np.NetworkHeader().Push(len(newNH)), newNH)
	copy(np.LinkHeader().Push(len(lh)), lh)
	np.NetworkProtocolNumber, np.TransportProtocolNumber = pkt.NetworkProtocolNumber, pkt.TransportProtocolNumber
	np.EgressRoute, np.Hash, np.Owner, np.PktType, np.NICID = pkt.EgressRoute, pkt.Hash, pkt.Owner, pkt.PktType, pkt.NICID
	np.NetworkPacketInfo, np.Mark = pkt.NetworkPacketInfo, pkt.Mark
	return np
}

// mssOption returns the value of a TCP option list's MSS option.
func mssOption(opts []byte) (uint16, bool) {
	for i := 0; i < len(opts); {
		switch opts[i] {
		case header.TCPOptionEOL:
			return 0, false
		case header.TCPOptionNOP:
			i++
			continue
		}
		if i+1 >= len(opts) || opts[i+1] < 2 || i+int(opts[i+1]) > len(opts) {
			return 0, false
		}
		if opts[i] == header.TCPOptionMSS && opts[i+1] == 4 {
			return binary.BigEndian.Uint16(opts[i+2 : i+4]), true
		}
		i += int(opts[i+1])
	}
	return 0, false
}

// renumber gives an outgoing IPv4 header the instance's next identification.
func (w *netxWire) renumber(pkt *gstack.PacketBuffer, nh []byte) {
	ihl := int(nh[0]&0xf) * 4
	if ihl < header.IPv4MinimumSize || ihl > len(nh) {
		return
	}
	frag := binary.BigEndian.Uint16(nh[6:8])
	more, offset := frag&0x2000 != 0, frag&0x1fff
	old := binary.BigEndian.Uint16(nh[4:6])
	var id uint16
	if more || offset != 0 {
		w.mu.Lock()
		if offset != 0 && w.fragSet && w.fragOld == old {
			id = w.fragNew
		} else {
			id = uint16(w.id.Add(1))
			w.fragOld, w.fragNew, w.fragSet = old, id, true
		}
		w.mu.Unlock()
	} else {
		n := uint32(1)
		if g := pkt.GSOOptions; g.Type != gstack.GSONone && g.MSS > 0 {
			// A GSO super-packet becomes several datagrams, numbered on from this one.
			n = max(1, uint32((pkt.Data().Size()+int(g.MSS)-1)/int(g.MSS)))
		}
		id = uint16(w.id.Add(n) - n + 1)
	}
	binary.BigEndian.PutUint16(nh[4:6], id)
	nh[10], nh[11] = 0, 0
	binary.BigEndian.PutUint16(nh[10:12], ^onesFold(onesSum(nh[:ihl])))
}

// DeliverNetworkPacket implements gstack.NetworkDispatcher: a peer's SYN loses its SACK-permitted,
// timestamp and window-scale options.
func (w *netxWire) DeliverNetworkPacket(protocol tcpip.NetworkProtocolNumber, pkt *gstack.PacketBuffer) {
	if np := stripSynOptions(protocol, pkt); np != nil {
		w.Endpoint.DeliverNetworkPacket(protocol, np)
		np.DecRef()
		return
	}
	w.Endpoint.DeliverNetworkPacket(protocol, pkt)
}

// stripSynOptions returns a copy of pkt with the options blanked when pkt is a TCP SYN carrying
// any of them, else nil.
func stripSynOptions(protocol tcpip.NetworkProtocolNumber, pkt *gstack.PacketBuffer) *gstack.PacketBuffer {
	const peek = header.IPv6MinimumSize + header.TCPHeaderMaximumSize
	b := pkt.Data().AsRange().Capped(peek).ToSlice()
	off, ok := tcpOffset(protocol, b)
	if !ok || len(b) < off+header.TCPMinimumSize || header.TCPFlags(b[off+13])&header.TCPFlagSyn == 0 {
		return nil
	}
	if !blankSynOptions(b[off:], true) {
		return nil
	}
	// Rebuild the frame with the changed header; the peer's checksum was complete, so adjust it.
	linkLen := len(pkt.LinkHeader().Slice())
	frame := make([]byte, 0, pkt.Size())
	for _, v := range pkt.AsSlices() {
		frame = append(frame, v...)
	}
	start := len(frame) - pkt.Data().Size()
	th := frame[start+off:]
	hl := int(th[12]>>4) * 4
	if hl > len(th) {
		return nil
	}
	old := onesSum(th[:hl])
	blankSynOptions(th[:hl], true)
	fixChecksum(th[16:18], old, onesSum(th[:hl]))
	np := gstack.NewPacketBuffer(gstack.PacketBufferOptions{Payload: buffer.MakeWithData(frame[start-linkLen:])})
	if linkLen > 0 {
		np.LinkHeader().Consume(linkLen)
	}
	np.PktType = pkt.PktType
	return np
}

// tcpOffset finds the TCP header in an IP datagram b (IPv6 without extension headers, IPv4 first
// fragments only).
func tcpOffset(protocol tcpip.NetworkProtocolNumber, b []byte) (int, bool) {
	switch protocol {
	case header.IPv4ProtocolNumber:
		if len(b) < header.IPv4MinimumSize || b[0]>>4 != 4 || b[9] != uint8(header.TCPProtocolNumber) ||
			binary.BigEndian.Uint16(b[6:8])&0x1fff != 0 {
			return 0, false
		}
		return int(b[0]&0xf) * 4, true
	case header.IPv6ProtocolNumber:
		if len(b) < header.IPv6MinimumSize || b[0]>>4 != 6 || b[6] != uint8(header.TCPProtocolNumber) {
			return 0, false
		}
		return header.IPv6MinimumSize, true
	}
	return 0, false
}

// blankSynOptions replaces the timestamp and window-scale options (and, with sack, SACK-permitted)
// in the TCP header th by NOPs; it reports whether it changed anything. A malformed option list is
// left alone (gVisor then judges it).
func blankSynOptions(th []byte, sack bool) bool {
	hl := int(th[12]>>4) * 4
	if hl <= header.TCPMinimumSize || hl > len(th) {
		return false
	}
	opts := th[header.TCPMinimumSize:hl]
	changed := false
	for i := 0; i < len(opts); {
		switch kind := opts[i]; kind {
		case header.TCPOptionEOL:
			return changed
		case header.TCPOptionNOP:
			i++
			continue
		default:
			if i+1 >= len(opts) || opts[i+1] < 2 || i+int(opts[i+1]) > len(opts) {
				return changed
			}
			n := int(opts[i+1])
			if kind == header.TCPOptionTS || kind == header.TCPOptionWS || sack && kind == header.TCPOptionSACKPermitted {
				for j := i; j < i+n; j++ {
					opts[j] = header.TCPOptionNOP
				}
				changed = true
			}
			i += n
		}
	}
	return changed
}

// tcpChecksum folds the TCP checksum over the pseudo-header, th and a payload of size n whose
// one's-complement sum is payloadSum; a correct segment gives 0xffff.
func tcpChecksum(src, dst, th []byte, n int, payloadSum uint16) uint16 {
	length := len(th) + n
	var pseudo [4]byte
	var s uint32
	s += onesSum(src) + onesSum(dst)
	if len(src) == 4 {
		binary.BigEndian.PutUint16(pseudo[:2], uint16(header.TCPProtocolNumber))
		binary.BigEndian.PutUint16(pseudo[2:], uint16(length))
		s += onesSum(pseudo[:])
	} else {
		binary.BigEndian.PutUint32(pseudo[:], uint32(length))
		s += onesSum(pseudo[:]) + uint32(header.TCPProtocolNumber)
	}
	s += onesSum(th)
	if len(th)%2 == 1 { // the payload's sum starts at an odd offset: swap its bytes
		payloadSum = payloadSum<<8 | payloadSum>>8
	}
	s += uint32(payloadSum)
	return onesFold(s)
}

// onesSum adds b as big-endian 16-bit words (a last odd byte padded with zero), unfolded.
func onesSum(b []byte) uint32 {
	var s uint32
	for len(b) >= 2 {
		s += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	return s
}

func onesFold(s uint32) uint16 {
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}

// fixChecksum updates the checksum field c after the covered bytes' sum changed from old to new
// (RFC 1624: HC' = ~(~HC + ~m + m')).
func fixChecksum(c []byte, old, new uint32) {
	hc := binary.BigEndian.Uint16(c)
	s := uint32(^hc) + uint32(^onesFold(old)) + uint32(onesFold(new))
	binary.BigEndian.PutUint16(c, ^onesFold(s))
}
