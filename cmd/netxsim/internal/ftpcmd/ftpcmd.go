// Package ftpcmd is `netxsim ftp`: the simulated device's FTP client (ftp/client) from the command line,
// on the device's own IP stack on a TAP, or on the host kernel to talk to a local `netxsim serve`.
package ftpcmd

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
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/ftp/client"
	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/tapdev"
)

const usage = `usage: netxsim ftp <command> [flags] <args>

commands:
  get   URL [LOCAL]   download (LOCAL: default the file's name; "-" for stdout)
  put   LOCAL URL     upload ("-" reads stdin)
  ls    URL           LIST of a directory
  nlst  URL           NLST of a directory (names only)
  mkdir URL           make a directory
  rmdir URL           remove an empty directory
  rm    URL           delete a file
  mv    URL NEWPATH   rename (NEWPATH is a path on the same server)

URL: ftp://[user[:password]@]host[:port]/path  (anonymous without a user; IPv6 in brackets, with a
zone as [fe80::1%tap0]; the path is relative to the login directory, "//abs" or "/%2Fabs" is absolute)

The client runs on the device's stack on a TAP (--tap, optionally inside --netns) or, without them,
on the host kernel (e.g. against a local netxsim serve --listen).

--netns NS is self-contained: a missing namespace is created, and a missing TAP is created in it with
the kernel side's addresses (--host-ipv4, --host-ipv6) and brought up; what the command made is removed
on exit. A kernel FTP server started in NS beforehand (listening on any address) is then reachable:
  ip netns add ftpns; ip netns exec ftpns python3 -m pyftpdlib -p 2121 &
  netxsim ftp --netns ftpns --skip-dad ls ftp://198.51.100.1:2121/

--skip-dad starts at once instead of waiting about 1 s for IPv6 duplicate address detection of the
device's addresses. DAD matters on a shared segment (a bridge or switch with other hosts) where another
node could hold the same address; on a TAP only the device and the kernel side use, it cannot find one.

flags:
`

