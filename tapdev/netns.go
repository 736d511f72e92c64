//go:build linux

package tapdev

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"

	"github.com/netxsim/netxsim/stack"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// NetNSDir is where named network namespaces live, as with `ip netns`.
const NetNSDir = "/run/netns"

// NetNS is a network namespace: a handle to it (so it stays usable while we
// hold it) and a netlink handle bound to it. Name is empty for a namespace
// that has no name (the process's own, from CurrentNetNS).
type NetNS struct {
	Name    string
	handle  netns.NsHandle
	nl      *netlink.Handle
	created bool
}

// CreateNetNS creates the named network namespace, like `ip netns add NAME`,
// and brings its loopback up. It fails if the name is already taken.
func CreateNetNS(name string) (*NetNS, error) {
	if err := validNetNSName(name); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(NetNSDir, 0o755); err != nil {
		return nil, fmt.Errorf("create netns %s: %w (needs root or CAP_SYS_ADMIN)", name, err)
	}
	if err := shareNetNSDir(); err != nil {
		return nil, fmt.Errorf("create netns %s: %w (needs root or CAP_SYS_ADMIN)", name, err)
	}
	path := filepath.Join(NetNSDir, name)
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("create netns %s: a namespace of that name exists: pick another name or remove it with `ip netns del %s`", name, name)
		}
		return nil, fmt.Errorf("create netns %s: %w (needs root or CAP_SYS_ADMIN)", name, err)
	}
	f.Close()

	// unshare(CLONE_NEWNET) changes the calling thread only: do it on a
	// locked thread of a goroutine of our own, bind-mount the new namespace
	// to its name and switch back. If switching back fails the thread stays
	// locked and dies with the goroutine instead of running other code in
	// the wrong namespace.
	err = onLockedThread(func() (restore func() error, err error) {
		orig, err := netns.Get()
		if err != nil {
			return nil, fmt.Errorf("get current netns: %w", err)
		}
		restore = func() error {
			defer orig.Close()
			return netns.Set(orig)
		}
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return restore, fmt.Errorf("unshare: %w (needs root or CAP_SYS_ADMIN)", err)
		}
		src := "/proc/self/task/" + strconv.Itoa(unix.Gettid()) + "/ns/net"
		if err := unix.Mount(src, path, "none", unix.MS_BIND, ""); err != nil {
			return restore, fmt.Errorf("bind-mount %s: %w", path, err)
		}
		return restore, nil
	})
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("create netns %s: %w", name, err)
	}
	n, err := OpenNetNS(name)
	if err != nil {
		deleteNamed(name)
		return nil, err
	}
	n.created = true
	lo, err := n.nl.LinkByName("lo")
	if err == nil {
		err = n.nl.LinkSetUp(lo)
	}
	if err != nil {
		n.Delete()
		return nil, fmt.Errorf("create netns %s: loopback up: %w", name, err)
	}
	return n, nil
}

// shareNetNSDir makes NetNSDir a mount point with shared propagation before any namespace is
// mounted in it, as `ip netns add` does, under a lock that every process of ours takes. Without
// that order a namespace mounted on the plain directory while another process bind-mounts the
// directory onto itself ends up under that bind mount, where nothing can unmount it, and its name
// can never be removed (EBUSY; seen in CI, with tests of several packages starting at once).
func shareNetNSDir() error {
	d, err := os.Open(NetNSDir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := unix.Flock(int(d.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", NetNSDir, err)
	}
	defer unix.Flock(int(d.Fd()), unix.LOCK_UN)
	for made := false; ; made = true {
		err := unix.Mount("", NetNSDir, "none", unix.MS_SHARED|unix.MS_REC, "")
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EINVAL) || made { // EINVAL: not a mount point yet
			return fmt.Errorf("make %s a shared mount: %w", NetNSDir, err)
		}
		if err := unix.Mount(NetNSDir, NetNSDir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind-mount %s onto itself: %w", NetNSDir, err)
		}
	}
}

// OpenNetNS opens an existing named namespace. Close releases the handles;
// it does not delete the namespace.
func OpenNetNS(name string) (*NetNS, error) {
	if err := validNetNSName(name); err != nil {
		return nil, err
	}
	h, err := netns.GetFromPath(filepath.Join(NetNSDir, name))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("open netns %s: no such namespace (create it with `ip netns add %s`)", name, name)
		}
		return nil, fmt.Errorf("open netns %s: %w", name, err)
	}
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("open netns %s: netlink: %w", name, err)
	}
	return &NetNS{Name: name, handle: h, nl: nl}, nil
}

// CurrentNetNS returns the namespace of the calling thread, which for a
// process that never switched threads is the process's own.
func CurrentNetNS() (*NetNS, error) {
	h, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("get current netns: %w", err)
	}
	// NewHandle, unlike NewHandleAt, needs no setns, so this works
	// without privileges.
	nl, err := netlink.NewHandle()
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("netlink in current netns: %w", err)
	}
	return &NetNS{handle: h, nl: nl}, nil
}

