package ftpcheck

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// ErrNotCapture marks input that is neither pcap nor pcapng.
var ErrNotCapture = errors.New("not a pcap or pcapng capture")

// packetSource is the part of pcapgo's readers the analyser uses. Both formats hand out packet bytes
// without copying; the analyser consumes them before reading the next packet.
type packetSource interface {
	ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// capture is an open capture stream with the link type of each packet.
type capture struct {
	src    packetSource
	format string
	link   func(ci gopacket.CaptureInfo) layers.LinkType
}

// openCapture detects the format from the magic number and opens a streaming reader.
func openCapture(r io.Reader) (*capture, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	magic, err := br.Peek(4)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: the input is empty or shorter than a file header (%d bytes)", ErrNotCapture, len(magic))
		}
		return nil, fmt.Errorf("reading capture header: %w", err)
	}
	switch binary.BigEndian.Uint32(magic) {
	case 0x0a0d0d0a:
		ng, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{WantMixedLinkType: true, SkipUnknownVersion: true})
		if err != nil {
			return nil, fmt.Errorf("pcapng capture: bad section or interface header (is the file complete?): %w", err)
		}
		first := ng.LinkType()
		return &capture{src: ng, format: "pcapng", link: func(ci gopacket.CaptureInfo) layers.LinkType {
			if len(ci.AncillaryData) > 0 {
				if lt, ok := ci.AncillaryData[0].(layers.LinkType); ok {
					return lt
				}
			}
			return first
		}}, nil
	case 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1:
		pr, err := pcapgo.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("pcap capture: bad file header (is the file complete?): %w", err)
		}
		lt := pr.LinkType()
		return &capture{src: pr, format: "pcap", link: func(gopacket.CaptureInfo) layers.LinkType { return lt }}, nil
	}
	return nil, fmt.Errorf("%w: it starts with % x; give a .pcap or .pcapng file (tshark -F pcapng converts others)", ErrNotCapture, magic)
}

// decoded is one TCP segment taken from a captured frame.
type decoded struct {
	netFlow gopacket.Flow
	tcp     layers.TCP
	ip4     layers.IPv4
	ip6     layers.IPv6
	eth     layers.Ethernet
	sll     layers.LinuxSLL
	sll2    layers.LinuxSLL2
	vlan    layers.Dot1Q
}

// errSkip marks frames that carry no TCP over IP (ARP, ICMP, UDP, fragments...): not an error.
var errSkip = errors.New("not a TCP segment")

// decode finds the TCP segment in a frame of the given link type.
func (d *decoded) decode(lt layers.LinkType, data []byte) error {
	var ethType layers.EthernetType
	var payload []byte
	switch lt {
	case layers.LinkTypeEthernet:
		if err := d.eth.DecodeFromBytes(data, gopacket.NilDecodeFeedback); err != nil {
			return err
		}
		ethType, payload = d.eth.EthernetType, d.eth.Payload
	case layers.LinkTypeLinuxSLL:
		if err := d.sll.DecodeFromBytes(data, gopacket.NilDecodeFeedback); err != nil {
			return err
		}
		ethType, payload = d.sll.EthernetType, d.sll.Payload
	case layers.LinkTypeLinuxSLL2:
		if err := d.sll2.DecodeFromBytes(data, gopacket.NilDecodeFeedback); err != nil {
			return err
		}
		ethType, payload = d.sll2.ProtocolType, d.sll2.Payload
	case layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6, 12, 14: // 12/14: raw IP on some BSDs
		payload = data
		if ethType = ipType(payload); ethType == 0 {
			return errSkip
		}
	case layers.LinkTypeNull, layers.LinkTypeLoop: // BSD loopback: 4-byte address family
		if len(data) < 4 {
			return errSkip
		}
		payload = data[4:]
		if ethType = ipType(payload); ethType == 0 {
			return errSkip
		}
	default:
		return fmt.Errorf("link type %v is not supported (use Ethernet, Linux cooked or raw IP captures)", lt)
	}
	for i := 0; i < 2 && (ethType == layers.EthernetTypeDot1Q || ethType == layers.EthernetTypeQinQ); i++ {
		if err := d.vlan.DecodeFromBytes(payload, gopacket.NilDecodeFeedback); err != nil {
			return err
		}
		ethType, payload = d.vlan.Type, d.vlan.Payload
	}
	switch ethType {
	case layers.EthernetTypeIPv4:
		if err := d.ip4.DecodeFromBytes(payload, gopacket.NilDecodeFeedback); err != nil {
			return err
		}
		if d.ip4.Protocol != layers.IPProtocolTCP || d.ip4.FragOffset != 0 || d.ip4.Flags&layers.IPv4MoreFragments != 0 {
			return errSkip
		}
		d.netFlow = d.ip4.NetworkFlow()
		payload = d.ip4.Payload
	case layers.EthernetTypeIPv6:
		if err := d.ip6.DecodeFromBytes(payload, gopacket.NilDecodeFeedback); err != nil {
			return err
		}
		if d.ip6.NextHeader != layers.IPProtocolTCP {
			return errSkip
		}
		d.netFlow = d.ip6.NetworkFlow()
		payload = d.ip6.Payload
	default:
		return errSkip
	}
	if err := d.tcp.DecodeFromBytes(payload, gopacket.NilDecodeFeedback); err != nil {
		return err
	}
	return nil
}

// ipType is the EtherType of a raw IP packet by its version nibble, 0 when it is neither IPv4 nor IPv6.
func ipType(p []byte) layers.EthernetType {
	if len(p) == 0 {
		return 0
	}
	switch p[0] >> 4 {
	case 4:
		return layers.EthernetTypeIPv4
	case 6:
		return layers.EthernetTypeIPv6
	}
	return 0
}
