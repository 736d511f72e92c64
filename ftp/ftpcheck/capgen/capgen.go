// Package capgen writes synthetic pcapng captures of TCP conversations, with correct sequence and
// acknowledgement numbers and checksums, for testing and benchmarking the FTP capture checker.
// Frames are Ethernet with IPv4 or IPv6; every call advances a virtual clock.
package capgen

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Side is one end of a connection: Client opened it (sent the SYN), Server accepted it.
type Side int

const (
	Client Side = 0
	Server Side = 1
)

// MSS is the largest payload per segment.
const MSS = 1448

// packetWriter is what pcapgo's pcap and pcapng writers share.
type packetWriter interface {
	WritePacket(ci gopacket.CaptureInfo, data []byte) error
}

// Capture writes frames to a pcapng (or pcap) stream.
type Capture struct {
	bw   *bufio.Writer
	w    packetWriter
	now  time.Time
	step time.Duration
	buf  gopacket.SerializeBuffer
	err  error
	isn  uint32
	// Frames counts the frames written.
	Frames int
}

// New starts a pcapng capture on w (one Ethernet interface named "capgen").
func New(w io.Writer) (*Capture, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	ng, err := pcapgo.NewNgWriterInterface(bw, pcapgo.NgInterface{Name: "capgen", LinkType: layers.LinkTypeEthernet, SnapLength: 65536, TimestampResolution: 9},
		pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{Application: "netxsim capgen"}})
	if err != nil {
		return nil, fmt.Errorf("capgen: %w", err)
	}
	return newCapture(bw, ng), nil
}

// NewPcap starts a classic pcap capture (microsecond timestamps, Ethernet) on w.
func NewPcap(w io.Writer) (*Capture, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	pw := pcapgo.NewWriter(bw)
	if err := pw.WriteFileHeader(65536, layers.LinkTypeEthernet); err != nil {
		return nil, fmt.Errorf("capgen: %w", err)
	}
	return newCapture(bw, pw), nil
}

func newCapture(bw *bufio.Writer, w packetWriter) *Capture {
	return &Capture{bw: bw, w: w, now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), step: 50 * time.Microsecond,
		buf: gopacket.NewSerializeBuffer()}
}

// Sleep advances the clock.
func (c *Capture) Sleep(d time.Duration) { c.now = c.now.Add(d) }

// Close flushes the capture; it returns the first error met while writing.
func (c *Capture) Close() error {
	if c.err != nil {
		return c.err
	}
	if ng, ok := c.w.(*pcapgo.NgWriter); ok {
		if err := ng.Flush(); err != nil {
			return err
		}
	}
	return c.bw.Flush()
}

// Conn is one TCP connection.
type Conn struct {
	c      *Capture
	ep     [2]netip.AddrPort
	mac    [2]net.HardwareAddr
	seq    [2]uint32 // next sequence number each side sends
	window [2]uint16
	last   [2][]byte // last data segment each side sent, for Retransmit
	lastSq [2]uint32
	unack  [2]int // data segments not yet acknowledged by the other side
}

func macFor(a netip.Addr) net.HardwareAddr {
	b := a.As16()
	return net.HardwareAddr{0x02, 0x00, b[12], b[13], b[14], b[15]}
}

// Dial writes a three-way handshake from client to server and returns the open connection.
func (c *Capture) Dial(client, server netip.AddrPort) *Conn {
	k := &Conn{c: c, ep: [2]netip.AddrPort{client, server}, window: [2]uint16{65535, 65535},
		mac: [2]net.HardwareAddr{macFor(client.Addr()), macFor(server.Addr())}}
	// distinct initial sequence numbers, so a reused 4-tuple is a new connection to every analyser
	c.isn += 0x01000193
	k.seq = [2]uint32{c.isn + uint32(client.Port())*7, c.isn*3 + uint32(server.Port())*11}
	k.frame(Client, &layers.TCP{SYN: true}, nil)
	k.seq[Client]++
	k.frame(Server, &layers.TCP{SYN: true, ACK: true}, nil)
	k.seq[Server]++
	k.frame(Client, &layers.TCP{ACK: true}, nil)
	return k
}

