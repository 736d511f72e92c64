package ftp

import "fmt"

// Profile selects how closely a server or client mimics NetX Duo.
type Profile string

const (
	// ProfileNetXDuo behaves like NetX Duo's FTP add-on on the wire as its documentation (the seed)
	// describes it: NetX's command set, reply bytes and codes (active 125/250, passive 150/226), minus
	// the shipped code's limitations (one command per segment) and defects.
	ProfileNetXDuo Profile = "netxduo"
	// ProfileNetXDuo64 is the shipped NetX Duo 6.4.2 code byte for byte, quirks and defects included
	// (125/250 in passive mode too, one TCP segment is one command, EPSV uploads never read), with two
	// deliberate exceptions: PASS without USER is refused, and RNTO without RNFR ends the session
	// instead of crashing the server.
	ProfileNetXDuo64 Profile = "netxduo-6.4"
	// ProfileExtended is a modern RFC 959/2428/3659 server on top of the NetX behaviour.
	ProfileExtended Profile = "extended"
)

// ParseProfile returns the profile named s; the empty string means ProfileNetXDuo.
func ParseProfile(s string) (Profile, error) {
	switch Profile(s) {
	case "", ProfileNetXDuo:
		return ProfileNetXDuo, nil
	case ProfileNetXDuo64, ProfileExtended:
		return Profile(s), nil
	}
	return "", fmt.Errorf("unknown FTP profile %q: use %q, %q or %q", s, ProfileNetXDuo, ProfileNetXDuo64, ProfileExtended)
}

// Valid reports whether p is one of the known profiles (the empty profile counts as netxduo).
func (p Profile) Valid() bool {
	_, err := ParseProfile(string(p))
	return err == nil
}

// NetXLike reports whether p reproduces NetX Duo's wire bytes (netxduo, netxduo-6.4, or the empty
// profile, which means netxduo).
func (p Profile) NetXLike() bool {
	return p == "" || p == ProfileNetXDuo || p == ProfileNetXDuo64
}

// Shipped reports whether p reproduces the shipped NetX Duo code's quirks, not only its bytes.
func (p Profile) Shipped() bool { return p == ProfileNetXDuo64 }

// UnmarshalText accepts the profile names of ParseProfile, so a profile decodes straight from a YAML
// scenario or a flag (encoding.TextUnmarshaler).
func (p *Profile) UnmarshalText(b []byte) error {
	v, err := ParseProfile(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}
