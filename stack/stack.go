// Package stack is the simulated device's IP instance (NetX Duo's NX_IP): a gVisor netstack with one
// Ethernet NIC, ARP, IPv4, IPv6 (EUI-64 link-local, static globals with DAD), ICMPv4/v6 echo, NDP, MLD,
// TCP and UDP, with Listen/Dial/Ping for its users. Kernel offers the same Listen/Dial over the host OS.
package stack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	gstack "gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// Config describes one IP instance with one Ethernet interface.
type Config struct {
	Name       string           // NIC name; also the pcapng interface name. "" means "eth0".
	MAC        net.HardwareAddr // required, 6 bytes, unicast
	IPv4       netip.Prefix     // zero value: no IPv4
	Gateway4   netip.Addr       // optional default gateway, must be inside IPv4
	IPv6       bool             // IPv6 on: link-local fe80::/64 from MAC by EUI-64, NDP, MLD
	IPv6Global []netip.Prefix   // static global addresses (needs IPv6)
	Gateway6   netip.Addr       // optional default gateway (global or link-local)
	SkipDAD    bool             // DAD is on by default: New returns once every IPv6 address passed it
	MTU        uint32           // IP MTU; 0: 1500
	Logger     *slog.Logger     // nil: discard

	// Signature is the TCP/IP look on the wire: SignatureGVisor (zero value, Linux-like) or
	// SignatureNetX (NetX Duo's TTL, TCP options, windows and IPv4 identification).
	Signature Signature
	// Windows fixes the receive windows (zero fields: the signature's defaults, NetX's 400/2,048).
	Windows Windows
	// TxQueue, when above 0, puts a transmit queue of that many packets between the stack and the
	// link, written by a goroutine of its own (txqueue.go). It pays off where a write is a system call
	// (TAP, tunnel socket); netxsim.Network sets DefaultTxQueue on segments that lead to a kernel.
	TxQueue int
}

// DefaultTxQueue is the transmit queue of devices on kernel-facing links (runsc's default length).
const DefaultTxQueue = 1000

// LinkEndpoint is an Ethernet-level link endpoint (gVisor's stack.LinkEndpoint): stack/link's
// endpoints, a tapdev TAP, either wrapped by stack/capture. The alias lets the root package and the
// commands pass endpoints around without importing gVisor.
type LinkEndpoint = gstack.LinkEndpoint

// DADTimeout bounds how long New waits for duplicate address detection (one probe of 1 s per RFC 4862).
const DADTimeout = 5 * time.Second

const nicID tcpip.NICID = 1

// maxRTO bounds TCP's retransmission timeout (see configure for why).
const maxRTO = time.Second

// ErrDuplicateAddress reports that DAD found another node using one of the configured IPv6 addresses.
var ErrDuplicateAddress = errors.New("duplicate address detected")

// IP is a running IP instance. Its methods are safe for concurrent use.
type IP struct {
	s    *gstack.Stack
	cfg  Config
	ll   netip.Addr // link-local, zero when IPv6 is off
	log  *slog.Logger
	once sync.Once
	gate *gate    // between the link endpoint and the stack; shut by Close
	txq  *txQueue // nil without Config.TxQueue
	win  Windows  // receive windows in force (0: auto-tuned)

	pingSeq atomic.Uint32 // echo sequence numbers, unique per instance
}

func (c *Config) validate() error {
	if len(c.MAC) != 6 {
		return fmt.Errorf("stack: MAC %q: need a 6-byte Ethernet address such as 02:00:00:00:00:02", c.MAC)
	}
	if c.MAC[0]&1 != 0 {
		return fmt.Errorf("stack: MAC %s is a multicast address: use a unicast one (first octet even)", c.MAC)
	}
	if c.IPv4.IsValid() {
		if !c.IPv4.Addr().Is4() {
			return fmt.Errorf("stack: IPv4 %s is not an IPv4 prefix", c.IPv4)
		}
		if c.IPv4.Bits() == 0 || c.IPv4.Bits() > 32 {
			return fmt.Errorf("stack: IPv4 %s: prefix length must be 1..32", c.IPv4)
		}
	}
	if c.Gateway4.IsValid() {
		if !c.IPv4.IsValid() {
			return fmt.Errorf("stack: Gateway4 %s set without an IPv4 address", c.Gateway4)
		}
		if !c.IPv4.Masked().Contains(c.Gateway4) {
			return fmt.Errorf("stack: Gateway4 %s is not on the link %s", c.Gateway4, c.IPv4.Masked())
		}
	}
	if !c.IPv6 && (len(c.IPv6Global) > 0 || c.Gateway6.IsValid()) {
		return errors.New("stack: IPv6Global or Gateway6 set while IPv6 is off: set IPv6: true")
	}
	for _, p := range c.IPv6Global {
		if !p.IsValid() || !p.Addr().Is6() || p.Addr().Is4In6() {
			return fmt.Errorf("stack: IPv6Global %s is not an IPv6 prefix", p)
		}
		if p.Addr().IsLinkLocalUnicast() || p.Addr().IsMulticast() {
			return fmt.Errorf("stack: IPv6Global %s must be a global unicast address (the link-local one is derived from the MAC)", p)
		}
	}
	if c.Gateway6.IsValid() && (!c.Gateway6.Is6() || c.Gateway6.Is4In6()) {
		return fmt.Errorf("stack: Gateway6 %s is not an IPv6 address", c.Gateway6)
	}
	if c.MTU != 0 && c.IPv6 && c.MTU < header.IPv6MinimumMTU {
		return fmt.Errorf("stack: MTU %d is below IPv6's minimum of %d", c.MTU, header.IPv6MinimumMTU)
	}
	if c.Signature != SignatureGVisor && c.Signature != SignatureNetX {
		return fmt.Errorf("stack: Signature %q: use %q or the zero value (gVisor)", c.Signature, SignatureNetX)
	}
	if err := c.Windows.validate(); err != nil {
		return err
	}
	if c.MTU != 0 && c.MTU < 68 {
		return fmt.Errorf("stack: MTU %d is below IPv4's minimum of 68", c.MTU)
	}
	return nil
}

