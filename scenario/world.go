package scenario

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
	"strings"
	"sync"
	"time"

	"github.com/netxsim/netxsim/fsimage"
	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/ftp/server"
	isize "github.com/netxsim/netxsim/internal/size"
	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/stack/capture"
	"github.com/netxsim/netxsim/stack/link"
)

// Network is the Listen/Dial pair the FTP server and client need: *stack.IP, or the Linux kernel
// inside a namespace (TAP links).
type Network interface {
	Listen(ctx context.Context, addr netip.AddrPort) (net.Listener, error)
	Dial(ctx context.Context, local, remote netip.AddrPort) (net.Conn, error)
}

// node is a running device.
type node struct {
	dev    *Device
	net    Network
	ip     *stack.IP // nil for the kernel side of a TAP link
	kernel bool

	ram   *fsimage.RAM
	fs    *fsimage.FS
	srv   *server.Server
	serve chan error
	model *model
}

// world is the running network: nodes, links, the capture and what to close, in order.
type world struct {
	nodes   map[string]*node
	capture *capture.Writer
	pairs   map[int]*link.Pair // memory links by index
	closers []func() error
	settle  time.Duration // how long frames may still be in flight on the slowest link
	log     *slog.Logger
}

// ErrNeedsRoot marks a scenario this process cannot run (a TAP link without root).
var ErrNeedsRoot = errors.New("needs root")

