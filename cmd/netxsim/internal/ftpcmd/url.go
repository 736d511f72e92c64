package ftpcmd

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Target is a parsed ftp:// URL.
type Target struct {
	User, Pass string
	Host       string // as written (an IP literal, or a name for the kernel resolver)
	Addr       netip.Addr
	Port       uint16
	Path       string // relative to the login directory unless it starts with "/"
}

// ParseURL parses ftp://[user[:pass]@]host[:port][/path]. host may be an IPv4 literal, an IPv6
// literal in brackets with an optional zone ("[fe80::1%eth0]" or the RFC 6874 form "%25eth0"), or a
// name. Without a user the login is anonymous. As in RFC 1738 the path is relative to the login
// directory ("ftp://h/dir/f" is "dir/f"); "ftp://h//abs/f" or "%2F" names an absolute path.
func ParseURL(raw string) (Target, error) {
	var t Target
	rest, ok := strings.CutPrefix(raw, "ftp://")
	if !ok {
		return t, fmt.Errorf("URL %q: must start with ftp://", raw)
	}
	// A zone written with a bare '%' ("[fe80::1%eth0]") is not a valid URL escape: make it one.
	if i := strings.IndexByte(rest, '['); i >= 0 {
		if j := strings.IndexByte(rest[i:], ']'); j > 0 {
			lit := rest[i : i+j]
			if k := strings.IndexByte(lit, '%'); k >= 0 && !strings.HasPrefix(lit[k:], "%25") {
				rest = rest[:i] + lit[:k] + "%25" + lit[k+1:] + rest[i+j:]
			}
		}
	}
	u, err := url.Parse("ftp://" + rest)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return t, fmt.Errorf("URL %q: %v", raw, err)
	}
	if u.Host == "" {
		return t, fmt.Errorf("URL %q: no host", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return t, fmt.Errorf("URL %q: an ftp URL has no query or fragment", raw)
	}
	t.User, t.Pass = "anonymous", "anonymous@"
	if u.User != nil {
		t.User = u.User.Username()
		if p, ok := u.User.Password(); ok {
			t.Pass = p
		} else {
			t.Pass = ""
		}
		if t.User == "" {
			return t, fmt.Errorf("URL %q: empty user name", raw)
		}
	}
	t.Host = u.Hostname()
	if t.Host == "" {
		return t, fmt.Errorf("URL %q: no host", raw)
	}
	t.Port = 21
	if ps := u.Port(); ps != "" {
		p, err := strconv.ParseUint(ps, 10, 16)
		if err != nil || p == 0 {
			return t, fmt.Errorf("URL %q: port %q is not 1..65535", raw, ps)
		}
		t.Port = uint16(p)
	}
	if a, err := netip.ParseAddr(t.Host); err == nil {
		if a.Zone() != "" && !a.Is6() {
			return t, fmt.Errorf("URL %q: a zone is only for IPv6 addresses", raw)
		}
		t.Addr = a.Unmap()
	} else if strings.ContainsAny(t.Host, ":%") {
		return t, fmt.Errorf("URL %q: %q is not an IP address", raw, t.Host)
	}
	p := u.Path
	if strings.HasPrefix(u.EscapedPath(), "/%2F") || strings.HasPrefix(u.EscapedPath(), "/%2f") {
		p = u.Path[1:]
	} else if strings.HasPrefix(p, "//") {
		p = p[1:]
	} else {
		p = strings.TrimPrefix(p, "/")
	}
	if strings.ContainsAny(p, "\r\n\x00") {
		return t, fmt.Errorf("URL %q: the path contains control characters", raw)
	}
	t.Path = p
	return t, nil
}

// AddrPort is the server's address, when the host is a literal.
func (t Target) AddrPort() netip.AddrPort { return netip.AddrPortFrom(t.Addr, t.Port) }
