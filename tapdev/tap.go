//go:build linux

// Package tapdev attaches a Linux TAP device to a gVisor link endpoint and
// manages the kernel side around it: network namespaces, addresses, links,
// veth pairs.
//
// A TAP is opened with virtio-net headers (IFF_VNET_HDR, by our own
// TUNSETIFF) and checksum and segmentation offload (TUNSETOFFLOAD), and run
// by this package's endpoint, so the stack and the kernel exchange 64 KiB TCP
// segments both ways. Where the kernel refuses the header, or with
// Config.NoOffload, the TAP is opened with github.com/songgao/water and run
// by gVisor's fdbased endpoint, one MTU-sized frame per system call. Either
// way Ethernet framing, ARP and NDP run in the user-space stack. The endpoint
// owns the file: it stays open as long as the endpoint and is closed after
// the endpoint's reader goroutine has stopped.
package tapdev

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"

	"github.com/songgao/water"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/link/fdbased"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// TunDevice is the clone device every TAP is opened through.
const TunDevice = "/dev/net/tun"

// Supported says why this process cannot create network namespaces and TAP devices, completing
// "a TAP segment ..." (not root, no TunDevice), or returns "" when it can.
func Supported() string {
	if os.Geteuid() != 0 {
		return "creates a network namespace and a TAP device: run as root (e.g. sudo)"
	}
	if _, err := os.Stat(TunDevice); err != nil {
		return fmt.Sprintf("needs %s (modprobe tun): %v", TunDevice, err)
	}
	return ""
}

// SetupHint tells a user without CAP_NET_ADMIN how to get a TAP.
const SetupHint = "create a persistent TAP owned by your user once with scripts/tap-setup.sh (as root: sudo scripts/tap-setup.sh add --user $USER)"

// Config describes the TAP to create or open.
type Config struct {
	// Name of the TAP. An existing TAP of this name is opened (a
	// persistent one stays persistent); otherwise one is created. Empty:
	// the kernel picks tapN.
	Name string
	// NetNS, when set, is the namespace the TAP lives in (or is created
	// in). Nil: the calling process's namespace.
	NetNS *NetNS
	// Persist keeps a newly created TAP after the file is closed.
	Persist bool
	// Owner and Group, when set, let that user or group open the TAP
	// later without CAP_NET_ADMIN. Used only when the TAP is created.
	Owner, Group *uint
	// MAC is the device's (the user-space stack's) Ethernet address.
	// Frames to other unicast addresses are dropped.
	MAC net.HardwareAddr
	// MTU of the link, without the Ethernet header; 0 means 1500. The
	// kernel side is set to the same value.
	MTU uint32
	// Logger for diagnostics; nil is quiet.
	Logger *slog.Logger
	// NoOffload opens the TAP without virtio-net headers: every frame
	// is MTU-sized and costs a system call (gVisor's fdbased endpoint).
	// By default the TAP is opened with IFF_VNET_HDR, checksum offload
	// and TSO, and the stack exchanges 64 KiB segments with the kernel;
	// where the kernel refuses, Open falls back and says so at debug level.
	NoOffload bool
}

// TAP is an open TAP device and its gVisor endpoint.
type TAP struct {
	name    string
	created bool // this TAP did not exist before Open
	ep      *Endpoint
}

