// Package ftpcmd is `netxsim ftp`: the simulated device's FTP client (ftp/client) from the command line,
// on the device's own IP stack on a TAP, or on the host kernel to talk to a local `netxsim serve`.
package ftpcmd

import (
	"context"
	"errors"
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

	"github.com/netxsim/netxsim"
	"github.com/netxsim/netxsim/cmd/netxsim/internal/cli"
	"github.com/netxsim/netxsim/cmd/netxsim/internal/devflags"
	"github.com/netxsim/netxsim/fsimage"
	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/ftp/client"
	"github.com/netxsim/netxsim/internal/termtext"
	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/tapdev"
)

// usage follows the usage line, which cli.UsageLine makes from the flags.
const usage = `
commands:
  get   URL [LOCAL]   download (LOCAL: default the file's name; "-" for stdout; with --image a path in the image)
  put   LOCAL URL     upload ("-" reads stdin; with --image LOCAL is a path in the image)
  ls    URL           LIST of a directory
  nlst  URL           NLST of a directory (names only)
  mkdir URL           make a directory
  rmdir URL           remove an empty directory
  rm    URL           delete a file
  mv    URL NEWPATH   rename (NEWPATH is a path on the same server)

URL: ftp://[user[:password]@]host[:port]/path  (anonymous without a user; IPv6 in brackets, with a
zone as [fe80::1%tap0]; the path is relative to the login directory, "//abs" or "/%2Fabs" is absolute)

The client runs on the device's stack on a TAP (--tap, optionally inside --netns), on a VXLAN segment
(--vxlan local=IP:PORT,remote=IP:PORT,vni=N: UDP only, no root) or, without them,
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
	fs := cli.NewCommandFlagSet("ftp", "<command>", "<args>", usage, stderr)
	var o options
	fs.BoolVar(&o.passive, "passive", false, "passive data connections (PASV/EPSV); default active (PORT/EPRT) as NetX")
	fs.StringVar(&o.profile, "profile", string(ftp.ProfileExtended), "wire `profile`: netxduo or netxduo-6.4 (byte for byte the real NetX Duo client; the device then looks like NetX on the wire too) or extended")
	fs.StringVar(&o.mode, "mode", "stream", "transfer `mode`: stream or block (MODE B)")
	fs.BoolVar(&o.trustPASV, "trust-pasv-ip", false, "connect to the address a 227 reply names; default: the control connection's server address with the 227 port (a hostile server cannot send the client to a third host)")
	var skip bool // the default since the 227 address is no longer trusted; kept so scripts still run
	fs.BoolVar(&skip, "skip-pasv-ip", false, "ignore the address in 227 replies (the default; kept for compatibility)")
	fs.BoolVar(&o.verbose, "v", false, "print the control dialogue on stderr")
	fs.DurationVar(&o.timeout, "timeout", 0, "limit for the whole command (0: none; silent servers still time out after 2m)")
	fs.StringVar(&o.image, "image", "", "the device's own FAT image `file`: get stores into it, put reads from it (LOCAL is a path in the image)")
	o.Register(fs, devflags.OpenOrCreateNetNS)
	// flags may come anywhere: before or after the command word and between the arguments
	pos, exit := cli.ParseInterspersed(fs, args, stdout, stderr)
	if exit != nil {
		return *exit
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
		// the error may quote a server's reply: never let it drive the terminal
		fmt.Fprintf(stderr, "netxsim ftp %s: %s\n", cmd, termtext.Escape(err.Error()))
		if devflags.IsUsage(err) {
			return 2
		}
		return 1
	}
	return 0
}

type options struct {
	devflags.Device
	passive, trustPASV, verbose bool
	profile, mode, image        string
	timeout                     time.Duration
}

func (o *options) check() error {
	p, err := ftp.ParseProfile(o.profile)
	if err != nil {
		return err
	}
	if f := o.StackFlags(); f != "" && o.TAP == "" && o.NetNS == "" && o.VXLAN == nil {
		return fmt.Errorf("%s --tap, --netns or --vxlan: on the host kernel the TCP/IP is the kernel's", f)
	}
	// The client's device stands for a NetX Duo device with this profile (NetX's look for netxduo),
	// whose client advertises one window on every connection, 2,000 bytes as in NetX's own demos.
	o.Profile = p
	if p.NetXLike() && !o.Set("windows") && (o.Signature == nil || *o.Signature == stack.SignatureNetX) {
		o.Windows = stack.Windows{Data: stack.NetXClientWindow}
	}
	if o.mode != "stream" && o.mode != "block" {
		return fmt.Errorf("--mode %q: use stream or block", o.mode)
	}
	return o.Check(false)
}

func (o *options) clientOptions(stderr io.Writer) []client.Option {
	p, _ := ftp.ParseProfile(o.profile)
	m := client.ModeStream
	if o.mode == "block" {
		m = client.ModeBlock
	}
	opts := []client.Option{client.WithProfile(p), client.WithPassive(o.passive), client.WithMode(m),
		client.WithTrustPASVAddress(o.trustPASV)}
	if o.verbose {
		opts = append(opts, client.WithTrace(&termtext.Writer{W: stderr}))
	}
	return opts
}

// device builds the client's device through the library: the device's stack on a TAP (--tap,
// --netns), or the host kernel; with --image its own FAT image.
func (o *options) device(ctx context.Context, n *netxsim.Network, stderr io.Writer) (*netxsim.Device, error) {
	log := slog.New(slog.DiscardHandler)
	if o.verbose {
		log = slog.New(slog.NewTextHandler(stderr, nil))
	}
	var dev *netxsim.Device
	var err error
	switch {
	case o.VXLAN != nil:
		dev, _, err = o.Up(ctx, n, log)
	case o.TAP == "" && o.NetNS == "":
		dev, err = n.Host("host")
	default:
		if dev, _, err = o.Up(ctx, n, log); err != nil {
			err = fmt.Errorf("%w (%s)", err, tapdev.SetupHint)
		}
	}
	if err != nil || o.image == "" {
		return dev, err
	}
	// OpenFile locks the image: a serve or `netxsim image` on it at the same time gets an error.
	v, err := fsimage.OpenFile(o.image, fsimage.Options{})
	if err != nil {
		return nil, fmt.Errorf("--image %s: %w", o.image, err)
	}
	if err := dev.UseImage(v, v.Close); err != nil {
		v.Close()
		return nil, err
	}
	return dev, nil
}

func run(ctx context.Context, o *options, cmd string, tg Target, pos []string, stdout, stderr io.Writer) (err error) {
	n := &netxsim.Network{Capture: o.Pcap}
	defer func() { err = errors.Join(err, n.Close()) }()
	dev, err := o.device(ctx, n, stderr)
	if err != nil {
		return err
	}
	server := tg.AddrPort()
	if !tg.Addr.IsValid() {
		if dev.IP() != nil {
			return fmt.Errorf("host %q: the device stack has no resolver: give an IP address", tg.Host)
		}
		addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", tg.Host)
		if err != nil || len(addrs) == 0 {
			return fmt.Errorf("resolve %s: %v", tg.Host, err)
		}
		server = netip.AddrPortFrom(addrs[0].Unmap(), tg.Port)
	}
	c, err := dev.DialFTP(ctx, server, o.clientOptions(stderr)...)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Login(ctx, tg.User, tg.Pass); err != nil {
		return err
	}
	if o.image != "" && (cmd == "get" || cmd == "put") {
		err = onImage(ctx, dev, c, cmd, tg, pos, stdout)
	} else {
		err = do(ctx, c, cmd, tg, pos, stdout)
	}
	// The session ends with QUIT even after a refused command (550), as a NetX application ends it
	// with nx_ftp_client_disconnect; on a broken connection Quit fails at once and err says why.
	if qerr := c.Quit(ctx); err == nil {
		err = qerr
	}
	return err
}

// onImage is get and put on the device's own image (NetX's client on FileX): get stores the file
// into the image, put reads it from there.
func onImage(ctx context.Context, dev *netxsim.Device, c *client.Client, cmd string, tg Target, pos []string, stdout io.Writer) error {
	if cmd == "get" {
		local := path.Base(tg.Path)
		if len(pos) == 2 {
			local = pos[1]
		}
		if tg.Path == "" || local == "/" || local == "." || local == "-" {
			return errors.New("get --image needs a file name in the URL and an image path to store it as")
		}
		k, err := dev.Fetch(ctx, c, tg.Path, local)
		if err == nil {
			fmt.Fprintf(stdout, "stored %s into the image as %s (%d bytes)\n", tg.Path, local, k)
		}
		return err
	}
	local, remote := pos[0], tg.Path
	if local == "-" {
		return errors.New("put --image reads a file of the image: give its path, not -")
	}
	if remote == "" || strings.HasSuffix(remote, "/") {
		remote += path.Base(local)
	}
	k, err := dev.Send(ctx, c, local, remote)
	if err == nil {
		fmt.Fprintf(stdout, "sent %s from the image as %s (%d bytes)\n", local, remote, k)
	}
	return err
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
		// names are the server's bytes: a terminal gets them escaped, a pipe or file as they are
		out := termtext.ForTerminal(stdout)
		for line, err := range l.All() {
			if err != nil {
				return err
			}
			fmt.Fprintln(out, line)
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
	if local != "-" && isTerminal(stdout) && !c.Profile().NetXLike() {
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
	if err := copyShown(stdout, "get "+remote, total, tmp, d); err != nil {
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
	return copyShown(stdout, "put "+remote, total, u, src)
}

// copyShown copies src to dst, with a progress bar of total bytes on stdout if it is a terminal,
// and closes dst; the copy's error comes first.
func copyShown(stdout io.Writer, label string, total int64, dst io.WriteCloser, src io.Reader) error {
	bar := newProgress(stdout, label, total)
	if bar != nil {
		src = io.TeeReader(src, bar)
	}
	_, err := io.Copy(dst, src)
	bar.done(err)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	return err
}
