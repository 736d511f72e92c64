// Package devflags is the one flag vocabulary of every command that brings the simulated device up
// (up, serve, ftp): how the device's TAP, namespace, addresses, MAC, MTU, capture, DAD and stack
// signature are named, what "no address" is spelt (none), the ranges accepted, and how the device is
// then built through the netxsim library. A bad value is a UsageError (exit 2); 192.0.2.0/24 is refused with it.
package devflags

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/netxsim/netxsim"
	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/internal/userns"
	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/stack/vxlan"
	"github.com/netxsim/netxsim/tapdev"
)

// UsageError is a bad command line: the commands exit with 2.
type UsageError struct{ Msg string }

func (e UsageError) Error() string { return e.Msg }

// IsUsage reports whether err should make a command exit with 2: a bad command line, or an address
// the safety guard refused.
func IsUsage(err error) bool {
	var ue UsageError
	return errors.As(err, &ue) || errors.Is(err, netxsim.ErrReservedAddress)
}

// Exit is a command's exit code for err: 0 for none; else, once "netxsim NAME: err" is on stderr,
// 2 for a usage error (IsUsage), 1 for any other.
func Exit(stderr io.Writer, name string, err error) int {
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "netxsim %s: %v\n", name, err)
	if IsUsage(err) {
		return 2
	}
	return 1
}

// parseInto is a flag.Func that sets the flag's value through set once parse accepts it.
func parseInto[T any](parse func(string) (T, error), set func(T)) func(string) error {
	return func(s string) error {
		v, err := parse(s)
		if err != nil {
			return err
		}
		set(v)
		return nil
	}
}

// MTU limits, the same for every link (tapdev.CheckMTU).
const (
	MinMTU = tapdev.MinMTU
	MaxMTU = tapdev.MaxMTU
)

// NetNSMode says what --netns means for a command.
type NetNSMode int

const (
	// CreateNetNS: --netns creates the namespace (it must not exist) and removes it on exit.
	CreateNetNS NetNSMode = iota
	// OpenOrCreateNetNS: an existing namespace is used as it is, a missing one is created and removed.
	OpenOrCreateNetNS
)

// Device is the parsed vocabulary.
type Device struct {
	TAP, NetNS         string
	IPv4, IPv6         netip.Prefix // zero: none
	NoIPv6             bool         // IPv6 off entirely (no link-local either)
	Gw4, Gw6           netip.Addr
	HostIPv4, HostIPv6 netip.Prefix // kernel side, only with a namespace made here
	MAC                net.HardwareAddr
	MTU                uint
	Pcap               string
	SkipDAD            bool
	// VXLAN, when set (--vxlan), puts the device on a VXLAN segment instead of a TAP.
	VXLAN *vxlan.Config
	// Rootless (--rootless) runs the command in a user and network namespace of its own (userns).
	Rootless bool
	// Profile is the FTP profile of the NetX Duo device the command runs (set by the command before
	// Up; "" for none): a NetX-like one gives the device NetX Duo's stack signature by default.
	Profile ftp.Profile
	// ControlPort is the port whose connections get the control window (set by the command; 0: 21).
	ControlPort uint16
	// Signature is --stack-signature (nil: the profile's default, netxsim.DeviceConfig).
	Signature *stack.Signature
	// Windows is --windows (zero fields: the signature's defaults).
	Windows stack.Windows

	mode                                      NetNSMode
	ipv4, ipv6, gw4, gw6, hostV4, hostV6, mac string
	fs                                        *flag.FlagSet
}