func (w *world) close() error {
	var errs []error
	for i := len(w.closers) - 1; i >= 0; i-- {
		if err := w.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	w.closers = nil
	return errors.Join(errs...)
}

func stackConfig(d *Device, mtu uint32, log *slog.Logger) stack.Config {
	return stack.Config{
		Name:       d.Name,
		MAC:        net.HardwareAddr(d.MAC),
		IPv4:       d.IPv4.Prefix,
		IPv6:       len(d.IPv6) > 0,
		IPv6Global: []netip.Prefix(d.IPv6),
		SkipDAD:    !d.DAD,
		MTU:        mtu,
		Logger:     log.With("ip", d.Name),
		Signature:  d.signature(),
		Windows:    d.windows(),
	}
}

// signature: NetX's for a device serving FTP with a NetX-like profile, unless the scenario says.
func (d *Device) signature() stack.Signature {
	if d.Stack != nil && d.Stack.Signature != nil {
		return *d.Stack.Signature
	}
	if d.Server != nil && netxLike(d.Server.Profile) {
		return stack.SignatureNetX
	}
	return stack.SignatureGVisor
}

// netxLike: the NetX-like server profiles ("" is netxduo).
// TODO(netx-stack): ftp.Profile.NetXLike once netx-server's profiles land.
func netxLike(p string) bool {
	return p == "" || p == string(ftp.ProfileNetXDuo) || p == "netxduo-6.4"
}

func (d *Device) windows() stack.Windows {
	var w stack.Windows
	if d.Stack != nil {
		w = d.Stack.Windows
	}
	if d.Server != nil && d.Server.Port != 0 {
		w.ControlPort = d.Server.Port
	}
	return w
}

// build brings up every link and device, recording frames at each link's first device.
func build(ctx context.Context, sc *Scenario, pcap string, format capture.Format, log *slog.Logger) (w *world, err error) {
	cw, err := capture.Create(pcap, format)
	if err != nil {
		return nil, err
	}
	w = &world{nodes: map[string]*node{}, pairs: map[int]*link.Pair{}, capture: cw, log: log, settle: 50 * time.Millisecond}
	w.closers = append(w.closers, cw.Close)
	defer func() {
		if err != nil {
			w.close()
		}
	}()
	for i := range sc.Links {
		l := &sc.Links[i]
		a, b := sc.device(l.Between[0]), sc.device(l.Between[1])
		if l.Type == "tap" {
			if err := w.buildTAP(ctx, l, a, b); err != nil {
				return nil, fmt.Errorf("links[%d] (tap %s-%s): %w", i, a.Name, b.Name, err)
			}
			continue
		}
		if err := w.buildMemory(ctx, i, l, a, b); err != nil {
			return nil, fmt.Errorf("links[%d] (%s-%s): %w", i, a.Name, b.Name, err)
		}
	}
	return w, nil
}

func (w *world) buildMemory(ctx context.Context, idx int, l *Link, a, b *Device) error {
	ab, ba := l.Impair.impairment(), l.Impair.impairment()
	if l.AtoB != nil {
		ab = l.AtoB.impairment()
	}
	if l.BtoA != nil {
		ba = l.BtoA.impairment()
	}
	seed := l.Seed
	if seed == 0 {
		seed = 1
	}
	p, err := link.NewPair(link.PairConfig{MTU: l.MTU, AtoB: ab, BtoA: ba, Seed: seed})
	if err != nil {
		return err
	}
	w.pairs[idx] = p
	w.closers = append(w.closers, p.Close)
	for _, im := range []link.Impairment{ab, ba} {
		rd := im.ReorderDelay
		if im.Reorder > 0 && rd == 0 {
			rd = time.Millisecond
		}
		if s := 2*(im.Delay+im.Jitter+rd) + 50*time.Millisecond; s > w.settle {
			w.settle = s
		}
	}
	aep, err := capture.New(p.A(), w.capture, a.Name)
	if err != nil {
		return err
	}
	// Both instances come up at once: with DAD on, each waits a second for its addresses.
	var wg sync.WaitGroup
	var ipA, ipB *stack.IP
	var errA, errB error
	wg.Add(2)
	go func() { defer wg.Done(); ipA, errA = stack.New(ctx, stackConfig(a, l.MTU, w.log), aep) }()
	go func() { defer wg.Done(); ipB, errB = stack.New(ctx, stackConfig(b, l.MTU, w.log), p.B()) }()
	wg.Wait()
	for _, r := range []struct {
		d  *Device
		ip *stack.IP
	}{{a, ipA}, {b, ipB}} {
		if r.ip != nil {
			w.closers = append(w.closers, r.ip.Close)
			w.nodes[r.d.Name] = &node{dev: r.d, net: r.ip, ip: r.ip}
		}
	}
	if err := errors.Join(errA, errB); err != nil {
		return err
	}
	return nil
}

// startServers makes each server's image and starts its FTP server on port 21 (any address).
func (w *world) startServers(ctx context.Context, sc *Scenario, names *byBase) error {
	for i := range sc.Devices {
		d := &sc.Devices[i]
		if d.Server == nil {
			continue
		}
		n := w.nodes[d.Name]
		if err := n.makeImage(sc.Dir, names); err != nil {
			return fmt.Errorf("device %s: image: %w", d.Name, err)
		}
		prof, _ := ftp.ParseProfile(d.Server.Profile)
		anon := server.Deny
		switch d.Server.Anonymous {
		case "read":
			anon = server.ReadOnly
		case "write":
			anon = server.ReadWrite
		}
		n.srv = &server.Server{
			FS:      n.fs,
			Profile: prof,
			Network: n.net,
			Login:   server.Users(d.Server.Users, anon),
			Logger:  w.log.With("ftp-server", d.Name),
			// A refused login is part of a scenario, not an attack: answer at once.
			LoginFailDelay: -1,
		}
		ln, err := n.net.Listen(ctx, netip.AddrPortFrom(netip.Addr{}, d.Server.port()))
		if err != nil {
			return fmt.Errorf("device %s: FTP server: %w", d.Name, err)
		}
		n.serve = make(chan error, 1)
		go func() { n.serve <- n.srv.Serve(ln) }()
	}
	return nil
}

// stopServers shuts the servers down, waiting for their sessions to end.
func (w *world) stopServers() error {
	var errs []error
	for _, n := range w.nodes {
		if n.srv == nil || n.serve == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := n.srv.Shutdown(ctx); err != nil {
			n.srv.Close()
			errs = append(errs, fmt.Errorf("device %s: FTP server shutdown: %w", n.dev.Name, err))
		}
		cancel()
		if err := <-n.serve; err != nil && !errors.Is(err, server.ErrServerClosed) {
			errs = append(errs, fmt.Errorf("device %s: FTP server: %w", n.dev.Name, err))
		}
		n.serve = nil
	}
	return errors.Join(errs...)
}

func parseFATType(s string) fsimage.FATType {
	switch strings.ToLower(s) {
	case "fat12":
		return fsimage.FAT12
	case "fat16":
		return fsimage.FAT16
	case "fat32":
		return fsimage.FAT32
	}
	return 0
}

// readImage reads an image file into memory; checkImageFile's bounds hold even if the file changed
// since Load (a regular file, at most what fits in memory).
func readImage(name string) ([]byte, error) {
	if err := checkImageFile(name); err != nil {
		return nil, err
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() || isize.FitsMemory(fi.Size()) != nil {
		return nil, fmt.Errorf("%s changed since the scenario was loaded", name)
	}
	b := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, err
	}
	if n, _ := f.Read(make([]byte, 1)); n > 0 {
		return nil, fmt.Errorf("%s grew while being read", name)
	}
	return b, nil
}

// makeImage creates the server's FAT volume in RAM and the scenario's directories and files on it.
func (n *node) makeImage(dir string, names *byBase) error {
	im := &n.dev.Server.Image
	n.model = newModel()
	if im.Path != "" {
		b, err := readImage(resolve(dir, im.Path))
		if err != nil {
			return fmt.Errorf("read image: %w", err)
		}
		n.ram = fsimage.RAMFrom(b)
	} else {
		size := int64(im.Size)
		if size == 0 {
			size = defaultImageSize
		}
		if err := isize.FitsMemory(size); err != nil {
			return err
		}
		n.ram = fsimage.NewRAM(size)
		if err := fsimage.Format(n.ram, size, fsimage.FormatOptions{Type: parseFATType(im.Type), Label: im.Label}); err != nil {
			return err
		}
	}
	fsys, err := fsimage.Open(n.ram, fsimage.Options{})
	if err != nil {
		return err
	}
	n.fs = fsys
	for _, d := range im.Dirs {
		if err := mkdirAll(fsys, d); err != nil {
			return err
		}
	}
	for i := range im.Files {
		f := &im.Files[i]
		c := specContent(dir, f)
		name := strings.TrimPrefix(path.Clean("/"+f.Name), "/")
		if err := mkdirAll(fsys, path.Dir(name)); err != nil {
			return err
		}
		st, err := writeFile(fsys, name, c)
		if err != nil {
			return fmt.Errorf("file %s: %w", f.Name, err)
		}
		n.model.set(name, st)
		names.add(name, st)
	}
	return fsys.Sync()
}

func mkdirAll(fsys *fsimage.FS, dir string) error {
	dir = strings.TrimPrefix(path.Clean("/"+dir), "/")
	if dir == "" || dir == "." {
		return nil
	}
	if fi, err := fsys.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("mkdir %s: a file of that name exists", dir)
		}
		return nil
	}
	if err := mkdirAll(fsys, path.Dir(dir)); err != nil {
		return err
	}
	return fsys.Mkdir(dir)
}

func writeFile(fsys *fsimage.FS, name string, c content) (fileState, error) {
	r, err := c.open()
	if err != nil {
		return fileState{}, err
	}
	defer r.Close()
	wc, err := fsys.Create(name)
	if err != nil {
		return fileState{}, err
	}
	hw := newHashWriter(wc)
	if _, err := hw.ReadFrom(r); err != nil {
		wc.Close()
		return fileState{}, err
	}
	if err := wc.Close(); err != nil {
		return fileState{}, err
	}
	return hw.state(), nil
}

// Net is the running network as Options.Before and Options.After see it.
type Net struct{ w *world }

// IP returns the device's user-space IP instance, or nil for the kernel side of a TAP link.
func (n *Net) IP(device string) *stack.IP {
	if nd := n.w.nodes[device]; nd != nil {
		return nd.ip
	}
	return nil
}

// Network returns the device's Listen/Dial: its IP instance, or the kernel inside the TAP's namespace.
func (n *Net) Network(device string) Network {
	if nd := n.w.nodes[device]; nd != nil {
		return nd.net
	}
	return nil
}

// Pair returns memory link i (its statistics, its impairments), or nil for a TAP link.
func (n *Net) Pair(i int) *link.Pair { return n.w.pairs[i] }

// Frames is the number of frames captured so far.
func (n *Net) Frames() uint64 { return n.w.capture.Frames() }
