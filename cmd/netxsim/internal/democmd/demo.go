// Package democmd implements `netxsim demo`: two IP instances (the simulated device and a host) on an
// in-memory Ethernet link, every frame captured to pcapng, and a sequence of phases (pings, TCP
// streams, and later FTP sessions) whose results are printed as a short summary. No root needed.
//
// The demo is a list of Phase values run in order against one Env; a new scenario is a new Phase.
package democmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/stack/capture"
	"github.com/netxsim/netxsim/stack/link"
)

// Default addresses (the same as in TAP mode).
var (
	DeviceV4   = netip.MustParsePrefix("198.51.100.2/24")
	DeviceV6   = netip.MustParsePrefix("2001:db8::2/64")
	HostV4     = netip.MustParsePrefix("198.51.100.1/24")
	HostV6     = netip.MustParsePrefix("2001:db8::1/64")
	DeviceMAC  = net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x00, 0x02}
	HostMAC    = net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x00, 0x01}
	DeviceName = "dev0"
	HostName   = "host0"
)

// Options are the demo's settings, filled from flags.
type Options struct {
	Out        string         // directory for output files
	Pcap       string         // capture file; relative names are inside Out
	Format     capture.Format // pcapng (default) or pcap
	StreamSize int64          // bytes per TCP stream
	Seed       uint64         // link randomness and stream contents
	Verbose    bool
}

// Env is what every phase works with.
type Env struct {
	Opts    Options
	Device  *stack.IP // the simulated NetX Duo device
	Host    *stack.IP // the peer on the other end of the link
	Link    *link.Pair
	Capture *capture.Writer // records at the device's port: each frame once, both directions
	Log     *slog.Logger

	report []string
}

// Reportf adds a line to the summary printed at the end.
func (e *Env) Reportf(format string, args ...any) {
	e.report = append(e.report, fmt.Sprintf(format, args...))
}

// Phase is one step of the demo. Run returns an error when the step failed; the demo stops there.
type Phase struct {
	Name string
	Run  func(ctx context.Context, env *Env) error
}

// Phases returns the demo's steps in order. Later steps (FTP sessions) append themselves here.
func Phases() []Phase {
	return []Phase{
		{Name: "ping", Run: PingPhase},
		{Name: "tcp", Run: TCPPhase},
	}
}

const usageText = `usage: netxsim demo [flags]

Runs the simulated device (198.51.100.2/24, 2001:db8::2/64) and a host (198.51.100.1/24,
2001:db8::1/64) on an in-memory Ethernet link: pings over IPv4, IPv6 link-local and IPv6 global,
then a TCP stream each way over IPv4 and IPv6 with SHA-256 compared. Every frame is written to
a capture file. Needs no root.

flags:
`

