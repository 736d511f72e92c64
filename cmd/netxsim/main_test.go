package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestRunUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		out  string // expected in stdout+stderr
	}{
		{nil, 2, "usage: netxsim"},
		{[]string{"--help"}, 0, "commands:"},
		{[]string{"no-such-command"}, 2, `unknown command "no-such-command"`},
	} {
		var out bytes.Buffer
		code := run(context.Background(), tc.args, &out, &out)
		if code != tc.code || !strings.Contains(out.String(), tc.out) {
			t.Errorf("run(%q) = %d, %q; want %d and %q", tc.args, code, out.String(), tc.code, tc.out)
		}
	}
}

func TestEverySubcommandHasHelp(t *testing.T) {
	for _, c := range commands() {
		var out bytes.Buffer
		if code := c.run(context.Background(), []string{"--help"}, &out, &out); code != 0 {
			t.Errorf("netxsim %s --help exited %d: %s", c.name, code, out.String())
		}
		if n := strings.Count(out.String(), "usage: netxsim "+c.name); n != 1 {
			t.Errorf("netxsim %s --help printed its usage line %d times, want once:\n%s", c.name, n, out.String())
		}
		out.Reset()
		if code := c.run(context.Background(), []string{"--no-such-flag"}, &out, &out); code != 2 {
			t.Errorf("netxsim %s --no-such-flag exited %d, want 2", c.name, code)
		}
	}
}
