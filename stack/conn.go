package stack

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// fullAddr converts addr to gVisor's form, resolving its zone: link-local IPv6 addresses may carry the
// NIC name as zone (or none, there being one NIC). An unspecified address becomes the "any" address.
func (ip *IP) fullAddr(ap netip.AddrPort) (tcpip.FullAddress, tcpip.NetworkProtocolNumber, error) {
	a := ap.Addr()
	fa := tcpip.FullAddress{Port: ap.Port()}
	if !a.IsValid() {
		if ip.cfg.IPv6 {
			return fa, ipv6.ProtocolNumber, nil // dual-stack "any"
		}
		return fa, ipv4.ProtocolNumber, nil
	}
	if z := a.Zone(); z != "" {
		if z != ip.cfg.Name {
			return fa, 0, fmt.Errorf("address %s: zone %q is not this instance's interface %q", a, z, ip.cfg.Name)
		}
		a = a.WithZone("")
	}
	if a.Is4In6() {
		a = a.Unmap()
	}
	proto := tcpip.NetworkProtocolNumber(ipv4.ProtocolNumber)
	if a.Is6() {
		if !ip.cfg.IPv6 {
			return fa, 0, fmt.Errorf("address %s: IPv6 is off on %s (set Config.IPv6)", a, ip.cfg.Name)
		}
		proto = ipv6.ProtocolNumber
	} else if !ip.cfg.IPv4.IsValid() {
		return fa, 0, fmt.Errorf("address %s: %s has no IPv4 address (set Config.IPv4)", a, ip.cfg.Name)
	}
	if a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() {
		fa.NIC = nicID
	}
	if !a.IsUnspecified() {
		fa.Addr = toAddr(a)
	}
	return fa, proto, nil
}

// Listen opens a TCP listener. An unspecified or zero address listens on every address (dual-stack when
// IPv6 is on, IPv4 only for 0.0.0.0); port 0 picks a free port (see Addr on the result). The result is
// a *Listener, which can hold connection requests unanswered as NetX does (SetAdmit).
func (ip *IP) Listen(ctx context.Context, addr netip.AddrPort) (net.Listener, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	fa, proto, err := ip.fullAddr(addr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	ln, err := ip.listenTCP(fa, proto)
	if err != nil {
		return nil, fmt.Errorf("listen %s on %s: %w", addr, ip.cfg.Name, err)
	}
	bound := netip.AddrPortFrom(addr.Addr().WithZone("").Unmap(), addr.Port())
	if bound.Port() == 0 {
		bound = netip.AddrPortFrom(bound.Addr(), uint16(ln.Addr().(*net.TCPAddr).Port))
	}
	return &Listener{TCPListener: ln, ip: ip, addr: bound}, nil
}

// listenTCP is gonet.ListenTCP plus the control window on the control port: accepted connections
// inherit the listener's receive buffer (tcp accept.go), so the SYN-ACK already advertises it.
func (ip *IP) listenTCP(fa tcpip.FullAddress, proto tcpip.NetworkProtocolNumber) (*gonet.TCPListener, error) {
	var wq waiter.Queue
	ep, terr := ip.s.NewEndpoint(tcp.ProtocolNumber, proto, &wq)
	if terr != nil {
		return nil, errors.New(terr.String())
	}
	if ip.win.Control != 0 && fa.Port == ip.win.ControlPort {
		ep.SocketOptions().SetReceiveBufferSize(int64(2*ip.win.Control), true)
	}
	if terr := ep.Bind(fa); terr != nil {
		ep.Close()
		return nil, &net.OpError{Op: "bind", Net: "tcp", Addr: &net.TCPAddr{IP: net.IP(fa.Addr.AsSlice()), Port: int(fa.Port)}, Err: errors.New(terr.String())}
	}
	if terr := ep.Listen(listenBacklog); terr != nil {
		ep.Close()
		return nil, &net.OpError{Op: "listen", Net: "tcp", Addr: &net.TCPAddr{IP: net.IP(fa.Addr.AsSlice()), Port: int(fa.Port)}, Err: errors.New(terr.String())}
	}
	return gonet.NewTCPListener(ip.s, &wq, ep), nil
}

// Dial opens a TCP connection to remote. local may be the zero AddrPort (any address, ephemeral port),
// a port alone (netip.AddrPortFrom(netip.Addr{}, 20), as FTP active mode needs) or a full address.
// The local port is bound with SO_REUSEADDR so that port 20 can be reused while earlier connections sit
// in TIME-WAIT. ctx bounds the handshake: on cancellation or deadline Dial returns an error wrapping ctx.Err().
func (ip *IP) Dial(ctx context.Context, local, remote netip.AddrPort) (net.Conn, error) {
	if !remote.Addr().IsValid() || remote.Addr().IsUnspecified() || remote.Port() == 0 {
		return nil, fmt.Errorf("dial %s: need a remote address and port", remote)
	}
	rfa, proto, err := ip.fullAddr(remote)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	var lfa tcpip.FullAddress
	if local.Addr().IsValid() || local.Port() != 0 {
		l := local
		if !l.Addr().IsValid() {
			l = netip.AddrPortFrom(netip.Addr{}, l.Port())
		}
		lfa, _, err = ip.fullAddr(l)
		if err != nil {
			return nil, fmt.Errorf("dial: local %w", err)
		}
		if l.Addr().IsValid() && l.Addr().Unmap().Is4() != remote.Addr().Unmap().Is4() {
			return nil, fmt.Errorf("dial %s from %s: address families differ", remote, local)
		}
		lfa.NIC = rfa.NIC
	}
	c, err := ip.dialTCP(ctx, lfa, rfa, proto)
	if err != nil {
		return nil, fmt.Errorf("dial %s from %s: %w", remote, ip.cfg.Name, err)
	}
	return c, nil
}

// dialTCP is gonet.DialTCPWithBind plus SO_REUSEADDR on the bound endpoint.
func (ip *IP) dialTCP(ctx context.Context, local, remote tcpip.FullAddress, proto tcpip.NetworkProtocolNumber) (*gonet.TCPConn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var wq waiter.Queue
	ep, terr := ip.s.NewEndpoint(tcp.ProtocolNumber, proto, &wq)
	if terr != nil {
		return nil, errors.New(terr.String())
	}
	entry, notify := waiter.NewChannelEntry(waiter.WritableEvents)
	wq.EventRegister(&entry)
	defer wq.EventUnregister(&entry)
	if local != (tcpip.FullAddress{}) {
		ep.SocketOptions().SetReuseAddress(true)
		if terr := ep.Bind(local); terr != nil {
			ep.Close()
			return nil, fmt.Errorf("bind local port %d: %s", local.Port, terr)
		}
	}
	terr = ep.Connect(remote)
	if _, ok := terr.(*tcpip.ErrConnectStarted); ok {
		select {
		case <-ctx.Done():
			ep.Close()
			return nil, ctx.Err()
		case <-notify:
		}
		terr = ep.LastError()
	}
	if terr != nil {
		ep.Close()
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IP(remote.Addr.AsSlice()), Port: int(remote.Port)}, Err: tcpErr(terr)}
	}
	return gonet.NewTCPConn(&wq, ep), nil
}

