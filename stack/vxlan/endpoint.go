package vxlan

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"github.com/netxsim/netxsim/stack/link"
)

// Stats counts what the endpoint did with datagrams.
type Stats struct {
	Sent, Received  uint64 // frames sent to the remote, frames from it handed up (or filtered by MAC)
	SendErrors      uint64 // frames the UDP socket refused (the peer may not be up yet): dropped, as a wire does
	Dropped         uint64 // datagrams not from the remote, not VXLAN, another VNI, or shorter than Ethernet
	DroppedOtherVNI uint64 // of Dropped: VXLAN from the remote but with another VNI
}

// Endpoint is a gVisor link endpoint on a VXLAN segment. It adds and parses the Ethernet header itself
// (like fdbased with EthernetHeader: true and stack/link), so stack.New and stack/capture take it as
// they take those. Its reader goroutine starts in New; Close stops it and Wait waits for it.
type Endpoint struct {
	link.Ethernet // the Ethernet header
	link.Station  // MTU and MAC

	cfg  Config
	conn *net.UDPConn
	log  *slog.Logger
	wg   sync.WaitGroup

	stopOnce sync.Once // closes conn, which ends the reader

	att link.Attachment

	closed atomic.Bool

	sent, received, sendErrs, dropped, otherVNI atomic.Uint64
}

var _ stack.LinkEndpoint = (*Endpoint)(nil)

// New binds cfg.Local and starts the endpoint. log may be nil.
func New(cfg Config, log *slog.Logger) (*Endpoint, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(cfg.Local))
	if err != nil {
		return nil, fmt.Errorf("vxlan: bind %v: %w (is another VTEP, or a Linux vxlan interface with this dstport, using it?)", cfg.Local, err)
	}
	e := &Endpoint{cfg: cfg, conn: conn, log: log}
	e.SetMTU(cfg.MTU)
	e.wg.Add(1)
	go e.read()
	return e, nil
}

// Config is the endpoint's configuration, defaults filled in.
func (e *Endpoint) Config() Config { return e.cfg }

// LocalAddr is the bound UDP address (with the port the kernel chose if cfg.Local had port 0).
func (e *Endpoint) LocalAddr() netip.AddrPort { return e.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// Stats returns the counters.
func (e *Endpoint) Stats() Stats {
	return Stats{Sent: e.sent.Load(), Received: e.received.Load(), SendErrors: e.sendErrs.Load(),
		Dropped: e.dropped.Load(), DroppedOtherVNI: e.otherVNI.Load()}
}

func (e *Endpoint) read() {
	defer e.wg.Done()
	buf := make([]byte, 65536)
	remote := e.cfg.Remote.Addr().Unmap()
	for {
		n, from, err := e.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				e.log.Debug("vxlan reader stopped", "local", e.cfg.Local, "err", err)
			}
			return
		}
		if from.Addr().Unmap() != remote {
			e.dropped.Add(1)
			continue
		}
		vni, frame, err := ParseHeader(buf[:n])
		switch {
		case err != nil, len(frame) < header.EthernetMinimumSize:
			e.dropped.Add(1)
			continue
		case vni != e.cfg.VNI:
			e.dropped.Add(1)
			e.otherVNI.Add(1)
			continue
		}
		e.received.Add(1)
		e.deliver(frame)
	}
}

// deliver hands an inner frame to the stack, filtering by destination MAC as a NIC does. frame is
// copied.
func (e *Endpoint) deliver(frame []byte) {
	d, mac := e.att.Dispatcher(), e.LinkAddress()
	if d == nil || e.closed.Load() {
		return
	}
	dst := header.Ethernet(frame).DestinationAddress()
	typ, ok := link.PacketTypeFor(dst, mac)
	if !ok {
		return
	}
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(frame)})
	defer pkt.DecRef()
	if !e.ParseHeader(pkt) {
		return
	}
	pkt.PktType = typ
	d.DeliverNetworkPacket(header.Ethernet(pkt.LinkHeader().Slice()).Type(), pkt)
}

// WritePackets implements stack.LinkEndpoint: one datagram per frame, to the remote.
func (e *Endpoint) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	if e.closed.Load() {
		return 0, &tcpip.ErrClosedForSend{}
	}
	n := 0
	for _, pkt := range pkts.AsSlice() {
		dgram := make([]byte, HeaderLen, HeaderLen+pkt.Size())
		PutHeader(dgram, e.cfg.VNI)
		for _, v := range pkt.AsSlices() {
			dgram = append(dgram, v...)
		}
		if _, err := e.conn.WriteToUDPAddrPort(dgram, e.cfg.Remote); err != nil {
			// A wire drops frames nobody takes; TCP retransmits. Not an error for the stack.
			e.sendErrs.Add(1)
			e.log.Debug("vxlan send", "remote", e.cfg.Remote, "err", err)
		} else {
			e.sent.Add(1)
		}
		n++
	}
	return n, nil
}

// Capabilities implements stack.LinkEndpoint: no offloads, checksums are computed and checked.
func (*Endpoint) Capabilities() stack.LinkEndpointCapabilities {
	return stack.CapabilityResolutionRequired
}

// Attach implements stack.LinkEndpoint. Detaching (nil) after an attach stops the reader, as with
// fdbased: gVisor's Stack.Destroy detaches, then Waits, and only then Closes.
func (e *Endpoint) Attach(d stack.NetworkDispatcher) {
	if was := e.att.Attach(d); d == nil && was != nil {
		e.stopOnce.Do(func() { e.conn.Close() })
	}
}

// IsAttached implements stack.LinkEndpoint.
func (e *Endpoint) IsAttached() bool { return e.att.IsAttached() }

// Wait implements stack.LinkEndpoint: it returns once the reader goroutine has stopped (after a
// detach or Close).
func (e *Endpoint) Wait() { e.wg.Wait() }

// Close implements stack.LinkEndpoint: it closes the socket, which stops the reader. Idempotent.
func (e *Endpoint) Close() {
	if e.closed.Swap(true) {
		return
	}
	e.stopOnce.Do(func() { e.conn.Close() })
	if action := e.att.Detach(); action != nil {
		action()
	}
}

// SetOnCloseAction implements stack.LinkEndpoint.
func (e *Endpoint) SetOnCloseAction(action func()) { e.att.SetOnCloseAction(action) }
