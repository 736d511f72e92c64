package main

import (
	"strings"
	"testing"

	"github.com/netxsim/netxsim/cmd/netxsim/internal/cli/clitest"
)

func TestRunUsage(t *testing.T) {
	clitest.Exits(t, run,
		clitest.Case{Args: nil, Code: 2, Err: "usage: netxsim"},
		clitest.Case{Args: []string{"--help"}, Code: 0, Out: "commands:"},
		clitest.Case{Args: []string{"no-such-command"}, Code: 2, Err: `unknown command "no-such-command"`})
}

func TestEverySubcommandHasHelp(t *testing.T) {
	for _, c := range commands() {
		code, out, errOut := clitest.Run(t, c.run, "--help")
		if code != 0 {
			t.Errorf("netxsim %s --help exited %d: %s%s", c.name, code, out, errOut)
		}
		if n := strings.Count(out+errOut, "usage: netxsim "+c.name); n != 1 {
			t.Errorf("netxsim %s --help printed its usage line %d times, want once:\n%s%s", c.name, n, out, errOut)
		}
		if code, _, _ := clitest.Run(t, c.run, "--no-such-flag"); code != 2 {
			t.Errorf("netxsim %s --no-such-flag exited %d, want 2", c.name, code)
		}
	}
}

// The commands that build a device share one flag vocabulary (devflags), and their usage lines name
// every flag they take (cli.UsageLine), so neither can fall behind: the device flags are the same in
// each, spelt the same, and each flag in the defaults is in the usage line.
func TestUsageLinesListEveryFlag(t *testing.T) {
	device := []string{"--tap", "--netns", "--ipv4", "--ipv6", "--no-ipv6", "--gw4", "--gw6", "--host-ipv4",
		"--host-ipv6", "--mac", "--mtu", "--pcap", "--skip-dad", "--vxlan"}
	for _, c := range commands() {
		deviceCmd := c.name == "up" || c.name == "serve" || c.name == "ftp"
		if !deviceCmd && c.name != "demo" && c.name != "replay" {
			continue
		}
		_, out, errOut := clitest.Run(t, c.run, "--help")
		line, rest, _ := strings.Cut(out+errOut, "\n\n")
		for _, f := range device {
			if !deviceCmd {
				break
			}
			if !strings.Contains(line+" ", f+" ") && !strings.Contains(line, f+"]") {
				t.Errorf("netxsim %s: usage line lacks %s:\n%s", c.name, f, line)
			}
		}
		lines := strings.Split(rest, "\n")
		for i, l := range lines {
			name, ok := strings.CutPrefix(l, "  -")
			if !ok {
				continue
			}
			name, _, _ = strings.Cut(name, " ")
			name, _, _ = strings.Cut(name, "\t")
			if strings.Contains(l, "same as --") || i+1 < len(lines) && strings.Contains(lines[i+1], "same as --") {
				continue
			}
			if !strings.Contains(line, "-"+name+" ") && !strings.Contains(line, "-"+name+"]") {
				t.Errorf("netxsim %s: flag -%s is not in the usage line:\n%s", c.name, name, line)
			}
		}
		for _, want := range []string{"--ipv4 CIDR|none", "--ipv6 CIDR|none", "--mtu BYTES"} {
			if deviceCmd && !strings.Contains(line, want) {
				t.Errorf("netxsim %s: usage line lacks %q", c.name, want)
			}
		}
	}
}