// Open creates or opens the TAP described by cfg and returns it with an
// Ethernet-level gVisor endpoint on its file descriptor.
func Open(cfg Config) (*TAP, error) {
	if cfg.Name != "" {
		if err := validIfName(cfg.Name); err != nil {
			return nil, err
		}
	}
	if len(cfg.MAC) != 6 {
		return nil, fmt.Errorf("open TAP %s: MAC %v: need a 6-byte Ethernet address", cfg.Name, cfg.MAC)
	}
	mtu := cfg.MTU
	if mtu == 0 {
		mtu = 1500
	}
	if err := CheckMTU(mtu); err != nil {
		return nil, fmt.Errorf("open TAP %s: %w", cfg.Name, err)
	}
	if _, err := os.Stat(TunDevice); err != nil {
		return nil, fmt.Errorf("open TAP: %s is missing: load the tun module (modprobe tun) or, in a container, pass the device in (docker run --device /dev/net/tun --cap-add NET_ADMIN): %w", TunDevice, err)
	}
	ns := cfg.NetNS
	if ns == nil {
		cur, err := CurrentNetNS()
		if err != nil {
			return nil, err
		}
		defer cur.Close()
		ns = cur
	}

	wcfg := water.Config{DeviceType: water.TAP}
	wcfg.Name = cfg.Name
	wcfg.Persist = cfg.Persist
	created := true
	if cfg.Name != "" {
		if l, err := ns.nl.LinkByName(cfg.Name); err == nil {
			tt, ok := l.(*netlink.Tuntap)
			if !ok || tt.Mode != netlink.TUNTAP_MODE_TAP {
				return nil, fmt.Errorf("open TAP %s: a %s link of that name exists and is not a TAP: pick another name", cfg.Name, l.Type())
			}
			created = false
			// water always sets or clears the persist flag: keep what the
			// TAP has, or a user's persistent TAP would vanish on close.
			wcfg.Persist = !tt.NonPersist
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var ifce *water.Interface
	var vf *os.File
	var vname string
	openWater := func() error {
		// water opens /dev/net/tun without O_CLOEXEC: hold ForkLock, as
		// the syscall package does for such opens, until close-on-exec is
		// set, so no child process (ip, nc, a peer server) inherits the
		// TAP and keeps it alive after we close it.
		syscall.ForkLock.RLock()
		defer syscall.ForkLock.RUnlock()
		var err error
		if ifce, err = water.New(wcfg); err != nil {
			return err
		}
		if err := withFd(ifce, func(fd int) error {
			_, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC)
			return err
		}); err != nil {
			ifce.Close()
			return fmt.Errorf("set close-on-exec: %w", err)
		}
		return nil
	}
	open := func() error {
		if !cfg.NoOffload {
			var err error
			vf, vname, err = openVnet(cfg.Name, wcfg.Persist)
			if err == nil {
				return nil
			}
			if !errors.Is(err, syscall.EINVAL) {
				return err
			}
			// An old kernel without IFF_VNET_HDR: frames are MTU-sized, through water and fdbased.
			log.Debug("tap: the kernel refused IFF_VNET_HDR; no offloads", "tap", cfg.Name, "err", err)
		}
		return openWater()
	}
	var err error
	if cfg.NetNS != nil {
		// The TAP is created in the namespace of the thread that opens
		// /dev/net/tun.
		err = cfg.NetNS.Do(open)
	} else {
		err = open()
	}
	if err != nil {
		return nil, openError(cfg.Name, created, err)
	}
	var file io.Closer
	var fdOf func(func(int) error) error
	t := &TAP{created: created}
	if vf != nil {
		t.name, file = vname, vf
		fdOf = func(fn func(int) error) error { return connFd(vf, fn) }
	} else {
		t.name, file = ifce.Name(), ifce
		fdOf = func(fn func(int) error) error { return withFd(ifce, fn) }
	}
	fail := func(err error) (*TAP, error) {
		file.Close()
		if created && wcfg.Persist {
			ns.DeleteLink(t.name)
		}
		return nil, err
	}
	if created {
		// water would set owner and group together, and an unset group
		// (-1) is rejected by the kernel: set each on its own.
		if err := setOwner(fdOf, cfg.Owner, cfg.Group); err != nil {
			return fail(fmt.Errorf("open TAP %s: %w", t.name, err))
		}
	}
	// Setting the MTU needs CAP_NET_ADMIN: touch it only when it differs,
	// so a user's persistent TAP opens without privileges.
	if l, err := ns.Link(t.name); err != nil {
		return fail(fmt.Errorf("open TAP %s: %w", t.name, err))
	} else if l.Attrs().MTU != int(mtu) {
		if err := ns.SetMTU(t.name, int(mtu)); err != nil {
			return fail(fmt.Errorf("open TAP %s: it has MTU %d, not %d, and changing it failed (ask for MTU %d, or as root: ip link set %s mtu %d): %w",
				t.name, l.Attrs().MTU, mtu, l.Attrs().MTU, t.name, mtu, err))
		}
	}
	var lep stack.LinkEndpoint
	if vf != nil {
		lep, err = newVnetEndpoint(vf, t.name, tcpip.LinkAddress(cfg.MAC), mtu, log)
	} else {
		lep, err = newFdbased(ifce, cfg.MAC, mtu, log)
	}
	if err != nil {
		return fail(fmt.Errorf("open TAP %s: %w", t.name, err))
	}
	t.ep = &Endpoint{LinkEndpoint: lep, file: file, name: t.name, fd: fdOf}
	return t, nil
}

// connFd runs fn with c's descriptor. RawConn.Control, unlike os.File.Fd, leaves it non-blocking,
// which fdbased's reader needs.
func connFd(c syscall.Conn, fn func(fd int) error) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

func setOwner(withFd func(func(int) error) error, owner, group *uint) error {
	if owner == nil && group == nil {
		return nil
	}
	return withFd(func(fd int) error {
		if owner != nil {
			if err := unix.IoctlSetInt(fd, unix.TUNSETOWNER, int(*owner)); err != nil {
				return fmt.Errorf("set owner %d: %w", *owner, err)
			}
		}
		if group != nil {
			if err := unix.IoctlSetInt(fd, unix.TUNSETGROUP, int(*group)); err != nil {
				return fmt.Errorf("set group %d: %w", *group, err)
			}
		}
		return nil
	})
}

// withFd runs fn with the TAP's descriptor (see connFd).
func withFd(ifce *water.Interface, fn func(fd int) error) error {
	sc, ok := ifce.ReadWriteCloser.(syscall.Conn)
	if !ok {
		return fmt.Errorf("water returned a %T without a file descriptor", ifce.ReadWriteCloser)
	}
	return connFd(sc, fn)
}

// openError turns TUNSETIFF failures into advice.
func openError(name string, created bool, err error) error {
	var se *os.SyscallError
	if !errors.As(err, &se) {
		// Not an ioctl: opening /dev/net/tun itself failed.
		if errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) {
			return fmt.Errorf("open TAP %s: cannot open %s: permission denied: it should be mode 0666 (chmod 0666 %s as root), or run as root: %w", name, TunDevice, TunDevice, err)
		}
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ENODEV) || errors.Is(err, syscall.ENXIO) {
			return fmt.Errorf("open TAP: %s is missing: load the tun module (modprobe tun): %w", TunDevice, err)
		}
		return fmt.Errorf("open TAP %s: open %s: %w", name, TunDevice, err)
	}
	switch {
	case errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EACCES):
		if created {
			return fmt.Errorf("create TAP %s: not permitted: creating a TAP needs CAP_NET_ADMIN; %s: %w", name, SetupHint, err)
		}
		return fmt.Errorf("open TAP %s: not permitted: the TAP belongs to another user or group; recreate it for yours with scripts/tap-setup.sh or run as root: %w", name, err)
	case errors.Is(err, syscall.EBUSY):
		return fmt.Errorf("open TAP %s: name in use: another process has the TAP open (or a non-TAP link has this name): stop it or pick another --tap name: %w", name, err)
	case errors.Is(err, syscall.EINVAL):
		return fmt.Errorf("open TAP %s: the kernel refused the name: a link of another type may use it; pick another name: %w", name, err)
	}
	return fmt.Errorf("open TAP %s: %w", name, err)
}

