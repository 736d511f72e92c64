package scenario

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/netxsim/netxsim"
	"github.com/netxsim/netxsim/fsimage"
	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/ftp/server"
	isize "github.com/netxsim/netxsim/internal/size"
	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/stack/link"
)

// Network is the Listen/Dial pair the FTP server and client need (ftp.Network).
type Network = ftp.Network

// node is a scenario device and the library device it became.
type node struct {
	dev   *Device
	d     *netxsim.Device
	ram   *fsimage.RAM
	fs    *fsimage.FS
	model *model
	// listeners count the connections on the device's listen ports.
	counts map[uint16]*atomic.Int64
}

// world is the running network: the library's Network and the scenario's view of it.
type world struct {
	n     *netxsim.Network
	nodes map[string]*node
	pairs map[int]*link.Pair // memory links by index in links
	log   *slog.Logger
	lns   []net.Listener
	wg    sync.WaitGroup
}

// ErrNeedsRoot marks a scenario this process cannot run (a TAP segment without root).
var ErrNeedsRoot = errors.New("needs root")

// TAPSupported says why TAP links cannot run here, or "" when they can.
func TAPSupported() string { return netxsim.TAPSupported() }

// deviceConfig is the device's IP instance and the NetX device it stands for (netxProfile): the
// library gives a NetX-like one NetX Duo's stack signature, unless stack: says otherwise.
func deviceConfig(sc *Scenario, d *Device, mtu uint32, log *slog.Logger) netxsim.DeviceConfig {
	c := netxsim.DeviceConfig{Config: stack.Config{
		Name:       d.Name,
		MAC:        net.HardwareAddr(d.MAC),
		IPv4:       d.IPv4.Prefix,
		IPv6:       len(d.IPv6) > 0,
		IPv6Global: []netip.Prefix(d.IPv6),
		SkipDAD:    !d.DAD,
		MTU:        mtu,
		Logger:     log.With("ip", d.Name),
		Windows:    d.windows(),
	}, Profile: sc.netxProfile(d)}
	if d.Stack != nil {
		c.StackSignature = d.Stack.Signature
	}
	if d.Server == nil && c.EffectiveSignature() == stack.SignatureNetX && c.Windows.Data == 0 && c.Windows.Control == 0 {
		// NetX's FTP client advertises one window on every connection (as netxsim ftp's device).
		c.Windows.Data = stack.NetXClientWindow
	}
	return c
}

