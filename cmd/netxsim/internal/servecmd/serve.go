// Package servecmd is `netxsim serve`: the simulated device's FTP server on a TAP (with a user-space
// IP instance) or on the host kernel, over a FAT image or a host directory.
package servecmd

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
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/netxsim/netxsim"
	"github.com/netxsim/netxsim/cmd/netxsim/internal/cli"
	"github.com/netxsim/netxsim/cmd/netxsim/internal/devflags"
	"github.com/netxsim/netxsim/fsimage"
	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/ftp/server"
	"github.com/netxsim/netxsim/ftp/server/hostfs"
	"github.com/netxsim/netxsim/internal/size"
)

type options struct {
	devflags.Device
	devflags.Until
	listen           string
	port             uint
	image            string
	imageSize        string
	ram              string
	root             string
	users            userList
	anonymous        bool
	anonymousWrite   bool
	profile          string
	maxSessions      int
	maxPerAddr       int
	idle             time.Duration
	dataTimeout      time.Duration
	pasvPorts        string
	activePort       uint
	loginDelay       time.Duration
	maxLoginFailures int
	loginTimeout     time.Duration
	addrFailures     int
	allowPrivPorts   bool
	netxCrash        bool
	verbose          bool
}

// userList is the repeatable --user NAME:PASSWORD.
type userList map[string]string

func (u userList) String() string { return "" }
func (u userList) Set(s string) error {
	name, pass, ok := strings.Cut(s, ":")
	if !ok || name == "" {
		return fmt.Errorf("want NAME:PASSWORD, got %q", s)
	}
	u[name] = pass
	return nil
}

func flagSet(o *options) *flag.FlagSet {
	fs := flag.NewFlagSet("netxsim serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.listen, "listen", "", "serve on the host kernel at `host:port` (default 127.0.0.1:2121 when no --tap)")
	o.Register(fs, devflags.CreateNetNS)
	fs.UintVar(&o.port, "port", 21, "with --tap: control `port`")
	fs.StringVar(&o.image, "image", "", "serve this FAT image `file` (made with `netxsim image`, mkfs.fat or mtools)")
	fs.StringVar(&o.imageSize, "image-size", "", "with --image: create and format the image with this `size` (e.g. 64M) if it does not exist")
	fs.StringVar(&o.ram, "ram", "", "serve a fresh FAT RAM disk of this `size` (e.g. 16M), lost on exit")
	fs.StringVar(&o.root, "root", "", "serve this host `directory` (confined: no way out by .. or symbolic links)")
	o.users = userList{}
	fs.Var(o.users, "user", "allow `NAME:PASSWORD` read-write (repeatable)")
	fs.BoolVar(&o.anonymous, "anonymous", false, "allow user anonymous (or ftp) with any password, read-only")
	fs.BoolVar(&o.anonymousWrite, "anonymous-write", false, "with --anonymous: let anonymous write too")
	fs.StringVar(&o.profile, "profile", "netxduo", "wire `profile`: netxduo (NetX Duo's commands and replies as documented), netxduo-6.4 (the shipped NetX Duo 6.4.2 code byte for byte) or extended (a modern RFC server)")
	fs.IntVar(&o.maxSessions, "max-sessions", 0, "concurrent sessions (`n`); 0: 4 in netxduo (NetX), 64 in extended; -1: unlimited")
	fs.IntVar(&o.maxPerAddr, "max-per-addr", 0, "concurrent sessions per client address (`n`); 0: unlimited")
	fs.DurationVar(&o.idle, "idle-timeout", 0, "close idle sessions after this `duration`; 0: 240s (NetX)")
	fs.DurationVar(&o.dataTimeout, "data-timeout", 0, "data connection set-up and stall limit (`duration`); 0: 10s")
	fs.StringVar(&o.pasvPorts, "pasv-ports", "", "passive port `range` LO-HI; default 49152-65535")
	fs.UintVar(&o.activePort, "active-port", 0, "source `port` of active data connections; 0: 20 (any port if busy)")
	fs.DurationVar(&o.loginDelay, "login-delay", 0, "pause before answering a failed login (`duration`); 0: 1s")
	fs.IntVar(&o.maxLoginFailures, "max-login-failures", 0, "failed logins before disconnecting (`n`); 0: 3")
	fs.DurationVar(&o.loginTimeout, "login-timeout", 0, "close a connection not logged in after this `duration`; 0: 30s; -1s: never")
	fs.IntVar(&o.addrFailures, "addr-failures", 0, "failed logins per client address before it is locked out, 5s doubling to 15m (`n`); 0: 10 (off in netxduo-6.4); -1: off")
	fs.BoolVar(&o.allowPrivPorts, "allow-privileged-ports", false, "let PORT/EPRT name a client port below 1024 (refused by default: a bounce to a service)")
	fs.BoolVar(&o.netxCrash, "netx-crash", false, "netxduo-6.4: stop the FTP server (and exit 1) where the real NetX Duo 6.4.2 crashes (RNTO without RNFR); off: only that session is closed")
	fs.BoolVar(&o.verbose, "v", false, "log sessions and commands to stderr")
	return fs
}

func printUsage(w io.Writer) {
	fs := flagSet(&options{})
	fmt.Fprint(w, cli.UsageLine("serve", "[--listen HOST:PORT | --tap NAME [--netns NS]] (--image FILE | --ram SIZE | --root DIR) [--user NAME:PASS]...", fs, ""))
	fmt.Fprintln(w, "\nRuns the simulated device's FTP server (NetX Duo's nx_ftp_server) until interrupted.\n\nflags:")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprintln(w, "\nexamples:\n  netxsim serve --root ./pub --user demo:demo\n  netxsim serve --tap ftp0 --netns ftp --ram 32M --user demo:demo --profile extended --pcap ftp.pcapng")
}

// usageError is a bad command line: exit code 2.
type usageError = devflags.UsageError

// Run is the entry point of `netxsim serve`.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return RunWith(ctx, args, stdout, stderr, nil)
}

