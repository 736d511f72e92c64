package vxlan

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/netxsim/netxsim/internal/textenc"
)

// Config describes one VXLAN segment end.
type Config struct {
	// Local is the UDP address the endpoint binds (the underlay address of this VTEP). A missing port
	// in the text form means DefaultPort; the unspecified address (0.0.0.0, ::) listens on all.
	Local netip.AddrPort
	// Remote is the peer VTEP's UDP address: frames go there, and only datagrams from its IP address
	// are accepted.
	Remote netip.AddrPort
	// VNI is the VXLAN network identifier, 0..MaxVNI; both ends must use the same.
	VNI uint32
	// MTU is the IP MTU of the device on the segment; 0 means what Linux picks for a vxlan interface
	// on a 1500-byte underlay: 1450 over IPv4, 1430 over IPv6 (the outer headers take 50 or 70 bytes).
	MTU uint32
}

// refused is the one range netxsim never uses: build machines' uplinks live there.
var refused = netip.MustParsePrefix("192.0.2.0/24")

// Validate checks c and fills in the defaults (MTU).
func (c *Config) Validate() error {
	if !c.Remote.IsValid() || c.Remote.Port() == 0 || c.Remote.Addr().IsUnspecified() {
		return fmt.Errorf("vxlan: remote %v: need the peer VTEP's IP:PORT, e.g. remote=203.0.113.2:4789", c.Remote)
	}
	if c.Remote.Addr().IsMulticast() {
		return fmt.Errorf("vxlan: remote %v: multicast underlays are not supported; give the peer's unicast address", c.Remote)
	}
	if !c.Local.IsValid() {
		return fmt.Errorf("vxlan: local: need the IP:PORT to bind, e.g. local=203.0.113.1:4789 (0.0.0.0:4789 for any)")
	}
	for _, a := range []netip.AddrPort{c.Local, c.Remote} {
		if refused.Contains(a.Addr().Unmap()) {
			return fmt.Errorf("vxlan: %v: 192.0.2.0/24 is refused (build machines use it for their uplink); use 203.0.113.0/24, 198.51.100.0/24, 2001:db8::/32 or loopback", a)
		}
	}
	if !c.Local.Addr().IsUnspecified() && c.Local.Addr().Unmap().Is4() != c.Remote.Addr().Unmap().Is4() {
		return fmt.Errorf("vxlan: local %v and remote %v are of different IP families", c.Local, c.Remote)
	}
	if err := checkVNI(c.VNI); err != nil {
		return err
	}
	if c.MTU == 0 {
		c.MTU = 1450
		if !c.Remote.Addr().Unmap().Is4() {
			c.MTU = 1430
		}
	}
	if c.MTU < 576 || c.MTU > 65535-HeaderLen-14-48 {
		return fmt.Errorf("vxlan: MTU %d out of range 576..%d", c.MTU, 65535-HeaderLen-14-48)
	}
	return nil
}

// String is the text form ParseConfig reads.
func (c Config) String() string {
	s := fmt.Sprintf("local=%v,remote=%v,vni=%d", c.Local, c.Remote, c.VNI)
	if c.MTU != 0 {
		s += fmt.Sprintf(",mtu=%d", c.MTU)
	}
	return s
}

// MarshalText implements encoding.TextMarshaler.
func (c Config) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseConfig.
func (c *Config) UnmarshalText(b []byte) error { return textenc.Unmarshal(c, b, ParseConfig) }

// ParseConfig reads "local=IP[:PORT],remote=IP[:PORT],vni=N[,mtu=N]" (the --vxlan flag) and
// validates it. IPv6 addresses with a port are bracketed: remote=[2001:db8::2]:4789.
func ParseConfig(s string) (Config, error) {
	var c Config
	seen := map[string]bool{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || v == "" {
			return c, fmt.Errorf("vxlan: %q: want KEY=VALUE (keys local, remote, vni, mtu), e.g. local=127.0.0.1:4789,remote=127.0.0.1:4790,vni=42", kv)
		}
		if seen[k] {
			return c, fmt.Errorf("vxlan: %s given twice", k)
		}
		seen[k] = true
		var err error
		switch k {
		case "local":
			c.Local, err = parseAddrPort(v)
		case "remote":
			c.Remote, err = parseAddrPort(v)
		case "vni":
			var n uint64
			n, err = strconv.ParseUint(v, 10, 32)
			if err == nil && n > MaxVNI {
				err = fmt.Errorf("out of range 0..%d (24 bits)", MaxVNI)
			}
			c.VNI = uint32(n)
		case "mtu":
			var n uint64
			n, err = strconv.ParseUint(v, 10, 16)
			c.MTU = uint32(n)
		default:
			return c, fmt.Errorf("vxlan: unknown key %q (keys: local, remote, vni, mtu)", k)
		}
		if err != nil {
			return c, fmt.Errorf("vxlan: %s=%s: %v", k, v, err)
		}
	}
	for _, k := range []string{"local", "remote", "vni"} {
		if !seen[k] {
			return c, fmt.Errorf("vxlan: %s= is missing (want local=IP:PORT,remote=IP:PORT,vni=N)", k)
		}
	}
	if err := c.Validate(); err != nil {
		return c, err
	}
	return c, nil
}

func parseAddrPort(s string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Zone() == "" {
		return ap, nil
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil || a.Zone() != "" {
		return netip.AddrPort{}, fmt.Errorf("want IP:PORT such as 127.0.0.1:4789 or [2001:db8::1]:4789, or an IP for port %d", DefaultPort)
	}
	return netip.AddrPortFrom(a, DefaultPort), nil
}
