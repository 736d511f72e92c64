package tapdev

import (
	"crypto/rand"
	"encoding/hex"
)

// RandomName returns prefix plus random hex digits, at most 15 bytes (an interface name's limit), for
// namespaces and TAPs that must not collide with a parallel run's.
func RandomName(prefix string) string {
	k := max((15-len(prefix))/2, 2)
	b := make([]byte, k)
	rand.Read(b)
	s := prefix + hex.EncodeToString(b)
	if len(s) > 15 {
		s = s[:15]
	}
	return s
}
