// Package wiresig reads a device's TCP/IP signature out of a capture (pcap or pcapng) with gopacket:
// the TTL or hop limit, TCP options and windows of its SYNs and SYN-ACKs, the windows of its other
// segments and its IPv4 identifications. Tests use it to check stack.SignatureNetX on the wire; it
// is not part of the product.
package wiresig

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/netip"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Syn is one SYN or SYN-ACK a device sent.
type Syn struct {
	Frame            int // 1-based frame number
	SynAck           bool
	IPv6             bool
	TTL              uint8 // TTL or hop limit
	DF               bool  // IPv4 don't-fragment
	SrcPort, DstPort uint16
	Window           uint16
	Options          []layers.TCPOptionKind // in order, NOP and EOL included
	OptionBytes      []byte                 // the raw option area
	MSS              uint16
}

// OnlyMSS reports whether the SYN carries MSS and nothing else but padding (NOP, EOL).
func (s Syn) OnlyMSS() bool {
	mss := false
	for _, k := range s.Options {
		switch k {
		case layers.TCPOptionKindMSS:
			mss = true
		case layers.TCPOptionKindNop, layers.TCPOptionKindEndList:
		default:
			return false
		}
	}
	return mss
}

// Segment is any TCP segment a device sent.
type Segment struct {
	Frame            int
	SrcPort, DstPort uint16
	Window           uint16
	Flags            string
	TTL              uint8
	HasTS            bool
}

// Report is what the capture shows of one device (its addresses) and its peers.
type Report struct {
	Syns     []Syn
	Segments []Segment // every TCP segment from the device
	PeerSyns []Syn     // SYNs and SYN-ACKs the peers sent (to the device)
	PeerTS   int       // non-SYN peer segments to the device carrying a timestamp option
	IPv4IDs  []uint16  // identifications of the device's IPv4 packets, in capture order
	TTLs     map[uint8]int
}

// Read reads a capture and reports the packets from and to the device's addresses.
func Read(r io.Reader, device ...netip.Addr) (*Report, error) {
	src, err := openCapture(r)
	if err != nil {
		return nil, err
	}
	isDev := func(b []byte) bool {
		a, ok := netip.AddrFromSlice(b)
		if !ok {
			return false
		}
		for _, d := range device {
			if d.Unmap() == a.Unmap() {
				return true
			}
		}
		return false
	}
	rep := &Report{TTLs: map[uint8]int{}}
	for frame := 1; ; frame++ {
		data, _, err := src.ReadPacketData()
		if err == io.EOF {
			return rep, nil
		}
		if err != nil {
			return nil, fmt.Errorf("wiresig: frame %d: %w", frame, err)
		}
		p := gopacket.NewPacket(data, src.LinkType(), gopacket.Default)
		var from, to bool
		var ttl uint8
		var df, v6 bool
		if ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ok {
			from, to, ttl, df = isDev(ip.SrcIP), isDev(ip.DstIP), ip.TTL, ip.Flags&layers.IPv4DontFragment != 0
			if from {
				rep.IPv4IDs = append(rep.IPv4IDs, ip.Id)
			}
		} else if ip, ok := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6); ok {
			from, to, ttl, v6 = isDev(ip.SrcIP), isDev(ip.DstIP), ip.HopLimit, true
		} else {
			continue
		}
		if from {
			rep.TTLs[ttl]++
		}
		tcp, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if !ok || !from && !to {
			continue
		}
		hasTS := false
		for _, o := range tcp.Options {
			if o.OptionType == layers.TCPOptionKindTimestamps {
				hasTS = true
			}
		}
		if tcp.SYN {
			s := Syn{Frame: frame, SynAck: tcp.ACK, IPv6: v6, TTL: ttl, DF: df, SrcPort: uint16(tcp.SrcPort),
				DstPort: uint16(tcp.DstPort), Window: tcp.Window}
			if hl := int(tcp.DataOffset) * 4; hl > 20 && hl <= len(tcp.Contents) {
				s.OptionBytes = append([]byte(nil), tcp.Contents[20:hl]...)
			}
			for _, o := range tcp.Options {
				s.Options = append(s.Options, o.OptionType)
				if o.OptionType == layers.TCPOptionKindMSS && len(o.OptionData) == 2 {
					s.MSS = uint16(o.OptionData[0])<<8 | uint16(o.OptionData[1])
				}
			}
			if from {
				rep.Syns = append(rep.Syns, s)
			} else {
				rep.PeerSyns = append(rep.PeerSyns, s)
			}
		} else if to && hasTS {
			rep.PeerTS++
		}
		if from {
			flags := ""
			for _, f := range []struct {
				on bool
				c  string
			}{{tcp.SYN, "S"}, {tcp.ACK, "A"}, {tcp.PSH, "P"}, {tcp.FIN, "F"}, {tcp.RST, "R"}} {
				if f.on {
					flags += f.c
				}
			}
			rep.Segments = append(rep.Segments, Segment{Frame: frame, SrcPort: uint16(tcp.SrcPort), DstPort: uint16(tcp.DstPort),
				Window: tcp.Window, Flags: flags, TTL: ttl, HasTS: hasTS})
		}
	}
}

// source is a capture being read, pcap or pcapng.
type source interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	LinkType() layers.LinkType
}

// openCapture opens a pcap or a pcapng capture, told apart by the magic number.
func openCapture(r io.Reader) (source, error) {
	br := bufio.NewReader(r)
	magic, err := br.Peek(4)
	if err != nil {
		return nil, fmt.Errorf("wiresig: read capture: %w", err)
	}
	if bytes.Equal(magic, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		ng, err := pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			return nil, fmt.Errorf("wiresig: %w", err)
		}
		return ng, nil
	}
	pr, err := pcapgo.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("wiresig: %w", err)
	}
	return pr, nil
}