// NetNSExists reports whether a named namespace exists.
func NetNSExists(name string) bool {
	_, err := os.Stat(filepath.Join(NetNSDir, name))
	return err == nil
}

// Netlink returns the netlink handle bound to the namespace.
func (n *NetNS) Netlink() *netlink.Handle { return n.nl }

// Fd is the namespace's file descriptor (valid until Close).
func (n *NetNS) Fd() int { return int(n.handle) }

// Close releases the handles. The namespace itself stays if it has a name.
func (n *NetNS) Close() error {
	if n.nl != nil {
		n.nl.Close()
		n.nl = nil
	}
	if n.handle.IsOpen() {
		n.handle.Close()
		n.handle = netns.None()
	}
	return nil
}

// Delete releases the handles and removes the named namespace, like
// `ip netns del`. Links inside it are deleted first so that a veth peer in
// another namespace goes away now rather than when the kernel gets to it.
// Processes still running inside keep the namespace alive; stop them first.
func (n *NetNS) Delete() error {
	if n.Name == "" {
		// Never strip the links of the process's own namespace.
		return errors.New("delete netns: this namespace has no name (it is the process's own); only named namespaces can be deleted")
	}
	var errs []error
	if n.nl != nil {
		if links, err := n.nl.LinkList(); err == nil {
			for _, l := range links {
				if l.Attrs().Name == "lo" {
					continue
				}
				if err := n.nl.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
					errs = append(errs, fmt.Errorf("delete link %s in netns %s: %w", l.Attrs().Name, n.Name, err))
				}
			}
		}
	}
	n.Close()
	if err := deleteNamed(n.Name); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func deleteNamed(name string) error {
	path := filepath.Join(NetNSDir, name)
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete netns %s: unmount: %w", name, err)
	}
	err := os.Remove(path)
	switch {
	case err == nil || errors.Is(err, os.ErrNotExist):
		return nil
	case errors.Is(err, unix.EBUSY):
		return fmt.Errorf("delete netns %s: %w: the namespace was mounted before %s became a mount point "+
			"(another `ip netns add` raced with it) and lies under that mount now: unmount %[3]s itself while no other namespace is in it, or reboot", name, err, NetNSDir)
	}
	return fmt.Errorf("delete netns %s: %w", name, err)
}

// Do runs fn on an OS thread switched into the namespace. Sockets and TAP
// file descriptors opened by fn stay in the namespace after fn returns, so
// Do is how Go code listens or dials "from inside". fn must not start
// goroutines that expect the namespace: they run on other threads.
func (n *NetNS) Do(fn func() error) error {
	var fnErr error
	err := onLockedThread(func() (func() error, error) {
		orig, err := netns.Get()
		if err != nil {
			return nil, fmt.Errorf("get current netns: %w", err)
		}
		restore := func() error {
			defer orig.Close()
			return netns.Set(orig)
		}
		if err := netns.Set(n.handle); err != nil {
			return restore, fmt.Errorf("enter netns %s: %w", n.Name, err)
		}
		fnErr = fn()
		return restore, nil
	})
	if err != nil {
		return err
	}
	return fnErr
}

// Command prepares name with args to run inside the (named) namespace through `ip netns exec`: the
// whole process lives there, where Do moves one thread. ctx kills it, as with exec.CommandContext.
func (n *NetNS) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// onLockedThread runs fn in a new goroutine locked to its OS thread and
// unlocks the thread only if fn's restore step succeeds; otherwise the
// thread ends with the goroutine, so no other code ever runs on a thread
// left in a foreign namespace.
func onLockedThread(fn func() (restore func() error, err error)) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		restore, err := fn()
		if restore != nil {
			if rerr := restore(); rerr != nil {
				done <- errors.Join(err, fmt.Errorf("return to original netns: %w", rerr))
				return // thread stays locked and is discarded
			}
		}
		runtime.UnlockOSThread()
		done <- err
	}()
	return <-done
}

// Link returns the named link in the namespace.
func (n *NetNS) Link(name string) (netlink.Link, error) {
	l, err := n.nl.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("link %s in netns %s: %w", name, n.display(), err)
	}
	return l, nil
}

// HasLink reports whether a link of that name exists in the namespace.
func (n *NetNS) HasLink(name string) bool {
	_, err := n.nl.LinkByName(name)
	return err == nil
}

// LinkUp sets the link up.
func (n *NetNS) LinkUp(name string) error {
	l, err := n.Link(name)
	if err != nil {
		return err
	}
	if err := n.nl.LinkSetUp(l); err != nil {
		return fmt.Errorf("set %s up in netns %s: %w", name, n.display(), err)
	}
	return nil
}

// SetMTU sets the link's MTU.
func (n *NetNS) SetMTU(name string, mtu int) error {
	l, err := n.Link(name)
	if err != nil {
		return err
	}
	if err := n.nl.LinkSetMTU(l, mtu); err != nil {
		return fmt.Errorf("set mtu %d on %s: %w", mtu, name, err)
	}
	return nil
}