// Run is the entry point of `netxsim demo`.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts Options
	var format string
	var sizeMiB float64
	fs.StringVar(&opts.Out, "out", ".", "directory for the capture file")
	fs.StringVar(&opts.Pcap, "pcap", "netxsim-demo.pcapng", "capture file (relative names go inside --out)")
	fs.StringVar(&format, "format", "pcapng", "capture format: pcapng or pcap")
	fs.Float64Var(&sizeMiB, "size", 64, "MiB per TCP stream")
	fs.Uint64Var(&opts.Seed, "seed", 1, "seed for stream contents and link randomness")
	fs.BoolVar(&opts.Verbose, "v", false, "log protocol events to stderr")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageText)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "netxsim demo: unexpected argument %q (the demo takes flags only; see --help)\n", fs.Arg(0))
		return 2
	}
	f, err := capture.ParseFormat(format)
	if err != nil {
		fmt.Fprintf(stderr, "netxsim demo: --format: %v\n", err)
		return 2
	}
	opts.Format = f
	if !(sizeMiB > 0) || sizeMiB > 1<<14 {
		fmt.Fprintf(stderr, "netxsim demo: --size %v: need a size in MiB between 0 and 16384\n", sizeMiB)
		return 2
	}
	opts.StreamSize = int64(sizeMiB * (1 << 20))
	if opts.Pcap == "" {
		fmt.Fprintln(stderr, "netxsim demo: --pcap must name a file")
		return 2
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

// PcapPath resolves the capture path against the output directory.
func (o Options) PcapPath() string {
	if filepath.IsAbs(o.Pcap) {
		return o.Pcap
	}
	return filepath.Join(o.Out, o.Pcap)
}

// Setup brings up the link, the capture and both instances (with DAD, as a real device does).
// The returned close function releases everything and flushes the capture.
func Setup(opts Options, log *slog.Logger) (*Env, func() error, error) {
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return nil, nil, fmt.Errorf("output directory: %w", err)
	}
	w, err := capture.Create(opts.PcapPath(), opts.Format)
	if err != nil {
		return nil, nil, err
	}
	env := &Env{Opts: opts, Capture: w, Log: log}
	var closers []func() error
	closeAll := func() error {
		var errs []error
		for i := len(closers) - 1; i >= 0; i-- {
			errs = append(errs, closers[i]())
		}
		errs = append(errs, w.Close())
		return errors.Join(errs...)
	}
	fail := func(err error) (*Env, func() error, error) {
		closeAll()
		return nil, nil, err
	}
	p, err := link.NewPair(link.PairConfig{Seed: opts.Seed})
	if err != nil {
		return fail(err)
	}
	env.Link = p
	closers = append(closers, p.Close)
	devEP, err := capture.New(p.A(), w, DeviceName)
	if err != nil {
		return fail(err)
	}
	env.Device, err = stack.New(stack.Config{Name: DeviceName, MAC: DeviceMAC, IPv4: DeviceV4, IPv6: true,
		IPv6Global: []netip.Prefix{DeviceV6}, Logger: log.With("ip", "device")}, devEP)
	if err != nil {
		return fail(fmt.Errorf("device: %w", err))
	}
	closers = append(closers, env.Device.Close)
	env.Host, err = stack.New(stack.Config{Name: HostName, MAC: HostMAC, IPv4: HostV4, IPv6: true,
		IPv6Global: []netip.Prefix{HostV6}, Logger: log.With("ip", "host")}, p.B())
	if err != nil {
		return fail(fmt.Errorf("host: %w", err))
	}
	closers = append(closers, env.Host.Close)
	return env, closeAll, nil
}

// Demo sets up the Env, runs the phases and prints the summary to out.
func Demo(ctx context.Context, opts Options, phases []Phase, out io.Writer, log *slog.Logger) (err error) {
	start := time.Now()
	env, closeEnv, err := Setup(opts, log)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := closeEnv(); cerr != nil && err == nil {
			err = fmt.Errorf("close: %w", cerr)
		}
		if err == nil {
			fmt.Fprintf(out, "capture: %s (%d frames, %s)\n", opts.PcapPath(), env.Capture.Frames(), opts.Format)
			fmt.Fprintf(out, "demo finished in %s\n", time.Since(start).Round(time.Millisecond))
		}
	}()
	fmt.Fprintf(out, "device %s %s: %s\n", DeviceName, DeviceMAC, prefixes(env.Device.Addrs()))
	fmt.Fprintf(out, "host   %s %s: %s\n", HostName, HostMAC, prefixes(env.Host.Addrs()))
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
	fmt.Fprintf(out, "device stats: %s\n", env.Device.Stats())
	fmt.Fprintf(out, "host stats:   %s\n", env.Host.Stats())
	ab, ba := env.Link.Stats()
	fmt.Fprintf(out, "link dev->host: %d frames, %d delivered, %d queue drops; host->dev: %d frames, %d delivered, %d queue drops\n",
		ab.Frames, ab.Delivered, ab.QueueDrops, ba.Frames, ba.Delivered, ba.QueueDrops)
	return nil
}

func prefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, " ")
}
