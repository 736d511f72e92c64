// Package replay replays the client side of the FTP sessions in a capture against a server and
// compares the server's replies, byte for byte, with the captured ones: the way to show that a
// simulated device answers like the real one it was captured from.
//
// Load turns captured TCP segments (ftpcheck.ReadSegments) into a Script: per FTP session, the
// client's actions (connect, each segment it sent, closes) and what the server sent between them,
// data connections included. Run plays a Script against a server and returns a Report.
package replay

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/ftp/ftpcheck"
)

// Kind is what an event is.
type Kind int

const (
	Connect       Kind = iota // the client opens the connection (control, or passive data)
	ServerConnect             // the server opens a data connection to the client (active mode)
	ClientData                // one segment of the client's bytes
	ServerData                // bytes from the server
	ClientClose               // the client's FIN or RST
	ServerClose               // the server's FIN or RST
)

var kindNames = [...]string{"connect", "server-connect", "client-data", "server-data", "client-close", "server-close"}

func (k Kind) String() string { return kindNames[k] }

// clientAction tells whether the replayer performs the event (rather than waiting for it).
func (k Kind) clientAction() bool { return k == Connect || k == ClientData || k == ClientClose }

// Event is one thing that happened in a session, in capture order.
type Event struct {
	Kind   Kind
	Conn   int // 0: the control connection; k > 0: the session's data connection k
	Packet int64
	Data   []byte // ClientData, ServerData
	RST    bool   // ClientClose, ServerClose: a reset rather than a FIN
}

// Session is one FTP control connection with its data connections.
type Session struct {
	ID             int
	Client, Server netip.AddrPort // the control connection's ends in the capture
	Events         []Event
	DataConns      int
	// DataPeer[k] is data connection k's server end in the capture (passive: where the client
	// connected; active: where the server connected from).
	DataPeer map[int]netip.AddrPort
	// DataClient[k] is data connection k's client end in the capture.
	DataClient map[int]netip.AddrPort
}

// Script is what a capture holds for a replay.
type Script struct {
	Sessions []*Session
	Summary  ftpcheck.CaptureSummary
	Ignored  int // TCP connections that are neither an FTP control connection nor one of its data connections
}

// ErrNoSessions marks a capture without any complete FTP control connection.
var ErrNoSessions = errors.New("no FTP session in the capture")

// tconn is one captured TCP connection being assembled.
type tconn struct {
	ends     [2]netip.AddrPort // [0] sent the SYN
	next     [2]uint32
	started  [2]bool
	finished [2]bool
	first    int64 // packet of the SYN
	sess     *Session
	idx      int // 0 control, > 0 data index in sess
	control  bool
	clientIs int // which end (0 or 1) is the FTP client
	pending  []pend
	decided  bool
	lines    [2][]byte       // control: partial lines per direction
	replies  ftp.ReplyParser // control: the server's lines as replies
}

type pend struct {
	ev  Event
	dir int
}

type announcement struct {
	at   int64
	sess *Session
	// passive: the client connects to addr; active: the server connects to addr
	addr    netip.AddrPort
	passive bool
}

