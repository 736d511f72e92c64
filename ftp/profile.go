package ftp

import "fmt"

// Profile selects how closely a server or client mimics NetX Duo.
type Profile string

const (
	// ProfileNetXDuo behaves like NetX Duo's FTP add-on on the wire: its command set, its reply texts
	// and its codes (see the reference page), minus its limitations (one command per segment).
	ProfileNetXDuo Profile = "netxduo"
	// ProfileExtended is a modern RFC 959/2428/3659 server on top of the NetX behaviour.
	ProfileExtended Profile = "extended"
)

// ParseProfile returns the profile named s; the empty string means ProfileNetXDuo.
func ParseProfile(s string) (Profile, error) {
	switch Profile(s) {
	case "", ProfileNetXDuo:
		return ProfileNetXDuo, nil
	case ProfileExtended:
		return ProfileExtended, nil
	}
	return "", fmt.Errorf("unknown FTP profile %q: use %q or %q", s, ProfileNetXDuo, ProfileExtended)
}

// Valid reports whether p is one of the known profiles (the empty profile counts as netxduo).
func (p Profile) Valid() bool {
	_, err := ParseProfile(string(p))
	return err == nil
}
