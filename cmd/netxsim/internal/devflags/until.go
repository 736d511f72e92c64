package devflags

import (
	"context"
	"fmt"
	"io"
)

// Until is what a device command's RunWith was given to run once the device is up, in place of
// waiting for the interrupt (`netxsim shell` runs its command there), and the status it returned,
// which the command then exits with.
type Until struct {
	Fn   func(context.Context) int
	Code int
}

// Ran runs Fn and reports true if there is one. Otherwise it prints the line that says the command
// runs until interrupted (users, tests and shell wait for "running;") and reports false: the caller
// then waits for the interrupt.
func (u *Until) Ran(ctx context.Context, stdout io.Writer) bool {
	if u.Fn == nil {
		fmt.Fprintln(stdout, "running; interrupt (Ctrl-C) to stop")
		return false
	}
	u.Code = u.Fn(ctx)
	return true
}
