package stack

import (
	"time"

	gvlog "gvisor.dev/gvisor/pkg/log"
)

// QuietGVisorLog drops gVisor's own log lines (warnings such as "handleListenSegment() failed" for a
// connection the peer aborted): they are not for users. gVisor's logger is process-wide, so only a
// program's main should call this; commands stay quiet by default and keep them with
// NETXSIM_GVISOR_LOG=1.
func QuietGVisorLog() { gvlog.SetTarget(gvisorQuiet{}) }

type gvisorQuiet struct{}

func (gvisorQuiet) Emit(int, gvlog.Level, time.Time, string, ...any) {}
