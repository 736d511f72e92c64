package stack_test

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/netxsim/netxsim/internal/testio"
	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/stack/link"
)

// On a switch the neighbour resolution and multicast of a fleet reach only the stations concerned:
// the switch answers ND for known owners with a directed frame and keeps MLD reports and
// solicited-node multicast to their listeners. A connection to one device costs the others nothing,
// and nothing is flooded.
func TestSwitchKeepsFleetTrafficToItsStations(t *testing.T) {
	const n = 40
	sw, err := link.NewSwitch(link.SwitchConfig{Ports: n + 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sw.Close() })
	ctx := timeout(t, time.Minute)
	devs := make([]*stack.IP, n)
	addr := func(i int) netip.Addr {
		return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i + 2)})
	}
	errs := make(chan error, n)
	for i := range n { // with DAD, which takes a second: all at once
		go func() {
			ip, err := stack.New(ctx, stack.Config{Name: "dev", MAC: net.HardwareAddr{2, 0, 0, 0, 1, byte(i)}, IPv6: true,
				IPv6Global: []netip.Prefix{netip.PrefixFrom(addr(i), 64)}}, sw.Port(i))
			devs[i] = ip
			errs <- err
		}()
	}
	var first error
	for range n {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	for _, ip := range devs {
		if ip != nil {
			t.Cleanup(func() { ip.Close() })
		}
	}
	if first != nil {
		t.Fatal(first)
	}
	host, err := stack.New(ctx, stack.Config{Name: "host", MAC: net.HardwareAddr{2, 0, 0, 0, 2, 1}, IPv6: true,
		IPv6Global: []netip.Prefix{netip.MustParsePrefix("2001:db8::1/64")}}, sw.Port(n))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { host.Close() })
	if err := sw.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	before := make([]uint64, n)
	for i, d := range devs {
		before[i] = d.Stats().FramesIn
	}
	floods := sw.Counters().Floods
	for _, target := range []int{3, 17, 3} {
		testio.Transfer(t, ctx, devs[target], host, addr(target), 64<<10)
	}
	if err := sw.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	for i, d := range devs {
		if i == 3 || i == 17 {
			continue
		}
		if got := d.Stats().FramesIn - before[i]; got != 0 {
			t.Errorf("device %d received %d frames of sessions to others", i, got)
		}
	}
	if f := sw.Counters().Floods - floods; f != 0 {
		t.Errorf("%d frames flooded for three sessions", f)
	}
	if c := sw.Counters(); c.Snooped == 0 {
		t.Errorf("no multicast kept to its listeners: %+v", c)
	}
}
