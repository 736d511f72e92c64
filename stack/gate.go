package stack

import (
	"sync"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/link/nested"
	gstack "gvisor.dev/gvisor/pkg/tcpip/stack"
)

// gate sits between the link endpoint and the stack so that Close can stop inbound delivery before
// the stack is destroyed. gVisor's Stack.Destroy holds the stack lock while it detaches the link, and
// fdbased's detach waits for its dispatch goroutines; one of them may be in the middle of delivering a
// frame that needs the stack lock (seen: a RST sent for a late segment), and then both wait forever.
// shut waits for deliveries in flight and drops every later frame, so Destroy never meets one.
type gate struct {
	nested.Endpoint
	mu     sync.RWMutex
	closed bool

	hmu     sync.Mutex
	holders map[*Listener]struct{} // listeners that may hold SYNs (synhold.go)
}

func newGate(ep gstack.LinkEndpoint) *gate {
	g := &gate{}
	g.Endpoint.Init(ep, g)
	return g
}

func (g *gate) DeliverNetworkPacket(protocol tcpip.NetworkProtocolNumber, pkt *gstack.PacketBuffer) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if !g.closed && !g.hold(protocol, pkt) {
		g.Endpoint.DeliverNetworkPacket(protocol, pkt)
	}
}

func (g *gate) DeliverLinkPacket(protocol tcpip.NetworkProtocolNumber, pkt *gstack.PacketBuffer) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if !g.closed {
		g.Endpoint.DeliverLinkPacket(protocol, pkt)
	}
}

// shut returns once no frame is being delivered; no frame is delivered after it.
func (g *gate) shut() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}