// Run is the entry point of `netxsim ftp`.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("netxsim ftp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.BoolVar(&o.passive, "passive", false, "passive data connections (PASV/EPSV); default active (PORT/EPRT) as NetX")
	fs.StringVar(&o.profile, "profile", string(ftp.ProfileExtended), "wire profile: netxduo (byte for byte NetX) or extended")
	fs.StringVar(&o.mode, "mode", "stream", "transfer mode: stream or block (MODE B)")
	fs.BoolVar(&o.skipPASV, "skip-pasv-ip", false, "ignore the address in 227 replies and use the server's")
	fs.BoolVar(&o.verbose, "v", false, "print the control dialogue on stderr")
	fs.DurationVar(&o.timeout, "timeout", 0, "limit for the whole command (0: none; silent servers still time out after 2m)")
	fs.StringVar(&o.tap, "tap", "", "run on the device stack on this TAP (default with --netns: netxsim0)")
	fs.StringVar(&o.netns, "netns", "", "network namespace the TAP is in")
	fs.StringVar(&o.ip4, "ip", "198.51.100.2/24", "device IPv4 address on the TAP (\"\" for none)")
	fs.StringVar(&o.ip6, "ip6", "2001:db8::2/64", "device global IPv6 address on the TAP (\"\" for link-local only)")
	fs.StringVar(&o.gw4, "gw", "", "device IPv4 default gateway")
	fs.StringVar(&o.gw6, "gw6", "", "device IPv6 default gateway")
	fs.StringVar(&o.mac, "mac", "02:4e:58:00:00:02", "device MAC address on the TAP")
	fs.BoolVar(&o.skipDAD, "skip-dad", false, "do not wait ~1 s for IPv6 duplicate address detection (safe on a TAP no other host shares)")
	fs.StringVar(&o.hostV4, "host-ipv4", "198.51.100.1/24", "with --netns: kernel-side IPv4 `CIDR` on a TAP this command creates; \"none\" for none")
	fs.StringVar(&o.hostV6, "host-ipv6", "2001:db8::1/64", "with --netns: kernel-side IPv6 `CIDR` on a TAP this command creates; \"none\" for none")
	fs.Usage = func() {
		io.WriteString(fs.Output(), usage)
		fs.PrintDefaults()
	}
	// flags may come anywhere: before or after the command word and between the arguments
	var pos []string
	rest := args
	for {
		fs.SetOutput(io.Discard) // the flag package would print the usage itself: print it once, below
		err := fs.Parse(rest)
		fs.SetOutput(stderr)
		if err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(stdout)
				fs.Usage()
				return 0
			}
			fmt.Fprintf(stderr, "netxsim ftp: %v\n", err)
			fs.Usage()
			return 2
		}
		left := fs.Args()
		if used := len(rest) - len(left); used > 0 && rest[used-1] == "--" {
			pos = append(pos, left...)
			break
		}
		if len(left) == 0 {
			break
		}
		pos = append(pos, left[0])
		rest = left[1:]
	}
	if len(pos) == 0 {
		fs.Usage()
		return 2
	}
	cmd, pos := pos[0], pos[1:]
	want := map[string]int{"get": -1, "put": 2, "ls": 1, "nlst": 1, "mkdir": 1, "rmdir": 1, "rm": 1, "mv": 2}
	n, ok := want[cmd]
	if !ok {
		fmt.Fprintf(stderr, "netxsim ftp: unknown command %q\n", cmd)
		fs.Usage()
		return 2
	}
	if (n >= 0 && len(pos) != n) || (n < 0 && (len(pos) < 1 || len(pos) > 2)) {
		fmt.Fprintf(stderr, "netxsim ftp %s: wrong number of arguments\n", cmd)
		fs.Usage()
		return 2
	}
	urlArg := pos[0]
	if cmd == "put" {
		urlArg = pos[1]
	}
	target, err := ParseURL(urlArg)
	if err != nil {
		fmt.Fprintf(stderr, "netxsim ftp %s: %v\n", cmd, err)
		return 2
	}
	if err := o.check(); err != nil {
		fmt.Fprintf(stderr, "netxsim ftp: %v\n", err)
		return 2
	}
	if o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	if err := run(ctx, &o, cmd, target, pos, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "netxsim ftp %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

type options struct {
	passive, skipPASV, verbose bool
	profile, mode              string
	timeout                    time.Duration
	tap, netns                 string
	ip4, ip6, gw4, gw6, mac    string
	hostV4, hostV6             string
	skipDAD                    bool
}

func (o *options) check() error {
	if _, err := ftp.ParseProfile(o.profile); err != nil {
		return err
	}
	if o.mode != "stream" && o.mode != "block" {
		return fmt.Errorf("--mode %q: use stream or block", o.mode)
	}
	return nil
}

func (o *options) clientOptions(stderr io.Writer) []client.Option {
	p, _ := ftp.ParseProfile(o.profile)
	m := client.ModeStream
	if o.mode == "block" {
		m = client.ModeBlock
	}
	opts := []client.Option{client.WithProfile(p), client.WithPassive(o.passive), client.WithMode(m),
		client.WithSkipPASVAddress(o.skipPASV)}
	if o.verbose {
		opts = append(opts, client.WithTrace(stderr))
	}
	return opts
}

// network returns the stack the client runs on and a function that releases it.
func (o *options) network(ctx context.Context, stderr io.Writer) (client.Network, func(), error) {
	if o.tap == "" && o.netns == "" {
		return stack.Kernel{}, func() {}, nil
	}
	name := o.tap
	if name == "" {
		name = "netxsim0"
	}
	mac, err := net.ParseMAC(o.mac)
	if err != nil {
		return nil, nil, fmt.Errorf("--mac %q: %w", o.mac, err)
	}
	cfg := stack.Config{Name: name, MAC: mac, IPv6: true}
	if o.verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	if o.ip4 != "" {
		if cfg.IPv4, err = netip.ParsePrefix(o.ip4); err != nil || !cfg.IPv4.Addr().Is4() {
			return nil, nil, fmt.Errorf("--ip %q: want an IPv4 address with prefix length, like 198.51.100.2/24", o.ip4)
		}
	}
	if o.ip6 != "" {
		p, err := netip.ParsePrefix(o.ip6)
		if err != nil || !p.Addr().Is6() {
			return nil, nil, fmt.Errorf("--ip6 %q: want an IPv6 address with prefix length, like 2001:db8::2/64", o.ip6)
		}
		cfg.IPv6Global = []netip.Prefix{p}
	}
	if o.gw4 != "" {
		if cfg.Gateway4, err = netip.ParseAddr(o.gw4); err != nil {
			return nil, nil, fmt.Errorf("--gw %q: %w", o.gw4, err)
		}
	}
	if o.gw6 != "" {
		if cfg.Gateway6, err = netip.ParseAddr(o.gw6); err != nil {
			return nil, nil, fmt.Errorf("--gw6 %q: %w", o.gw6, err)
		}
	}
	cfg.SkipDAD = o.skipDAD
	var host []netip.Prefix
	for _, f := range []struct{ name, v string }{{"host-ipv4", o.hostV4}, {"host-ipv6", o.hostV6}} {
		if f.v == "" || f.v == "none" {
			continue
		}
		p, err := netip.ParsePrefix(f.v)
		if err != nil {
			return nil, nil, fmt.Errorf("--%s %q: want an address with prefix length, like 198.51.100.1/24, or \"none\"", f.name, f.v)
		}
		host = append(host, p)
	}
	// Everything made here is undone in reverse order, on error now or by release later.
	var undo []func() error
	release := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	tcfg := tapdev.Config{Name: name, MAC: mac}
	var ns *tapdev.NetNS
	if o.netns != "" {
		if tapdev.NetNSExists(o.netns) {
			ns, err = tapdev.OpenNetNS(o.netns)
			if err == nil {
				undo = append(undo, ns.Close)
			}
		} else {
			ns, err = tapdev.CreateNetNS(o.netns)
			if err == nil {
				undo = append(undo, ns.Delete)
			}
		}
		if err != nil {
			return nil, nil, fmt.Errorf("--netns %s: %w", o.netns, err)
		}
		tcfg.NetNS = ns
	}
	tap, err := tapdev.Open(tcfg)
	if err != nil {
		release()
		return nil, nil, fmt.Errorf("TAP %s: %w (%s)", name, err, tapdev.SetupHint)
	}
	undo = append(undo, tap.Close)
	// A TAP made here in a namespace gets the kernel side too, or the device would talk to a link
	// without a peer (and time out in DAD). Never in the root namespace: its interfaces are the host's.
	if ns != nil && tap.Created() {
		for _, p := range host {
			if err := ns.AddAddr(name, p); err != nil {
				release()
				return nil, nil, err
			}
		}
		if err := ns.LinkUp(name); err != nil {
			release()
			return nil, nil, err
		}
	}
	ip, err := stack.New(ctx, cfg, tap.Endpoint())
	if err != nil {
		release()
		return nil, nil, fmt.Errorf("device stack on %s: %w", name, err)
	}
	undo = append(undo, ip.Close)
	return ip, release, nil
}

func run(ctx context.Context, o *options, cmd string, tg Target, pos []string, stdout, stderr io.Writer) error {
	network, release, err := o.network(ctx, stderr)
	if err != nil {
		return err
	}
	defer release()
	server := tg.AddrPort()
	if !tg.Addr.IsValid() {
		if _, kernel := network.(stack.Kernel); !kernel {
			return fmt.Errorf("host %q: the device stack has no resolver: give an IP address", tg.Host)
		}
		addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", tg.Host)
		if err != nil || len(addrs) == 0 {
			return fmt.Errorf("resolve %s: %v", tg.Host, err)
		}
		server = netip.AddrPortFrom(addrs[0].Unmap(), tg.Port)
	}
	c, err := client.Dial(ctx, network, server, o.clientOptions(stderr)...)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Login(ctx, tg.User, tg.Pass); err != nil {
		return err
	}
	if err := do(ctx, c, cmd, tg, pos, stdout); err != nil {
		return err
	}
	return c.Quit(ctx)
}

func do(ctx context.Context, c *client.Client, cmd string, tg Target, pos []string, stdout io.Writer) error {
	switch cmd {
	case "mkdir":
		return c.Mkdir(ctx, tg.Path)
	case "rmdir":
		return c.Rmdir(ctx, tg.Path)
	case "rm":
		return c.Delete(ctx, tg.Path)
	case "mv":
		return c.Rename(ctx, tg.Path, pos[1])
	case "ls", "nlst":
		var l *client.Lines
		var err error
		if cmd == "ls" {
			l, err = c.List(ctx, tg.Path)
		} else {
			l, err = c.NameList(ctx, tg.Path)
		}
		if err != nil {
			return err
		}
		for line, err := range l.All() {
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, line)
		}
		return nil
	case "get":
		local := path.Base(tg.Path)
		if len(pos) == 2 {
			local = pos[1]
		}
		if tg.Path == "" || local == "/" || local == "." {
			return errors.New("the URL names no file")
		}
		return get(ctx, c, tg.Path, local, stdout)
	case "put":
		return put(ctx, c, pos[0], tg.Path, stdout)
	}
	return fmt.Errorf("unknown command %q", cmd)
}