// Name is the kernel's name for the TAP.
func (t *TAP) Name() string { return t.name }

// Created reports whether Open created the TAP rather than opening an
// existing persistent one.
func (t *TAP) Created() bool { return t.created }

// Endpoint is the gVisor link endpoint on the TAP. Giving it to a stack
// hands over the TAP: the stack closes it when it removes the NIC.
func (t *TAP) Endpoint() *Endpoint { return t.ep }

// Close closes the endpoint and the TAP file; a non-persistent TAP
// disappears from the kernel.
func (t *TAP) Close() error { return t.ep.close() }

// Endpoint is gVisor's fdbased endpoint plus the TAP file it reads, which
// it keeps open until the reader goroutine has stopped. Close (called by
// the stack when the NIC goes away) stops the reader and closes the file.
type Endpoint struct {
	stack.LinkEndpoint
	file io.Closer
	name string
	fd   func(func(int) error) error // runs a function with the TAP's descriptor

	mu           sync.Mutex
	everAttached bool
	closed       bool
	closeErr     error
}

// newFdbased is the endpoint without offloads: gVisor's fdbased on a TAP opened by water.
func newFdbased(ifce *water.Interface, mac net.HardwareAddr, mtu uint32, log *slog.Logger) (stack.LinkEndpoint, error) {
	// The descriptor stays valid after withFd returns because the
	// endpoint holds ifce until it is closed.
	var fd int
	if err := withFd(ifce, func(f int) error { fd = f; return nil }); err != nil {
		return nil, err
	}
	name := ifce.Name()
	lep, err := fdbased.New(&fdbased.Options{
		FDs:            []int{fd},
		MTU:            mtu,
		EthernetHeader: true,
		Address:        tcpip.LinkAddress(mac),
		// One processor per channel delivers packets inline in the reader
		// goroutine: no extra goroutines that would start before Attach
		// and outlive an endpoint that is never attached.
		ProcessorsPerChannel: 1,
		ClosedFunc: func(e tcpip.Error) {
			if e != nil {
				log.Debug("tap reader stopped", "tap", name, "err", e)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("fdbased endpoint: %v", err)
	}
	return lep, nil
}

// Attach implements stack.LinkEndpoint; after Close it does nothing.
func (e *Endpoint) Attach(d stack.NetworkDispatcher) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	e.LinkEndpoint.Attach(d)
	if d != nil {
		e.everAttached = true
	}
}

// Close implements stack.LinkEndpoint: it stops the reader and closes the
// TAP file. It is safe to call more than once.
func (e *Endpoint) Close() { e.close() }

func (e *Endpoint) close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return e.closeErr
	}
	e.closed = true
	switch {
	case e.LinkEndpoint.IsAttached():
		// Attach(nil) signals the reader through its eventfd and waits.
		e.LinkEndpoint.Attach(nil)
	case !e.everAttached:
		// fdbased frees its reader's buffers only when the reader loop
		// ends: run it once against a dispatcher that drops everything.
		e.LinkEndpoint.Attach(dropDispatcher{})
		e.LinkEndpoint.Attach(nil)
	}
	e.LinkEndpoint.Wait()
	e.closeErr = e.file.Close()
	return e.closeErr
}

