//go:build linux

package scenario

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/stack/capture"
	"github.com/netxsim/netxsim/tapdev"
)

// TAPSupported says why TAP links cannot run here, or "" when they can.
func TAPSupported() string {
	if os.Geteuid() != 0 {
		return "TAP links create a network namespace and a TAP device: run as root (e.g. sudo), or use memory links"
	}
	if _, err := os.Stat(tapdev.TunDevice); err != nil {
		return fmt.Sprintf("TAP links need %s (modprobe tun): %v", tapdev.TunDevice, err)
	}
	return ""
}

// buildTAP creates a namespace with a TAP in it: device a is a user-space IP instance on the TAP
// (captured), device b is the Linux kernel in the namespace, its addresses on the TAP's kernel side.
// Everything is removed again by the world's closers.
func (w *world) buildTAP(ctx context.Context, l *Link, a, b *Device) error {
	if why := TAPSupported(); why != "" {
		return fmt.Errorf("%w: %s", ErrNeedsRoot, why)
	}
	nsName := l.NetNS
	if nsName == "" {
		nsName = randomName("nxsim")
	}
	tapName := l.TAP
	if tapName == "" {
		tapName = nsName
	}
	ns, err := tapdev.CreateNetNS(nsName)
	if err != nil {
		return err
	}
	w.closers = append(w.closers, ns.Delete)
	tap, err := tapdev.Open(tapdev.Config{Name: tapName, NetNS: ns, MAC: net.HardwareAddr(a.MAC), MTU: l.MTU, Logger: w.log})
	if err != nil {
		return err
	}
	w.closers = append(w.closers, func() error {
		if err := tap.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			return err
		}
		return nil
	})
	var hostAddrs []netip.Prefix
	if b.IPv4.IsValid() {
		hostAddrs = append(hostAddrs, b.IPv4.Prefix)
	}
	hostAddrs = append(hostAddrs, b.IPv6...)
	for _, p := range hostAddrs {
		if err := ns.AddAddr(tapName, p); err != nil {
			return err
		}
	}
	if err := ns.LinkUp(tapName); err != nil {
		return err
	}
	ep, err := capture.New(tap.Endpoint(), w.capture, a.Name)
	if err != nil {
		return err
	}
	ip, err := stack.New(ctx, stackConfig(a, l.MTU, w.log), ep)
	if err != nil {
		return fmt.Errorf("device %s: %w", a.Name, err)
	}
	w.closers = append(w.closers, ip.Close)
	w.nodes[a.Name] = &node{dev: a, net: ip, ip: ip}
	w.nodes[b.Name] = &node{dev: b, net: ns.Kernel(), kernel: true}
	// The kernel's side is up when it answers the device's pings (ARP and NDP resolved on the way).
	for _, p := range hostAddrs {
		if p.Addr().Is6() && len(a.IPv6) == 0 || p.Addr().Is4() && !a.IPv4.IsValid() {
			continue
		}
		if err := waitPing(ctx, ip, p.Addr()); err != nil {
			return fmt.Errorf("kernel side %s in namespace %s does not answer: %w", p.Addr(), nsName, err)
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
