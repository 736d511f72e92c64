package wiresig

import (
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Stream is one TCP connection to a server port as a capture shows it: what the client sent, one
// entry per segment with payload in sequence order (retransmissions dropped), and what the server sent.
type Stream struct {
	Client, Server netip.AddrPort
	FirstFrame     int      // the connection's first frame with payload or SYN, 1-based
	Sent           [][]byte // client to server, per segment
	Received       [][]byte // server to client, per segment
}

// SentBytes is everything the client sent, joined.
func (s Stream) SentBytes() []byte { return bytes.Join(s.Sent, nil) }

// Lines splits what the client sent into CRLF-terminated lines (the CRLF kept); a last piece
// without CRLF is a line too.
func (s Stream) Lines() []string {
	var out []string
	b := s.SentBytes()
	for len(b) > 0 {
		i := bytes.Index(b, []byte("\r\n"))
		if i < 0 {
			out = append(out, string(b))
			break
		}
		out = append(out, string(b[:i+2]))
		b = b[i+2:]
	}
	return out
}

type half struct {
	isn  uint32
	syn  bool
	segs map[uint32][]byte // relative sequence number -> payload (first copy kept)
}

func (h *half) add(seq uint32, payload []byte) {
	if h.segs == nil {
		h.segs = map[uint32][]byte{}
	}
	if !h.syn { // no SYN seen: number from the first segment
		h.isn, h.syn = seq-1, true
	}
	rel := seq - h.isn
	if _, ok := h.segs[rel]; !ok {
		h.segs[rel] = append([]byte(nil), payload...)
	}
}

// ordered returns the payloads in sequence order, skipping any that lie wholly inside bytes already
// taken (a retransmission repacketised differently).
func (h *half) ordered() [][]byte {
	keys := make([]uint32, 0, len(h.segs))
	for k := range h.segs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	var out [][]byte
	var next uint32
	for _, k := range keys {
		p := h.segs[k]
		end := k + uint32(len(p))
		if end <= next {
			continue
		}
		if k < next {
			p = p[next-k:]
		}
		out = append(out, p)
		next = end
	}
	return out
}

// Streams reads a capture (pcap or pcapng) and returns every TCP connection whose server side is
// port, in the order of their first frame.
func Streams(r io.Reader, port uint16) ([]Stream, error) {
	src, err := openCapture(r)
	if err != nil {
		return nil, err
	}
	type conn struct {
		s        Stream
		c2s, s2c half
	}
	var conns []*conn
	open := map[[2]netip.AddrPort]*conn{}
	for frame := 1; ; frame++ {
		data, _, err := src.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("wiresig: frame %d: %w", frame, err)
		}
		p := gopacket.NewPacket(data, src.LinkType(), gopacket.Default)
		var sa, da netip.Addr
		if ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ok {
			sa, _ = netip.AddrFromSlice(ip.SrcIP.To4())
			da, _ = netip.AddrFromSlice(ip.DstIP.To4())
		} else if ip, ok := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6); ok {
			sa, _ = netip.AddrFromSlice(ip.SrcIP)
			da, _ = netip.AddrFromSlice(ip.DstIP)
		} else {
			continue
		}
		tcp, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if !ok {
			continue
		}
		from, to := netip.AddrPortFrom(sa, uint16(tcp.SrcPort)), netip.AddrPortFrom(da, uint16(tcp.DstPort))
		toServer := to.Port() == port
		if !toServer && from.Port() != port {
			continue
		}
		key := [2]netip.AddrPort{from, to}
		if !toServer {
			key = [2]netip.AddrPort{to, from}
		}
		c := open[key]
		if c == nil || toServer && tcp.SYN && !tcp.ACK && c.c2s.syn && tcp.Seq != c.c2s.isn {
			// a new connection (or the same 4-tuple reused after the last one ended)
			c = &conn{s: Stream{Client: key[0], Server: key[1], FirstFrame: frame}}
			conns = append(conns, c)
			open[key] = c
		}
		h := &c.s2c
		if toServer {
			h = &c.c2s
		}
		if tcp.SYN {
			h.isn, h.syn = tcp.Seq, true
		}
		if len(tcp.Payload) > 0 {
			h.add(tcp.Seq, tcp.Payload)
		}
	}
	out := make([]Stream, len(conns))
	for i, c := range conns {
		c.s.Sent, c.s.Received = c.c2s.ordered(), c.s2c.ordered()
		out[i] = c.s
	}
	return out, nil
}

