package ftp

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ErrBadAddress marks a malformed PORT/EPRT argument or 227/229 reply text.
var ErrBadAddress = errors.New("ftp: malformed address")

// ParsePORT parses a PORT argument "h1,h2,h3,h4,p1,p2": six decimal numbers 0..255 (leading zeros, as
// the NetX client sends them, are accepted; spaces around numbers are tolerated). It checks syntax only:
// whether a zero address or port, or an address other than the peer's, is acceptable is the caller's policy.
func ParsePORT(arg string) (netip.AddrPort, error) {
	ap, err := parseSix(strings.TrimSpace(arg))
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("PORT %q: %w", arg, err)
	}
	return ap, nil
}

// parseSix parses exactly "n,n,n,n,n,n" with optional spaces around each number.
func parseSix(s string) (netip.AddrPort, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 6 {
		return netip.AddrPort{}, fmt.Errorf("%w: want 6 comma-separated numbers, got %d", ErrBadAddress, len(parts))
	}
	var n [6]byte
	for i, p := range parts {
		v, err := parseByte(strings.TrimSpace(p))
		if err != nil {
			return netip.AddrPort{}, err
		}
		n[i] = v
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{n[0], n[1], n[2], n[3]}), uint16(n[4])<<8|uint16(n[5])), nil
}

func parseByte(s string) (byte, error) {
	if s == "" || len(s) > 3 || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("%w: %q is not a number 0..255", ErrBadAddress, s)
	}
	v, _ := strconv.Atoi(s)
	if v > 255 {
		return 0, fmt.Errorf("%w: %q is not a number 0..255", ErrBadAddress, s)
	}
	return byte(v), nil
}

// FormatPORT renders an IPv4 address and port as a PORT argument; zeroPad gives the NetX client's
// three-digit form "001,002,003,004,192,001". It returns "" for an address that is not IPv4
// (an IPv4-mapped IPv6 address is unmapped first).
func FormatPORT(ap netip.AddrPort, zeroPad bool) string {
	a := ap.Addr().Unmap()
	if !a.Is4() {
		return ""
	}
	b := a.As4()
	n := [6]int{int(b[0]), int(b[1]), int(b[2]), int(b[3]), int(ap.Port() >> 8), int(ap.Port() & 0xff)}
	f := "%d,%d,%d,%d,%d,%d"
	if zeroPad {
		f = "%03d,%03d,%03d,%03d,%03d,%03d"
	}
	return fmt.Sprintf(f, n[0], n[1], n[2], n[3], n[4], n[5])
}

// ParseEPRT parses an RFC 2428 EPRT argument "<d><proto><d><addr><d><port><d>" such as "|1|198.51.100.1|5282|"
// or "|2|2001:db8::1|5282|". The delimiter may be any printable ASCII character other than a digit
// (RFC 2428 suggests '|'). Protocol 1 needs an IPv4 address, 2 an IPv6 one; zones are refused, and so
// is port 0.
func ParseEPRT(arg string) (netip.AddrPort, error) {
	arg = strings.TrimSpace(arg)
	if len(arg) < 2 {
		return netip.AddrPort{}, fmt.Errorf("EPRT %q: %w: too short", arg, ErrBadAddress)
	}
	d := arg[0]
	if d < 33 || d > 126 || ('0' <= d && d <= '9') {
		return netip.AddrPort{}, fmt.Errorf("EPRT %q: %w: delimiter must be printable ASCII, not a digit", arg, ErrBadAddress)
	}
	parts := strings.Split(arg, string(d))
	if len(parts) != 5 || parts[0] != "" || parts[4] != "" {
		return netip.AddrPort{}, fmt.Errorf("EPRT %q: %w: want <d>proto<d>address<d>port<d>", arg, ErrBadAddress)
	}
	addr, err := netip.ParseAddr(parts[2])
	if err != nil || (addr.Zone() != "" && !addr.IsLinkLocalUnicast()) {
		return netip.AddrPort{}, fmt.Errorf("EPRT %q: %w: bad network address %q", arg, ErrBadAddress, parts[2])
	}
	// Clients on a link-local control connection (inetutils-ftp) append their own interface as zone
	// ("fe80::1%eth0"). It names the sender's interface, which means nothing to the receiver (RFC 4007
	// section 6): the data connection goes out of the control connection's interface, so it is dropped.
	addr = addr.WithZone("")
	switch parts[1] {
	case "1":
		if !addr.Is4() {
			return netip.AddrPort{}, fmt.Errorf("EPRT %q: %w: protocol 1 needs an IPv4 address", arg, ErrBadAddress)
		}
	case "2":
		if !addr.Is6() {
			return netip.AddrPort{}, fmt.Errorf("EPRT %q: %w: protocol 2 needs an IPv6 address", arg, ErrBadAddress)
		}
	default:
		return netip.AddrPort{}, fmt.Errorf("EPRT %q: %w: network protocol %q is not 1 (IPv4) or 2 (IPv6)", arg, ErrBadAddress, parts[1])
	}
	port, err := parsePort(parts[3])
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("EPRT %q: %w", arg, err)
	}
	return netip.AddrPortFrom(addr, port), nil
}