// GSOMaxSize implements stack.GSOEndpoint (zero without offloads).
func (e *Endpoint) GSOMaxSize() uint32 {
	if g, ok := e.LinkEndpoint.(stack.GSOEndpoint); ok {
		return g.GSOMaxSize()
	}
	return 0
}

// SupportedGSO implements stack.GSOEndpoint.
func (e *Endpoint) SupportedGSO() stack.SupportedGSO {
	if g, ok := e.LinkEndpoint.(stack.GSOEndpoint); ok {
		return g.SupportedGSO()
	}
	return stack.GSONotSupported
}

// Offloads reports whether the TAP runs with virtio-net headers and TSO: the stack and the kernel
// exchange TCP segments of up to 64 KiB.
func (e *Endpoint) Offloads() bool {
	g, ok := e.LinkEndpoint.(stack.GSOEndpoint)
	return ok && g.SupportedGSO() == stack.HostGSOSupported
}

// Name is the TAP's name.
func (e *Endpoint) Name() string { return e.name }

// dropDispatcher discards every packet.
type dropDispatcher struct{}

func (dropDispatcher) DeliverNetworkPacket(tcpip.NetworkProtocolNumber, *stack.PacketBuffer) {}
func (dropDispatcher) DeliverLinkPacket(tcpip.NetworkProtocolNumber, *stack.PacketBuffer)    {}

var _ stack.LinkEndpoint = (*Endpoint)(nil)