// New starts an IP instance on ep, an Ethernet-level endpoint that adds and parses the Ethernet header
// itself (fdbased with EthernetHeader: true, stack/link endpoints, optionally wrapped by stack/capture).
// With IPv6 and DAD on, New returns only after every IPv6 address passed DAD (bounded by ctx and by
// DADTimeout), so Dial and Listen work at once. On error ep is closed.
func New(ctx context.Context, cfg Config, ep LinkEndpoint) (*IP, error) {
	if ep == nil {
		return nil, errors.New("stack: New needs a link endpoint")
	}
	if err := cfg.validate(); err != nil {
		ep.Close()
		return nil, err
	}
	if cfg.Name == "" {
		cfg.Name = "eth0"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dad := gstack.DADConfigurations{DupAddrDetectTransmits: 1, RetransmitTimer: time.Second}
	if cfg.SkipDAD {
		dad.DupAddrDetectTransmits = 0
	}
	netProtos := []gstack.NetworkProtocolFactory{arp.NewProtocol, ipv4.NewProtocolWithOptions(ipv4.Options{
		IGMP: ipv4.IGMPOptions{Enabled: true},
	})}
	transProtos := []gstack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4}
	if cfg.IPv6 {
		ndp := ipv6.DefaultNDPConfigurations()
		// Static configuration like NetX Duo: no SLAAC or router discovery from stray RAs.
		ndp.HandleRAs = ipv6.HandlingRAsDisabled
		ndp.DiscoverDefaultRouters = false
		ndp.DiscoverOnLinkPrefixes = false
		ndp.AutoGenGlobalAddresses = false
		ndp.MaxRtrSolicitations = 0
		netProtos = append(netProtos, ipv6.NewProtocolWithOptions(ipv6.Options{
			NDPConfigs: ndp,
			MLD:        ipv6.MLDOptions{Enabled: true},
			DADConfigs: dad,
		}))
		transProtos = append(transProtos, icmp.NewProtocol6)
	}
	s := gstack.New(gstack.Options{
		NetworkProtocols:   netProtos,
		TransportProtocols: transProtos,
		HandleLocal:        true,
	})
	wire := ep
	if cfg.Signature == SignatureNetX {
		wire = newNetXWire(ep)
	}
	ip := &IP{s: s, cfg: cfg, log: log, gate: newGate(wire), win: cfg.Windows.resolved(cfg.Signature)}
	if err := ip.configure(ctx, ip.gate); err != nil {
		// The stack owns ep once CreateNIC succeeded; Destroy closes it. Before that we close it.
		if _, ok := s.NICInfo()[nicID]; !ok {
			ep.Close()
		}
		s.Destroy()
		return nil, err
	}
	return ip, nil
}

