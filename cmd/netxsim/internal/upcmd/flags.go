package upcmd

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
)

type options struct {
	tap, netns         string
	ipv4, ipv6         netip.Prefix
	noIPv6             bool
	gw4, gw6           netip.Addr
	hostIPv4, hostIPv6 netip.Prefix
	mac                net.HardwareAddr
	mtu                uint
	pcap               string
	skipDAD            bool
	verbose            bool
}

// Defaults: device and kernel side.
var (
	defaultDev4  = netip.MustParsePrefix("198.51.100.2/24")
	defaultDev6  = netip.MustParsePrefix("2001:db8::2/64")
	defaultHost4 = netip.MustParsePrefix("198.51.100.1/24")
	defaultHost6 = netip.MustParsePrefix("2001:db8::1/64")
)

// usageError is a bad command line: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// raw holds flag values before validation.
type raw struct {
	ipv4, ipv6, gw4, gw6, hostV4, hostV6, mac string
}

func flagSet(o *options, r *raw) *flag.FlagSet {
	fs := flag.NewFlagSet("netxsim up", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.tap, "tap", "", "TAP `name` (required; at most 15 characters)")
	fs.StringVar(&o.netns, "netns", "", "create this network `namespace` with the TAP and kernel side inside; removed on exit")
	fs.StringVar(&r.ipv4, "ipv4", defaultDev4.String(), "device IPv4 address/prefix (`CIDR`); \"none\" for no IPv4")
	fs.StringVar(&r.ipv6, "ipv6", defaultDev6.String(), "device global IPv6 address/prefix (`CIDR`); \"none\" for link-local only")
	fs.BoolVar(&o.noIPv6, "no-ipv6", false, "turn IPv6 off entirely (no link-local either)")
	fs.StringVar(&r.gw4, "gw4", "", "IPv4 default gateway (`address`)")
	fs.StringVar(&r.gw6, "gw6", "", "IPv6 default gateway (`address`)")
	fs.StringVar(&r.hostV4, "host-ipv4", defaultHost4.String(), "with --netns: kernel-side IPv4 (`CIDR`); \"none\" for none")
	fs.StringVar(&r.hostV6, "host-ipv6", defaultHost6.String(), "with --netns: kernel-side IPv6 (`CIDR`); \"none\" for none")
	fs.StringVar(&r.mac, "mac", "02:4e:58:00:00:02", "device Ethernet `address` (unicast)")
	fs.UintVar(&o.mtu, "mtu", 1500, "link MTU (`bytes`, 1280..65521)")
	fs.StringVar(&o.pcap, "pcap", "", "write every frame on the TAP to this pcapng `file`")
	fs.BoolVar(&o.skipDAD, "skip-dad", false, "skip IPv6 duplicate address detection")
	fs.BoolVar(&o.verbose, "v", false, "log stack events to stderr")
	return fs
}

