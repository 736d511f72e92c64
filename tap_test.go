//go:build linux

package netxsim_test

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/netxsim/netxsim"
	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/tapdev"
)

// A device on a TAP talks to the kernel side in a namespace made for it; Close removes the namespace.
func TestTAPSegment(t *testing.T) {
	if why := netxsim.TAPSupported(); why != "" {
		t.Skip(why)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var n netxsim.Network
	defer n.Close()
	seg, err := n.TAP(ctx, "tap", netxsim.TAPConfig{CreateNetNS: true, HostAddrs: []netip.Prefix{netxsim.HostIPv4}})
	if err != nil {
		t.Fatal(err)
	}
	ns := seg.NetNS().Name
	d, err := n.AddDevice(ctx, seg, netxsim.DeviceConfig{Config: stack.Config{Name: seg.TAPName(), IPv4: netxsim.DeviceIPv4, SkipDAD: true}})
	if err != nil {
		t.Fatal(err)
	}
	k := seg.Kernel()
	ln, err := k.Listen(ctx, netip.AddrPortFrom(netxsim.HostIPv4.Addr(), 0))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Write([]byte("hello from the kernel"))
			c.Close()
		}
	}()
	c, err := d.Dial(ctx, netip.AddrPort{}, netip.MustParseAddrPort(ln.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(c)
	c.Close()
	ln.Close()
	if string(b) != "hello from the kernel" {
		t.Fatalf("read %q", b)
	}
	if _, err := d.Dial(ctx, netip.AddrPort{}, netip.MustParseAddrPort("192.0.2.1:21")); !errors.Is(err, netxsim.ErrReservedAddress) {
		t.Fatalf("device on a TAP dialing 192.0.2.1: %v, want ErrReservedAddress", err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if tapdev.NetNSExists(ns) {
		t.Fatalf("namespace %s left behind", ns)
	}
}

func TestTAPRefusesReserved(t *testing.T) {
	if why := netxsim.TAPSupported(); why != "" {
		t.Skip(why)
	}
	var n netxsim.Network
	defer n.Close()
	if _, err := n.TAP(t.Context(), "tap", netxsim.TAPConfig{CreateNetNS: true, HostAddrs: []netip.Prefix{netip.MustParsePrefix("192.0.2.1/24")}}); !errors.Is(err, netxsim.ErrReservedAddress) {
		t.Fatalf("kernel side in 192.0.2.0/24: %v, want ErrReservedAddress", err)
	}
	seg, err := n.TAP(t.Context(), "tap2", netxsim.TAPConfig{CreateNetNS: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = n.AddDevice(t.Context(), seg, netxsim.DeviceConfig{Config: stack.Config{Name: "d", IPv4: netip.MustParsePrefix("192.0.2.2/24"), SkipDAD: true}})
	if !errors.Is(err, netxsim.ErrReservedAddress) {
		t.Fatalf("device in 192.0.2.0/24 on a TAP: %v, want ErrReservedAddress", err)
	}
}
