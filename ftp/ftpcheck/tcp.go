package ftpcheck

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/reassembly"
)

// Mark is a point in the capture: the packet's index (1-based, as Wireshark numbers frames) and time.
// Events are ordered by Packet; several events of one packet keep the order they were found in.
type Mark struct {
	Packet int64     `json:"packet"`
	Time   time.Time `json:"time"`
}

// Seen reports whether the mark was set.
func (m Mark) Seen() bool { return m.Packet > 0 }

// connKind is what a TCP connection turned out to be.
type connKind int

const (
	kindUnknown connKind = iota // no payload yet
	kindControl                 // an FTP control connection
	kindOther                   // anything else: data connections are found among these afterwards
)

// sniffMax bounds the bytes kept per direction while a connection is not yet classified.
const sniffMax = 4096

// half is one direction of a TCP connection: what its sender sent.
type half struct {
	bytes     int64
	sum       hash.Hash
	firstData Mark
	lastData  Mark
	fin, rst  Mark
	syn       Mark
	retrans   int
	zeroWin   int           // zero-window advertisements
	zeroFirst Mark          // the first of them
	zeroSince Mark          // start of the episode in progress; unset when the window is open
	zeroMax   time.Duration // longest episode that ended (the window reopened)
	lost      int64         // bytes never captured (holes skipped by the reassembler)
	packets   int64
	sniff     []byte
}

// conn is one TCP connection. ep[0] sent the first packet seen; initiator is the index of the SYN's
// sender, or -1 when the capture started after the handshake.
type conn struct {
	id        int
	ep        [2]netip.AddrPort
	initiator int
	first     Mark
	half      [2]half
	kind      connKind
	announced bool // the responder's endpoint was announced by PORT/EPRT/PASV/EPSV before the SYN
	ctl       *control
	used      bool // matched to a transfer
	sid       int  // session ID, for a control connection
	complete  bool // the reassembler is done with it
	released  bool // finished and handed out: nothing refers to it any more
}

func (c *conn) responder() int {
	if c.initiator < 0 {
		return -1
	}
	return 1 - c.initiator
}

// open is when the connection started: its SYN, or its first packet.
func (c *conn) open() Mark {
	if c.initiator >= 0 && c.half[c.initiator].syn.Seen() {
		return c.half[c.initiator].syn
	}
	return c.first
}

func (c *conn) index(ap netip.AddrPort) int {
	switch ap {
	case c.ep[0]:
		return 0
	case c.ep[1]:
		return 1
	}
	return -1
}

func (h *half) digest() string {
	if h.sum == nil {
		return ""
	}
	return hex.EncodeToString(h.sum.Sum(nil))
}

// ended reports whether the sender finished its direction: FIN or RST.
func (h *half) ended() bool { return h.fin.Seen() || h.rst.Seen() }

// stream adapts a conn to the reassembler.
type stream struct {
	a *analyzer
	c *conn
}

func addrPort(ep gopacket.Endpoint, port layers.TCPPort) netip.AddrPort {
	a, _ := netip.AddrFromSlice(ep.Raw())
	return netip.AddrPortFrom(a.Unmap(), uint16(port))
}

// New is called by the reassembler for the first packet of a connection (or of a reused 4-tuple).
// A packet trailing a connection the reassembler already let go of (the last ACK, a RST after the
// FINs) is recorded on that connection, or dropped if it was released; it makes no new connection.
func (a *analyzer) New(netFlow, tcpFlow gopacket.Flow, t *layers.TCP, ac reassembly.AssemblerContext) reassembly.Stream {
	src, dst := addrPort(netFlow.Src(), t.SrcPort), addrPort(netFlow.Dst(), t.DstPort)
	if !t.SYN {
		k := tupleOf(src, dst)
		if c := a.ended[k]; c != nil {
			if i := c.index(src); i >= 0 {
				a.facts(c, i, t)
			}
			return nil
		}
		if _, ok := a.gone[k]; ok && len(t.Payload) == 0 {
			return nil
		}
	}
	a.conns++
	c := &conn{
		id:        a.conns,
		ep:        [2]netip.AddrPort{src, dst},
		initiator: -1,
		first:     a.mark,
	}
	if t.SYN {
		c.initiator = 0
		if t.ACK {
			c.initiator = 1
		}
		if _, ok := a.announced[c.ep[1-c.initiator]]; ok {
			c.announced = true
		}
	}
	a.pending = append(a.pending, c)
	return &stream{a: a, c: c}
}

func dirIndex(dir reassembly.TCPFlowDirection) int {
	if dir == reassembly.TCPDirClientToServer {
		return 0
	}
	return 1
}

