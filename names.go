package netxsim

import "github.com/netxsim/netxsim/tapdev"

// RandomName returns prefix plus random hex digits, at most 15 bytes (an interface name's limit), for
// namespaces and TAPs that must not collide with a parallel run's.
func RandomName(prefix string) string { return tapdev.RandomName(prefix) }
