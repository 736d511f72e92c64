package shellcmd

import (
	"context"
	"strings"
	"testing"
)

// Bad command lines are refused before any namespace is made.
func TestUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--help"}, 0, "usage: netxsim shell"},
		{[]string{"--vxlan", "local=127.0.0.1:1,remote=127.0.0.1:2,vni=1", "--", "true"}, 2, "--vxlan does not fit"},
		{[]string{"--netns=x"}, 2, "--netns does not fit"},
		{[]string{"--listen", "127.0.0.1:21", "--ram", "8M"}, 2, "--listen does not fit"},
		{[]string{"--no-such-flag", "--", "true"}, 2, "flag provided but not defined"},
		{[]string{"--ram", "8M", "--", "true"}, 2, "nobody could log in"},
		{[]string{"--ipv4", "192.0.2.2/24", "--", "true"}, 2, "192.0.2.0/24"},
	} {
		var out, errb strings.Builder
		code := Run(context.Background(), c.args, &out, &errb)
		if code != c.code || !strings.Contains(out.String()+errb.String(), c.want) {
			t.Errorf("shell %q: exit %d, %q; want exit %d with %q", c.args, code, out.String()+errb.String(), c.code, c.want)
		}
	}
}

func TestFlagName(t *testing.T) {
	for in, want := range map[string]string{"--ram": "ram", "-ram=8M": "ram", "--tap=t0": "tap", "8M": "", "-": "", "--": ""} {
		if got := flagName(in); got != want {
			t.Errorf("flagName(%q) = %q, want %q", in, got, want)
		}
	}
}