func (ip *IP) configure(ctx context.Context, ep gstack.LinkEndpoint) error {
	s, cfg := ip.s, ip.cfg
	sack := tcpip.TCPSACKEnabled(true)
	mod := tcpip.TCPModerateReceiveBufferOption(true)
	// Buffers start small (idle connections stay cheap) and grow to 4 MiB, enough to fill the in-memory link.
	snd := tcpip.TCPSendBufferSizeRangeOption{Min: 4 << 10, Default: 256 << 10, Max: 4 << 20}
	rcv := tcpip.TCPReceiveBufferSizeRangeOption{Min: 4 << 10, Default: 256 << 10, Max: 4 << 20}
	// Two workarounds for gVisor v0.0.0-20260905035102-160fafc42237 (pkg/tcpip/transport/tcp), without
	// which a short transfer over a lossy link stalls at its close for seconds or for ever
	// (TestShortTransfersCloseUnderLoss, testdata/scenarios/lossy.yaml).
	//
	// RACK-TLP is off. The sender's count of packets in flight (sender.Outstanding) drifts: an RTO sets
	// it to 0, then ACKs covering segments sent before the RTO subtract them again (clamped at 0, see
	// the comment in snd.go handleRcvdSegment), so it reads 0 while data and the FIN are unacknowledged.
	// With RACK, an ACK schedules the tail loss probe, which disables the RTO timer (rack.go
	// schedulePTO); after sending the probe, probeTimerExpired -> postXmit re-arms the RTO timer only
	// "if s.Outstanding > 0" (snd.go postXmit). If the probe is lost as well, no timer is left and the
	// FIN is never sent again. Without RACK every ACK of new data re-arms the RTO timer and an RTO
	// always retransmits; SACK-based recovery (RFC 6675) still runs.
	//
	// The RTO is capped at 1 s, RFC 6298's initial RTO; our links have RTTs of milliseconds. A
	// retransmitted SYN or SYN-ACK carries its original timestamp (connect.go retransmitHandlerLocked
	// resends h.sendSYNOpts), so the handshake's RTT sample includes the 1 s SYN timeout
	// (transitionToStateEstablishedLocked) and the RTO starts near 3 s, decaying slowly (RFC 7323
	// per-ACK weighting) and doubling on every timeout. Timeouts are frequent at the end of a transfer:
	// a FIN that overtakes a lost segment is queued, then dropped when the gap fills (rcv.go
	// handleRcvdSegment: "segSeq.Add(segLen-1).LessThan(r.RcvNxt)" holds for a zero-length FIN at
	// RcvNxt), so only an RTO delivers it.
	recovery := tcpip.TCPRecovery(0)
	rtoCap := tcpip.TCPMaxRTOOption(maxRTO)
	if cfg.Signature == SignatureNetX {
		// NetX negotiates no SACK (timestamps and window scaling have no option: netxWire blanks them).
		sack = false
	}
	if ip.win.Data != 0 {
		// Fixed windows: no auto-tuning, and every endpoint starts with the data window. gVisor
		// advertises half the buffer (rcvAdvWndScale = 1), so the buffer is twice the window.
		mod = false
		rcv = tcpip.TCPReceiveBufferSizeRangeOption{Min: 128, Default: 2 * ip.win.Data, Max: 4 << 20}
	}
	for _, o := range []tcpip.SettableTransportProtocolOption{&sack, &mod, &snd, &rcv, &recovery, &rtoCap} {
		if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, o); err != nil {
			return fmt.Errorf("stack: set TCP option %T: %s", o, err)
		}
	}
	if cfg.Signature == SignatureNetX {
		// NetX's NX_IP_TIME_TO_LIVE is 128; its IPv6 hop limit, measured, is 255.
		for proto, ttl := range map[tcpip.NetworkProtocolNumber]uint8{ipv4.ProtocolNumber: 128, ipv6.ProtocolNumber: 255} {
			if proto == ipv6.ProtocolNumber && !cfg.IPv6 {
				continue
			}
			opt := tcpip.DefaultTTLOption(ttl)
			if err := s.SetNetworkProtocolOption(proto, &opt); err != nil {
				return fmt.Errorf("stack: set TTL %d: %s", ttl, err)
			}
		}
	}
	ep.SetLinkAddress(tcpip.LinkAddress(cfg.MAC))
	if cfg.MTU != 0 {
		ep.SetMTU(cfg.MTU)
	}
	opts := gstack.NICOptions{Name: cfg.Name}
	if cfg.TxQueue > 0 {
		ip.txq = newTxQueue(ep, cfg.TxQueue)
		opts.QDisc = ip.txq
	}
	if err := s.CreateNICWithOptions(nicID, ep, opts); err != nil {
		if ip.txq != nil {
			ip.txq.Close() // the stack did not take it: end its goroutine
		}
		return fmt.Errorf("stack: create NIC %s: %s", cfg.Name, err)
	}

	var routes []tcpip.Route
	if cfg.IPv4.IsValid() {
		pa := tcpip.ProtocolAddress{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: toPrefix(cfg.IPv4)}
		if err := s.AddProtocolAddress(nicID, pa, gstack.AddressProperties{}); err != nil {
			return fmt.Errorf("stack: add %s: %s", cfg.IPv4, err)
		}
		routes = append(routes, tcpip.Route{Destination: pa.AddressWithPrefix.Subnet(), NIC: nicID})
	}
	var waits []*dadWait
	if cfg.IPv6 {
		ll := header.LinkLocalAddr(tcpip.LinkAddress(cfg.MAC))
		ip.ll = netip.AddrFrom16(ll.As16())
		addrs := []tcpip.AddressWithPrefix{{Address: ll, PrefixLen: 64}}
		for _, p := range cfg.IPv6Global {
			addrs = append(addrs, toPrefix(p))
		}
		for _, a := range addrs {
			w := newDADWait(a)
			pa := tcpip.ProtocolAddress{Protocol: ipv6.ProtocolNumber, AddressWithPrefix: a}
			if err := s.AddProtocolAddress(nicID, pa, gstack.AddressProperties{Disp: w}); err != nil {
				return fmt.Errorf("stack: add %s: %s", a, err)
			}
			waits = append(waits, w)
			routes = append(routes, tcpip.Route{Destination: a.Subnet(), NIC: nicID})
		}
	}
	if cfg.Gateway4.IsValid() {
		routes = append(routes, tcpip.Route{Destination: header.IPv4EmptySubnet, Gateway: toAddr(cfg.Gateway4), NIC: nicID})
	}
	if cfg.Gateway6.IsValid() {
		routes = append(routes, tcpip.Route{Destination: header.IPv6EmptySubnet, Gateway: toAddr(cfg.Gateway6), NIC: nicID})
	}
	s.SetRouteTable(routes)

	if !cfg.SkipDAD && len(waits) > 0 {
		ctx, cancel := context.WithTimeout(ctx, DADTimeout)
		defer cancel()
		for _, w := range waits {
			if err := w.wait(ctx); err != nil {
				return fmt.Errorf("stack: %s: IPv6 address %s: %w", cfg.Name, w.addr, err)
			}
		}
	}
	ip.log.Debug("ip instance up", "nic", cfg.Name, "mac", cfg.MAC.String(), "addrs", ip.Addrs())
	return nil
}