// netxProfile is the FTP profile of the NetX Duo device d stands for, "" for a station that stands
// for none: a device serving FTP runs its server's profile; a device without a server but with its
// own image is NetX's client on FileX, running the profile of its steps when one is NetX-like; any
// other device (the demo's host, a PC) is Linux-like.
func (sc *Scenario) netxProfile(d *Device) ftp.Profile {
	if d.Server != nil {
		p, _ := ftp.ParseProfile(string(d.Server.Profile))
		return p
	}
	if d.Image == nil {
		return ""
	}
	for _, st := range sc.Steps {
		if p, err := ftp.ParseProfile(string(st.Profile)); err == nil && st.Client == d.Name && p.NetXLike() {
			return p
		}
	}
	return ""
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

// build brings up every segment and its devices on one netxsim.Network with one capture.
func build(ctx context.Context, sc *Scenario, pcap string, opts Options, log *slog.Logger) (w *world, err error) {
	w = &world{
		n:     &netxsim.Network{Capture: pcap, CaptureFormat: opts.CaptureFormat, Logger: log},
		nodes: map[string]*node{}, pairs: map[int]*link.Pair{}, log: log,
	}
	defer func() {
		if err != nil {
			w.close()
		}
	}()
	for i := range sc.segs {
		sg := &sc.segs[i]
		if err := w.buildSegment(ctx, sc, sg); err != nil {
			return nil, fmt.Errorf("%s (%s %s): %w", sg.where(), sg.Type, strings.Join(sg.Devices, "-"), err)
		}
	}
	for i := range sc.Devices {
		if err := w.listen(ctx, &sc.Devices[i]); err != nil {
			return nil, err
		}
	}
	return w, nil
}

func (sg *Segment) where() string {
	if sg.pair || sg.Type == "tap" && strings.HasPrefix(sg.Name, "link") {
		return fmt.Sprintf("links[%d]", sg.linkIdx)
	}
	return sg.Name
}

func (w *world) buildSegment(ctx context.Context, sc *Scenario, sg *Segment) error {
	var seg *netxsim.Segment
	var err error
	devs := sg.Devices
	switch {
	case sg.Type == "tap":
		return w.buildTAP(ctx, sc, sg)
	case sg.Type == "vxlan":
		mode := netxsim.CaptureEveryPort
		for i := range sc.segs {
			if &sc.segs[i] == sg {
				break
			}
			if vxlanJoined(&sc.segs[i], sg) {
				mode = netxsim.CaptureNone // its frames are in the capture at the tunnel's first end
			}
		}
		seg, err = w.n.VXLAN(sg.Name, *sg.VXLAN, mode)
		if err == nil && sg.MTU == 0 {
			sg.MTU = seg.VXLAN().MTU()
		}
	case sg.pair:
		seg, err = w.n.Pair(sg.Name, link.PairConfig{MTU: sg.MTU, AtoB: sg.atob.impairment(), BtoA: sg.btoa.impairment(), Seed: sg.Seed})
		if err == nil {
			w.pairs[sg.linkIdx] = seg.Pair()
		}
	default:
		cfg := link.SwitchConfig{Ports: len(devs), MTU: sg.MTU, Seed: sg.Seed}
		for _, name := range devs {
			pi := sg.Ports[name]
			cfg.Port = append(cfg.Port, link.PortConfig{In: pi.In.impairment(), Out: pi.Out.impairment()})
		}
		seg, err = w.n.Switch(sg.Name, cfg)
	}
	if err != nil {
		return err
	}
	var cfgs []netxsim.DeviceConfig
	for _, name := range devs {
		cfgs = append(cfgs, deviceConfig(sc, sc.device(name), sg.MTU, w.log))
	}
	// All come up at once: with DAD on, each waits a second for its addresses.
	ds, err := w.n.AddDevices(ctx, seg, cfgs...)
	if err != nil {
		return err
	}
	for i, name := range devs {
		w.nodes[name] = &node{dev: sc.device(name), d: ds[i]}
	}
	return nil
}

// buildTAP puts the segment's first device on a TAP in a namespace of its own and makes the second
// the kernel there, its addresses on the TAP's kernel side.
func (w *world) buildTAP(ctx context.Context, sc *Scenario, sg *Segment) error {
	if why := netxsim.TAPSupported(); why != "" {
		return fmt.Errorf("%w: %s", ErrNeedsRoot, why)
	}
	a, b := sc.device(sg.Devices[0]), sc.device(sg.Devices[1])
	tx, rx := sg.atob, sg.btoa // a links entry
	if pi, ok := sg.Ports[a.Name]; ok {
		tx, rx = pi.In, pi.Out
	}
	var host []netip.Prefix
	if b.IPv4.IsValid() {
		host = append(host, b.IPv4.Prefix)
	}
	host = append(host, b.IPv6...)
	seg, err := w.n.TAP(ctx, sg.Name, netxsim.TAPConfig{
		Name: sg.TAP, NetNS: sg.NetNS, CreateNetNS: true, HostAddrs: host, MTU: sg.MTU, MAC: net.HardwareAddr(a.MAC),
		Kernel: b.Name, Tx: tx.impairment(), Rx: rx.impairment(), Seed: sg.Seed,
	})
	if err != nil {
		return err
	}
	d, err := w.n.AddDevice(ctx, seg, deviceConfig(sc, a, sg.MTU, w.log))
	if err != nil {
		return fmt.Errorf("device %s: %w", a.Name, err)
	}
	w.nodes[a.Name] = &node{dev: a, d: d}
	w.nodes[b.Name] = &node{dev: b, d: seg.Kernel()}
	return nil
}

// listen opens the device's listen ports; each connection is counted and closed.
func (w *world) listen(ctx context.Context, d *Device) error {
	n := w.nodes[d.Name]
	n.counts = map[uint16]*atomic.Int64{}
	for _, port := range d.Listen {
		ln, err := n.d.Listen(ctx, netip.AddrPortFrom(netip.Addr{}, port))
		if err != nil {
			return fmt.Errorf("device %s: listen on %d: %w", d.Name, port, err)
		}
		c := new(atomic.Int64)
		n.counts[port] = c
		w.lns = append(w.lns, ln)
		w.wg.Go(func() {
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				c.Add(1)
				conn.Close()
			}
		})
	}
	return nil
}

// close stops the listen ports, then the network (servers, capture, stacks, segments in that order).
func (w *world) close() error {
	for _, ln := range w.lns {
		ln.Close()
	}
	w.wg.Wait()
	w.lns = nil
	return w.n.Close()
}

