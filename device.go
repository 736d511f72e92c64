package netxsim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"github.com/netxsim/netxsim/fsimage"
	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/ftp/client"
	"github.com/netxsim/netxsim/ftp/server"
	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/tapdev"
)

// DeviceConfig describes a device: its IP instance (stack.Config: Name is required; a nil MAC becomes
// MAC(n) with n the device's position in the Network plus 2; Logger defaults to the Network's) and the
// NetX Duo device it stands for, which decides how its TCP/IP looks on the wire.
type DeviceConfig struct {
	stack.Config
	// Profile is the FTP profile of the NetX Duo device this device stands for, or "" for a station
	// that stands for none (a test's host, a PC; unlike elsewhere, "" is not netxduo here). A NetX-like
	// profile (netxduo, netxduo-6.4) gives the IP instance NetX Duo's signature, stack.SignatureNetX:
	// TTL 128, MSS only, windows of 400 bytes on port 21 and 2,048 elsewhere (Config.Windows
	// overrides them), IPv4 identification counting up. Other profiles keep Config.Signature.
	Profile ftp.Profile
	// StackSignature, when set, is the signature whatever the Profile (it replaces Config.Signature):
	// stack.SignatureGVisor on a NetX-like device where bulk speed matters more than its look.
	StackSignature *stack.Signature
}

// NetXLike reports whether the device stands for a NetX Duo device with a NetX-like FTP profile.
func (c DeviceConfig) NetXLike() bool { return c.Profile != "" && c.Profile.NetXLike() }

// EffectiveSignature is the stack signature the device gets: StackSignature when set, NetX's for a NetX-like
// Profile, else Config.Signature.
func (c DeviceConfig) EffectiveSignature() stack.Signature {
	switch {
	case c.StackSignature != nil:
		return *c.StackSignature
	case c.NetXLike():
		return stack.SignatureNetX
	}
	return c.Config.Signature
}

// Device is one simulated station, as a NetX application has it: an IP instance (or, for the kernel
// side of a TAP and the host, the kernel's sockets), a file system, FTP servers and FTP clients. It
// satisfies the Listen/Dial interface of ftp/server and ftp/client.
type Device struct {
	name   string
	net    *Network
	seg    *Segment
	port   int
	ip     *stack.IP   // nil for a kernel device
	nw     ftp.Network // ip or the kernel
	guard  bool        // addresses reach a kernel: refuse the reserved ranges
	kernel bool

	mu      sync.Mutex
	fs      server.FileSystem
	img     *fsimage.FS  // fs when it is a FAT volume
	ram     *fsimage.RAM // its RAM disk, when it has one
	fsClose func() error // releases what UseImage/Open made
	servers []*running
	clients []*client.Client
	stopped bool
}

type running struct {
	srv  *server.Server
	done chan error
}

// AddDevice starts a device on the segment's next free port and returns once its IP instance is up
// (with DAD on, once every IPv6 address passed it; ctx bounds that).
func (n *Network) AddDevice(ctx context.Context, seg *Segment, cfg DeviceConfig) (*Device, error) {
	ds, err := n.AddDevices(ctx, seg, cfg)
	if err != nil {
		return nil, err
	}
	return ds[0], nil
}

