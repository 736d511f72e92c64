// Package replaycmd is `netxsim replay`: replay the client side of the FTP sessions in a capture
// against a fresh simulated device (or any server) and compare every reply byte for byte.
package replaycmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/netxsim/netxsim"
	"github.com/netxsim/netxsim/cmd/netxsim/internal/cli"
	"github.com/netxsim/netxsim/fsimage"
	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/ftp/ftpcheck"
	"github.com/netxsim/netxsim/ftp/replay"
	"github.com/netxsim/netxsim/ftp/server"
	"github.com/netxsim/netxsim/internal/termtext"
	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/stack/link"
	"github.com/netxsim/netxsim/tapdev"
)

// Summary is the one-line description for netxsim's command list.
const Summary = "replay the client side of a capture's FTP sessions against a device and compare every reply"

// usage follows the usage line, which cli.UsageLine makes from the flags.
const usage = `
Replays the client side of every FTP session in CAPTURE (pcap or pcapng), each captured client
segment as one write, data connections included, and compares every reply line and every
transferred byte with the capture. By default the server is a fresh simulated device on an
in-memory link, seeded like the real NetX Duo device of testdata/netxduo-6.4.2 (hello.txt,
data.bin, pub/readme.txt; user netx, password secret); --against replays against any server
(with --netns from inside a network namespace, e.g. that of a serve --tap --netns device), and
--pcap records the simulated device's link for netxsim verify.
Only what cannot match is normalised (dates in LIST lines, ports and addresses of 227/229 replies
and of the client's PORT/EPRT), each normalisation named and counted in the report.
Exit status: 0 no difference, 1 differences (or a capture that cannot be replayed), 2 usage.

flags:
`

type options struct {
	profile, against, image, root string
	netns                         string
	pcap                          string
	users                         []string
	json, junit                   string
	wait                          time.Duration
	quiet, verbose                bool
	loginDelay                    time.Duration // tests: the device's Server.LoginFailDelay
}

// Run is the entry point of `netxsim replay`.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return run(ctx, options{}, args, stdout, stderr)
}

