// Package democmd implements `netxsim demo`, the README's main job: the simulated NetX Duo device and a
// host on an in-memory Ethernet link (or, with --tap, the device on a Linux TAP and the kernel as host),
// every frame captured to one pcapng; pings and TCP streams, then the FTP scenario of
// scenario.Demo (the seed's read and write sequences in all four ways, listing, mkdir, rename,
// delete), the capture verified by ftpcheck and the FAT image checked. No root needed without --tap.
//
// The pre-FTP part is a list of Phase values run in order against one Env; a new check is a new Phase.
package democmd

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"github.com/netxsim/netxsim/cmd/netxsim/internal/cli"
	"github.com/netxsim/netxsim/cmd/netxsim/internal/devflags"
	"github.com/netxsim/netxsim/internal/size"
	"github.com/netxsim/netxsim/scenario"
	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/stack/capture"
	"github.com/netxsim/netxsim/stack/link"
)

// Default addresses (the same as in TAP mode).
var (
	DeviceV4   = scenario.DemoDeviceV4
	DeviceV6   = scenario.DemoDeviceV6
	HostV4     = scenario.DemoHostV4
	HostV6     = scenario.DemoHostV6
	DeviceMAC  = net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x00, 0x02}
	HostMAC    = net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x00, 0x01}
	DeviceName = scenario.DemoDevice
	HostName   = scenario.DemoHost
)

// Options are the demo's settings, filled from flags.
type Options struct {
	Out        string         // directory for the capture and the reports
	Pcap       string         // capture file; relative names are inside Out
	Format     capture.Format // pcapng (default) or pcap
	StreamSize int64          // bytes per TCP stream; 0 skips the streams
	Seed       uint64         // stream contents
	Verbose    bool
	TAP        bool   // device on a TAP in a new network namespace, the Linux kernel as host (root)
	NetNS      string // the namespace's name; "" picks one
	TAPName    string // the TAP's name (--tap=NAME); "" is the namespace's
}

// Env is what every phase works with.
type Env struct {
	Opts    Options
	Device  *stack.IP  // the simulated NetX Duo device
	Host    *stack.IP  // the peer on the other end of the link; nil in TAP mode, where the kernel is the host
	HostNet Peer       // the host's Listen/Dial: Host, or the kernel inside the namespace
	Link    *link.Pair // nil in TAP mode
	Log     *slog.Logger

	report []string
}

// Reportf adds a line to the summary printed at the end.
func (e *Env) Reportf(format string, args ...any) {
	e.report = append(e.report, fmt.Sprintf(format, args...))
}

// Phase is one step of the demo before the FTP sessions. Run returns an error when the step failed;
// the demo stops there.
type Phase struct {
	Name string
	Run  func(ctx context.Context, env *Env) error
}

// Phases returns the demo's steps before FTP, in order.
func Phases() []Phase {
	return []Phase{
		{Name: "ping", Run: PingPhase},
		{Name: "tcp", Run: TCPPhase},
	}
}

// usageText follows the usage line, which cli.UsageLine makes from the flags.
const usageText = `
Runs the simulated NetX Duo device (198.51.100.2/24, 2001:db8::2/64) and a host (198.51.100.1/24,
2001:db8::1/64) on an in-memory Ethernet link, every frame captured:
  1. pings over IPv4, IPv6 link-local and IPv6 global (ARP and NDP on the way);
  2. a TCP stream each way over IPv4 and IPv6, SHA-256 compared (--size MiB each; 0 skips them);
  3. FTP: the device serves a FAT image in RAM with sample files (netxduo profile); the host's client
     runs the seed's write and read sequences in all four ways (IPv4 active PORT, IPv4 passive PASV,
     IPv6 active EPRT, IPv6 passive EPSV), then listing, mkdir, rename, delete, rmdir;
  4. the capture is verified with ftpcheck, the image checked, and a table of sessions printed.
Artifacts in --out: the capture, report.txt, report.json, scenario.json, junit.xml, svg/.
Needs no root. With --tap the device sits on a Linux TAP in a new network namespace and the host is
the Linux kernel in that namespace (needs root; everything is removed at the end).

flags:
`