// RunWith is `netxsim serve`, but once the server is listening it runs until (in place of waiting for
// ctx), then shuts the server down and exits with until's status: `netxsim shell` runs its command
// there.
func RunWith(ctx context.Context, args []string, stdout, stderr io.Writer, until func(context.Context) int) int {
	o := options{Until: devflags.Until{Fn: until}}
	fs := flagSet(&o)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout)
			return 0
		}
		fmt.Fprintf(stderr, "netxsim serve: %v\n\n", err)
		printUsage(stderr)
		return 2
	}
	if err := validate(&o, fs); err != nil {
		return devflags.Exit(stderr, "serve", err)
	}
	if code, ok := o.Reexec(ctx, "serve", args, stdout, stderr); ok {
		return code
	}
	if err := serve(ctx, &o, stdout, stderr); err != nil {
		return devflags.Exit(stderr, "serve", err)
	}
	return o.Until.Code
}

func validate(o *options, fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return usageError{Msg: fmt.Sprintf("unexpected argument %q (all settings are flags)", fs.Arg(0))}
	}
	n := 0
	for _, s := range []string{o.image, o.ram, o.root} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return usageError{Msg: "give exactly one of --image FILE, --ram SIZE or --root DIR"}
	}
	if err := o.Check(false); err != nil {
		return err
	}
	if (o.TAP != "" || o.VXLAN != nil) && o.listen != "" {
		return usageError{Msg: "--tap/--vxlan and --listen exclude each other: --tap and --vxlan serve on a user-space device, --listen on the host kernel"}
	}
	if o.TAP == "" && o.VXLAN == nil && (o.NetNS != "" || o.Pcap != "") {
		return usageError{Msg: "--netns and --pcap need --tap (or --pcap with --vxlan)"}
	}
	prof, err := ftp.ParseProfile(o.profile)
	if err != nil {
		return usageError{Msg: err.Error()}
	}
	if f := o.StackFlags(); f != "" && o.TAP == "" && o.VXLAN == nil {
		return usageError{Msg: f + " --tap or --vxlan: on the host kernel (--listen) the TCP/IP is the kernel's"}
	}
	// The device stands for a NetX Duo device running this profile: NetX-like ones look like NetX on
	// the wire (the library's default; --stack-signature overrides it), windows on the control port.
	o.Profile, o.ControlPort = prof, uint16(o.port)
	if o.netxCrash && o.profile != string(ftp.ProfileNetXDuo64) {
		return usageError{Msg: "--netx-crash needs --profile netxduo-6.4: only the shipped NetX Duo 6.4.2 code crashes on RNTO without RNFR"}
	}
	if len(o.users) == 0 && !o.anonymous {
		return usageError{Msg: "nobody could log in: give --user NAME:PASSWORD and/or --anonymous"}
	}
	if o.anonymousWrite && !o.anonymous {
		return usageError{Msg: "--anonymous-write needs --anonymous"}
	}
	if o.port == 0 || o.port > 65535 || o.activePort > 65535 {
		return usageError{Msg: "--port and --active-port must be 1..65535"}
	}
	if _, _, err := parseRange(o.pasvPorts); err != nil {
		return usageError{Msg: err.Error()}
	}
	if _, _, err := parseSizes(o); err != nil {
		return err
	}
	if o.image != "" {
		if fi, err := os.Stat(o.image); err == nil && !fi.Mode().IsRegular() {
			return usageError{Msg: fmt.Sprintf("--image %s is %s, not a regular file: give a FAT image file", o.image, fsimage.FileKind(fi.Mode()))}
		}
	}
	return nil
}

