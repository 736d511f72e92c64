package scenario

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/netxsim/netxsim/internal/size"
	"github.com/netxsim/netxsim/stack/link"
	"gopkg.in/yaml.v3"
)

// Scalar types of the scenario file. Each decodes itself from a YAML node and reports a bad value with
// its line, in the form yaml.v3 uses for its own errors, so all decoding errors read alike.

func typeErr(n *yaml.Node, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %s", n.Line, fmt.Sprintf(format, args...))}}
}

func scalar(n *yaml.Node, what string) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", typeErr(n, "%s: want a single value, not a list or mapping", what)
	}
	return strings.TrimSpace(n.Value), nil
}

// parsed reads n as one value (what names it in the error if it is a list or mapping) and parses it
// with parse, whose error is reported at n's line.
func parsed[T any](n *yaml.Node, what string, parse func(string) (T, error)) (T, error) {
	var v T
	s, err := scalar(n, what)
	if err != nil {
		return v, err
	}
	if v, err = parse(s); err != nil {
		return v, typeErr(n, "%v", err)
	}
	return v, nil
}

// MAC is an Ethernet address such as 02:00:5e:10:00:02.
type MAC net.HardwareAddr

func (m *MAC) UnmarshalYAML(n *yaml.Node) error {
	s, err := scalar(n, "mac")
	if err != nil {
		return err
	}
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return typeErr(n, "mac %q: want six hex bytes like 02:00:5e:10:00:02", s)
	}
	if hw[0]&1 != 0 {
		return typeErr(n, "mac %s is a multicast address: use a unicast one (first octet even, e.g. 02:...)", s)
	}
	*m = MAC(hw)
	return nil
}

func (m MAC) MarshalYAML() (any, error) { return net.HardwareAddr(m).String(), nil }

// Prefix is an IPv4 address with its prefix length, such as 198.51.100.2/24.
type Prefix struct{ netip.Prefix }

func (p *Prefix) UnmarshalYAML(n *yaml.Node) error {
	s, err := scalar(n, "ipv4")
	if err != nil {
		return err
	}
	v, err := netip.ParsePrefix(s)
	if err != nil || !v.Addr().Is4() {
		return typeErr(n, "ipv4 %q: want an IPv4 address with prefix length, like 198.51.100.2/24", s)
	}
	p.Prefix = v
	return nil
}

func (p Prefix) MarshalYAML() (any, error) { return p.String(), nil }

// Prefix6 is one or more global IPv6 addresses with prefix lengths, such as 2001:db8::2/64.
type Prefix6 []netip.Prefix

func (p *Prefix6) UnmarshalYAML(n *yaml.Node) error {
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	var out Prefix6
	for _, it := range items {
		s, err := scalar(it, "ipv6")
		if err != nil {
			return err
		}
		v, err := netip.ParsePrefix(s)
		if err != nil || !v.Addr().Is6() || v.Addr().Is4In6() {
			return typeErr(it, "ipv6 %q: want an IPv6 address with prefix length, like 2001:db8::2/64", s)
		}
		if v.Addr().IsLinkLocalUnicast() || v.Addr().IsMulticast() {
			return typeErr(it, "ipv6 %s: give global addresses; the link-local one is derived from the MAC", s)
		}
		out = append(out, v)
	}
	*p = out
	return nil
}

func (p Prefix6) MarshalYAML() (any, error) {
	s := make([]string, len(p))
	for i, v := range p {
		s[i] = v.String()
	}
	return s, nil
}

// Size is a byte count: 65536, "64KiB", "4 MiB", "1GiB", "10kB" (1000s), "1.5MiB".
type Size int64

// maxSize bounds every size in a scenario: FAT's largest file (4 GiB - 1) and netxsim's largest
// RAM image (size.MaxMemory) both fit; the fields check their own tighter bounds.
const maxSize = 1 << 40

// ParseSize parses a size as the scenario file writes it (the grammar of internal/size).
func ParseSize(s string) (Size, error) {
	v, err := size.Parse(s, 0, maxSize)
	return Size(v), err
}

func (sz *Size) UnmarshalYAML(n *yaml.Node) error {
	v, err := parsed(n, "size", ParseSize)
	if err == nil {
		*sz = v
	}
	return err
}

// Prob is a probability: 0.05 or "5%".
type Prob float64

func (p *Prob) UnmarshalYAML(n *yaml.Node) error {
	f, err := parsed(n, "probability", link.ParseProbability)
	if err == nil {
		*p = Prob(f)
	}
	return err
}

// Rate is a link rate in bits per second: 10000000, "10Mbit", "100kbit", "1Gbit".
type Rate uint64

func (r *Rate) UnmarshalYAML(n *yaml.Node) error {
	v, err := parsed(n, "rate", link.ParseRate)
	if err == nil {
		*r = Rate(v)
	}
	return err
}