// parsePort parses a decimal TCP port 1..65535.
func parsePort(s string) (uint16, error) {
	if s == "" || len(s) > 5 || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("%w: port %q is not a number 1..65535", ErrBadAddress, s)
	}
	v, _ := strconv.Atoi(s)
	if v < 1 || v > 65535 {
		return 0, fmt.Errorf("%w: port %q is not a number 1..65535", ErrBadAddress, s)
	}
	return uint16(v), nil
}

// FormatEPRT renders an EPRT argument with '|' delimiters: "|1|a.b.c.d|port|" for IPv4 (and
// IPv4-mapped) addresses, "|2|v6|port|" for IPv6. The zone, if any, is dropped.
func FormatEPRT(ap netip.AddrPort) string {
	a := ap.Addr().Unmap()
	proto := "2"
	if a.Is4() {
		proto = "1"
	}
	return fmt.Sprintf("|%s|%s|%d|", proto, a.WithZone(""), ap.Port())
}

// stripCode drops a leading "ddd " or "ddd-" reply code, so the reply parsers take the text alone or the line.
func stripCode(text string) string {
	if len(text) >= 4 && (text[3] == ' ' || text[3] == '-') && strings.Trim(text[:3], "0123456789") == "" {
		return text[4:]
	}
	return text
}

// Parse227 finds the address in a PASV reply text such as "Entering Passive Mode (198,51,100,2,192,0).".
// It accepts the text with or without its "227 " code and is tolerant of the forms servers use: with or
// without parentheses, with or without the final dot, extra words around the six numbers.
func Parse227(text string) (netip.AddrPort, error) {
	t := stripCode(text)
	for i := 0; i < len(t); i++ {
		if !isDigit(t[i]) || (i > 0 && (isDigit(t[i-1]) || t[i-1] == ',')) {
			continue
		}
		// the longest run of digits and commas (and spaces after commas) from here
		j := i
		for j < len(t) && (isDigit(t[j]) || t[j] == ',' || (t[j] == ' ' && j > 0 && t[j-1] == ',')) {
			j++
		}
		run := strings.TrimRight(t[i:j], ", ")
		if strings.Count(run, ",") < 5 {
			continue
		}
		// exactly six numbers: a seventh would make it something else
		if ap, err := parseSix(run); err == nil {
			return ap, nil
		}
	}
	return netip.AddrPort{}, fmt.Errorf("227 reply %q: %w: no h1,h2,h3,h4,p1,p2 found", text, ErrBadAddress)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// Format227 renders NetX's PASV reply text "Entering Passive Mode (h1,h2,h3,h4,p1,p2)." for an IPv4
// address; it returns "" for an address that is not IPv4.
func Format227(ap netip.AddrPort) string {
	p := FormatPORT(ap, false)
	if p == "" {
		return ""
	}
	return "Entering Passive Mode (" + p + ")."
}

// Parse229 finds the port in an EPSV reply text "Entering Extended Passive Mode (|||port|)", with or
// without its "229 " code. The delimiter may be any printable character other than a digit, as RFC 2428 allows.
func Parse229(text string) (uint16, error) {
	t := stripCode(text)
	for i := strings.IndexByte(t, '('); i >= 0; {
		rest := t[i+1:]
		if end := strings.IndexByte(rest, ')'); end >= 4 {
			inner := rest[:end]
			d := inner[0]
			if d >= 33 && d <= 126 && !isDigit(d) && inner[1] == d && inner[2] == d && inner[len(inner)-1] == d {
				if port, err := parsePort(inner[3 : len(inner)-1]); err == nil {
					return port, nil
				}
			}
		}
		next := strings.IndexByte(rest, '(')
		if next < 0 {
			break
		}
		i += 1 + next
	}
	return 0, fmt.Errorf("229 reply %q: %w: no (|||port|) found", text, ErrBadAddress)
}

// Format229 renders the EPSV reply text "Entering Extended Passive Mode (|||port|)" as NetX sends it.
func Format229(port uint16) string {
	return fmt.Sprintf("Entering Extended Passive Mode (|||%d|)", port)
}
