//go:build linux

package netxsim

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/stack/link"
	"github.com/netxsim/netxsim/tapdev"
)

// TAPConfig describes a TAP segment: a Linux TAP whose one port is a device's user-space IP instance
// and whose other side is the kernel (in a network namespace, or the caller's own).
type TAPConfig struct {
	// Name of the TAP; "": the namespace's name (or "netxsim0" without a namespace). An existing TAP
	// of this name is opened as it is (a user's persistent TAP), a missing one created and removed again.
	Name string
	// NetNS is the namespace the TAP lives in; "" is the caller's own namespace.
	NetNS string
	// CreateNetNS creates NetNS (a random name when NetNS is "") and deletes it on Close; without it
	// NetNS must exist.
	CreateNetNS bool
	// Private says the caller's own namespace was made for this process (netxsim shell, --rootless:
	// internal/userns), so the kernel side is configured there, with NetNS "": addresses, link and
	// loopback up. Never set it for a namespace anything else lives in.
	Private bool
	// HostAddrs are the kernel side's addresses, put on the TAP in the namespace when the namespace
	// or the TAP is made here (never in the caller's own namespace). AddDevice waits until the kernel
	// answers the device's pings on each of them.
	HostAddrs []netip.Prefix
	// MAC is the Ethernet address of the device that will take the port; nil: DeviceMAC().
	MAC net.HardwareAddr
	// MTU of the link; 0: 1500.
	MTU uint32
	// Tx and Rx impair the frames the device sends to the kernel and those it receives (a
	// link.Impaired wrapper on the TAP's endpoint); Seed seeds them (0: the Network's).
	Tx, Rx link.Impairment
	Seed   uint64
	// Kernel names the kernel side's Device; "": "kernel:" and the segment's name.
	Kernel string
	// Persist, Owner and Group are passed to tapdev.Config for a TAP that is created.
	Persist      bool
	Owner, Group *uint
}

// tapSide is the kernel side of a TAP segment.
type tapSide struct {
	cfg    TAPConfig
	ns     *tapdev.NetNS // nil: the caller's namespace
	tap    *tapdev.TAP
	kernel *Device
	host   []netip.Prefix // the kernel side's addresses that were configured here
}

// TAPSupported says why TAP segments cannot be made here, or "" when they can.
func TAPSupported() string {
	if why := tapdev.Supported(); why != "" {
		return "a TAP segment " + why
	}
	return ""
}

// TAP adds a TAP segment with one port, for the device; its other side is the kernel, which
// Segment.Kernel returns as a Device (its sockets inside the namespace). Everything made is removed by
// Close, also when TAP fails midway.
func (n *Network) TAP(ctx context.Context, name string, cfg TAPConfig) (seg *Segment, err error) {
	nsName := cfg.NetNS
	if cfg.CreateNetNS && nsName == "" {
		nsName = RandomName("nxs")
	}
	if cfg.Name == "" {
		cfg.Name = nsName
		if cfg.Name == "" {
			cfg.Name = "netxsim0"
		}
	}
	mac := cfg.MAC
	if mac == nil {
		mac = DeviceMAC()
	}
	// The namespace, the TAP and the kernel side in the one order of tapdev.SetupTAP (taptest makes
	// its TAPs there too).
	setup, err := tapdev.SetupTAP(tapdev.SetupConfig{
		TAP: tapdev.Config{
			Name: cfg.Name, MAC: mac, MTU: cfg.MTU, Persist: cfg.Persist,
			Owner: cfg.Owner, Group: cfg.Group, Logger: n.log(),
		},
		NetNS: nsName, CreateNetNS: cfg.CreateNetNS, Private: cfg.Private, HostAddrs: cfg.HostAddrs,
	})
	if err != nil {
		return nil, fmt.Errorf("netxsim: tap %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			setup.Close()
		}
	}()
	side := &tapSide{cfg: cfg, ns: setup.NS, tap: setup.TAP, host: setup.Host}
	release := setup.Close
	tap := setup.TAP
	var ep stack.LinkEndpoint = tap.Endpoint()
	opt := SegmentOptions{Kind: "tap", Capture: CaptureEveryPort, Kernel: true, Close: release}
	if !cfg.Tx.IsZero() || !cfg.Rx.IsZero() {
		imp, err := link.Impair(ep, link.ImpairConfig{Tx: cfg.Tx, Rx: cfg.Rx, Seed: n.seed(cfg.Seed)})
		if err != nil {
			return nil, fmt.Errorf("netxsim: tap %s: %w", name, err)
		}
		ep, opt.Settle = imp, settle(cfg.Tx, cfg.Rx)
	}
	seg, err = n.AddSegment(name, []stack.LinkEndpoint{ep}, opt)
	if err != nil {
		return nil, err
	}
	seg.tap = side
	k := tapdev.Kernel{NS: side.ns}
	if cfg.Private {
		k.NS = nil // the caller's own namespace: plain sockets, no setns
	}
	kname := cfg.Kernel
	if kname == "" {
		kname = "kernel:" + name
	}
	if side.kernel, err = n.addKernelDevice(kname, seg, k); err != nil {
		return nil, err
	}
	return seg, nil
}

// Kernel returns the kernel side of a TAP segment as a Device (sockets inside the namespace, the
// addresses of TAPConfig.HostAddrs), or nil for other kinds of segment.
func (s *Segment) Kernel() *Device {
	if s.tap == nil {
		return nil
	}
	return s.tap.kernel
}

// TAPName is the TAP's name ("" for other kinds of segment).
func (s *Segment) TAPName() string {
	if s.tap == nil {
		return ""
	}
	return s.tap.tap.Name()
}

// TAPCreated reports whether the TAP was made for this segment (and goes with it) rather than opened.
func (s *Segment) TAPCreated() bool { return s.tap != nil && s.tap.tap.Created() }

// NetNS is the TAP's namespace (nil: the caller's own, or not a TAP segment).
func (s *Segment) NetNS() *tapdev.NetNS {
	if s.tap == nil {
		return nil
	}
	return s.tap.ns
}

// waitKernel returns once the kernel side answers d's pings on each of its addresses of a family d
// has (ARP and NDP resolved on the way), so the first connection does not race the neighbour caches.
func (t *tapSide) waitKernel(ctx context.Context, d *Device) error {
	if d.ip == nil {
		return nil
	}
	has4, has6 := false, false
	for _, p := range d.ip.Addrs() {
		if p.Addr().Is4() {
			has4 = true
		} else if !p.Addr().IsLinkLocalUnicast() {
			has6 = true
		}
	}
	for _, p := range t.host {
		if p.Addr().Is4() && !has4 || p.Addr().Is6() && !has6 {
			continue
		}
		if err := waitPing(ctx, d.ip, p.Addr()); err != nil {
			return fmt.Errorf("netxsim: kernel side %s of TAP %s does not answer: %w", p.Addr(), t.tap.Name(), err)
		}
	}
	return nil
}

func waitPing(ctx context.Context, ip *stack.IP, dst netip.Addr) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		_, err := ip.Ping(pctx, dst)
		pcancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Host adds the host's own kernel (the caller's namespace) as a device: `netxsim serve --listen` and
// `netxsim ftp` without a TAP run on it. 192.0.2.0/24 is refused on it like everywhere else.
func (n *Network) Host(name string) (*Device, error) {
	return n.addKernelDevice(name, nil, tapdev.Kernel{})
}