// AddDevices starts several devices on the segment at once (each waits for its own DAD, so together
// they take the time of one).
func (n *Network) AddDevices(ctx context.Context, seg *Segment, cfgs ...DeviceConfig) ([]*Device, error) {
	if seg == nil || seg.net != n {
		return nil, errors.New("netxsim: AddDevice needs a segment of this Network")
	}
	devs := make([]*Device, len(cfgs))
	eps := make([]stack.LinkEndpoint, len(cfgs))
	for i := range cfgs { // before anything is taken
		if p := cfgs[i].Profile; p != "" && !p.Valid() {
			return nil, fmt.Errorf("netxsim: device %s: %w", cfgs[i].Name, errBadProfile(p))
		}
		cfgs[i].Config.Signature = cfgs[i].EffectiveSignature()
	}
	n.mu.Lock()
	for i := range cfgs {
		c := &cfgs[i].Config
		if c.MAC == nil {
			c.MAC = MAC(byte(len(n.devices) + 2))
		}
		if c.Logger == nil {
			c.Logger = n.log().With("device", c.Name)
		}
		err := n.claim("device", c.Name)
		if err == nil && seg.opt.Kernel {
			err = checkConfig(c)
			if c.TxQueue == 0 {
				c.TxQueue = stack.DefaultTxQueue // each write is a system call: keep it off the sender
			}
		}
		if err != nil {
			n.mu.Unlock()
			return nil, fmt.Errorf("netxsim: device %s: %w", c.Name, err)
		}
		ep, port, err := seg.take(c.Name)
		if err != nil {
			n.mu.Unlock()
			return nil, err
		}
		eps[i] = ep
		devs[i] = &Device{name: c.Name, net: n, seg: seg, port: port, guard: seg.opt.Kernel}
		n.devices = append(n.devices, devs[i])
	}
	n.mu.Unlock()

	errs := make([]error, len(cfgs))
	var wg sync.WaitGroup
	for i := range cfgs {
		wg.Go(func() {
			ip, err := stack.New(ctx, cfgs[i].Config, eps[i])
			if err != nil {
				errs[i] = fmt.Errorf("netxsim: device %s: %w", cfgs[i].Name, err)
				return
			}
			devs[i].ip, devs[i].nw = ip, ip
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if seg.tap != nil {
		for _, d := range devs {
			if err := seg.tap.waitKernel(ctx, d); err != nil {
				return nil, err
			}
		}
	}
	return devs, nil
}

func errBadProfile(p ftp.Profile) error {
	_, err := ftp.ParseProfile(string(p))
	return err
}

// checkConfig refuses reserved addresses on a device whose frames reach a kernel.
func checkConfig(c *stack.Config) error {
	errs := []error{tapdev.CheckPrefix(c.IPv4), tapdev.CheckAddr(c.Gateway4), tapdev.CheckAddr(c.Gateway6)}
	for _, p := range c.IPv6Global {
		errs = append(errs, tapdev.CheckPrefix(p))
	}
	return errors.Join(errs...)
}

// addKernelDevice registers a device whose network is a kernel's sockets (no IP instance).
func (n *Network) addKernelDevice(name string, seg *Segment, nw ftp.Network) (*Device, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.claim("device", name); err != nil {
		return nil, err
	}
	d := &Device{name: name, net: n, seg: seg, nw: nw, guard: true, kernel: true}
	n.devices = append(n.devices, d)
	return d, nil
}

// Name is the device's name.
func (d *Device) Name() string { return d.name }

// Segment is the segment the device is on (nil for the host kernel).
func (d *Device) Segment() *Segment { return d.seg }

// IP is the device's IP instance, or nil for a kernel device (the kernel side of a TAP, the host).
func (d *Device) IP() *stack.IP { return d.ip }

// Kernel reports whether the device is a kernel's sockets rather than a user-space IP instance.
func (d *Device) Kernel() bool { return d.kernel }

// Addr returns the device's first address of the family (IPv4 when v6 is false, else its first
// global IPv6), or false when it has none. For a kernel device it is the first address given to it.
func (d *Device) Addr(v6 bool) (netip.Addr, bool) {
	for _, p := range d.Addrs() {
		a := p.Addr()
		if a.Is6() == v6 && !a.IsLinkLocalUnicast() {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// Addrs returns the device's addresses with their prefixes (link-local too): its IP instance's, or
// for a kernel device the ones given to it. The FTP server reads them through its Network (the IPv4
// address a NetX server names in PASV over IPv6), so serving on the Device is serving on its IP.
func (d *Device) Addrs() []netip.Prefix {
	switch {
	case d.ip != nil:
		return d.ip.Addrs()
	case d.seg != nil && d.seg.tap != nil:
		return append([]netip.Prefix(nil), d.seg.tap.host...)
	}
	return nil
}

// Listen opens a TCP listener on the device; an unspecified address listens on all of its addresses.
func (d *Device) Listen(ctx context.Context, addr netip.AddrPort) (net.Listener, error) {
	if d.nw == nil {
		return nil, fmt.Errorf("netxsim: device %s is not up", d.name)
	}
	if d.guard {
		if err := tapdev.CheckAddr(addr.Addr()); err != nil {
			return nil, fmt.Errorf("device %s: listen: %w", d.name, err)
		}
	}
	return d.nw.Listen(ctx, addr)
}

// Dial opens a TCP connection from the device (local may be zero, a port, or a full address).
func (d *Device) Dial(ctx context.Context, local, remote netip.AddrPort) (net.Conn, error) {
	if d.nw == nil {
		return nil, fmt.Errorf("netxsim: device %s is not up", d.name)
	}
	if d.guard {
		if err := tapdev.CheckAddr(remote.Addr()); err != nil {
			return nil, fmt.Errorf("device %s: dial: %w", d.name, err)
		}
	}
	return d.nw.Dial(ctx, local, remote)
}

// stopApps closes the device's FTP clients and shuts its FTP servers down, then syncs its file system.
func (d *Device) stopApps(ctx context.Context) error {
	d.mu.Lock()
	d.stopped = true
	clients, servers := d.clients, d.servers
	d.clients, d.servers = nil, nil
	d.mu.Unlock()
	var errs []error
	for _, c := range clients {
		c.Quit(ctx) // a session the caller left open ends as NetX's client ends one; errors: it already had
		c.Close()
	}
	for _, r := range servers {
		if err := r.srv.Shutdown(ctx); err != nil {
			r.srv.Close()
			if !errors.Is(err, context.DeadlineExceeded) {
				errs = append(errs, fmt.Errorf("device %s: FTP server shutdown: %w", d.name, err))
			} else if l := r.srv.Logger; l != nil {
				// the grace period is over: sessions still in a transfer (or stalled) were closed,
				// which is what stopping means, not a failure
				l.Info("ftp: sessions still busy at the end of the shutdown timeout were closed")
			}
		}
	}
	for _, r := range servers {
		if err := <-r.done; err != nil && !errors.Is(err, server.ErrServerClosed) {
			errs = append(errs, fmt.Errorf("device %s: FTP server: %w", d.name, err))
		}
	}
	d.mu.Lock()
	img := d.img
	d.mu.Unlock()
	if img != nil {
		if err := img.Sync(); err != nil && !errors.Is(err, errClosedFS) {
			errs = append(errs, fmt.Errorf("device %s: sync image: %w", d.name, err))
		}
	}
	return errors.Join(errs...)
}

// closeStack closes the IP instance and what UseImage opened. The file system itself stays readable
// for a RAM disk (Image, RAM), so results can be checked after Close.
func (d *Device) closeStack() error {
	var errs []error
	if d.ip != nil {
		errs = append(errs, d.ip.Close())
	}
	d.mu.Lock()
	fc := d.fsClose
	d.fsClose = nil
	d.mu.Unlock()
	if fc != nil {
		errs = append(errs, fc())
	}
	return errors.Join(errs...)
}
