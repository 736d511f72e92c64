package link

import (
	"encoding/binary"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// GSOMaxSize is the largest packet an in-memory or TAP endpoint accepts from its stack when it
// offers segmentation offload: an IPv4 packet's 16-bit total length.
const GSOMaxSize = 1 << 16

// NeedsWire reports whether a packet with these offload options is not yet what a wire carries:
// a super-segment (larger than one MSS) or a segment whose TCP checksum covers only the
// pseudo-header (the stack left the rest to the "NIC").
func NeedsWire(gso stack.GSO) bool {
	return gso.Type != stack.GSONone || gso.NeedsCsum
}

// WireFrames cuts an Ethernet frame that carries a TCP super-segment into the frames a wire with
// IP MTU mtu carries, as a NIC's TCP segmentation offload does: each frame gets a copy of the
// headers, its slice of the payload, the right sequence number, IPv4 identification (consecutive
// from the super-segment's) and total or payload length, FIN and PSH only on the last frame, CWR
// only on the first, and full IPv4 header and TCP checksums. mss bounds the payload per frame (0:
// what mtu allows). A frame that needs no cutting is returned alone with its checksums completed.
// frame is not modified. A frame that is not Ethernet + IPv4/IPv6 + TCP is returned as it is.
func WireFrames(frame []byte, mss int, mtu uint32) [][]byte {
	const eth = header.EthernetMinimumSize
	if len(frame) < eth {
		return [][]byte{frame}
	}
	var ipLen, tcpOff int
	var v4 bool
	switch header.Ethernet(frame).Type() {
	case header.IPv4ProtocolNumber:
		ip := header.IPv4(frame[eth:])
		if !ip.IsValid(len(frame)-eth) || ip.Protocol() != uint8(header.TCPProtocolNumber) || ip.More() || ip.FragmentOffset() != 0 {
			return [][]byte{frame}
		}
		v4, ipLen, tcpOff = true, int(ip.HeaderLength()), eth+int(ip.HeaderLength())
	case header.IPv6ProtocolNumber:
		ip := header.IPv6(frame[eth:])
		if !ip.IsValid(len(frame)-eth) || ip.TransportProtocol() != header.TCPProtocolNumber {
			return [][]byte{frame} // extension headers: not produced by our stacks' TSO
		}
		ipLen, tcpOff = header.IPv6MinimumSize, eth+header.IPv6MinimumSize
	default:
		return [][]byte{frame}
	}
	if len(frame) < tcpOff+header.TCPMinimumSize {
		return [][]byte{frame}
	}
	tcpLen := int(header.TCP(frame[tcpOff:]).DataOffset())
	if tcpLen < header.TCPMinimumSize || len(frame) < tcpOff+tcpLen {
		return [][]byte{frame}
	}
	hdrEnd := tcpOff + tcpLen
	payload := frame[hdrEnd:]
	if mtu != 0 {
		if m := int(mtu) - ipLen - tcpLen; m > 0 && (mss == 0 || m < mss) {
			mss = m
		}
	}
	if mss <= 0 {
		mss = len(payload)
	}
	n := 1
	if len(payload) > mss {
		n = (len(payload) + mss - 1) / mss
	}
	out := make([][]byte, 0, n)
	orig := header.TCP(frame[tcpOff:])
	seq, flags := orig.SequenceNumber(), orig.Flags()
	var id uint16
	if v4 {
		id = header.IPv4(frame[eth:]).ID()
	}
	for i := 0; i < n; i++ {
		chunk := payload
		if len(chunk) > mss {
			chunk = chunk[:mss]
		}
		payload = payload[len(chunk):]
		f := make([]byte, hdrEnd+len(chunk))
		copy(f, frame[:hdrEnd])
		copy(f[hdrEnd:], chunk)
		tcp := header.TCP(f[tcpOff:])
		fl := flags
		if i != n-1 {
			fl &^= header.TCPFlagFin | header.TCPFlagPsh
		}
		if i != 0 {
			fl &^= header.TCPFlagCwr
		}
		tcp.SetFlags(uint8(fl))
		tcp.SetSequenceNumber(seq)
		seq += uint32(len(chunk))
		var src, dst tcpip.Address
		if v4 {
			ip := header.IPv4(f[eth:])
			ip.SetTotalLength(uint16(len(f) - eth))
			ip.SetID(id + uint16(i))
			ip.SetChecksum(0)
			ip.SetChecksum(^ip.CalculateChecksum())
			src, dst = ip.SourceAddress(), ip.DestinationAddress()
		} else {
			ip := header.IPv6(f[eth:])
			ip.SetPayloadLength(uint16(len(f) - eth - header.IPv6MinimumSize))
			src, dst = ip.SourceAddress(), ip.DestinationAddress()
		}
		setTCPChecksum(tcp, src, dst)
		out = append(out, f)
	}
	return out
}

func setTCPChecksum(tcp header.TCP, src, dst tcpip.Address) {
	tcp.SetChecksum(0)
	xsum := header.PseudoHeaderChecksum(header.TCPProtocolNumber, src, dst, uint16(len(tcp)))
	tcp.SetChecksum(^checksum.Checksum(tcp, xsum))
}

// ChecksumsValid reports whether an Ethernet frame's IPv4 header checksum and its TCP, UDP or
// ICMP checksum are right, as a NIC with receive checksum offload checks them. Frames it cannot
// parse (not IP, truncated, fragments, unknown protocols) are reported valid: the stack judges them.
func ChecksumsValid(frame []byte) bool {
	const eth = header.EthernetMinimumSize
	if len(frame) < eth {
		return true
	}
	var src, dst tcpip.Address
	var proto tcpip.TransportProtocolNumber
	var l4 []byte
	switch header.Ethernet(frame).Type() {
	case header.IPv4ProtocolNumber:
		ip := header.IPv4(frame[eth:])
		if !ip.IsValid(len(frame) - eth) {
			return true
		}
		if !ip.IsChecksumValid() {
			return false
		}
		if ip.More() || ip.FragmentOffset() != 0 {
			return true
		}
		src, dst, proto = ip.SourceAddress(), ip.DestinationAddress(), ip.TransportProtocol()
		l4 = frame[eth+int(ip.HeaderLength()) : eth+int(ip.TotalLength())]
		if proto == header.ICMPv4ProtocolNumber {
			return checksum.Checksum(l4, 0) == 0xffff
		}
	case header.IPv6ProtocolNumber:
		ip := header.IPv6(frame[eth:])
		if !ip.IsValid(len(frame) - eth) {
			return true
		}
		src, dst, proto = ip.SourceAddress(), ip.DestinationAddress(), ip.TransportProtocol()
		l4 = frame[eth+header.IPv6MinimumSize : eth+header.IPv6MinimumSize+int(ip.PayloadLength())]
	default:
		return true
	}
	switch proto {
	case header.TCPProtocolNumber, header.UDPProtocolNumber, header.ICMPv6ProtocolNumber:
	default:
		return true
	}
	if proto == header.UDPProtocolNumber && len(l4) >= header.UDPMinimumSize && binary.BigEndian.Uint16(l4[6:]) == 0 && len(src.AsSlice()) == 4 {
		return true // IPv4 UDP without a checksum
	}
	xsum := header.PseudoHeaderChecksum(proto, src, dst, uint16(len(l4)))
	return checksum.Checksum(l4, xsum) == 0xffff
}

// packetBytes returns the whole frame of pkt (from its link header on) as one slice.
func packetBytes(pkt *stack.PacketBuffer) []byte {
	views := pkt.AsSlices()
	if len(views) == 1 {
		return views[0]
	}
	b := make([]byte, 0, pkt.Size())
	for _, v := range views {
		b = append(b, v...)
	}
	return b
}

// PacketFrames returns the wire frames of pkt: cut and checksummed (see WireFrames) when its
// offload options say it is a super-segment or lacks its checksum, else the frame as it is. The
// slices may alias pkt's storage when no cutting was needed: do not modify them.
func PacketFrames(pkt *stack.PacketBuffer, mtu uint32) [][]byte {
	b := packetBytes(pkt)
	if !NeedsWire(pkt.GSOOptions) {
		return [][]byte{b}
	}
	return WireFrames(b, int(pkt.GSOOptions.MSS), mtu)
}
