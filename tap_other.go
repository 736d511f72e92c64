//go:build !linux

package netxsim

import (
	"context"
	"errors"
	"net"
	"net/netip"

	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/stack/link"
)

// TAPConfig describes a TAP segment; TAP segments need Linux.
type TAPConfig struct {
	Name, NetNS  string
	CreateNetNS  bool
	Private      bool
	Kernel       string
	Tx, Rx       link.Impairment
	Seed         uint64
	HostAddrs    []netip.Prefix
	MAC          net.HardwareAddr
	MTU          uint32
	Persist      bool
	Owner, Group *uint
}

type tapSide struct{ host []netip.Prefix }

func (*tapSide) waitKernel(context.Context, *Device) error { return nil }

// TAPSupported says why TAP segments cannot be made here.
func TAPSupported() string { return "TAP segments need Linux" }

// TAP fails: TAP segments need Linux.
func (n *Network) TAP(context.Context, string, TAPConfig) (*Segment, error) {
	return nil, errors.New("netxsim: TAP segments need Linux")
}

// Kernel returns nil: there are no TAP segments here.
func (s *Segment) Kernel() *Device { return nil }

// TAPName returns "".
func (s *Segment) TAPName() string { return "" }

// TAPCreated returns false.
func (s *Segment) TAPCreated() bool { return false }

// Host adds the host's own kernel as a device; 192.0.2.0/24 is refused on it like everywhere else.
func (n *Network) Host(name string) (*Device, error) {
	return n.addKernelDevice(name, nil, stack.Kernel{})
}