func parseRange(s string) (lo, hi uint16, err error) {
	if s == "" {
		return 0, 0, nil
	}
	a, b, ok := strings.Cut(s, "-")
	x, err1 := strconv.ParseUint(a, 10, 16)
	y, err2 := strconv.ParseUint(b, 10, 16)
	if !ok || err1 != nil || err2 != nil || x == 0 || y < x {
		return 0, 0, fmt.Errorf("--pasv-ports %q: want LO-HI with 1 <= LO <= HI <= 65535, e.g. 50000-50100", s)
	}
	return uint16(x), uint16(y), nil
}

// maxImageSize is FAT's largest volume: 2^32 sectors of 4096 bytes (image files are sparse).
const maxImageSize = 1 << 44

// minVolume is the smallest size worth formatting (Format refuses less room for data anyway).
const minVolume = 64 << 10

// parseSizes checks --ram and --image-size before anything is opened: a size that cannot be held
// is a usage error (exit 2) naming the flag, never a makeslice panic or an out-of-memory kill.
func parseSizes(o *options) (ram, image int64, err error) {
	if o.ram != "" {
		if ram, err = size.ParseMemory(o.ram, minVolume); err != nil {
			return 0, 0, usageError{Msg: "--ram: " + err.Error()}
		}
	}
	if o.imageSize != "" {
		if image, err = size.Parse(o.imageSize, minVolume, maxImageSize); err != nil {
			return 0, 0, usageError{Msg: "--image-size: " + err.Error()}
		}
	}
	return ram, image, nil
}