// Accept records per-segment facts (flags, windows, retransmissions) and lets every segment through.
func (s *stream) Accept(t *layers.TCP, ci gopacket.CaptureInfo, dir reassembly.TCPFlowDirection, nextSeq reassembly.Sequence, start *bool, ac reassembly.AssemblerContext) bool {
	i := dirIndex(dir)
	h := &s.c.half[i]
	s.a.facts(s.c, i, t)
	if nextSeq == -1 {
		if !t.SYN {
			*start = true // the capture began after the handshake: take the stream from here
		}
	} else if n := len(t.Payload); n > 0 && reassembly.Sequence(t.Seq).Add(n).Difference(nextSeq) >= 0 {
		h.retrans++ // every byte of it was already delivered
	}
	return true
}

// facts records what one segment from direction i says: flags, windows.
func (a *analyzer) facts(c *conn, i int, t *layers.TCP) {
	h := &c.half[i]
	m := a.mark
	h.packets++
	if t.SYN {
		if !h.syn.Seen() {
			h.syn = m
		}
		if c.initiator < 0 {
			c.initiator = i
			if t.ACK {
				c.initiator = 1 - i
			}
		}
	}
	if t.FIN && !h.fin.Seen() {
		h.fin = m
	}
	if t.RST && !h.rst.Seen() {
		h.rst = m
	}
	if t.Window == 0 && !t.RST && !t.SYN && !h.fin.Seen() {
		if h.zeroWin == 0 {
			h.zeroFirst = m
		}
		h.zeroWin++
		if !h.zeroSince.Seen() {
			h.zeroSince = m
		}
	} else if h.zeroSince.Seen() && !t.RST {
		// The receiver reopened its window: the episode's length tells flow control from a stall.
		h.zeroMax = max(h.zeroMax, m.Time.Sub(h.zeroSince.Time))
		h.zeroSince = Mark{}
	}
}

// ReassembledSG receives in-order bytes of one direction.
func (s *stream) ReassembledSG(sg reassembly.ScatterGather, ac reassembly.AssemblerContext) {
	dir, _, _, skip := sg.Info()
	n, _ := sg.Lengths()
	i := dirIndex(dir)
	h := &s.c.half[i]
	if skip > 0 {
		h.lost += int64(skip)
	}
	if n == 0 {
		return
	}
	s.a.feed(s.c, i, sg.Fetch(n))
}

// ReassemblyComplete lets the reassembler forget the connection (its trailing ACKs and RSTs reach
// the analyser through New); the analyser finishes it at its next sweep.
func (s *stream) ReassemblyComplete(ac reassembly.AssemblerContext) bool {
	s.a.complete(s.c)
	return true
}

// feed hands in-order bytes of direction i to the connection's consumer.
func (a *analyzer) feed(c *conn, i int, data []byte) {
	h := &c.half[i]
	m := a.mark
	if !h.firstData.Seen() {
		h.firstData = m
	}
	h.lastData = m
	h.bytes += int64(len(data))
	switch c.kind {
	case kindControl:
		c.ctl.feed(i, data, m)
		return
	case kindOther:
		h.sum.Write(data)
		return
	}
	if h.sum == nil {
		h.sum = sha256.New()
	}
	h.sum.Write(data)
	if room := sniffMax - len(h.sniff); room > 0 {
		h.sniff = append(h.sniff, data[:min(room, len(data))]...)
	}
	a.classify(c, i)
}

// classify decides whether c is an FTP control connection once one side has said enough: a
// connection to port 21, or one whose server (the side that did not send the SYN) speaks first with
// a "220" or "120" greeting. Connections announced as data connections are never control.
func (a *analyzer) classify(c *conn, i int) {
	if c.announced {
		a.settleOther(c)
		return
	}
	server := -1
	switch {
	case c.ep[0].Port() == 21 && c.ep[1].Port() != 21:
		server = 0
	case c.ep[1].Port() == 21 && c.ep[0].Port() != 21:
		server = 1
	case c.ep[0].Port() == 21 && c.initiator >= 0:
		server = 1 - c.initiator
	}
	if server < 0 {
		sn := c.half[i].sniff
		if len(sn) < 4 {
			return // too little to tell
		}
		if c.initiator == i || !looksLikeGreeting(sn) {
			a.settleOther(c)
			return
		}
		server = i
	}
	c.kind = kindControl
	a.controls++
	c.sid = a.controls
	c.ctl = newControl(a, c, server)
	a.log.Debug("ftpcheck: control connection", "id", c.id, "client", c.ep[1-server], "server", c.ep[server], "packet", a.mark.Packet)
	// Replay what arrived before the decision, the server's side first (a client speaks second).
	for _, j := range []int{server, 1 - server} {
		h := &c.half[j]
		if len(h.sniff) > 0 {
			c.ctl.feed(j, h.sniff, h.firstData)
		}
		h.sniff, h.sum = nil, nil
	}
}

func (a *analyzer) settleOther(c *conn) {
	c.kind = kindOther
	for j := range c.half {
		c.half[j].sniff = nil
		if c.half[j].sum == nil {
			c.half[j].sum = sha256.New()
		}
	}
}

func looksLikeGreeting(b []byte) bool {
	return len(b) >= 4 && (b[0] == '2' || b[0] == '1') && b[1] == '2' && b[2] == '0' && (b[3] == ' ' || b[3] == '-')
}
