package stack

import (
	"encoding/binary"
	"net/netip"
	"sync"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	gstack "gvisor.dev/gvisor/pkg/tcpip/stack"
)

// Listener is a TCP listener of an IP instance. Besides net.Listener it can hold new connection
// requests unanswered (SetAdmit), as NetX does: NetX answers a SYN only when a socket listens on the
// port, and queues it (unanswered) while every socket of the port is in use, answering it as soon as
// the application gives a socket back (nx_tcp_server_socket_relisten). gVisor would complete the
// handshake into its accept queue at once, so the SYN is held before gVisor sees it.
type Listener struct {
	*gonet.TCPListener
	ip   *IP
	addr netip.AddrPort // as bound: the unspecified address listens on all

	mu      sync.Mutex
	admit   func(remote netip.AddrPort) bool
	held    []heldSYN
	holdMax int // 0: maxHeldSYN
}

type heldSYN struct {
	remote netip.AddrPort
	proto  tcpip.NetworkProtocolNumber
	frame  []byte // from the link header on
	link   int    // link header length
	typ    tcpip.PacketType
}

// maxHeldSYN bounds the requests held per listener by default (a SYN flood must not grow memory).
const maxHeldSYN = 64

// SetHoldLimit bounds how many connection requests the listener holds (n <= 0: 64). As in NetX's
// listen queue, a request over the limit pushes out the oldest held one, which is dropped unanswered
// (its sender retransmits). NetX's FTP server queues as many as it has session slots.
func (l *Listener) SetHoldLimit(n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.holdMax = n
	if lim := l.holdLimit(); len(l.held) > lim {
		l.held = append(l.held[:0], l.held[len(l.held)-lim:]...)
	}
}

func (l *Listener) holdLimit() int {
	if l.holdMax > 0 {
		return l.holdMax
	}
	return maxHeldSYN
}

// SetAdmit makes the instance ask admit before answering a new connection request (a SYN from
// remote) to this listener: when it returns false the SYN is held unanswered (the peer sees no
// SYN-ACK) until Readmit offers it again. A retransmitted SYN of a held request is not held twice.
// nil answers every request at once (the default).
func (l *Listener) SetAdmit(admit func(remote netip.AddrPort) bool) {
	l.mu.Lock()
	l.admit = admit
	l.mu.Unlock()
	l.ip.gate.register(l, admit != nil)
	if admit == nil {
		l.Readmit()
	}
}

// Readmit offers the held connection requests to the admit function again, oldest first; those it
// admits are answered now. Call it when the reason for holding them is gone (a session ended).
func (l *Listener) Readmit() {
	var deliver []heldSYN
	l.mu.Lock()
	keep := l.held[:0]
	for _, h := range l.held {
		if l.admit == nil || l.admit(h.remote) {
			deliver = append(deliver, h)
		} else {
			keep = append(keep, h)
		}
	}
	clear(l.held[len(keep):])
	l.held = keep
	l.mu.Unlock()
	for _, h := range deliver {
		l.ip.gate.redeliver(h)
	}
}

// Held is how many connection requests the listener holds unanswered now.
func (l *Listener) Held() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.held)
}

// Close closes the listener; the requests it held are dropped (their senders get a RST on retry).
func (l *Listener) Close() error {
	l.ip.gate.register(l, false)
	l.mu.Lock()
	l.held, l.admit = nil, nil
	l.mu.Unlock()
	return l.TCPListener.Close()
}

// consider decides a SYN from remote: true to deliver it now, false when it is held (or dropped).
func (l *Listener) consider(remote netip.AddrPort, proto tcpip.NetworkProtocolNumber, pkt *gstack.PacketBuffer) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.admit == nil {
		return true
	}
	for _, h := range l.held {
		if h.remote == remote {
			return false // a retransmission of a held request
		}
	}
	if l.admit(remote) {
		return true
	}
	if len(l.held) >= l.holdLimit() {
		l.held = append(l.held[:0], l.held[1:]...) // the oldest is dropped, as NetX does
	}
	link := len(pkt.LinkHeader().Slice())
	frame := make([]byte, 0, pkt.Size())
	for _, v := range pkt.AsSlices() {
		frame = append(frame, v...)
	}
	start := len(frame) - pkt.Data().Size() - link
	l.held = append(l.held, heldSYN{remote: remote, proto: proto, frame: frame[start:], link: link, typ: pkt.PktType})
	return false
}

// register adds l to (or removes it from) the listeners whose SYNs the gate inspects.
func (g *gate) register(l *Listener, on bool) {
	g.hmu.Lock()
	defer g.hmu.Unlock()
	if !on {
		delete(g.holders, l)
		return
	}
	if g.holders == nil {
		g.holders = map[*Listener]struct{}{}
	}
	g.holders[l] = struct{}{}
}

// hold reports whether the inbound frame is a SYN that a listener holds (it keeps a copy).
func (g *gate) hold(protocol tcpip.NetworkProtocolNumber, pkt *gstack.PacketBuffer) bool {
	g.hmu.Lock()
	n := len(g.holders)
	g.hmu.Unlock()
	if n == 0 {
		return false
	}
	const peek = header.IPv6MinimumSize + header.TCPMinimumSize
	b, ok := pkt.Data().PullUp(min(peek, pkt.Data().Size())) // no copy: most frames are not SYNs
	if !ok {
		return false
	}
	off, ok := tcpOffset(protocol, b)
	if !ok || len(b) < off+header.TCPMinimumSize {
		return false
	}
	if f := header.TCPFlags(b[off+13]); f&header.TCPFlagSyn == 0 || f&(header.TCPFlagAck|header.TCPFlagRst) != 0 {
		return false
	}
	var src, dst netip.Addr
	if protocol == header.IPv4ProtocolNumber {
		src, dst = netip.AddrFrom4([4]byte(b[12:16])), netip.AddrFrom4([4]byte(b[16:20]))
	} else {
		src, dst = netip.AddrFrom16([16]byte(b[8:24])), netip.AddrFrom16([16]byte(b[24:40]))
	}
	sport, dport := binary.BigEndian.Uint16(b[off:]), binary.BigEndian.Uint16(b[off+2:])
	var l *Listener
	g.hmu.Lock()
	for h := range g.holders {
		if h.addr.Port() != dport {
			continue
		}
		if a := h.addr.Addr(); a == dst {
			l = h
			break
		} else if (!a.IsValid() || a.IsUnspecified()) && l == nil {
			l = h
		}
	}
	g.hmu.Unlock()
	if l == nil {
		return false
	}
	return !l.consider(netip.AddrPortFrom(src, sport), protocol, pkt)
}

// redeliver hands a held SYN to the stack, unless the instance is closing.
func (g *gate) redeliver(h heldSYN) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.closed {
		return
	}
	pkt := gstack.NewPacketBuffer(gstack.PacketBufferOptions{Payload: buffer.MakeWithData(h.frame)})
	defer pkt.DecRef()
	if h.link > 0 {
		pkt.LinkHeader().Consume(h.link)
	}
	pkt.PktType = h.typ
	g.Endpoint.DeliverNetworkPacket(h.proto, pkt)
}
