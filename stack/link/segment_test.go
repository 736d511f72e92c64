package link

import (
	"bytes"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// superSegment builds an Ethernet frame with one TCP super-segment of n payload bytes (ACK, PSH,
// FIN, CWR set) whose TCP checksum covers only the pseudo-header, as a stack hands it to TSO.
func superSegment(v6 bool, n int) []byte {
	const eth, tcpLen = header.EthernetMinimumSize, header.TCPMinimumSize + 12
	ipLen := header.IPv4MinimumSize
	typ := header.IPv4ProtocolNumber
	if v6 {
		ipLen, typ = header.IPv6MinimumSize, header.IPv6ProtocolNumber
	}
	b := make([]byte, eth+ipLen+tcpLen+n)
	header.Ethernet(b).Encode(&header.EthernetFields{SrcAddr: macA, DstAddr: macB, Type: typ})
	var src, dst tcpip.Address
	if v6 {
		src = tcpip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 2})
		dst = tcpip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 1})
		header.IPv6(b[eth:]).Encode(&header.IPv6Fields{PayloadLength: uint16(tcpLen + n),
			TransportProtocol: header.TCPProtocolNumber, HopLimit: 64, SrcAddr: src, DstAddr: dst})
	} else {
		src, dst = tcpip.AddrFrom4([4]byte{198, 51, 100, 2}), tcpip.AddrFrom4([4]byte{198, 51, 100, 1})
		ip := header.IPv4(b[eth:])
		ip.Encode(&header.IPv4Fields{TotalLength: uint16(ipLen + tcpLen + n), ID: 65530, TTL: 64,
			Protocol: uint8(header.TCPProtocolNumber), SrcAddr: src, DstAddr: dst})
		ip.SetChecksum(^ip.CalculateChecksum())
	}
	tcp := header.TCP(b[eth+ipLen:])
	tcp.Encode(&header.TCPFields{SrcPort: 20, DstPort: 40000, SeqNum: 0xfffff000, AckNum: 7, DataOffset: tcpLen,
		Flags: header.TCPFlagAck | header.TCPFlagPsh | header.TCPFlagFin | header.TCPFlagCwr, WindowSize: 1000})
	copy(tcp[header.TCPMinimumSize:], []byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}) // NOP NOP timestamps
	for i := range n {
		b[eth+ipLen+tcpLen+i] = byte(i * 13)
	}
	tcp.SetChecksum(header.PseudoHeaderChecksum(header.TCPProtocolNumber, src, dst, uint16(tcpLen+n)))
	return b
}

func TestWireFrames(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		const n = 10000
		in := superSegment(v6, n)
		orig := append([]byte(nil), in...)
		out := WireFrames(in, 1448, 1500)
		if !bytes.Equal(in, orig) {
			t.Fatal("WireFrames modified its input")
		}
		ipLen := header.IPv4MinimumSize
		if v6 {
			ipLen = header.IPv6MinimumSize
		}
		hdr := header.EthernetMinimumSize + ipLen + 32
		mss := min(1448, 1500-ipLen-32)
		if want := (n + mss - 1) / mss; len(out) != want {
			t.Fatalf("v6=%v: %d frames, want %d", v6, len(out), want)
		}
		var payload []byte
		seq := uint32(0xfffff000)
		for i, f := range out {
			if len(f) > 1514 {
				t.Errorf("frame %d: %d bytes", i, len(f))
			}
			if !ChecksumsValid(f) {
				t.Errorf("frame %d: bad checksum", i)
			}
			tcp := header.TCP(f[header.EthernetMinimumSize+ipLen:])
			if tcp.SequenceNumber() != seq {
				t.Errorf("frame %d: seq %#x, want %#x", i, tcp.SequenceNumber(), seq)
			}
			seq += uint32(len(f) - hdr)
			last, first := i == len(out)-1, i == 0
			fl := tcp.Flags()
			if fl.Contains(header.TCPFlagFin) != last || fl.Contains(header.TCPFlagPsh) != last ||
				fl.Contains(header.TCPFlagCwr) != first || !fl.Contains(header.TCPFlagAck) {
				t.Errorf("frame %d of %d: flags %s", i, len(out), fl)
			}
			if !v6 {
				if id := header.IPv4(f[header.EthernetMinimumSize:]).ID(); id != uint16(65530+i) {
					t.Errorf("frame %d: IP ID %d, want %d", i, id, uint16(65530+i))
				}
			}
			payload = append(payload, f[hdr:]...)
		}
		if !bytes.Equal(payload, orig[hdr:]) {
			t.Errorf("v6=%v: payload changed in cutting", v6)
		}
	}
	if got := WireFrames([]byte{1, 2, 3}, 0, 1500); len(got) != 1 {
		t.Error("a runt was cut")
	}
	bad := superSegment(false, 100)
	bad[len(bad)-1] ^= 1
	if ChecksumsValid(WireFrames(bad, 0, 1500)[0]) != true {
		t.Error("a completed checksum is not valid")
	}
}