// Register adds the flags to fs; mode says what --netns does. The older spellings of `netxsim ftp`
// (--ip, --ip6, --gw) remain as aliases.
func (d *Device) Register(fs *flag.FlagSet, mode NetNSMode) {
	d.fs, d.mode = fs, mode
	ns := "create this network `namespace` with the TAP and the kernel side inside; removed on exit"
	if mode == OpenOrCreateNetNS {
		ns = "network `namespace` of the TAP: an existing one is used as it is, a missing one is created with the kernel side and removed on exit"
	}
	fs.StringVar(&d.TAP, "tap", "", "TAP `name` of the device (at most 15 characters)")
	fs.StringVar(&d.NetNS, "netns", "", ns)
	str := func(p *string, name, def, usage string, aliases ...string) {
		fs.StringVar(p, name, def, usage)
		for _, a := range aliases {
			fs.StringVar(p, a, def, "same as --"+name)
		}
	}
	str(&d.ipv4, "ipv4", netxsim.DeviceIPv4.String(), "device IPv4 address/prefix (`CIDR`); \"none\" for no IPv4", "ip")
	str(&d.ipv6, "ipv6", netxsim.DeviceIPv6.String(), "device global IPv6 address/prefix (`CIDR`); \"none\" for link-local only", "ip6")
	fs.BoolVar(&d.NoIPv6, "no-ipv6", false, "turn IPv6 off entirely (no link-local either)")
	str(&d.gw4, "gw4", "", "IPv4 default gateway (`address`)", "gw")
	str(&d.gw6, "gw6", "", "IPv6 default gateway (`address`)")
	str(&d.hostV4, "host-ipv4", netxsim.HostIPv4.String(), "with a namespace made here: kernel-side IPv4 (`CIDR`); \"none\" for none")
	str(&d.hostV6, "host-ipv6", netxsim.HostIPv6.String(), "with a namespace made here: kernel-side IPv6 (`CIDR`); \"none\" for none")
	str(&d.mac, "mac", netxsim.DeviceMAC().String(), "device Ethernet `address` (unicast)")
	fs.UintVar(&d.MTU, "mtu", 1500, fmt.Sprintf("link MTU (`bytes`, %d..%d)", MinMTU, MaxMTU))
	fs.StringVar(&d.Pcap, "pcap", "", "write every frame the device sends and receives to this pcapng `file`")
	fs.Func("vxlan", "put the device on a VXLAN segment instead of a TAP: `local=IP:PORT,remote=IP:PORT,vni=N[,mtu=N]` (UDP only, no root; see docs/vxlan.md)",
		parseInto(vxlan.ParseConfig, func(c vxlan.Config) { d.VXLAN = &c }))
	fs.Func("stack-signature", "the device's TCP/IP look on the wire, `netx|gvisor`: netx is NetX Duo's (TTL 128, MSS only, windows 400/2048, IPv4 ID +1; the default of the netxduo profiles), gvisor Linux-like (fast bulk transfers); see docs/stack.md",
		parseInto(stack.ParseSignature, func(sig stack.Signature) { d.Signature = &sig }))
	fs.Func("windows", "fixed TCP receive windows `CONTROL,DATA` in bytes (64..65535; either may be empty for its default): CONTROL for the FTP control connection, DATA for every other; default 400,2048 with the netx signature, auto-tuned with gvisor",
		parseInto(stack.ParseWindows, func(w stack.Windows) { d.Windows = w }))
	if mode == CreateNetNS {
		// Only where the command brings up the whole setup (up, serve): an ftp client in a namespace of
		// its own would have no server to reach (it needs no root over --vxlan or the host kernel).
		fs.BoolVar(&d.Rootless, "rootless", false, "without root: run in a user and network namespace of its own with the TAP and its kernel side inside (see docs/rootless.md)")
	}
	fs.BoolVar(&d.SkipDAD, "skip-dad", false, "skip IPv6 duplicate address detection (saves about 1 s; DAD matters only when another node may use the address)")
}

// Set reports whether the flag (or one of its aliases) was given.
func (d *Device) Set(name string) bool {
	set := false
	aliases := map[string][]string{"ipv4": {"ip"}, "ipv6": {"ip6"}, "gw4": {"gw"}}
	d.fs.Visit(func(f *flag.Flag) {
		if f.Name == name || strings.Contains(" "+strings.Join(aliases[name], " ")+" ", " "+f.Name+" ") {
			set = true
		}
	})
	return set
}