func run(ctx context.Context, o options, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("replay", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.StringVar(&o.profile, "profile", string(ftp.ProfileNetXDuo64), "the device's `profile` (netxduo-6.4, netxduo, extended); with --against, the profile the server claims (its documented exceptions are excused), \"\" for none")
	fl.StringVar(&o.against, "against", "", "replay against this server `ftp://host[:port]` instead of a simulated device")
	fl.StringVar(&o.netns, "netns", "", "with --against: replay from inside this existing network `namespace` (where a `serve --tap --netns` device is reachable)")
	fl.StringVar(&o.pcap, "pcap", "", "write the simulated device's link to this pcapng `file` (netxsim verify reads it)")
	fl.StringVar(&o.image, "image", "", "seed the device from this FAT image `file` (copied into memory, the file is not changed)")
	fl.StringVar(&o.root, "root", "", "seed the device from this host `directory` (copied into a RAM FAT disk)")
	fl.Func("user", "device login `NAME:PASSWORD` (repeatable; default netx:secret as on the captured device)", func(s string) error {
		if n, _, ok := strings.Cut(s, ":"); !ok || n == "" {
			return fmt.Errorf("want NAME:PASSWORD, got %q", s)
		}
		o.users = append(o.users, s)
		return nil
	})
	fl.StringVar(&o.json, "json", "", "write the report as JSON to `FILE` (- for stdout)")
	fl.StringVar(&o.junit, "junit", "", "write JUnit XML to `FILE` (a test case per session)")
	fl.DurationVar(&o.wait, "wait", 3*time.Second, "how long to wait for each reply the capture shows (`duration`)")
	fl.BoolVar(&o.quiet, "q", false, "print only the verdict line")
	fl.BoolVar(&o.verbose, "v", false, "log the device's FTP sessions to stderr")
	fl.Usage = func() {
		fmt.Fprint(fl.Output(), cli.UsageLine("replay", "CAPTURE", fl, "")+usage)
		fl.PrintDefaults()
	}
	pos, exit := cli.ParseInterspersed(fl, args, stdout, stderr)
	if exit != nil {
		return *exit
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "netxsim replay: "+format+"\n", a...)
		return code
	}
	if len(pos) != 1 {
		fl.Usage()
		return fail(2, "want exactly one capture file, got %d", len(pos))
	}
	var prof ftp.Profile
	if o.profile != "" {
		p, err := ftp.ParseProfile(o.profile)
		if err != nil {
			return fail(2, "--profile: %v", err)
		}
		prof = p
	}
	if o.image != "" && o.root != "" {
		return fail(2, "--image and --root both given: seed the device from one")
	}
	if o.against != "" && (o.image != "" || o.root != "") {
		return fail(2, "--against replays against another server: --image and --root seed only the simulated device")
	}
	if o.pcap != "" && o.against != "" {
		return fail(2, "--pcap records the simulated device's link: with --against, capture on the way to that server (tcpdump)")
	}
	if o.netns != "" && o.against == "" {
		return fail(2, "--netns needs --against: the simulated device is reached over an in-memory link, not a namespace")
	}
	var ap netip.AddrPort
	if o.against != "" {
		var err error
		if ap, err = parseAgainst(ctx, o.against); err != nil {
			return fail(2, "--against: %v", err)
		}
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return fail(1, "cannot read the capture: %v", err)
	}
	segs, sum, err := ftpcheck.ReadSegments(ctx, f)
	f.Close()
	if err != nil {
		return fail(1, "%s: %v", pos[0], err)
	}
	sc, err := replay.Load(segs, sum)
	if err != nil {
		return fail(1, "%s: %v", pos[0], err)
	}
	log := slog.New(slog.DiscardHandler)
	if o.verbose {
		log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ropts := replay.Options{Wait: o.wait, Profile: prof, Logger: log}
	var target string
	if o.against != "" {
		ropts.Net = stack.Kernel{}
		ropts.V4, ropts.V6 = ap, ap
		target = "ftp://" + ap.String()
		if o.netns != "" {
			ns, err := tapdev.OpenNetNS(o.netns)
			if err != nil {
				return fail(1, "--netns: %v", err)
			}
			defer ns.Close()
			ropts.Net = ns.Kernel()
			target += " (from namespace " + o.netns + ")"
		}
	} else {
		dev, err := startDevice(ctx, &o, prof, log)
		if err != nil {
			return fail(1, "%v", err)
		}
		defer dev.close()
		ropts.Net = dev.host
		ropts.V4, ropts.V6 = dev.v4, dev.v6
		target = fmt.Sprintf("a simulated %s device (%s, %s)", prof, dev.v4.Addr(), dev.v6.Addr())
	}
	rep := replay.Run(ctx, sc, ropts)
	rep.Capture, rep.Target = filepath.Base(pos[0]), target
	if !o.quiet && o.json != "-" {
		// the replies are the server's bytes: a terminal gets their control characters escaped
		if err := rep.WriteText(termtext.ForTerminal(stdout)); err != nil {
			return fail(1, "%v", err)
		}
	}
	if err := writeFile(o.json, stdout, rep.WriteJSON); err != nil {
		return fail(1, "%v", err)
	}
	if err := writeFile(o.junit, stdout, rep.WriteJUnit); err != nil {
		return fail(1, "%v", err)
	}
	fmt.Fprintf(stderr, "netxsim replay: %s\n", rep.Summary())
	if rep.Failed() {
		return 1
	}
	return 0
}

func writeFile(p string, stdout io.Writer, fn func(io.Writer) error) error {
	switch p {
	case "":
		return nil
	case "-":
		return fn(stdout)
	}
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// parseAgainst reads ftp://host[:port] (port 21 by default); a host name is resolved.
func parseAgainst(ctx context.Context, s string) (netip.AddrPort, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "ftp" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.User != nil {
		return netip.AddrPort{}, fmt.Errorf("%q: want ftp://host[:port] (no user, no path: the capture's client logs in itself)", s)
	}
	port := uint16(21)
	if p := u.Port(); p != "" {
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return netip.AddrPort{}, fmt.Errorf("%q: bad port %q", s, p)
		}
		port = uint16(n)
	}
	host := u.Hostname()
	a, err := netip.ParseAddr(host)
	if err != nil {
		addrs, lerr := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		if lerr != nil || len(addrs) == 0 {
			return netip.AddrPort{}, fmt.Errorf("%q: cannot resolve %q: %v", s, host, lerr)
		}
		a = addrs[0]
	}
	a = a.Unmap()
	if err := tapdev.CheckAddr(a); err != nil { // refused before any packet, like every command
		return netip.AddrPort{}, fmt.Errorf("%q: %w", s, err)
	}
	return netip.AddrPortFrom(a, port), nil
}

// device is the simulated NetX device and the host it is replayed from, on an in-memory link.
type device struct {
	host   *netxsim.Device
	v4, v6 netip.AddrPort
	close  func() error
}

// startDevice builds the device and the host through the library: one pair, two stacks, the FTP
// server on the seeded RAM disk; close stops them in the library's order.
func startDevice(ctx context.Context, o *options, prof ftp.Profile, log *slog.Logger) (*device, error) {
	fsys, err := seed(o)
	if err != nil {
		return nil, err
	}
	n := &netxsim.Network{Logger: log, Capture: o.pcap}
	owned := false // the device owns fsys once UseImage took it
	fail := func(err error) (*device, error) {
		if !owned {
			fsys.Close()
		}
		return nil, errors.Join(err, n.Close())
	}
	seg, err := n.Pair("link", link.PairConfig{})
	if err != nil {
		return fail(fmt.Errorf("in-memory link: %w", err))
	}
	devs, err := n.AddDevices(ctx, seg,
		netxsim.DeviceConfig{Config: stack.Config{Name: "dev", MAC: netxsim.DeviceMAC(), IPv4: netxsim.DeviceIPv4,
			IPv6: true, IPv6Global: []netip.Prefix{netxsim.DeviceIPv6}, SkipDAD: true}, Profile: prof},
		netxsim.DeviceConfig{Config: stack.Config{Name: "host", MAC: netxsim.MAC(1), IPv4: netxsim.HostIPv4,
			IPv6: true, IPv6Global: []netip.Prefix{netxsim.HostIPv6}, SkipDAD: true}})
	if err != nil {
		return fail(err)
	}
	if err := devs[0].UseImage(fsys, fsys.Close); err != nil {
		return fail(err)
	}
	owned = true
	users := map[string]string{"netx": "secret"}
	if len(o.users) > 0 {
		users = map[string]string{}
		for _, u := range o.users {
			n, pw, _ := strings.Cut(u, ":")
			users[n] = pw
		}
	}
	d := &device{host: devs[1], close: n.Close,
		v4: netip.AddrPortFrom(netxsim.DeviceIPv4.Addr(), 21), v6: netip.AddrPortFrom(netxsim.DeviceIPv6.Addr(), 21)}
	srv := &server.Server{Profile: prof, Login: server.Users(users, server.Deny), LoginFailDelay: o.loginDelay}
	if err := devs[0].ServeFTP(ctx, srv, d.v4, d.v6); err != nil {
		return fail(err)
	}
	return d, nil
}

// seed builds the device's RAM disk: an 8 MiB FAT16 volume like the captured device's, holding the
// captured device's three files, a copy of --image, or a copy of the --root directory tree.
func seed(o *options) (*fsimage.FS, error) {
	if o.image != "" {
		b, err := os.ReadFile(o.image)
		if err != nil {
			return nil, fmt.Errorf("--image: %w", err)
		}
		v, err := fsimage.Open(fsimage.RAMFrom(b), fsimage.Options{})
		if err != nil {
			return nil, fmt.Errorf("--image %s: %w", o.image, err)
		}
		return v, nil
	}
	_, v, err := ramDisk()
	if err != nil {
		return nil, err
	}
	if o.root == "" {
		if err := SeedCaptured(v); err != nil {
			v.Close()
			return nil, err
		}
		return v, nil
	}
	root, err := os.OpenRoot(o.root)
	if err != nil {
		v.Close()
		return nil, fmt.Errorf("--root: %w", err)
	}
	defer root.Close()
	// the directory's own order (ls -U): the order mcopy would write the entries
	err = fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == "." {
			return err
		}
		if d.IsDir() {
			return v.Mkdir(p)
		}
		if !d.Type().IsRegular() {
			return nil // symbolic links and devices are not copied
		}
		f, err := root.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		return fsimage.WriteFile(v, p, f)
	})
	if err != nil {
		v.Close()
		return nil, fmt.Errorf("--root %s: copying into the RAM disk: %w", o.root, err)
	}
	return v, nil
}