// dadWait turns gVisor's address-state callbacks into something New can wait on.
type dadWait struct {
	addr tcpip.AddressWithPrefix
	done chan error
	once sync.Once
}

func newDADWait(a tcpip.AddressWithPrefix) *dadWait {
	return &dadWait{addr: a, done: make(chan error, 1)}
}

func (d *dadWait) OnChanged(_ gstack.AddressLifetimes, st gstack.AddressAssignmentState) {
	if st == gstack.AddressAssigned {
		d.once.Do(func() { d.done <- nil })
	}
}

func (d *dadWait) OnRemoved(r gstack.AddressRemovalReason) {
	err := fmt.Errorf("address removed (%s)", r)
	if r == gstack.AddressRemovalDADFailed {
		err = fmt.Errorf("%w: another node on the link uses it; pick another address or MAC", ErrDuplicateAddress)
	}
	d.once.Do(func() { d.done <- err })
}

func (d *dadWait) wait(ctx context.Context) error {
	select {
	case err := <-d.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("DAD did not finish: %w", ctx.Err())
	}
}

// Name returns the NIC name.
func (ip *IP) Name() string { return ip.cfg.Name }

// Signature returns the instance's stack signature.
func (ip *IP) Signature() Signature { return ip.cfg.Signature }

// MAC returns the interface's Ethernet address.
func (ip *IP) MAC() net.HardwareAddr { return append(net.HardwareAddr(nil), ip.cfg.MAC...) }

// LinkLocal returns the EUI-64 link-local IPv6 address (without zone), or the zero Addr when IPv6 is off.
func (ip *IP) LinkLocal() netip.Addr { return ip.ll }

// Addrs returns the assigned addresses with their prefixes (IPv4, link-local, globals).
func (ip *IP) Addrs() []netip.Prefix {
	info, ok := ip.s.NICInfo()[nicID]
	if !ok {
		return nil
	}
	var out []netip.Prefix
	for _, pa := range info.ProtocolAddresses {
		a, ok := netip.AddrFromSlice(pa.AddressWithPrefix.Address.AsSlice())
		if !ok {
			continue
		}
		out = append(out, netip.PrefixFrom(a, pa.AddressWithPrefix.PrefixLen))
	}
	return out
}

// Close aborts every connection and listener, closes the link endpoint and waits for the stack's
// goroutines to end. It is safe to call more than once.
func (ip *IP) Close() error {
	ip.once.Do(func() {
		if ip.txq != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			ip.txq.drain(ctx)
			cancel()
		}
		ip.gate.shut()
		ip.s.Destroy()
	})
	return nil
}

func toAddr(a netip.Addr) tcpip.Address {
	return tcpip.AddrFromSlice(a.Unmap().AsSlice())
}

func toPrefix(p netip.Prefix) tcpip.AddressWithPrefix {
	return tcpip.AddressWithPrefix{Address: toAddr(p.Addr()), PrefixLen: p.Bits()}
}

func fromAddr(a tcpip.Address) netip.Addr {
	ad, _ := netip.AddrFromSlice(a.AsSlice())
	return ad
}