// StackFlags names the stack flags given (--stack-signature, --windows) with the verb for them
// ("--windows needs"), "" when none: a command that runs on the host kernel refuses them (the
// kernel's TCP/IP is Linux's).
func (d *Device) StackFlags() string {
	var set []string
	for _, f := range []string{"stack-signature", "windows"} {
		if d.Set(f) {
			set = append(set, "--"+f)
		}
	}
	switch len(set) {
	case 0:
		return ""
	case 1:
		return set[0] + " needs"
	}
	return strings.Join(set, " and ") + " need"
}

// Check validates the parsed flags. needTAP: the command runs only on a TAP (up).
func (d *Device) Check(needTAP bool) error {
	bad := func(format string, a ...any) error { return UsageError{fmt.Sprintf(format, a...)} }
	if d.VXLAN != nil {
		if d.TAP != "" || d.NetNS != "" || d.Rootless {
			return bad("--vxlan excludes --tap, --netns and --rootless: the device is on the VXLAN segment, which needs no root")
		}
		if d.Set("host-ipv4") || d.Set("host-ipv6") {
			return bad("--host-ipv4/--host-ipv6 need a TAP: over --vxlan the far end's addresses are its own")
		}
		if !d.Set("mtu") {
			d.MTU = uint(d.VXLAN.MTU)
		}
		d.hostV4, d.hostV6 = "none", "none" // no kernel side of ours

		needTAP = false
	}
	if d.Rootless && d.NetNS != "" {
		return bad("--rootless and --netns exclude each other: --rootless makes an unnamed namespace of its own")
	}
	if d.Rootless && d.TAP == "" {
		d.TAP = "netxsim0"
	}
	if d.TAP == "" && needTAP {
		if d.NetNS != "" {
			return bad("--netns needs --tap: name the TAP to create inside the namespace")
		}
		return bad("--tap NAME is required")
	}
	if d.TAP != "" {
		if err := CheckIfName(d.TAP); err != nil {
			return bad("--tap: %v", err)
		}
	}
	if d.NetNS == "" && d.mode == CreateNetNS {
		for _, f := range []string{"host-ipv4", "host-ipv6"} {
			if d.Set(f) {
				return bad("--%s needs --netns: without it the kernel side is yours to configure (scripts/tap-setup.sh)", f)
			}
		}
	} else if d.NetNS != "" && (strings.ContainsAny(d.NetNS, "/ ") || d.NetNS == "." || d.NetNS == "..") {
		return bad("--netns %q: use a plain name", d.NetNS)
	}
	var err error
	if d.IPv4, err = Prefix("ipv4", d.ipv4, false); err != nil {
		return err
	}
	if d.IPv6, err = Prefix("ipv6", d.ipv6, true); err != nil {
		return err
	}
	if d.HostIPv4, err = Prefix("host-ipv4", d.hostV4, false); err != nil {
		return err
	}
	if d.HostIPv6, err = Prefix("host-ipv6", d.hostV6, true); err != nil {
		return err
	}
	if d.NoIPv6 && d.Set("ipv6") && d.IPv6.IsValid() {
		return bad("--no-ipv6 and --ipv6 %s contradict each other", d.ipv6)
	}
	if d.NoIPv6 {
		d.IPv6 = netip.Prefix{}
	}
	if d.gw4 != "" {
		if d.Gw4, err = netip.ParseAddr(d.gw4); err != nil || !d.Gw4.Is4() {
			return bad("--gw4 %q: want an IPv4 address such as 198.51.100.1", d.gw4)
		}
		if !d.IPv4.IsValid() || !d.IPv4.Masked().Contains(d.Gw4) {
			return bad("--gw4 %s is not on the device's IPv4 subnet %v", d.gw4, d.IPv4.Masked())
		}
	}
	if d.gw6 != "" {
		if d.Gw6, err = netip.ParseAddr(d.gw6); err != nil || !d.Gw6.Is6() || d.Gw6.Is4In6() {
			return bad("--gw6 %q: want an IPv6 address such as 2001:db8::1 or fe80::1", d.gw6)
		}
		if d.NoIPv6 {
			return bad("--gw6 with --no-ipv6: IPv6 is off")
		}
	}
	if d.HostIPv4.IsValid() && d.IPv4.IsValid() && d.HostIPv4.Addr() == d.IPv4.Addr() {
		return bad("--host-ipv4 and --ipv4 are the same address %v", d.IPv4.Addr())
	}
	if d.HostIPv6.IsValid() && d.IPv6.IsValid() && d.HostIPv6.Addr() == d.IPv6.Addr() {
		return bad("--host-ipv6 and --ipv6 are the same address %v", d.IPv6.Addr())
	}
	if d.MAC, err = net.ParseMAC(d.mac); err != nil || len(d.MAC) != 6 {
		return bad("--mac %q: want a 6-byte Ethernet address such as 02:4e:58:00:00:02", d.mac)
	}
	if d.MAC[0]&1 != 0 {
		return bad("--mac %s is a multicast address: the device needs a unicast one (first byte even)", d.mac)
	}
	if d.MAC.String() == "00:00:00:00:00:00" {
		return bad("--mac 00:00:00:00:00:00 is not a usable address")
	}
	if tapdev.CheckMTU(uint32(min(d.MTU, MaxMTU+1))) != nil { // the one MTU rule of every link
		return bad("--mtu %d out of range %d..%d (IPv6 needs at least %d)", d.MTU, MinMTU, MaxMTU, MinMTU)
	}
	return nil
}

