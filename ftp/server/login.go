package server

import (
	"context"
	"crypto/subtle"
	"net/netip"
)

// Users returns a LoginFunc for a fixed table of user names and passwords (read-write). The user
// "anonymous" (or "ftp") logs in with any password and gets the anonymous access, Deny to refuse it.
func Users(users map[string]string, anonymous Access) LoginFunc {
	table := make(map[string]string, len(users))
	for u, p := range users {
		table[u] = p
	}
	return func(_ context.Context, _ netip.AddrPort, user, password string) Access {
		if want, ok := table[user]; ok {
			if subtle.ConstantTimeCompare([]byte(want), []byte(password)) == 1 {
				return ReadWrite
			}
			return Deny
		}
		if user == "anonymous" || user == "ftp" {
			return anonymous
		}
		return Deny
	}
}