// ramDisk is an empty 8 MiB FAT16 volume in memory, like the captured device's RAM disk.
func ramDisk() (*fsimage.RAM, *fsimage.FS, error) {
	const size = 8 << 20
	ram := fsimage.NewRAM(size)
	if err := fsimage.Format(ram, size, fsimage.FormatOptions{Type: fsimage.FAT16}); err != nil {
		return nil, nil, fmt.Errorf("formatting the device's RAM disk: %w", err)
	}
	v, err := fsimage.Open(ram, fsimage.Options{})
	if err != nil {
		return nil, nil, err
	}
	return ram, v, nil
}

// SeedCaptured writes the captured device's disk (testdata/netxduo-6.4.2/README.md) into v: its three
// files, in the order they were written.
func SeedCaptured(v *fsimage.FS) error {
	for _, f := range []struct{ name, content string }{
		{"hello.txt", "hello\n"},
		{"data.bin", strings.Repeat("abcdefghijklmnopqrstuvwxyz", 116)[:3000]},
		{"pub/readme.txt", "NetX Duo oracle\r\n"},
	} {
		if err := fsimage.WriteFile(v, f.name, strings.NewReader(f.content)); err != nil {
			return fmt.Errorf("seeding %s: %w", f.name, err)
		}
	}
	return nil
}