// Run is the entry point of `netxsim demo`.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts Options
	var format string
	var streamSize string
	fs.StringVar(&opts.Out, "out", "netxsim-demo", "`directory` for the capture and the reports")
	fs.StringVar(&opts.Pcap, "pcap", "netxsim-demo.pcapng", "capture `file` (relative names go inside --out)")
	fs.StringVar(&format, "format", "pcapng", "capture `format`: pcapng or pcap")
	fs.StringVar(&streamSize, "size", "8", "`size` of each TCP stream: a number alone is MiB, or 512K, 1.5GiB as everywhere (0: no streams)")
	fs.Uint64Var(&opts.Seed, "seed", 1, "`seed` for stream contents")
	fs.Var(&tapFlag{&opts}, "tap", "put the device on a TAP in a new network namespace, the Linux kernel as host (needs root); --tap=NAME names the TAP as in up, serve and ftp (default: the namespace's name)")
	fs.StringVar(&opts.NetNS, "netns", "", "with --tap: `name` of the network namespace to create (implies --tap)")
	fs.BoolVar(&opts.Verbose, "v", false, "log protocol events to stderr")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), cli.UsageLine("demo", "", fs, "")+usageText)
		fs.PrintDefaults()
	}
	pos, exit := cli.ParseInterspersed(fs, args, stdout, stderr) // prints the usage once
	if exit != nil {
		return *exit
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "netxsim demo: unexpected argument %q (the demo takes flags only; see --help)\n", pos[0])
		return 2
	}
	f, err := capture.ParseFormat(format)
	if err != nil {
		fmt.Fprintf(stderr, "netxsim demo: --format: %v\n", err)
		return 2
	}
	opts.Format = f
	// The capture's name says its format: the default follows --format, and a name that says the
	// other one is refused (a classic pcap named .pcapng confuses every reader that trusts names).
	pcapSet := false
	fs.Visit(func(fl *flag.Flag) { pcapSet = pcapSet || fl.Name == "pcap" })
	if !pcapSet && f == capture.Pcap {
		opts.Pcap = "netxsim-demo.pcap"
	}
	if ext := strings.ToLower(filepath.Ext(opts.Pcap)); ext == ".pcap" && f != capture.Pcap || ext == ".pcapng" && f != capture.PcapNG {
		fmt.Fprintf(stderr, "netxsim demo: --pcap %s: the name says %s but the format is %s: rename it or give --format %s\n", opts.Pcap, ext[1:], f, ext[1:])
		return 2
	}
	n, err := size.ParseIn(streamSize, "MiB", 0, 16<<30)
	if err != nil {
		fmt.Fprintf(stderr, "netxsim demo: --size: %v\n", err)
		return 2
	}
	opts.StreamSize = n
	if opts.Pcap == "" {
		fmt.Fprintln(stderr, "netxsim demo: --pcap must name a file")
		return 2
	}
	if opts.NetNS != "" {
		opts.TAP = true
	}
	if opts.TAP {
		if why := scenario.TAPSupported(); why != "" {
			fmt.Fprintf(stderr, "netxsim demo: --tap: %s\n", why)
			return 2
		}
	}
	level := slog.LevelWarn
	if opts.Verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if err := Demo(ctx, opts, Phases(), stdout, log); err != nil {
		fmt.Fprintf(stderr, "netxsim demo: %v\n", err)
		return 1
	}
	return 0
}

// tapFlag is --tap: a switch as before (--tap), or --tap=NAME naming the TAP, the name devflags
// gives --tap in every other command.
type tapFlag struct{ o *Options }

func (f *tapFlag) IsBoolFlag() bool { return true }

func (f *tapFlag) String() string {
	if f.o == nil || !f.o.TAP {
		return "false"
	}
	if f.o.TAPName != "" {
		return f.o.TAPName
	}
	return "true"
}