// Load builds a Script from captured segments. A capture whose FTP connections are cut (a control
// connection that starts without its SYN, bytes missing in the middle) is refused with an error that
// says where: a replay of half a dialogue would report differences that are not there.
func Load(segs []ftpcheck.Segment, sum ftpcheck.CaptureSummary) (*Script, error) {
	sc := &Script{Summary: sum}
	conns := map[[2]netip.AddrPort]*tconn{}
	var all []*tconn
	var ann []announcement
	midstream := map[[2]netip.AddrPort]int64{}
	key := func(a, b netip.AddrPort) [2]netip.AddrPort {
		if a.Addr().Less(b.Addr()) || (a.Addr() == b.Addr() && a.Port() < b.Port()) {
			return [2]netip.AddrPort{a, b}
		}
		return [2]netip.AddrPort{b, a}
	}
	for i := range segs {
		s := &segs[i]
		k := key(s.Src, s.Dst)
		c := conns[k]
		if s.SYN && !s.ACK && (c == nil || (c.finished[0] && c.finished[1]) || c.first != 0 && c.ends[0] != s.Src) {
			c = &tconn{ends: [2]netip.AddrPort{s.Src, s.Dst}, first: s.Packet}
			c.next[0], c.started[0] = s.Seq+1, true
			conns[k] = c
			all = append(all, c)
			c.decide(ann, sc)
			c.emit(Event{Kind: Connect, Packet: s.Packet}, 0)
			continue
		}
		if c == nil {
			if len(s.Payload) > 0 || s.FIN {
				if _, ok := midstream[k]; !ok {
					midstream[k] = s.Packet
				}
			}
			continue
		}
		dir := 0
		if s.Src != c.ends[0] {
			dir = 1
		}
		if s.SYN { // SYN-ACK
			if !c.started[1] {
				c.next[1], c.started[1] = s.Seq+1, true
			}
			continue
		}
		if !c.started[dir] {
			continue
		}
		if s.RST {
			if !c.finished[dir] {
				c.finished[dir], c.finished[1-dir] = true, true
				c.emit(Event{Kind: ClientClose, Packet: s.Packet, RST: true}, dir)
			}
			continue
		}
		p := s.Payload
		if len(p) > 0 {
			off := int64(int32(s.Seq - c.next[dir]))
			switch {
			case off > 0:
				return nil, fmt.Errorf("packet %d: %d bytes of the connection %s -> %s are missing from the capture (lost while capturing?): a replay needs every byte", s.Packet, off, s.Src, s.Dst)
			case off < 0 && -off >= int64(len(p)):
				p = nil // a retransmission
			case off < 0:
				p = p[-off:]
			}
			if len(p) > 0 {
				c.next[dir] += uint32(len(p))
				c.emit(Event{Kind: ClientData, Packet: s.Packet, Data: p}, dir)
				if c.control && c.decided {
					ann = c.scanLines(dir, p, s.Packet, ann)
				}
			}
		}
		if s.FIN && !c.finished[dir] && s.Seq+uint32(len(s.Payload)) == c.next[dir] {
			c.finished[dir] = true
			c.next[dir]++
			c.emit(Event{Kind: ClientClose, Packet: s.Packet}, dir)
		}
		if !c.decided && dir == 1 && len(p) > 0 {
			// a connection no announcement explains is an FTP control connection when the
			// responder speaks first with a reply line
			if looksLikeReply(p) {
				c.makeControl(sc)
				for _, pe := range c.pending {
					if pe.ev.Kind == ClientData {
						ann = c.scanLines(pe.dir, pe.ev.Data, pe.ev.Packet, ann)
					}
				}
			} else {
				c.decided = true
			}
			c.flush()
		}
	}
	for k, at := range midstream {
		if k[0].Port() == 21 || k[1].Port() == 21 {
			return nil, fmt.Errorf("packet %d: the FTP control connection %s <-> %s starts without its SYN (the capture began mid-connection): start the capture before the client connects", at, k[0], k[1])
		}
	}
	for _, c := range all {
		if !c.decided || c.sess == nil {
			sc.Ignored++
		}
	}
	if len(sc.Sessions) == 0 {
		if sum.TCPSegments == 0 {
			return nil, fmt.Errorf("%w: it holds no TCP segment (%d packets): is it an FTP capture?", ErrNoSessions, sum.Packets)
		}
		return nil, fmt.Errorf("%w: none of its %d TCP connections is an FTP control connection with its greeting", ErrNoSessions, len(all))
	}
	return sc, nil
}

// decide attaches a new connection to the session whose announcement it matches (a data connection).
func (c *tconn) decide(ann []announcement, sc *Script) {
	for i := len(ann) - 1; i >= 0; i-- {
		a := ann[i]
		var hit bool
		var client int
		if a.passive {
			// a 227 on IPv6 (NetX) sends the client over IPv4: then its address cannot match
			// and a client may take only the port, keeping the control connection's host
			hit = (sameAddrPort(c.ends[1], a.addr) || c.ends[1] == netip.AddrPortFrom(a.sess.Server.Addr(), a.addr.Port())) &&
				(c.ends[0].Addr() == a.sess.Client.Addr() || c.ends[0].Addr().Is4() != a.sess.Client.Addr().Is4())
			client = 0
		} else {
			hit = c.ends[1] == a.addr
			client = 1
		}
		if !hit {
			continue
		}
		s := a.sess
		s.DataConns++
		c.sess, c.idx, c.clientIs, c.decided = s, s.DataConns, client, true
		s.DataPeer[c.idx] = c.ends[1-client]
		s.DataClient[c.idx] = c.ends[client]
		return
	}
}