// Prefix parses an address flag: "none" or "" is no address.
func Prefix(flagName, s string, v6 bool) (netip.Prefix, error) {
	if s == "none" || s == "" {
		return netip.Prefix{}, nil
	}
	p, err := netip.ParsePrefix(s)
	fam, example := "IPv4", "198.51.100.2/24"
	if v6 {
		fam, example = "IPv6", "2001:db8::2/64"
	}
	if err != nil {
		return p, UsageError{fmt.Sprintf("--%s %q: want an %s address with prefix length such as %s, or \"none\"", flagName, s, fam, example)}
	}
	if p.Addr().Is6() != v6 || p.Addr().Is4In6() {
		return p, UsageError{fmt.Sprintf("--%s %q is not an %s address (e.g. %s)", flagName, s, fam, example)}
	}
	if p.Addr().IsUnspecified() || p.Addr().IsMulticast() || p.Addr().IsLoopback() {
		return p, UsageError{fmt.Sprintf("--%s %q: need a unicast host address", flagName, s)}
	}
	if !v6 && p.Bits() < 32 && (p.Addr() == p.Masked().Addr() || p.Addr() == lastAddr(p)) {
		return p, UsageError{fmt.Sprintf("--%s %q is the network or broadcast address of its subnet", flagName, s)}
	}
	if err := tapdev.CheckPrefix(p); err != nil {
		return p, UsageError{fmt.Sprintf("--%s %q: %v", flagName, s, err)}
	}
	return p, nil
}

