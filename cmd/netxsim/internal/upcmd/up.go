// Package upcmd implements `netxsim up`: the simulated device on a Linux
// TAP, running until interrupted.
package upcmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/netxsim/netxsim"
	"github.com/netxsim/netxsim/cmd/netxsim/internal/cli"
	"github.com/netxsim/netxsim/cmd/netxsim/internal/devflags"
)

// Summary is the one-line description for netxsim's command list.
const Summary = "bring the simulated device up on a Linux TAP until interrupted"

// usageText follows the usage line, which cli.UsageLine makes from the flags.
const usageText = `
Brings the simulated device up on the TAP NAME, prints its addresses
(link-local too) and runs until interrupted (Ctrl-C).

An existing TAP is opened as it is (create a persistent one owned by your
user once with scripts/tap-setup.sh, then no root is needed); a missing one
is created, which needs CAP_NET_ADMIN, and removed on exit. Once, as root:
  scripts/tap-setup.sh add --tap NAME --user $USER

With --netns NAME the command makes a self-contained setup: it creates the
network namespace NAME, the TAP inside it and the kernel side's addresses
(--host-ipv4, --host-ipv6), and removes all of them on exit. Reach the device
with 'ip netns exec NAME ping 198.51.100.2'. Needs root.

With --rootless the same self-contained setup is made without root, in a user
and network namespace of its own (docs/rootless.md); the command printed with
"try:" reaches it. netxsim shell runs a command in such a namespace.

The device looks like NetX Duo on the wire (TTL 128, TCP with MSS only,
windows of 400 bytes on port 21 and 2048 elsewhere, IPv4 IDs counting up);
--stack-signature gvisor makes it Linux-like, --windows changes the windows
(docs/stack.md).

With --vxlan local=IP:PORT,remote=IP:PORT,vni=N the device is on a VXLAN
segment instead (UDP only, no root): its frames go to a peer netxsim or a
Linux vxlan interface (docs/vxlan.md).

flags:
`

// Run is `netxsim up`.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return RunWith(ctx, args, stdout, stderr, nil)
}

// RunWith is `netxsim up`, but once the device is up it runs until (in place of waiting for ctx) and
// exits with until's status: `netxsim shell` runs its command there.
func RunWith(ctx context.Context, args []string, stdout, stderr io.Writer, until func(context.Context) int) int {
	o, err := parse(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout)
			return 0
		}
		fmt.Fprintf(stderr, "netxsim up: %v\n(netxsim up --help for usage)\n", err)
		return 2
	}
	if code, ok := o.Reexec(ctx, "up", args, stdout, stderr); ok {
		return code
	}
	o.Until.Fn = until
	if err := up(ctx, o, stdout, stderr); err != nil {
		return devflags.Exit(stderr, "up", err)
	}
	return o.Until.Code
}

func printUsage(w io.Writer) {
	fs := flagSet(new(options))
	fmt.Fprint(w, cli.UsageLine("up", "--tap NAME", fs, ""))
	fmt.Fprint(w, usageText)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

func up(ctx context.Context, o *options, stdout, stderr io.Writer) (err error) {
	log := slog.New(slog.DiscardHandler)
	if o.verbose {
		log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	// The library stops everything in order on every exit path: the capture before the stack (or the
	// stack's teardown would add an RST for every connection in TIME_WAIT), then TAP and namespace.
	n := &netxsim.Network{Capture: o.Pcap, Logger: log}
	defer func() { err = errors.Join(err, n.Close()) }()
	dev, seg, err := o.Up(ctx, n, log)
	if err != nil {
		return err
	}

	where, nsPrefix := "", o.EnterPrefix()
	switch ns := seg.NetNS(); {
	case seg.VXLAN() != nil:
		where = " (VXLAN " + seg.VXLAN().Config().String() + ")"
	case ns != nil && ns.Name != "":
		where = " in namespace " + ns.Name
	case ns != nil:
		where = " in a user and network namespace of its own (rootless)"
	}
	link := "TAP " + seg.TAPName()
	if seg.VXLAN() != nil {
		link = "VXLAN segment"
	}
	fmt.Fprintf(stdout, "netxsim device up on %s%s\n", link, where)
	fmt.Fprintf(stdout, "  mac   %s  mtu %d\n", o.MAC, o.MTU)
	for _, p := range dev.IP().Addrs() {
		kind := "ipv4"
		if p.Addr().Is6() {
			kind = "ipv6"
		}
		note := ""
		if p.Addr().IsLinkLocalUnicast() {
			if seg.TAPName() != "" {
				note = fmt.Sprintf("  (link-local: %sping -6 -c 3 %s%%%s)", nsPrefix, p.Addr().WithZone(""), seg.TAPName())
			}
		}
		fmt.Fprintf(stdout, "  %s  %s%s\n", kind, p, note)
	}
	if o.Pcap != "" {
		fmt.Fprintf(stdout, "  pcap  %s\n", o.Pcap)
	}
	if nsPrefix != "" && o.IPv4.IsValid() {
		fmt.Fprintf(stdout, "try: %sping -c 3 %s\n", nsPrefix, o.IPv4.Addr())
	}
	if o.Until.Ran(ctx, stdout) {
		return nil
	}
	<-ctx.Done()
	fmt.Fprintf(stdout, "stopping: %s\n", dev.IP().Stats())
	return nil
}

// Validate checks an up command line without running anything (netxsim shell checks before it makes
// its namespace). A usage problem is a devflags.UsageError.
func Validate(args []string) error {
	_, err := parse(args)
	return err
}
