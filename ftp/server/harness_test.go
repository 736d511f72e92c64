package server_test

// The test harness: servers on the kernel's loopback or on in-memory device stacks, back ends, and
// a raw control connection with its data-connection helpers.

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netxsim/netxsim"
	"github.com/netxsim/netxsim/fsimage"
	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/ftp/server"
	"github.com/netxsim/netxsim/ftp/server/hostfs"
	"github.com/netxsim/netxsim/internal/kernel"
	"github.com/netxsim/netxsim/netxsimtest"
	"github.com/netxsim/netxsim/stack"
)

// env is a running server and the means for a test client to reach it.
type env struct {
	srv  *server.Server
	ctrl netip.AddrPort // where the control connection goes
	// client side of the network: dial the server, listen for active data connections
	dial   func(ctx context.Context, remote netip.AddrPort) (net.Conn, error)
	listen func(ctx context.Context) (net.Listener, netip.AddrPort, error)
	client netip.Addr  // the client's own address as the server sees it
	dir    string      // the host directory behind hostfs, when that is the back end
	net    ftp.Network // the client side's network, for ftp/client
}

type family string

const (
	v4 family = "v4"
	v6 family = "v6"
)

// newHostFS returns a hostfs over a fresh temporary directory.
func newHostFS(t testing.TB) (*hostfs.FS, string) {
	t.Helper()
	dir := t.TempDir()
	return openHostFS(t, dir), dir
}

// openHostFS returns a hostfs over dir, closed when the test ends.
func openHostFS(t testing.TB, dir string) *hostfs.FS {
	t.Helper()
	fsys, err := hostfs.New(dir)
	must(t, err)
	t.Cleanup(func() { fsys.Close() })
	return fsys
}

// startKernel serves srv on the host kernel's loopback (127.0.0.1 or [::1]).
func startKernel(t testing.TB, srv *server.Server, fam family) *env {
	t.Helper()
	host := "127.0.0.1"
	if fam == v6 {
		host = "::1"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Skipf("no %s loopback: %v", fam, err)
	}
	return serve(t, srv, ln, &env{
		dial: func(ctx context.Context, remote netip.AddrPort) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", remote.String())
		},
		listen: func(ctx context.Context) (net.Listener, netip.AddrPort, error) {
			var lc net.ListenConfig
			l, err := lc.Listen(ctx, "tcp", net.JoinHostPort(host, "0"))
			if err != nil {
				return nil, netip.AddrPort{}, err
			}
			return l, l.Addr().(*net.TCPAddr).AddrPort(), nil
		},
		client: netip.MustParseAddr(host),
		net:    kernel.Kernel{},
	})
}