func sameAddrPort(a, b netip.AddrPort) bool {
	return a.Port() == b.Port() && (a.Addr() == b.Addr() || a.Addr().Unmap() == b.Addr().Unmap())
}

func (c *tconn) makeControl(sc *Script) {
	s := &Session{ID: len(sc.Sessions) + 1, Client: c.ends[0], Server: c.ends[1],
		DataPeer: map[int]netip.AddrPort{}, DataClient: map[int]netip.AddrPort{}}
	sc.Sessions = append(sc.Sessions, s)
	c.sess, c.idx, c.control, c.decided, c.clientIs = s, 0, true, true, 0
}

// emit records an event; dir is the TCP direction (0: from the SYN's sender). Until the connection
// is known to belong to a session, events wait.
func (c *tconn) emit(ev Event, dir int) {
	if !c.decided {
		c.pending = append(c.pending, pend{ev, dir})
		return
	}
	if c.sess == nil {
		return
	}
	fromClient := dir == c.clientIs
	ev.Conn = c.idx
	switch ev.Kind {
	case Connect:
		if c.clientIs != 0 {
			ev.Kind = ServerConnect
		}
	case ClientData:
		if !fromClient {
			ev.Kind = ServerData
		}
	case ClientClose:
		if !fromClient {
			ev.Kind = ServerClose
		}
	}
	c.sess.Events = append(c.sess.Events, ev)
}

func (c *tconn) flush() {
	p := c.pending
	c.pending = nil
	for _, pe := range p {
		c.emit(pe.ev, pe.dir)
	}
}

// scanLines finds PASV/EPSV replies and PORT/EPRT commands on a control connection.
func (c *tconn) scanLines(dir int, p []byte, pkt int64, ann []announcement) []announcement {
	buf := append(c.lines[dir], p...)
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			break
		}
		line := strings.TrimRight(string(buf[:i]), "\r")
		buf = buf[i+1:]
		s := c.sess
		if dir == c.clientIs {
			verb, arg, _ := strings.Cut(line, " ")
			switch strings.ToUpper(verb) {
			case "PORT":
				if ap, err := ftp.ParsePORT(strings.TrimSpace(arg)); err == nil {
					ann = append(ann, announcement{pkt, s, ap, false})
				}
			case "EPRT":
				if ap, err := ftp.ParseEPRT(strings.TrimSpace(arg)); err == nil {
					// NetX connects back to the control peer whatever the address said
					ann = append(ann, announcement{pkt, s, ap, false})
					ann = append(ann, announcement{pkt, s, netip.AddrPortFrom(s.Client.Addr(), ap.Port()), false})
				}
			}
			continue
		}
		if r, done, err := c.replies.Line(line); err == nil && done {
			if ap, ok := passiveTarget(r, s.Server.Addr()); ok {
				ann = append(ann, announcement{pkt, s, ap, true})
			}
		}
	}
	if len(buf) > 4096 {
		buf = buf[len(buf)-4096:]
	}
	c.lines[dir] = append([]byte(nil), buf...)
	return ann
}

// passiveTarget reads a 227 or 229 reply; 229 names only the port, on the control server's host.
func passiveTarget(r ftp.Reply, server netip.Addr) (netip.AddrPort, bool) {
	text := r.Text()
	switch r.Code {
	case 227:
		lp, rp := strings.IndexByte(text, '('), strings.IndexByte(text, ')')
		if lp < 0 || rp < lp {
			return netip.AddrPort{}, false
		}
		ap, err := ftp.ParsePORT(text[lp+1 : rp])
		return ap, err == nil
	case 229:
		l := strings.Index(text, "(|||")
		if l < 0 {
			return netip.AddrPort{}, false
		}
		rest := text[l+4:]
		e := strings.IndexByte(rest, '|')
		if e < 0 {
			return netip.AddrPort{}, false
		}
		n, err := strconv.ParseUint(rest[:e], 10, 16)
		if err != nil || n == 0 {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(server, uint16(n)), true
	}
	return netip.AddrPort{}, false
}

func looksLikeReply(p []byte) bool {
	return len(p) >= 4 && p[0] >= '1' && p[0] <= '5' && isDigit(p[1]) && isDigit(p[2]) && (p[3] == ' ' || p[3] == '-')
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }
