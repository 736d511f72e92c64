package stack

import "github.com/netxsim/netxsim/internal/kernel"

// Kernel offers IP's Listen and Dial over the host operating system's TCP/IP stack; the zero value is
// ready to use. It serves as the host side in TAP mode and as the reference in benchmarks. It is the
// project's one kernel dialer (internal/kernel), which tapdev.Kernel runs inside a namespace and
// ftp/server uses by default.
type Kernel = kernel.Kernel