func serve(t testing.TB, srv *server.Server, ln net.Listener, e *env) *env {
	t.Helper()
	e.srv = srv
	e.ctrl = ln.Addr().(*net.TCPAddr).AddrPort()
	if ap, err := netip.ParseAddrPort(ln.Addr().String()); err == nil {
		e.ctrl = ap
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, server.ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return e
}

// baseServer is a server with one user "u"/"p" (read-write) and "ro"/"ro" read-only, short delays.
// Its ConnState hook tells waitSessions when a session starts or ends.
func baseServer(fsys server.FileSystem, prof ftp.Profile) *server.Server {
	changed := make(chan struct{}, 1)
	srv := &server.Server{
		FS:      fsys,
		Profile: prof,
		Login: func(ctx context.Context, c netip.AddrPort, user, pass string) server.Access {
			switch {
			case user == "u" && pass == "p":
				return server.ReadWrite
			case user == "ro" && pass == "ro":
				return server.ReadOnly
			}
			return server.Deny
		},
		LoginFailDelay: 10 * time.Millisecond,
		DataTimeout:    5 * time.Second,
		ConnState: func(net.Conn, server.ConnState) {
			select {
			case changed <- struct{}{}:
			default: // a change not yet seen is pending already
			}
		},
	}
	stateChanges.Store(srv, changed)
	return srv
}

// stateChanges maps each baseServer to the channel its ConnState hook signals.
var stateChanges sync.Map

// waitSessions waits, on the server's ConnState hook, until it has want sessions.
func waitSessions(t testing.TB, srv *server.Server, want int) {
	t.Helper()
	ch, ok := stateChanges.Load(srv)
	if !ok {
		t.Fatal("waitSessions needs a server from baseServer")
	}
	timeout := time.After(10 * time.Second)
	for srv.Sessions() != want {
		select {
		case <-ch.(chan struct{}):
		case <-timeout:
			t.Fatalf("%d sessions, want %d", srv.Sessions(), want)
		}
	}
}

// ctrl is a raw control connection for conformance tests.
type ctrl struct {
	t  testing.TB
	e  *env
	c  net.Conn
	lr *ftp.LineReader
}

func (e *env) connect(t testing.TB) *ctrl {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := e.dial(ctx, e.ctrl)
	if err != nil {
		t.Fatalf("connect to %v: %v", e.ctrl, err)
	}
	t.Cleanup(func() { c.Close() })
	return &ctrl{t: t, e: e, c: c, lr: ftp.NewLineReader(c, 1<<16)}
}

func (c *ctrl) send(line string) {
	c.t.Helper()
	c.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c.c, line+"\r\n"); err != nil {
		c.t.Fatalf("send %q: %v", line, err)
	}
}

func (c *ctrl) read() (int, string) {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(20 * time.Second))
	code, text, err := c.lr.ReadReply()
	if err != nil {
		c.t.Fatalf("read reply: %v", err)
	}
	return code, text
}

// expect reads one reply and checks its code and exact text.
func (c *ctrl) expect(code int, text string) {
	c.t.Helper()
	gc, gt := c.read()
	if gc != code || gt != text {
		c.t.Fatalf("got %d %q, want %d %q", gc, gt, code, text)
	}
}

// do sends a command and checks the reply.
func (c *ctrl) do(line string, code int, text string) {
	c.t.Helper()
	c.send(line)
	c.expect(code, text)
}

// exchange is one command and the reply (code and exact text) it must get.
type exchange struct {
	cmd  string
	code int
	text string
}

// doAll runs a table of exchanges in order, as do does for one.
func (c *ctrl) doAll(xs []exchange) {
	c.t.Helper()
	for _, x := range xs {
		c.send(x.cmd)
		if code, text := c.read(); code != x.code || text != x.text {
			c.t.Fatalf("%s: got %d %q, want %d %q", x.cmd, code, text, x.code, x.text)
		}
	}
}

func (c *ctrl) login(user, pass string) {
	c.t.Helper()
	c.do("USER "+user, 331, nx(c, "Enter password"))
	c.do("PASS "+pass, 230, nx(c, "Logged in"))
}

// nx adds the space NetX puts before CRLF when the server runs the netxduo profile.
func nx(c *ctrl, text string) string {
	if c.e.srv.Profile == ftp.ProfileExtended {
		return text
	}
	return text + " "
}

// pasvData sends PASV or EPSV (by family) and connects to the announced port.
func (c *ctrl) pasvData() net.Conn {
	c.t.Helper()
	var port uint16
	if c.e.client.Is4() {
		c.send("PASV")
		code, text := c.read()
		ap, err := ftp.Parse227(text)
		if code != 227 || err != nil {
			c.t.Fatalf("PASV: %d %q %v", code, text, err)
		}
		port = ap.Port()
	} else {
		c.send("EPSV")
		code, text := c.read()
		p, err := ftp.Parse229(text)
		if code != 229 || err != nil {
			c.t.Fatalf("EPSV: %d %q %v", code, text, err)
		}
		port = p
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := c.e.dial(ctx, netip.AddrPortFrom(c.e.ctrl.Addr(), port))
	if err != nil {
		c.t.Fatalf("data connect: %v", err)
	}
	return d
}

// activeData announces a listener with PORT (IPv4) or EPRT (IPv6) and returns it.
func (c *ctrl) activeData() net.Listener {
	c.t.Helper()
	ln, ap, err := c.e.listen(context.Background())
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { ln.Close() })
	if c.e.client.Is4() {
		c.do("PORT "+ftp.FormatPORT(ap, true), 200, nx(c, "Port set"))
	} else {
		c.do("EPRT "+ftp.FormatEPRT(ap), 200, nx(c, "EPRT command set"))
	}
	return ln
}

func accept(t testing.TB, ln net.Listener) net.Conn {
	t.Helper()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() { c, err := ln.Accept(); ch <- res{c, err} }()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("accept data connection: %v", r.err)
		}
		return r.c
	case <-time.After(20 * time.Second):
		ln.Close()
		t.Fatal("server never made the active data connection")
	}
	return nil
}

func readAll(t testing.TB, c net.Conn) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read data: %v", err)
	}
	c.Close()
	return b
}

func writeFile(t testing.TB, dir, name string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// dirNames lists a host directory (to see debris).
func dirNames(t testing.TB, dir string) string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n []string
	for _, e := range es {
		n = append(n, e.Name())
	}
	return strings.Join(n, ",")
}

// pasvGet runs the download cmd (RETR, LIST, NLST, MLSD) over a new passive data connection,
// checks the 150 opened and 226 done replies (exact texts) and returns what the connection carried.
func (c *ctrl) pasvGet(cmd, opened, done string) []byte {
	c.t.Helper()
	d := c.pasvData()
	c.send(cmd)
	c.expect(150, opened)
	got := readAll(c.t, d)
	c.expect(226, done)
	return got
}

// pasvPut runs the upload cmd (STOR, APPE) over a new passive data connection, writing chunks one
// Write each, and checks the 150 opened and 226 done replies (exact texts).
func (c *ctrl) pasvPut(cmd, opened, done string, chunks ...string) {
	c.t.Helper()
	d := c.pasvData()
	c.send(cmd)
	c.expect(150, opened)
	for _, ch := range chunks {
		d.Write([]byte(ch))
	}
	d.Close()
	c.expect(226, done)
}

// pasvRead runs the download cmd over a new passive data connection and returns what it carried;
// the two replies are read, not checked.
func (c *ctrl) pasvRead(cmd string) []byte {
	c.t.Helper()
	d := c.pasvData()
	c.send(cmd)
	c.read()
	got := readAll(c.t, d)
	c.read()
	return got
}

// bothProfiles runs f as a subtest for the netxduo and the extended profile, each with a server of
// that profile (baseServer, not started) on a fresh host directory dir.
func bothProfiles(t *testing.T, f func(t *testing.T, srv *server.Server, dir string)) {
	t.Helper()
	for _, prof := range []ftp.Profile{ftp.ProfileNetXDuo, ftp.ProfileExtended} {
		t.Run(string(prof), func(t *testing.T) {
			fsys, dir := newHostFS(t)
			f(t, baseServer(fsys, prof), dir)
		})
	}
}

var (
	devV4, hostV4 = netxsim.DeviceIPv4, netxsim.HostIPv4
	devV6, hostV6 = netxsim.DeviceIPv6, netxsim.HostIPv6
)

// Compile-time proof that both IP flavours satisfy the server's Network.
var (
	_ server.Network = (*stack.IP)(nil)
	_ server.Network = stack.Kernel{}
)

// memPair returns a device and a host IP instance joined by an in-memory Ethernet link, closed at cleanup.
func memPair(t testing.TB) (dev, host *stack.IP) {
	t.Helper()
	env := netxsimtest.New(t, netxsimtest.NoCapture())
	return env.Device.IP(), env.Host.IP()
}