func serve(ctx context.Context, o *options, stdout, stderr io.Writer) (err error) {
	// errors (a NetX defect hit, a session's failure) are always told; the rest with -v
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	if o.verbose {
		log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	// The library stops in the one right order: the server (sessions end), the capture once the link
	// is quiet (before the stack, whose teardown would reset connections in TIME_WAIT), the stack, the
	// file system, the TAP and namespace.
	n := &netxsim.Network{Capture: o.Pcap, Logger: log, ShutdownTimeout: 5 * time.Second}
	defer func() { err = errors.Join(err, n.Close()) }()

	var listenAP netip.AddrPort
	if o.TAP == "" && o.VXLAN == nil {
		addr := o.listen
		if addr == "" {
			addr = "127.0.0.1:2121"
		}
		if listenAP, err = netip.ParseAddrPort(addr); err != nil {
			return usageError{Msg: fmt.Sprintf("--listen %q: want HOST:PORT such as 127.0.0.1:2121 or [::1]:2121", addr)}
		}
	}
	fsys, what, closeFS, err := openFS(o)
	if err != nil {
		return err
	}
	// A volume not closed cleanly (killed mid-flush) was repaired by fsimage.OpenFile: say how.
	if v, ok := fsys.(*fsimage.FS); ok {
		if rec := v.Recovery(); rec.Dirty {
			fmt.Fprintf(stderr, "netxsim serve: image %s was %s\n", o.image, rec)
		}
	}
	// Uploads interrupted by a crash or kill leave temporary files; they were never acknowledged.
	if k, rerr := server.ReclaimTempFiles(fsys, log); k > 0 || rerr != nil {
		fmt.Fprintf(stderr, "netxsim serve: removed %d stale upload temporary files left by interrupted uploads\n", k)
		if rerr != nil {
			fmt.Fprintf(stderr, "netxsim serve: %v\n", rerr)
		}
	}

	var dev *netxsim.Device
	var where, zoneNote string
	if o.TAP == "" && o.VXLAN == nil {
		dev, err = n.Host("host")
		where = "the host kernel"
	} else {
		var seg *netxsim.Segment
		dev, seg, err = o.Up(ctx, n, log)
		switch {
		case err != nil:
		case seg.VXLAN() != nil:
			where = "a VXLAN segment (" + seg.VXLAN().Config().String() + ")"
		default:
			where = "TAP " + seg.TAPName()
			if ns := seg.NetNS(); ns != nil && ns.Name != "" {
				where += " (kernel side in namespace " + ns.Name + ")"
			} else if ns != nil {
				where += " (kernel side in a user and network namespace of its own)"
			}
		}
	}
	if err != nil {
		closeFS()
		return err
	}
	if err := dev.UseFS(fsys, closeFS); err != nil {
		closeFS()
		return err
	}

	var listeners []net.Listener
	var addrs []netip.AddrPort // what clients dial, link-local ones with their zone
	if ip := dev.IP(); ip == nil {
		ln, err := dev.Listen(ctx, listenAP)
		if err != nil {
			return fmt.Errorf("listen on %s: %w (ports below 1024 need root)", listenAP, err)
		}
		listeners = append(listeners, ln)
		la := addrPortOf(ln.Addr())
		if listenAP.Addr().Zone() != "" {
			la = netip.AddrPortFrom(la.Addr().WithZone(listenAP.Addr().Zone()), la.Port())
		}
		addrs = append(addrs, la)
	} else {
		// A NetX device serves on every address it has, the link-local one included.
		for _, p := range ip.Addrs() {
			ln, err := dev.Listen(ctx, netip.AddrPortFrom(p.Addr(), uint16(o.port)))
			if err != nil {
				for _, l := range listeners {
					l.Close()
				}
				return fmt.Errorf("listen on %s port %d: %w", p.Addr(), o.port, err)
			}
			listeners = append(listeners, ln)
			a := p.Addr()
			if a.IsLinkLocalUnicast() && o.VXLAN == nil {
				// The kernel side's interface is the TAP, of the same name: that is the zone clients use.
				a = a.WithZone(ip.Name())
				zoneNote = fmt.Sprintf("  (link-local: the zone %%%s is the TAP's name on the kernel side)", ip.Name())
			}
			addrs = append(addrs, netip.AddrPortFrom(a, uint16(o.port)))
		}
		if len(listeners) == 0 {
			return errors.New("the device has no address to serve on: give --ipv4 or --ipv6")
		}
	}

	srv := newServer(o, fsys, dev, log)
	for _, ln := range listeners {
		if err := dev.ServeListener(srv, ln); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "netxsim FTP server (profile %s) serving %s on %s\n", srv.Profile, what, where)
	for _, a := range addrs {
		note := ""
		if a.Addr().IsLinkLocalUnicast() {
			note = zoneNote
		}
		fmt.Fprintf(stdout, "  listening on %s%s\n", a, note)
	}
	fmt.Fprintln(stdout, "connect with:")
	for _, h := range hints(o, addrs) {
		fmt.Fprintf(stdout, "  %s\n", h)
	}
	if o.Until.Ran(ctx, stdout) {
		return nil
	}
	defer fmt.Fprintln(stdout, "stopped")
	select {
	case <-ctx.Done():
	case <-srv.Done(): // only NetXCrash stops the server from inside
		if err := srv.Err(); err != nil {
			return err
		}
	}
	return nil
}

// newServer is the FTP server the flags describe.
func newServer(o *options, fsys server.FileSystem, nw server.Network, log *slog.Logger) *server.Server {
	prof, _ := ftp.ParseProfile(o.profile)
	lo, hi, _ := parseRange(o.pasvPorts)
	anon := server.Deny
	if o.anonymous {
		anon = server.ReadOnly
		if o.anonymousWrite {
			anon = server.ReadWrite
		}
	}
	return &server.Server{
		FS:                   fsys,
		Profile:              prof,
		Network:              nw,
		Login:                server.Users(o.users, anon),
		MaxSessions:          o.maxSessions,
		MaxSessionsPerAddr:   o.maxPerAddr,
		IdleTimeout:          o.idle,
		DataTimeout:          o.dataTimeout,
		PassivePortMin:       lo,
		PassivePortMax:       hi,
		ActivePort:           uint16(o.activePort),
		LoginFailDelay:       o.loginDelay,
		MaxLoginFailures:     o.maxLoginFailures,
		LoginTimeout:         o.loginTimeout,
		AddrFailureBudget:    o.addrFailures,
		AllowPrivilegedPorts: o.allowPrivPorts,
		NetXCrash:            o.netxCrash,
		Logger:               log,
	}
}

// hints are shell commands that reach the server: curl and lftp on its first address, and curl on its
// link-local address (the zone written %25 in a URL, RFC 6874). Each line must work as printed: a test
// runs them all.
func hints(o *options, addrs []netip.AddrPort) []string {
	user, pass := "anonymous", "guest@example.com"
	if len(o.users) > 0 {
		names := make([]string, 0, len(o.users))
		for u := range o.users {
			names = append(names, u)
		}
		slices.Sort(names)
		user, pass = names[0], o.users[names[0]]
	}
	prefix := o.EnterPrefix()
	url := func(a netip.AddrPort) string {
		host := a.Addr().String()
		if a.Addr().Is6() {
			host = "[" + strings.Replace(host, "%", "%25", 1) + "]"
		}
		return fmt.Sprintf("ftp://%s:%d/", host, a.Port())
	}
	first := addrs[0]
	if v := o.VXLAN; v != nil {
		// The host kernel is not on the segment: the far end is another VTEP. This one is a netxsim
		// client device at the mirrored tunnel ends (usable when the local address is not a wildcard).
		if v.Local.Addr().IsUnspecified() || !first.Addr().Is4() {
			return []string{"a VTEP at " + v.Remote.String() + " with VNI " + fmt.Sprint(v.VNI) + " (docs/vxlan.md)"}
		}
		return []string{fmt.Sprintf("netxsim ftp --vxlan local=%s,remote=%s,vni=%d --ipv4 198.51.100.1/24 --ipv6 2001:db8::1/64 --mac 02:4e:58:00:00:01 ls %s",
			v.Remote, v.Local, v.VNI, shellQuote(fmt.Sprintf("ftp://%s:%s@%s/", user, pass, first)))}
	}
	out := []string{
		// -u keeps the password out of the URL, where an @ (as in guest@example.com) would end the user part
		fmt.Sprintf("%scurl -sS -u %s %s", prefix, shellQuote(user+":"+pass), shellQuote(url(first))),
		fmt.Sprintf("%slftp -u %s -e %s %s", prefix, shellQuote(user+","+pass), shellQuote("ls; bye"), shellQuote(url(first))),
	}
	for _, a := range addrs {
		if a.Addr().IsLinkLocalUnicast() {
			out = append(out, fmt.Sprintf("%scurl -sS -g -u %s %s", prefix, shellQuote(user+":"+pass), shellQuote(url(a))))
			break
		}
	}
	return out
}

// shellQuote quotes s for a POSIX shell when it holds anything but safe characters.
func shellQuote(s string) string {
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./_-", r)) {
			safe = false
			break
		}
	}
	if safe && s != "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func addrPortOf(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.AddrPort()
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// openFS opens the back end chosen on the command line.
func openFS(o *options) (server.FileSystem, string, func() error, error) {
	switch {
	case o.root != "":
		h, err := hostfs.New(o.root)
		if err != nil {
			return nil, "", nil, err
		}
		return h, "directory " + o.root, h.Close, nil
	case o.ram != "":
		ram, _, err := parseSizes(o)
		if err != nil {
			return nil, "", nil, err
		}
		dev := fsimage.NewRAM(ram)
		if err := fsimage.Format(dev, ram, fsimage.FormatOptions{Label: "NETXSIM"}); err != nil {
			return nil, "", nil, err
		}
		v, err := fsimage.Open(dev, fsimage.Options{})
		if err != nil {
			return nil, "", nil, err
		}
		return v, fmt.Sprintf("a %s FAT RAM disk", o.ram), v.Close, nil
	}
	if _, err := os.Lstat(o.image); errors.Is(err, fs.ErrNotExist) && o.imageSize != "" {
		if err := createImage(o); err != nil {
			return nil, "", nil, err
		}
	}
	// OpenFile refuses a FIFO or device and locks the image: a second writer (serve or
	// `netxsim image`) gets an error naming this process instead of silently losing files.
	v, err := fsimage.OpenFile(o.image, fsimage.Options{})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", nil, fmt.Errorf("open image %s: %w (create one with --image-size or `netxsim image mkfs`)", o.image, err)
	}
	if err != nil {
		return nil, "", nil, fmt.Errorf("image %s: %w", o.image, err)
	}
	return v, "image " + o.image, v.Close, nil
}

// createImage makes and formats the --image file of --image-size; a failure leaves no file.
func createImage(o *options) error {
	_, n, err := parseSizes(o)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(o.image, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("create image %s: %w", o.image, err)
	}
	if err = f.Truncate(n); err == nil {
		err = fsimage.Format(f, n, fsimage.FormatOptions{Label: "NETXSIM"})
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(o.image)
		return fmt.Errorf("create image %s: %w", o.image, err)
	}
	return nil
}

// Validate checks a serve command line without running anything (netxsim shell checks before it
// makes its namespace). A usage problem is a devflags.UsageError.
func Validate(args []string) error {
	var o options
	fs := flagSet(&o)
	if err := fs.Parse(args); err != nil {
		return usageError{Msg: err.Error()}
	}
	return validate(&o, fs)
}