// get downloads to a temporary file next to local and renames it only once the server confirmed the
// whole file, so a failed download never leaves a file that looks complete.
func get(ctx context.Context, c *client.Client, remote, local string, stdout io.Writer) error {
	var total int64 = -1
	// The size only feeds the progress bar; the netxduo profile keeps to NetX's own commands.
	if local != "-" && isTerminal(stdout) && c.Profile() != ftp.ProfileNetXDuo {
		if ok, _ := c.HasFeature(ctx, "SIZE", ""); ok {
			if n, err := c.Size(ctx, remote); err == nil {
				total = n
			}
		}
	}
	d, err := c.Retr(ctx, remote)
	if err != nil {
		return err
	}
	defer d.Close()
	if local == "-" {
		_, err := io.Copy(stdout, d)
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(local), "."+filepath.Base(local)+".part-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	var w io.Writer = tmp
	bar := newProgress(stdout, "get "+remote, total)
	if bar != nil {
		w = io.MultiWriter(tmp, bar)
	}
	_, err = io.Copy(w, d)
	bar.done(err)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := d.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), local)
}

func put(ctx context.Context, c *client.Client, local, remote string, stdout io.Writer) error {
	var src io.Reader = os.Stdin
	var total int64 = -1
	if local != "-" {
		f, err := os.Open(local)
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		if fi.IsDir() {
			return fmt.Errorf("%s is a directory", local)
		}
		src, total = f, fi.Size()
	}
	if remote == "" || strings.HasSuffix(remote, "/") {
		if local == "-" {
			return errors.New("put from stdin needs a file name in the URL")
		}
		remote += filepath.Base(local)
	}
	u, err := c.Stor(ctx, remote)
	if err != nil {
		return err
	}
	if total >= 0 {
		// the declared size frames block mode like nx_ftp_client_file_size_set and catches a file
		// that shrinks while it is sent
		if err := u.SetSize(total); err != nil {
			u.Close()
			return err
		}
	}
	bar := newProgress(stdout, "put "+remote, total)
	if bar != nil {
		src = io.TeeReader(src, bar)
	}
	_, err = io.Copy(u, src)
	bar.done(err)
	if cerr := u.Close(); err == nil {
		err = cerr
	}
	return err
}