func (f *tapFlag) Set(s string) error {
	switch s {
	case "true":
		f.o.TAP, f.o.TAPName = true, ""
	case "false":
		f.o.TAP, f.o.TAPName = false, ""
	default:
		if err := devflags.CheckIfName(s); err != nil {
			return err
		}
		f.o.TAP, f.o.TAPName = true, s
	}
	return nil
}

// PcapPath resolves the capture path against the output directory.
func (o Options) PcapPath() string {
	if filepath.IsAbs(o.Pcap) {
		return o.Pcap
	}
	return filepath.Join(o.Out, o.Pcap)
}

// Demo runs the demo scenario with the phases before its FTP sessions and prints the summary to out.
// It fails when a phase fails or when any FTP expectation (session verdicts, file hashes, image check)
// does not hold.
func Demo(ctx context.Context, opts Options, phases []Phase, out io.Writer, log *slog.Logger) error {
	start := time.Now()
	sc := scenario.Demo(scenario.DemoOptions{TAP: opts.TAP, NetNS: opts.NetNS, TAPName: opts.TAPName})
	env := &Env{Opts: opts, Log: log}
	before := func(ctx context.Context, n *scenario.Net) error {
		env.Device, env.Host, env.HostNet, env.Link = n.IP(DeviceName), n.IP(HostName), n.Network(HostName), n.Pair(0)
		fmt.Fprintf(out, "device %s %s: %s\n", DeviceName, DeviceMAC, prefixes(env.Device.Addrs()))
		if env.Host != nil {
			fmt.Fprintf(out, "host   %s %s: %s\n", HostName, HostMAC, prefixes(env.Host.Addrs()))
		} else {
			fmt.Fprintf(out, "host   the Linux kernel in network namespace %s: %s %s\n", tapNS(sc), HostV4, HostV6)
		}
		for _, ph := range phases {
			n := len(env.report)
			perr := ph.Run(ctx, env)
			for _, line := range env.report[n:] {
				fmt.Fprintf(out, "%-5s %s\n", ph.Name, line)
			}
			if perr != nil {
				return fmt.Errorf("phase %s: %w", ph.Name, perr)
			}
		}
		return nil
	}
	after := func(ctx context.Context, n *scenario.Net) error {
		fmt.Fprintf(out, "device stats: %s\n", env.Device.Stats())
		if env.Host != nil {
			fmt.Fprintf(out, "host stats:   %s\n", env.Host.Stats())
		}
		if env.Link != nil {
			ab, ba := env.Link.Stats()
			fmt.Fprintf(out, "link dev->host: %d frames, %d delivered, %d queue drops; host->dev: %d frames, %d delivered, %d queue drops\n",
				ab.Frames, ab.Delivered, ab.QueueDrops, ba.Frames, ba.Delivered, ba.QueueDrops)
		}
		return nil
	}
	res, err := scenario.Run(ctx, sc, scenario.Options{
		Out: opts.Out, Capture: opts.Pcap, CaptureFormat: opts.Format, Logger: log,
		Progress: prefixWriter{out, "ftp   "}, Before: before, After: after,
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(out)
	if err := res.WriteTable(out); err != nil {
		return err
	}
	fmt.Fprintf(out, "capture: %s (%d frames, %s)\n", res.Artifacts.Capture, res.Frames, opts.Format)
	if !res.OK {
		return fmt.Errorf("FTP verification failed: see the table above and %s", res.Artifacts.Text)
	}
	fmt.Fprintf(out, "demo finished in %s\n", time.Since(start).Round(time.Millisecond))
	return nil
}

func tapNS(sc *scenario.Scenario) string {
	if sc.Links[0].NetNS != "" {
		return sc.Links[0].NetNS
	}
	return "(random name)"
}

// prefixWriter prefixes each write (a whole line) with a tag.
type prefixWriter struct {
	w   io.Writer
	tag string
}

func (p prefixWriter) Write(b []byte) (int, error) {
	if _, err := io.WriteString(p.w, p.tag); err != nil {
		return 0, err
	}
	return p.w.Write(b)
}

func prefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, " ")
}