// startServers makes each device's image and starts the FTP servers on port 21 (any address).
func (w *world) startServers(ctx context.Context, sc *Scenario, names *byBase) error {
	for i := range sc.Devices {
		d := &sc.Devices[i]
		n := w.nodes[d.Name]
		if im := d.image(); im != nil {
			if err := n.makeImage(sc.Dir, im, names); err != nil {
				return fmt.Errorf("device %s: image: %w", d.Name, err)
			}
		}
		if d.Server == nil {
			continue
		}
		prof, _ := ftp.ParseProfile(string(d.Server.Profile))
		anon := server.Deny
		switch d.Server.Anonymous {
		case "read":
			anon = server.ReadOnly
		case "write":
			anon = server.ReadWrite
		}
		srv := &server.Server{
			Profile: prof,
			Login:   server.Users(d.Server.Users, anon),
			// A refused login is part of a scenario, not an attack: answer at once.
			LoginFailDelay: -1,
			// nor is a run of them: no per-address lock-out in scenarios
			AddrFailureBudget: -1,
		}
		if err := n.d.ServeFTP(ctx, srv, netip.AddrPortFrom(netip.Addr{}, d.Server.port())); err != nil {
			return err
		}
	}
	return nil
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
// since Load: fsimage.OpenImageFile opens regular files only (and read-locks the image while it is
// read), and it must still fit in memory.
func readImage(name string) ([]byte, error) {
	if err := checkImageFile(name); err != nil {
		return nil, err
	}
	f, err := fsimage.OpenImageFile(name, false)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if isize.FitsMemory(fi.Size()) != nil {
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

// makeImage creates the device's FAT volume in RAM and the scenario's directories and files on it.
func (n *node) makeImage(dir string, im *Image, names *byBase) error {
	n.model = newModel()
	var err error
	if im.Path != "" {
		b, rerr := readImage(resolve(dir, im.Path))
		if rerr != nil {
			return fmt.Errorf("read image: %w", rerr)
		}
		n.fs, err = n.d.UseRAM(fsimage.RAMFrom(b))
	} else {
		size := int64(im.Size)
		if size == 0 {
			size = defaultImageSize
		}
		if err := isize.FitsMemory(size); err != nil {
			return err
		}
		n.fs, err = n.d.FormatRAM(size, fsimage.FormatOptions{Type: parseFATType(im.Type), Label: im.Label})
	}
	if err != nil {
		return err
	}
	n.ram = n.d.RAM()
	for _, d := range im.Dirs {
		if err := fsimage.MkdirAll(n.fs, d); err != nil {
			return err
		}
	}
	for i := range im.Files {
		f := &im.Files[i]
		r, err := specContent(dir, f).open()
		if err != nil {
			return fmt.Errorf("file %s: %w", f.Name, err)
		}
		hr := newHashReader(r)
		err = fsimage.WriteFile(n.fs, f.Name, hr)
		r.Close()
		if err != nil {
			return fmt.Errorf("file %s: %w", f.Name, err)
		}
		st := hr.state()
		n.model.set(f.Name, st)
		names.add(f.Name, st)
	}
	return n.fs.Sync()
}

// Net is the running network as Options.Before and Options.After see it.
type Net struct{ w *world }

// IP returns the device's user-space IP instance, or nil for the kernel side of a TAP link.
func (n *Net) IP(device string) *stack.IP {
	if nd := n.w.nodes[device]; nd != nil {
		return nd.d.IP()
	}
	return nil
}

// Network returns the device's Listen/Dial: its IP instance, or the kernel inside the TAP's namespace.
func (n *Net) Network(device string) Network {
	if nd := n.w.nodes[device]; nd != nil {
		return nd.d
	}
	return nil
}

// Device returns the library's device of that name.
func (n *Net) Device(device string) *netxsim.Device { return n.w.n.Device(device) }

// Pair returns memory link i (its statistics, its impairments), or nil for a TAP link.
func (n *Net) Pair(i int) *link.Pair { return n.w.pairs[i] }

// Frames is the number of frames captured so far.
func (n *Net) Frames() uint64 { return n.w.n.Frames() }

// connCounts reads the listen ports' counters.
func (w *world) connCounts() map[string]map[uint16]int64 {
	out := map[string]map[uint16]int64{}
	for name, n := range w.nodes {
		for port, c := range n.counts {
			if out[name] == nil {
				out[name] = map[uint16]int64{}
			}
			out[name][port] = c.Load()
		}
	}
	return out
}
