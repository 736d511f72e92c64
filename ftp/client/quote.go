package client

import (
	"context"
	"fmt"
)

// Quote sends one raw command line and returns the reply, whatever its code (a 5xx is a reply here,
// not an error): for tests and scenarios that probe a server (PORT to a third host, say). A command
// that opens a data connection is the caller's to follow up; the client's own transfer state is not
// changed.
func (c *Client) Quote(ctx context.Context, line string) (code int, msg string, err error) {
	if err := c.begin(); err != nil {
		return 0, "", fmt.Errorf("quote: %w", err)
	}
	done := c.watch(ctx, c.conn)
	defer done()
	return c.cmd(ctx, line)
}