// startMem serves srv on a device IP instance; the test client is a second instance on the same link.
func startMem(t testing.TB, srv *server.Server, fam family) *env {
	t.Helper()
	dev, host := memPair(t)
	devAddr, hostAddr := devV4.Addr(), hostV4.Addr()
	if fam == v6 {
		devAddr, hostAddr = devV6.Addr(), hostV6.Addr()
	}
	srv.Network = dev
	ln, err := dev.Listen(context.Background(), netip.AddrPortFrom(devAddr, 21))
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, srv, ln, &env{
		dial: func(ctx context.Context, remote netip.AddrPort) (net.Conn, error) {
			return host.Dial(ctx, netip.AddrPort{}, remote)
		},
		listen: func(ctx context.Context) (net.Listener, netip.AddrPort, error) {
			l, err := host.Listen(ctx, netip.AddrPortFrom(hostAddr, 0))
			if err != nil {
				return nil, netip.AddrPort{}, err
			}
			ap, err := netip.ParseAddrPort(l.Addr().String())
			return l, ap, err
		},
		client: hostAddr,
		net:    host,
	})
}

// startNet serves srv on the network most tests use: in-memory IP instances.
func startNet(t testing.TB, srv *server.Server, fam family) *env {
	return startMem(t, srv, fam)
}

// networks are both ways to run a server in tests.
var networks = []struct {
	name  string
	start func(testing.TB, *server.Server, family) *env
}{{"mem", startMem}, {"kernel", startKernel}}

var _ server.FileSystem = (*fsimage.FS)(nil)

// backend makes a fresh empty file system for a test.
type backend struct {
	name string
	make func(t testing.TB) server.FileSystem
}

// hostBackend is a fresh host directory behind hostfs.
func hostBackend() backend {
	return backend{"hostfs", func(t testing.TB) server.FileSystem { f, _ := newHostFS(t); return f }}
}

// backends is a host directory and a FAT image (type by size).
func backends() []backend {
	return []backend{hostBackend(), {"fsimage", func(t testing.TB) server.FileSystem { return newImageType(t, 64<<20, 0) }}}
}

// newImageType formats a RAM image of the given FAT type, checked when the test ends.
func newImageType(t testing.TB, size int64, typ fsimage.FATType) *fsimage.FS {
	t.Helper()
	dev := fsimage.NewRAM(size)
	if err := fsimage.Format(dev, size, fsimage.FormatOptions{Type: typ}); err != nil {
		t.Fatal(err)
	}
	v, err := fsimage.Open(dev, fsimage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := v.Close(); err != nil {
			t.Errorf("closing the image: %v", err)
		}
		rep, err := fsimage.CheckDevice(dev)
		if err != nil {
			t.Errorf("checking the image: %v", err)
		} else if !rep.OK() {
			t.Errorf("image inconsistent after the test: %q", rep.Problems)
		}
	})
	return v
}

// allBackends is a host directory and a FAT image of each type.
func allBackends() []backend {
	return []backend{
		hostBackend(),
		{"fat12", func(t testing.TB) server.FileSystem { return newImageType(t, 8<<20, fsimage.FAT12) }},
		{"fat16", func(t testing.TB) server.FileSystem { return newImageType(t, 32<<20, fsimage.FAT16) }},
		{"fat32", func(t testing.TB) server.FileSystem { return newImageType(t, 64<<20, fsimage.FAT32) }},
	}
}

// getFile reads name from fsys (a server.FileSystem is an fs.FS).
func getFile(t testing.TB, fsys server.FileSystem, name string) []byte {
	t.Helper()
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// must fails the test at once on err.
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// expectClosed wants the server to close the control connection with nothing more said.
func expectClosed(t testing.TB, c *ctrl) {
	t.Helper()
	c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c.c)
	if err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("connection not closed: %v", err)
	}
	if len(b) != 0 {
		t.Fatalf("unexpected data before close: %q", b)
	}
}
