// Package shellcmd is `netxsim shell`: without root, a user and network namespace of its own with the
// device on a TAP inside (and its FTP server, when server flags are given), and a command run there,
// where the device answers at 198.51.100.2 and 2001:db8::2. The exit status is the command's; the
// namespace, the TAP and every process in it go when the command ends.
//
// The command re-executes netxsim in the namespace (internal/userns); that process builds the device
// with the code of `netxsim up` (no server flags) or `netxsim serve` (upcmd.RunWith, servecmd.RunWith)
// and runs the command in place of waiting for an interrupt.
package shellcmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/netxsim/netxsim/cmd/netxsim/internal/devflags"
	"github.com/netxsim/netxsim/cmd/netxsim/internal/servecmd"
	"github.com/netxsim/netxsim/cmd/netxsim/internal/upcmd"
	"github.com/netxsim/netxsim/internal/userns"
)

// Summary is the one-line description for the command list.
const Summary = "without root: run a command (default $SHELL) in a namespace of its own with the device on a TAP"

const usage = `usage: netxsim shell [device flags] [server flags] [-- COMMAND [ARG...]]

Without root: makes a user and network namespace of its own, the device on a TAP inside it (kernel
side 198.51.100.1/24 and 2001:db8::1/64, device 198.51.100.2 and 2001:db8::2), with its FTP server
when a server flag (--ram, --image or --root) is given, and runs COMMAND there (default: $SHELL).
curl, lftp, ping, tcpdump on the TAP (netxsim0) all work inside. The exit status is COMMAND's; the
namespace, the TAP and every process started inside go when COMMAND ends.

Device flags are those of 'netxsim up' (--tap, --ipv4, --ipv6, --mac, --mtu, --pcap, --skip-dad,
...), server flags those of 'netxsim serve' (--user, --anonymous, --profile, ...); see their --help.

Needs unprivileged user namespaces and a /dev/net/tun open to you (mode 0666): docs/rootless.md
says what to check and change when the machine forbids them.

examples:
  netxsim shell --ram 8M --user u:p -- curl ftp://u:p@198.51.100.2/
  netxsim shell --ram 8M --anonymous          # an interactive shell beside the device
`

// Run is the entry point of `netxsim shell`.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags, command := args, []string(nil)
	if i := slices.Index(args, "--"); i >= 0 {
		flags, command = args[:i], args[i+1:]
	}
	for _, f := range flags {
		switch name := flagName(f); name {
		case "h", "help":
			fmt.Fprint(stdout, usage)
			return 0
		case "vxlan", "netns", "listen", "rootless":
			fmt.Fprintf(stderr, "netxsim shell: --%s does not fit: the shell puts the device on a TAP in a namespace of its own, which the command shares\n", name)
			return 2
		}
	}
	// The command owns the terminal: Ctrl-C is for it (it gets the signal from the terminal), not
	// for netxsim, which ends when the command does. SIGTERM and SIGHUP end the run.
	sctx, stop := signal.NotifyContext(context.WithoutCancel(ctx), syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	dev := flags
	if !slices.ContainsFunc(flags, func(f string) bool { return flagName(f) == "tap" }) {
		dev = append([]string{"--tap", "netxsim0"}, flags...)
	}
	serve := slices.ContainsFunc(flags, func(f string) bool {
		n := flagName(f)
		return n == "ram" || n == "image" || n == "root"
	})
	if !userns.Inside() {
		// Bad flags are found here, before a namespace is made.
		check := upcmd.Validate
		if serve {
			check = servecmd.Validate
		}
		if err := check(dev); err != nil {
			fmt.Fprintf(stderr, "netxsim shell: %v\n(netxsim shell --help for usage)\n", err)
			if devflags.IsUsage(err) {
				return 2
			}
			return 1
		}
		code, err := userns.Reexec(sctx, append([]string{"shell"}, args...), os.Stdin, stdout, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "netxsim shell: %v\n", err)
			return 1
		}
		return code
	}
	if len(command) == 0 {
		sh := os.Getenv("SHELL")
		if sh == "" {
			sh = "/bin/sh"
		}
		command = []string{sh}
	}
	until := func(context.Context) int { return runCommand(sctx, command, stdout, stderr) }
	// The device's own messages go to stderr: stdout is the command's.
	if serve {
		return servecmd.RunWith(sctx, dev, stderr, stderr, until)
	}
	return upcmd.RunWith(sctx, dev, stderr, stderr, until)
}

// flagName is the name of a flag argument ("--ram=8M" -> "ram"), or "" for a value.
func flagName(arg string) string {
	if !strings.HasPrefix(arg, "-") || arg == "-" {
		return ""
	}
	name, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
	return name
}

// runCommand runs the user's command in the namespace and returns its exit status as a shell would.
func runCommand(ctx context.Context, command []string, stdout, stderr io.Writer) int {
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, stdout, stderr
	cmd.Env = userns.Environ()
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "netxsim shell: %v\n", err)
		return 127
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			cmd.Process.Signal(syscall.SIGTERM)
		case <-done:
		}
	}()
	code, err := userns.ExitStatus(cmd.Wait())
	close(done)
	// What the command left running in the namespace (a background job) goes with it.
	userns.KillRest()
	if err != nil {
		fmt.Fprintf(stderr, "netxsim shell: %v\n", err)
		return 1
	}
	return code
}
