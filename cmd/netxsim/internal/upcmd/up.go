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
	"net/netip"

	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/stack/capture"
	"github.com/netxsim/netxsim/tapdev"
	gstack "gvisor.dev/gvisor/pkg/tcpip/stack"
)

// Summary is the one-line description for netxsim's command list.
const Summary = "bring the simulated device up on a Linux TAP until interrupted"

const usageText = `usage: netxsim up --tap NAME [--netns NAME] [--ipv4 CIDR] [--ipv6 CIDR] [--gw4 ADDR]
                  [--gw6 ADDR] [--mac MAC] [--mtu N] [--pcap FILE] [--skip-dad] [-v]

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

flags:
`

// Run is `netxsim up`.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parse(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout)
			return 0
		}
		fmt.Fprintf(stderr, "netxsim up: %v\n(netxsim up --help for usage)\n", err)
		return 2
	}
	if err := up(ctx, o, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "netxsim up: %v\n", err)
		return 1
	}
	return 0
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, usageText)
	fs := flagSet(new(options), new(raw))
	fs.SetOutput(w)
	fs.PrintDefaults()
}

func up(ctx context.Context, o *options, stdout, stderr io.Writer) (err error) {
	log := slog.New(slog.DiscardHandler)
	if o.verbose {
		log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	// Everything made is undone in reverse order on every exit path.
	var undo []func() error
	defer func() {
		for i := len(undo) - 1; i >= 0; i-- {
			if uerr := undo[i](); uerr != nil {
				err = errors.Join(err, uerr)
			}
		}
	}()

	var ns *tapdev.NetNS
	if o.netns != "" {
		if tapdev.NetNSExists(o.netns) {
			return fmt.Errorf("namespace %s exists: --netns creates its own; pick another name, or run inside the existing one with 'ip netns exec %s netxsim up --tap %s'", o.netns, o.netns, o.tap)
		}
		ns, err = tapdev.CreateNetNS(o.netns)
		if err != nil {
			return err
		}
		undo = append(undo, ns.Delete)
	}
	tap, err := tapdev.Open(tapdev.Config{Name: o.tap, NetNS: ns, MAC: o.mac, MTU: uint32(o.mtu), Logger: log})
	if err != nil {
		return err
	}
	undo = append(undo, tap.Close)
	if ns != nil {
		for _, p := range []netip.Prefix{o.hostIPv4, o.hostIPv6} {
			if p.IsValid() {
				if err := ns.AddAddr(o.tap, p); err != nil {
					return err
				}
			}
		}
		if err := ns.LinkUp(o.tap); err != nil {
			return err
		}
	}

	var ep gstack.LinkEndpoint = tap.Endpoint()
	var closeCapture func() error
	if o.pcap != "" {
		w, err := capture.Create(o.pcap, capture.PcapNG)
		if err != nil {
			return err
		}
		// Closed before the stack (see below), or the stack's teardown would
		// add an RST for every connection still in TIME_WAIT to the capture.
		closeCapture = w.Close
		undo = append(undo, closeCapture)
		cep, err := capture.New(ep, w, o.tap)
		if err != nil {
			return fmt.Errorf("capture to %s: %w", o.pcap, err)
		}
		ep = cep
	}
	cfg := stack.Config{
		Name:     o.tap,
		MAC:      o.mac,
		IPv4:     o.ipv4,
		Gateway4: o.gw4,
		IPv6:     !o.noIPv6,
		Gateway6: o.gw6,
		SkipDAD:  o.skipDAD,
		MTU:      uint32(o.mtu),
		Logger:   log,
	}
	if o.ipv6.IsValid() {
		cfg.IPv6Global = []netip.Prefix{o.ipv6}
	}
	dev, err := stack.New(ctx, cfg, ep)
	if err != nil {
		return fmt.Errorf("device stack: %w", err)
	}
	if closeCapture != nil {
		undo = append(undo[:len(undo)-1], dev.Close, closeCapture)
	} else {
		undo = append(undo, dev.Close)
	}

	where, nsPrefix := "", ""
	if ns != nil {
		where = " in namespace " + ns.Name
		nsPrefix = "ip netns exec " + ns.Name + " "
	}
	fmt.Fprintf(stdout, "netxsim device up on TAP %s%s\n", tap.Name(), where)
	fmt.Fprintf(stdout, "  mac   %s  mtu %d\n", o.mac, o.mtu)
	for _, p := range dev.Addrs() {
		kind := "ipv4"
		if p.Addr().Is6() {
			kind = "ipv6"
		}
		note := ""
		if p.Addr().IsLinkLocalUnicast() {
			note = fmt.Sprintf("  (link-local: %sping -6 -c 3 %s%%%s)", nsPrefix, p.Addr().WithZone(""), tap.Name())
		}
		fmt.Fprintf(stdout, "  %s  %s%s\n", kind, p, note)
	}
	if o.pcap != "" {
		fmt.Fprintf(stdout, "  pcap  %s\n", o.pcap)
	}
	if ns != nil && o.ipv4.IsValid() {
		fmt.Fprintf(stdout, "try: ip netns exec %s ping -c 3 %s\n", ns.Name, o.ipv4.Addr())
	}
	fmt.Fprintln(stdout, "running; interrupt (Ctrl-C) to stop")
	<-ctx.Done()
	fmt.Fprintf(stdout, "stopping: %s\n", dev.Stats())
	return nil
}
