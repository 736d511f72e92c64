package shellcmd

import (
	"testing"

	"github.com/netxsim/netxsim/cmd/netxsim/internal/cli/clitest"
)

// Bad command lines are refused before any namespace is made.
func TestUsage(t *testing.T) {
	clitest.Exits(t, Run,
		clitest.Case{Args: []string{"--help"}, Code: 0, Out: "usage: netxsim shell"},
		clitest.Case{Args: []string{"--vxlan", "local=127.0.0.1:1,remote=127.0.0.1:2,vni=1", "--", "true"}, Code: 2, Err: "--vxlan does not fit"},
		clitest.Case{Args: []string{"--netns=x"}, Code: 2, Err: "--netns does not fit"},
		clitest.Case{Args: []string{"--listen", "127.0.0.1:21", "--ram", "8M"}, Code: 2, Err: "--listen does not fit"},
		clitest.Case{Args: []string{"--no-such-flag", "--", "true"}, Code: 2, Err: "flag provided but not defined"},
		clitest.Case{Args: []string{"--ram", "8M", "--", "true"}, Code: 2, Err: "nobody could log in"},
		clitest.Case{Args: []string{"--ipv4", "192.0.2.2/24", "--", "true"}, Code: 2, Err: "192.0.2.0/24"})
}

func TestFlagName(t *testing.T) {
	for in, want := range map[string]string{"--ram": "ram", "-ram=8M": "ram", "--tap=t0": "tap", "8M": "", "-": "", "--": ""} {
		if got := flagName(in); got != want {
			t.Errorf("flagName(%q) = %q, want %q", in, got, want)
		}
	}
}