func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= uint32(1)<<(32-p.Bits()) - 1
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// CheckIfName checks a Linux interface name.
func CheckIfName(n string) error {
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

// Up builds the TAP segment and the device on it through the library. The namespace is made (with
// the kernel side's addresses) when --netns names one that does not exist; n.Close removes all.
func (d *Device) Up(ctx context.Context, n *netxsim.Network, log *slog.Logger) (*netxsim.Device, *netxsim.Segment, error) {
	if d.VXLAN != nil {
		seg, err := n.VXLAN("vxlan", *d.VXLAN, netxsim.CaptureEveryPort)
		if err != nil {
			return nil, nil, err
		}
		dev, err := n.AddDevice(ctx, seg, d.deviceConfig("vxlan0", log))
		return dev, seg, err
	}
	tap := d.TAP
	if tap == "" {
		tap = "netxsim0"
	}
	cfg := netxsim.TAPConfig{Name: tap, NetNS: d.NetNS, MTU: uint32(d.MTU), MAC: d.MAC}
	if userns.Inside() && d.NetNS == "" {
		// The namespace was made for this process (netxsim shell, --rootless): its kernel side is ours.
		if err := userns.Prepare(); err != nil {
			return nil, nil, err
		}
		cfg.Private = true
		cfg.HostAddrs = d.hostAddrs()
	}
	if d.NetNS != "" {
		exists := tapdev.NetNSExists(d.NetNS)
		if exists && d.mode == CreateNetNS {
			return nil, nil, fmt.Errorf("namespace %s exists: --netns creates its own; pick another name or remove it with `ip netns del %s`", d.NetNS, d.NetNS)
		}
		cfg.CreateNetNS = !exists
		cfg.HostAddrs = d.hostAddrs()
	}
	seg, err := n.TAP(ctx, "tap", cfg)
	if err != nil {
		return nil, nil, userns.Explain(err)
	}
	dev, err := n.AddDevice(ctx, seg, d.deviceConfig(seg.TAPName(), log))
	if err != nil {
		return nil, nil, err
	}
	return dev, seg, nil
}

func (d *Device) hostAddrs() []netip.Prefix {
	var out []netip.Prefix
	for _, p := range []netip.Prefix{d.HostIPv4, d.HostIPv6} {
		if p.IsValid() {
			out = append(out, p)
		}
	}
	return out
}

// stackConfig is the device's IP instance as the flags describe it.
func (d *Device) stackConfig(name string, log *slog.Logger) stack.Config {
	sc := stack.Config{
		Name: name, MAC: d.MAC, IPv4: d.IPv4, Gateway4: d.Gw4, IPv6: !d.NoIPv6, Gateway6: d.Gw6,
		SkipDAD: d.SkipDAD, MTU: uint32(d.MTU), Logger: log, Windows: d.Windows,
	}
	sc.Windows.ControlPort = d.ControlPort
	if d.IPv6.IsValid() {
		sc.IPv6Global = []netip.Prefix{d.IPv6}
	}
	return sc
}

// deviceConfig is the device as the flags and the command's profile describe it: the library gives
// a NetX-like profile NetX Duo's stack signature unless --stack-signature says otherwise.
func (d *Device) deviceConfig(name string, log *slog.Logger) netxsim.DeviceConfig {
	return netxsim.DeviceConfig{Config: d.stackConfig(name, log), Profile: d.Profile, StackSignature: d.Signature}
}

// EnterPrefix is what to put before a command for it to run where the kernel side of the device's
// TAP is: "ip netns exec NS " for a named namespace, nsenter for a rootless one, "" for the caller's.
func (d *Device) EnterPrefix() string {
	switch {
	case d.NetNS != "":
		return "ip netns exec " + d.NetNS + " "
	case userns.Inside():
		return userns.EnterCommand()
	}
	return ""
}

// Reexec runs the command again rootless (--rootless) in a user and network namespace of its own
// and returns its exit code (1, the error on stderr, if it could not run): ok is false when it is
// not asked for or this process is already that one.
func (d *Device) Reexec(ctx context.Context, command string, args []string, stdout, stderr io.Writer) (code int, ok bool) {
	if !d.Rootless || userns.Inside() {
		return 0, false
	}
	code, err := userns.Reexec(ctx, append([]string{command}, args...), os.Stdin, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "netxsim %s: --rootless: %v\n", command, err)
		return 1, true
	}
	return code, true
}