func parse(args []string) (*options, error) {
	var o options
	var r raw
	fs := flagSet(&o, &r)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, usageError{err.Error()}
	}
	ipv4, ipv6, gw4, gw6, hostV4, hostV6, mac := r.ipv4, r.ipv6, r.gw4, r.gw6, r.hostV4, r.hostV6, r.mac
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	bad := func(format string, a ...any) (*options, error) { return nil, usageError{fmt.Sprintf(format, a...)} }

	if fs.NArg() > 0 {
		return bad("unexpected argument %q (all settings are flags)", fs.Arg(0))
	}
	if o.tap == "" {
		if o.netns != "" {
			return bad("--netns needs --tap: name the TAP to create inside the namespace")
		}
		return bad("--tap NAME is required")
	}
	if err := checkIfName(o.tap); err != nil {
		return bad("--tap: %v", err)
	}
	if o.netns == "" {
		for _, f := range []string{"host-ipv4", "host-ipv6"} {
			if set[f] {
				return bad("--%s needs --netns: without it the kernel side is yours to configure (scripts/tap-setup.sh)", f)
			}
		}
	} else if strings.ContainsAny(o.netns, "/ ") || o.netns == "." || o.netns == ".." {
		return bad("--netns %q: use a plain name", o.netns)
	}
	var err error
	if o.ipv4, err = prefix("ipv4", ipv4, false); err != nil {
		return nil, err
	}
	if o.ipv6, err = prefix("ipv6", ipv6, true); err != nil {
		return nil, err
	}
	if o.hostIPv4, err = prefix("host-ipv4", hostV4, false); err != nil {
		return nil, err
	}
	if o.hostIPv6, err = prefix("host-ipv6", hostV6, true); err != nil {
		return nil, err
	}
	if o.noIPv6 && set["ipv6"] && o.ipv6.IsValid() {
		return bad("--no-ipv6 and --ipv6 %s contradict each other", ipv6)
	}
	if o.noIPv6 {
		o.ipv6 = netip.Prefix{}
	}
	if gw4 != "" {
		if o.gw4, err = netip.ParseAddr(gw4); err != nil || !o.gw4.Is4() {
			return bad("--gw4 %q: want an IPv4 address such as 198.51.100.1", gw4)
		}
		if !o.ipv4.IsValid() || !o.ipv4.Masked().Contains(o.gw4) {
			return bad("--gw4 %s is not on the device's IPv4 subnet %v", gw4, o.ipv4.Masked())
		}
	}
	if gw6 != "" {
		if o.gw6, err = netip.ParseAddr(gw6); err != nil || !o.gw6.Is6() || o.gw6.Is4In6() {
			return bad("--gw6 %q: want an IPv6 address such as 2001:db8::1 or fe80::1", gw6)
		}
		if o.noIPv6 {
			return bad("--gw6 with --no-ipv6: IPv6 is off")
		}
	}
	if o.hostIPv4.IsValid() && o.ipv4.IsValid() && o.hostIPv4.Addr() == o.ipv4.Addr() {
		return bad("--host-ipv4 and --ipv4 are the same address %v", o.ipv4.Addr())
	}
	if o.hostIPv6.IsValid() && o.ipv6.IsValid() && o.hostIPv6.Addr() == o.ipv6.Addr() {
		return bad("--host-ipv6 and --ipv6 are the same address %v", o.ipv6.Addr())
	}
	if o.mac, err = net.ParseMAC(mac); err != nil || len(o.mac) != 6 {
		return bad("--mac %q: want a 6-byte Ethernet address such as 02:4e:58:00:00:02", mac)
	}
	if o.mac[0]&1 != 0 {
		return bad("--mac %s is a multicast address: the device needs a unicast one (first byte even)", mac)
	}
	if o.mac.String() == "00:00:00:00:00:00" {
		return bad("--mac 00:00:00:00:00:00 is not a usable address")
	}
	if o.mtu < 1280 || o.mtu > 65521 {
		return bad("--mtu %d out of range 1280..65521", o.mtu)
	}
	return &o, nil
}

func prefix(flagName, s string, v6 bool) (netip.Prefix, error) {
	if s == "none" || s == "" {
		return netip.Prefix{}, nil
	}
	p, err := netip.ParsePrefix(s)
	fam, example := "IPv4", "198.51.100.2/24"
	if v6 {
		fam, example = "IPv6", "2001:db8::2/64"
	}
	if err != nil {
		return p, usageError{fmt.Sprintf("--%s %q: want an %s address with prefix length such as %s", flagName, s, fam, example)}
	}
	if p.Addr().Is6() != v6 || p.Addr().Is4In6() {
		return p, usageError{fmt.Sprintf("--%s %q is not an %s address (e.g. %s)", flagName, s, fam, example)}
	}
	if p.Addr().IsUnspecified() || p.Addr().IsMulticast() || p.Addr().IsLoopback() {
		return p, usageError{fmt.Sprintf("--%s %q: need a unicast host address", flagName, s)}
	}
	if !v6 && p.Bits() < 32 && (p.Addr() == p.Masked().Addr() || p.Addr() == lastAddr(p)) {
		return p, usageError{fmt.Sprintf("--%s %q is the network or broadcast address of its subnet", flagName, s)}
	}
	if in192(p.Addr()) {
		return p, usageError{fmt.Sprintf("--%s %q: 192.0.2.0/24 is refused (build machines use it for their uplink); use 198.51.100.0/24 or 203.0.113.0/24", flagName, s)}
	}
	return p, nil
}

func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func in192(a netip.Addr) bool {
	return netip.MustParsePrefix("192.0.2.0/24").Contains(a)
}

func checkIfName(n string) error {
	if len(n) > 15 {
		return fmt.Errorf("%q is longer than 15 characters", n)
	}
	for _, r := range n {
		if r == '/' || r == ':' || r <= ' ' || r > '~' {
			return fmt.Errorf("%q: no '/', ':', spaces or non-ASCII", n)
		}
	}
	return nil
}