// Send writes data from side s in segments of at most MSS bytes, the peer acknowledging every
// second segment (and the last).
func (k *Conn) Send(s Side, data []byte) {
	for len(data) > 0 {
		n := min(len(data), MSS)
		k.last[s], k.lastSq[s] = data[:n], k.seq[s]
		k.frame(s, &layers.TCP{ACK: true, PSH: n == len(data)}, data[:n])
		k.seq[s] += uint32(n)
		data = data[n:]
		k.unack[s]++
		if k.unack[s] >= 2 || len(data) == 0 {
			k.Ack(1 - s)
		}
	}
}

// Line sends text plus CRLF from side s.
func (k *Conn) Line(s Side, text string) { k.Send(s, []byte(text+"\r\n")) }

// Ack writes a pure ACK from side s.
func (k *Conn) Ack(s Side) {
	k.frame(s, &layers.TCP{ACK: true}, nil)
	k.unack[1-s] = 0
}

// Retransmit sends side s's last data segment again.
func (k *Conn) Retransmit(s Side) {
	if k.last[s] == nil {
		return
	}
	saved := k.seq[s]
	k.seq[s] = k.lastSq[s]
	k.frame(s, &layers.TCP{ACK: true}, k.last[s])
	k.seq[s] = saved
	k.Ack(1 - s)
}

// ZeroWindow makes side s advertise a zero window for half a second (a stalled receiver), then a full one.
func (k *Conn) ZeroWindow(s Side) { k.ZeroWindowFor(s, 500*time.Millisecond) }

// ZeroWindowFor makes side s advertise a zero window for d, then a full one again.
func (k *Conn) ZeroWindowFor(s Side, d time.Duration) {
	k.window[s] = 0
	k.Ack(s)
	k.c.Sleep(d)
	k.window[s] = 65535
	k.Ack(s)
}

// Close sends a FIN from side s, acknowledged by the peer.
func (k *Conn) Close(s Side) {
	k.frame(s, &layers.TCP{FIN: true, ACK: true}, nil)
	k.seq[s]++
	k.Ack(1 - s)
}

// CloseBoth closes side s, then the other side.
func (k *Conn) CloseBoth(s Side) {
	k.Close(s)
	k.Close(1 - s)
}

// Reset sends a RST from side s.
func (k *Conn) Reset(s Side) {
	k.frame(s, &layers.TCP{RST: true, ACK: true}, nil)
}

// Endpoint returns side s's address and port.
func (k *Conn) Endpoint(s Side) netip.AddrPort { return k.ep[s] }

// frame serialises one segment from side s.
func (k *Conn) frame(s Side, t *layers.TCP, payload []byte) {
	c := k.c
	if c.err != nil {
		return
	}
	src, dst := k.ep[s], k.ep[1-s]
	t.SrcPort, t.DstPort = layers.TCPPort(src.Port()), layers.TCPPort(dst.Port())
	t.Seq = k.seq[s]
	if t.ACK {
		t.Ack = k.seq[1-s]
	}
	t.Window = k.window[s]
	if t.SYN {
		t.Options = []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{byte(MSS >> 8), byte(MSS & 0xff)}}}
	}
	eth := &layers.Ethernet{SrcMAC: k.mac[s], DstMAC: k.mac[1-s]}
	var ip gopacket.SerializableLayer
	if src.Addr().Is4() {
		eth.EthernetType = layers.EthernetTypeIPv4
		v4 := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, Flags: layers.IPv4DontFragment,
			SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
		t.SetNetworkLayerForChecksum(v4)
		ip = v4
	} else {
		eth.EthernetType = layers.EthernetTypeIPv6
		v6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP,
			SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
		t.SetNetworkLayerForChecksum(v6)
		ip = v6
	}
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(c.buf, opts, eth, ip, t, gopacket.Payload(payload)); err != nil {
		c.err = fmt.Errorf("capgen: serialise: %w", err)
		return
	}
	b := c.buf.Bytes()
	c.now = c.now.Add(c.step)
	ci := gopacket.CaptureInfo{Timestamp: c.now, CaptureLength: len(b), Length: len(b)}
	if err := c.w.WritePacket(ci, b); err != nil {
		c.err = fmt.Errorf("capgen: write: %w", err)
		return
	}
	c.Frames++
}
