// Package userns runs netxsim rootless: it re-executes the program in a new user and network
// namespace (and a PID namespace, so that nothing outlives it), where the unprivileged caller is root
// of the namespace and may create TAP devices and configure their kernel side. The namespace and
// everything in it disappear when the re-executed process exits.
//
// The re-executed process knows it by an environment variable (Inside); commands it starts get the
// environment without it (Environ), so a netxsim run inside a `netxsim shell` behaves as usual.
package userns

import (
	"os"
	"slices"
	"strings"
)

// envInside marks the re-executed process.
const envInside = "NETXSIM_USERNS"

// Inside reports whether this process is the one Reexec started: its network namespace was made for
// it, so configuring the kernel side there touches nothing else.
func Inside() bool { return os.Getenv(envInside) == "1" }

// Environ is the environment for commands started inside, without the marker.
func Environ() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, envInside+"=") })
}