// RebaseDataPort rewrites the data port of a PORT or EPRT line (CRLF kept) from one control port's
// numbering to another's: port p becomes p - from + to, written in the line's own style (PORT's
// numbers zero-padded to three digits when the original's were). NetX's client takes its data ports
// from its control connection's local port + 1 upwards, so two runs compare byte for byte once their
// ports are rebased on their control ports. Other lines come back unchanged; ok reports a rewrite.
func RebaseDataPort(line string, from, to uint16) (out string, ok bool) {
	body, crlf := strings.CutSuffix(line, "\r\n")
	verb, arg, _ := strings.Cut(body, " ")
	var p int
	switch strings.ToUpper(verb) {
	case "PORT":
		f := strings.Split(arg, ",")
		if len(f) != 6 {
			return line, false
		}
		cur, ok := DataPort(line)
		if !ok {
			return line, false
		}
		p = int(cur) + int(to) - int(from)
		if p < 0 || p > 65535 {
			return line, false
		}
		format := "%d"
		if len(f[4]) == 3 && len(f[5]) == 3 {
			format = "%03d"
		}
		f[4], f[5] = fmt.Sprintf(format, p>>8), fmt.Sprintf(format, p&0xff)
		arg = strings.Join(f, ",")
	case "EPRT":
		if len(arg) < 2 {
			return line, false
		}
		d := arg[:1]
		f := strings.Split(arg, d)
		if len(f) != 5 {
			return line, false
		}
		cur, ok := DataPort(line)
		if !ok {
			return line, false
		}
		p = int(cur) + int(to) - int(from)
		if p < 0 || p > 65535 {
			return line, false
		}
		f[3] = strconv.Itoa(p)
		arg = strings.Join(f, d)
	default:
		return line, false
	}
	out = verb + " " + arg
	if crlf {
		out += "\r\n"
	}
	return out, true
}

// CompareCommands compares the lines a client sent in ours with the reference lines want (a real
// client's, CRLF kept) byte for byte, after one normalisation: the data ports of want's PORT and EPRT
// lines are rebased from wantBase to ours' control port (RebaseDataPort). It also requires one
// command per segment, as NetX sends them. It returns every difference and how many lines it rebased.
func CompareCommands(want []string, wantBase uint16, ours Stream) (diffs []string, rebased int) {
	got := ours.Lines()
	for i := range max(len(want), len(got)) {
		var w, g string
		if i < len(want) {
			w = want[i]
			if r, ok := RebaseDataPort(w, wantBase, ours.Client.Port()); ok {
				w = r
				rebased++
			}
		}
		if i < len(got) {
			g = got[i]
		}
		if g != w {
			diffs = append(diffs, fmt.Sprintf("command %d: ours %q, the reference's %q", i+1, g, w))
		}
	}
	if len(ours.Sent) != len(got) {
		diffs = append(diffs, fmt.Sprintf("%d lines in %d segments: NetX sends one command per segment", len(got), len(ours.Sent)))
	}
	return diffs, rebased
}

// DataPort is the port a PORT or EPRT line announces.
func DataPort(line string) (uint16, bool) {
	body := strings.TrimSuffix(line, "\r\n")
	verb, arg, _ := strings.Cut(body, " ")
	switch strings.ToUpper(verb) {
	case "PORT":
		f := strings.Split(arg, ",")
		if len(f) != 6 {
			return 0, false
		}
		hi, err1 := strconv.Atoi(f[4])
		lo, err2 := strconv.Atoi(f[5])
		if err1 != nil || err2 != nil || hi < 0 || hi > 255 || lo < 0 || lo > 255 {
			return 0, false
		}
		return uint16(hi<<8 | lo), true
	case "EPRT":
		if len(arg) < 2 {
			return 0, false
		}
		f := strings.Split(arg, arg[:1])
		if len(f) != 5 {
			return 0, false
		}
		n, err := strconv.ParseUint(f[3], 10, 16)
		return uint16(n), err == nil
	}
	return 0, false
}
