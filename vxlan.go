package netxsim

import (
	"fmt"

	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/stack/vxlan"
)

// VXLAN adds a VXLAN segment with one port, for a device: its Ethernet frames travel over UDP with
// the RFC 7348 header to cfg.Remote (a peer netxsim process or a Linux vxlan interface, Open vSwitch,
// a CNI). It needs no privileges. The device's addresses are checked like a TAP's: the frames reach
// other machines' kernels. A device on it should use MTU Segment.VXLAN().MTU() (the outer headers
// take 50 or 70 bytes of the underlay's 1500). capture says whether its frames are recorded: the zero
// value records both directions; CaptureNone suits the second end of a tunnel whose first end is in
// the same Network (each frame would be in the capture twice, which reads as retransmissions).
func (n *Network) VXLAN(name string, cfg vxlan.Config, capture CaptureMode) (*Segment, error) {
	ep, err := vxlan.New(cfg, n.log().With("segment", name))
	if err != nil {
		return nil, fmt.Errorf("netxsim: vxlan %s: %w", name, err)
	}
	s, err := n.AddSegment(name, []stack.LinkEndpoint{ep}, SegmentOptions{
		Kind: "vxlan", Capture: capture, Kernel: true,
	})
	if err != nil {
		ep.Close()
		return nil, err
	}
	s.vx = ep
	return s, nil
}

// VXLAN returns the endpoint of a "vxlan" segment (its configuration and counters), else nil.
func (s *Segment) VXLAN() *vxlan.Endpoint { return s.vx }