// tcpErr maps gVisor's errors to the errno values the kernel's sockets give, so callers test both
// stacks alike with errors.Is(err, syscall.ECONNREFUSED) (or ETIMEDOUT, ECONNRESET, ...).
func tcpErr(e tcpip.Error) error {
	switch e.(type) {
	case *tcpip.ErrConnectionRefused:
		return syscall.ECONNREFUSED
	case *tcpip.ErrTimeout:
		return syscall.ETIMEDOUT
	case *tcpip.ErrConnectionReset:
		return syscall.ECONNRESET
	case *tcpip.ErrConnectionAborted:
		return syscall.ECONNABORTED
	case *tcpip.ErrNetworkUnreachable:
		return syscall.ENETUNREACH
	case *tcpip.ErrHostUnreachable:
		return syscall.EHOSTUNREACH
	}
	return errors.New(e.String())
}

// Ping sends ICMP echo requests to dst (IPv4, IPv6 global, or IPv6 link-local with an optional zone
// naming this NIC), one a second, until a reply arrives or ctx ends; it returns the round-trip time.
func (ip *IP) Ping(ctx context.Context, dst netip.Addr) (time.Duration, error) {
	fa, proto, err := ip.fullAddr(netip.AddrPortFrom(dst, 0))
	if err != nil {
		return 0, fmt.Errorf("ping: %w", err)
	}
	if fa.Addr == (tcpip.Address{}) {
		return 0, fmt.Errorf("ping %s: need a destination address", dst)
	}
	transport := icmp.ProtocolNumber4
	if proto == ipv6.ProtocolNumber {
		transport = icmp.ProtocolNumber6
	}
	var wq waiter.Queue
	ep, terr := ip.s.NewEndpoint(transport, proto, &wq)
	if terr != nil {
		return 0, fmt.Errorf("ping %s: open ICMP endpoint: %s", dst, terr)
	}
	defer ep.Close()
	entry, readable := waiter.NewChannelEntry(waiter.ReadableEvents)
	wq.EventRegister(&entry)
	defer wq.EventUnregister(&entry)
	if terr := ep.Connect(fa); terr != nil {
		return 0, fmt.Errorf("ping %s: %s", dst, terr)
	}

	sent := map[uint16]time.Time{}
	send := func() error {
		seq := uint16(ip.pingSeq.Add(1))
		msg := make([]byte, 8+16)
		if transport == icmp.ProtocolNumber4 {
			msg[0] = byte(header.ICMPv4Echo)
		} else {
			msg[0] = byte(header.ICMPv6EchoRequest)
		}
		binary.BigEndian.PutUint16(msg[6:], seq)
		copy(msg[8:], "netxsim ping....")
		var r bytes.Reader
		r.Reset(msg)
		if _, terr := ep.Write(&r, tcpip.WriteOptions{}); terr != nil {
			return fmt.Errorf("send echo request: %s", terr)
		}
		sent[seq] = time.Now()
		return nil
	}
	if err := send(); err != nil {
		return 0, fmt.Errorf("ping %s: %w", dst, err)
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var buf bytes.Buffer
	for {
		buf.Reset()
		_, terr := ep.Read(&buf, tcpip.ReadOptions{})
		if terr == nil {
			b := buf.Bytes()
			if len(b) >= 8 && (b[0] == byte(header.ICMPv4EchoReply) && transport == icmp.ProtocolNumber4 ||
				b[0] == byte(header.ICMPv6EchoReply) && transport == icmp.ProtocolNumber6) {
				if t, ok := sent[binary.BigEndian.Uint16(b[6:])]; ok {
					return time.Since(t), nil
				}
			}
			continue
		}
		if _, ok := terr.(*tcpip.ErrWouldBlock); !ok {
			return 0, fmt.Errorf("ping %s: read reply: %s", dst, terr)
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("ping %s: no reply: %w", dst, ctx.Err())
		case <-readable:
		case <-tick.C:
			if err := send(); err != nil {
				return 0, fmt.Errorf("ping %s: %w", dst, err)
			}
		}
	}
}

// listenBacklog is gonet.ListenTCP's backlog.
const listenBacklog = 4096