// AddAddr puts an address on a link. IPv6 addresses skip duplicate address
// detection (IFA_F_NODAD) so they are usable at once: the peer on the link
// is our own device, which has no business answering DAD for it.
func (n *NetNS) AddAddr(name string, p netip.Prefix) error {
	if !p.IsValid() {
		return fmt.Errorf("add address to %s: invalid prefix %v", name, p)
	}
	if err := CheckPrefix(p); err != nil {
		return fmt.Errorf("add address to %s: %w", name, err)
	}
	l, err := n.Link(name)
	if err != nil {
		return err
	}
	a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
	if p.Addr().Is6() {
		a.Flags = unix.IFA_F_NODAD
	}
	if err := n.nl.AddrAdd(l, a); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return nil
		}
		return fmt.Errorf("add address %v to %s in netns %s: %w", p, name, n.display(), err)
	}
	return nil
}

// DeleteLink removes a link; a missing link is not an error.
func (n *NetNS) DeleteLink(name string) error {
	l, err := n.nl.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
			return nil
		}
		return fmt.Errorf("delete link %s: %w", name, err)
	}
	if err := n.nl.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete link %s in netns %s: %w", name, n.display(), err)
	}
	return nil
}

// MoveLink moves a link from this namespace into dst.
func (n *NetNS) MoveLink(name string, dst *NetNS) error {
	l, err := n.Link(name)
	if err != nil {
		return err
	}
	if err := n.nl.LinkSetNsFd(l, dst.Fd()); err != nil {
		return fmt.Errorf("move link %s into netns %s: %w", name, dst.display(), err)
	}
	return nil
}

// AddVeth creates a veth pair: name in this namespace, peer in peerNS
// (this namespace when nil).
func (n *NetNS) AddVeth(name, peer string, peerNS *NetNS) error {
	if err := validIfName(name); err != nil {
		return err
	}
	if err := validIfName(peer); err != nil {
		return err
	}
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: peer}
	if peerNS != nil && peerNS != n {
		v.PeerNamespace = netlink.NsFd(peerNS.Fd())
	}
	if err := n.nl.LinkAdd(v); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("add veth %s/%s: a link of that name exists: pick other names", name, peer)
		}
		return fmt.Errorf("add veth %s/%s: %w", name, peer, err)
	}
	return nil
}

// Kernel returns Listen/Dial helpers whose sockets live in this namespace.
func (n *NetNS) Kernel() Kernel { return Kernel{NS: n} }

func (n *NetNS) display() string {
	if n.Name == "" {
		return "(current)"
	}
	return n.Name
}

// Kernel is the host kernel's TCP seen from inside a namespace, with the
// same Listen/Dial shape as stack.IP and stack.Kernel. A nil NS means the
// calling process's own namespace.
type Kernel struct{ NS *NetNS }

// Listen opens a TCP listener inside the namespace; an unspecified address listens on all.
func (k Kernel) Listen(ctx context.Context, addr netip.AddrPort) (net.Listener, error) {
	if err := CheckAddr(addr.Addr()); err != nil {
		return nil, fmt.Errorf("kernel listen: %w", err)
	}
	var ln net.Listener
	err := k.do(func() error {
		var err error
		ln, err = stack.Kernel{}.Listen(ctx, addr)
		return err
	})
	return ln, err
}

// Dial connects over TCP from inside the namespace, from local when it is set (a chosen port is
// bound with SO_REUSEADDR, as FTP's port 20 needs); 192.0.2.0/24 is refused.
func (k Kernel) Dial(ctx context.Context, local, remote netip.AddrPort) (net.Conn, error) {
	if err := errors.Join(CheckAddr(remote.Addr()), CheckAddr(local.Addr())); err != nil {
		return nil, fmt.Errorf("kernel dial %s: %w", remote, err)
	}
	var c net.Conn
	err := k.do(func() error {
		var err error
		c, err = stack.Kernel{}.Dial(ctx, local, remote)
		return err
	})
	return c, err
}

func (k Kernel) do(fn func() error) error {
	if k.NS == nil {
		return fn()
	}
	return k.NS.Do(fn)
}

func validNetNSName(name string) error {
	if name == "" || name == "." || name == ".." || len(name) > 255 || filepath.Base(name) != name {
		return fmt.Errorf("invalid netns name %q: use a plain name such as nxs1", name)
	}
	return nil
}

// validIfName checks a Linux interface name: 1-15 bytes, no '/', ':' or
// white space.
func validIfName(name string) error {
	if name == "" || len(name) > unix.IFNAMSIZ-1 || name == "." || name == ".." {
		return fmt.Errorf("invalid interface name %q: use 1 to 15 characters", name)
	}
	for _, r := range name {
		if r == '/' || r == ':' || r <= ' ' || r > '~' {
			return fmt.Errorf("invalid interface name %q: no '/', ':', spaces or non-ASCII", name)
		}
	}
	return nil
}
