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
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"

	"github.com/netxsim/netxsim/internal/testio"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func needRoot(t *testing.T) {
	t.Helper()
	if why := Supported(); why != "" {
		t.Skip("the test " + why)
	}
	testio.NeedTools(t, "ip") // iproute2: the tests check what ip(8) sees
}

func newNS(t *testing.T) *NetNS {
	t.Helper()
	ns, err := CreateNetNS(RandomName("nxst"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ns.Delete(); err != nil {
			t.Error(err)
		}
	})
	return ns
}

// openTAP opens a TAP named from prefix, as cfg says otherwise, in a namespace of its own that is
// deleted at cleanup.
func openTAP(t *testing.T, prefix string, cfg Config) (ns *NetNS, tap *TAP, name string) {
	t.Helper()
	needRoot(t)
	ns = newNS(t)
	cfg.Name, cfg.NetNS = RandomName(prefix), ns
	tap, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ns, tap, cfg.Name
}

func TestValidation(t *testing.T) {
	for _, n := range []string{"", "0123456789abcdef", "a/b", "a b", "a:b"} {
		if err := validIfName(n); err == nil {
			t.Errorf("validIfName(%q) accepted", n)
		}
	}
	if _, err := Open(Config{Name: "x", MAC: net.HardwareAddr{1, 2}}); err == nil || !strings.Contains(err.Error(), "6-byte") {
		t.Errorf("short MAC: %v", err)
	}
	if _, err := Open(Config{Name: "x", MAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, MTU: 100}); err == nil {
		t.Error("MTU 100 accepted")
	}
	if _, err := CreateNetNS("../x"); err == nil {
		t.Error("netns name ../x accepted")
	}
}

func TestOpenErrors(t *testing.T) {
	err := openError("tap9", true, os.NewSyscallError("ioctl", errors.New("x")))
	if !strings.Contains(err.Error(), "tap9") {
		t.Error(err)
	}
	for _, c := range []struct {
		errno   syscall.Errno
		created bool
		want    string
	}{
		{syscall.EPERM, true, "tap-setup.sh"},
		{syscall.EPERM, false, "another user"},
		{syscall.EBUSY, false, "name in use"},
	} {
		err := openError("tap9", c.created, os.NewSyscallError("ioctl", c.errno))
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %q lacks %q", c.errno, err, c.want)
		}
	}
}

// TestDoRestoresThreads: after many Do calls no goroutine finds itself in
// a foreign namespace, and the unnamed current namespace refuses Delete.
func TestDoRestoresThreads(t *testing.T) {
	needRoot(t)
	ns := newNS(t)
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	inner := make(chan bool, 1)
	for i := 0; i < 50; i++ {
		if err := ns.Do(func() error {
			h, err := netns.Get()
			if err != nil {
				return err
			}
			defer h.Close()
			select {
			case inner <- !h.Equal(orig):
			default:
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if !<-inner {
		t.Error("Do did not run inside the namespace")
	}
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			h, err := netns.Get()
			if err != nil {
				t.Error(err)
				return
			}
			defer h.Close()
			if !h.Equal(orig) {
				t.Error("a thread was left in another namespace")
			}
		}()
	}
	wg.Wait()
	cur, err := CurrentNetNS()
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	if err := cur.Delete(); err == nil {
		t.Fatal("Delete of the current namespace accepted")
	}
}

func TestNetNSLifecycle(t *testing.T) {
	needRoot(t)
	ns, err := CreateNetNS(RandomName("nxst"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CreateNetNS(ns.Name); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("second create: %v", err)
	}
	if !NetNSExists(ns.Name) {
		t.Fatal("namespace not visible")
	}
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil || !strings.Contains(string(out), ns.Name) {
		t.Errorf("ip netns list: %v %s", err, out)
	}
	if err := ns.Delete(); err != nil {
		t.Fatal(err)
	}
	if NetNSExists(ns.Name) {
		t.Error("namespace left behind")
	}
}

func TestVeth(t *testing.T) {
	needRoot(t)
	a, b := newNS(t), newNS(t)
	an, bn := RandomName("nxv"), RandomName("nxv")
	if err := a.AddVeth(an, bn, b); err != nil {
		t.Fatal(err)
	}
	if !a.HasLink(an) || !b.HasLink(bn) || a.HasLink(bn) {
		t.Fatal("veth ends not where asked")
	}
	for _, s := range []struct {
		ns   *NetNS
		link string
		p    string
	}{{a, an, "203.0.113.1/24"}, {b, bn, "203.0.113.2/24"}} {
		if err := s.ns.AddAddr(s.link, netip.MustParsePrefix(s.p)); err != nil {
			t.Fatal(err)
		}
		if err := s.ns.LinkUp(s.link); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ln, err := b.Kernel().Listen(ctx, netip.MustParseAddrPort("203.0.113.2:7000"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	testio.Greet(ln, "hi")
	c, err := a.Kernel().Dial(ctx, netip.AddrPort{}, netip.MustParseAddrPort("203.0.113.2:7000"))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2)
	if _, err := c.Read(buf); err != nil || string(buf) != "hi" {
		t.Fatalf("read %q %v", buf, err)
	}
	c.Close()
	// MoveLink: a second pair made in a, one end moved into b.
	cn, dn := RandomName("nxv"), RandomName("nxv")
	if err := a.AddVeth(cn, dn, nil); err != nil {
		t.Fatal(err)
	}
	if err := a.MoveLink(dn, b); err != nil {
		t.Fatal(err)
	}
	if a.HasLink(dn) || !b.HasLink(dn) {
		t.Error("MoveLink did not move the link")
	}
	// Deleting one namespace takes the veth pairs with it.
	if err := a.Delete(); err != nil {
		t.Fatal(err)
	}
	if b.HasLink(bn) {
		t.Error("veth peer survived its namespace")
	}
}

// TestTAPPing attaches the TAP to a bare gVisor stack (ARP, IPv4, ICMP) in
// a namespace and pings it from the kernel side.
func TestTAPPing(t *testing.T) {
	ns, tap, name := openTAP(t, "nxt", Config{MAC: net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x00, 0x02}, MTU: 1500})
	if !tap.Created() || tap.Name() != name {
		t.Fatalf("created=%v name=%s", tap.Created(), tap.Name())
	}
	if !ns.HasLink(name) {
		t.Fatal("TAP not in its namespace")
	}
	// Children must not inherit the TAP.
	if err := tap.Endpoint().fd(func(fd int) error {
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err == nil && flags&unix.FD_CLOEXEC == 0 {
			t.Error("TAP descriptor lacks close-on-exec")
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := ns.AddAddr(name, netip.MustParsePrefix("198.51.100.1/24")); err != nil {
		t.Fatal(err)
	}
	if err := ns.LinkUp(name); err != nil {
		t.Fatal(err)
	}
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{icmp.NewProtocol4},
	})
	defer func() { s.Destroy() }()
	if err := s.CreateNIC(1, tap.Endpoint()); err != nil {
		t.Fatal(err)
	}
	if err := s.AddProtocolAddress(1, tcpip.ProtocolAddress{
		Protocol:          ipv4.ProtocolNumber,
		AddressWithPrefix: tcpip.AddrFromSlice([]byte{198, 51, 100, 2}).WithPrefix(),
	}, stack.AddressProperties{}); err != nil {
		t.Fatal(err)
	}
	s.SetRouteTable([]tcpip.Route{{Destination: tcpip.AddressWithPrefix{Address: tcpip.AddrFromSlice([]byte{198, 51, 100, 0}), PrefixLen: 24}.Subnet(), NIC: 1}})
	out, err := ns.Command(context.Background(), "ping", "-c1", "-W5", "198.51.100.2").CombinedOutput()
	if err != nil {
		t.Fatalf("ping: %v\n%s", err, out)
	}
	s.Destroy()
	tap.Close() // second close after the stack closed it: a no-op
	if ns.HasLink(name) {
		t.Error("non-persistent TAP left after close")
	}
}

func TestPersistentTAP(t *testing.T) {
	mac := net.HardwareAddr{0x02, 0, 0, 0, 0, 2}
	uid := uint(65534)
	ns, tap, name := openTAP(t, "nxp", Config{MAC: mac, Persist: true, Owner: &uid})
	tap.Close() // never attached: must not leak the reader
	l, err := ns.Link(name)
	if err != nil {
		t.Fatalf("persistent TAP gone after close: %v", err)
	}
	// Reopen: stays persistent.
	tap, err = Open(Config{Name: name, NetNS: ns, MAC: mac})
	if err != nil {
		t.Fatal(err)
	}
	if tap.Created() {
		t.Error("reopen reported creation")
	}
	// A second opener gets "name in use".
	if _, err := Open(Config{Name: name, NetNS: ns, MAC: mac}); err == nil || !strings.Contains(err.Error(), "name in use") {
		t.Errorf("second open: %v", err)
	}
	tap.Close()
	if !ns.HasLink(name) {
		t.Error("reopening cleared the persist flag")
	}
	_ = l
	if err := ns.DeleteLink(name); err != nil {
		t.Fatal(err)
	}
	// A veth's name is not a TAP.
	if err := ns.AddVeth(name, RandomName("nxq"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Config{Name: name, NetNS: ns, MAC: mac}); err == nil || !strings.Contains(err.Error(), "not a TAP") {
		t.Errorf("open veth as TAP: %v", err)
	}
}

const rootlessEnv = "NETXSIM_TAPDEV_ROOTLESS_TAP"

// TestRootlessOpen: a persistent TAP owned by an unprivileged user can be
// opened by that user without CAP_NET_ADMIN, and creating a new one fails
// with the advice to use scripts/tap-setup.sh. The unprivileged part runs
// in a child copy of the test binary under setpriv.
func TestRootlessOpen(t *testing.T) {
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("needs setpriv (util-linux)")
	}
	uid := uint(65534)
	ns, tap, name := openTAP(t, "nxr", Config{MAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, Persist: true, Owner: &uid})
	tap.Close()
	// A copy of the test binary that the unprivileged user can execute.
	dir := testio.SharedDir(t, "nxsroot")
	bin := dir + "/tapdev.test"
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	// This machine's /dev/net/tun may be 0600 (the usual is 0666): give the
	// child a private mount namespace with a 0666 node of the same device,
	// leaving the host's alone.
	if err := exec.Command("mknod", "-m", "0666", dir+"/tun", "c", "10", "200").Run(); err != nil {
		t.Skipf("needs mknod for a private /dev/net/tun: %v", err)
	}
	inner := fmt.Sprintf("mount --bind %s/tun /dev/net/tun && exec \"$@\"", dir)
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", inner, "sh",
		"ip", "netns", "exec", ns.Name, setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
		"--inh-caps=-all", "--bounding-set=-all", bin, "-test.run=^TestHelperRootless$", "-test.v")
	cmd.Env = append(os.Environ(), rootlessEnv+"="+name, "HOME=/")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestHelperRootless") {
		t.Fatalf("unprivileged child: %v\n%s", err, out)
	}
	if !ns.HasLink(name) {
		t.Error("the user's open cleared the persist flag")
	}
}

func TestHelperRootless(t *testing.T) {
	name := os.Getenv(rootlessEnv)
	if name == "" {
		t.Skip("helper for TestRootlessOpen")
	}
	if os.Geteuid() == 0 {
		t.Fatal("helper runs as root")
	}
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 2}
	tap, err := Open(Config{Name: name, MAC: mac})
	if err != nil {
		t.Fatalf("open own TAP without root: %v", err)
	}
	if tap.Created() {
		t.Error("reported as created")
	}
	tap.Close()
	_, err = Open(Config{Name: RandomName("nxn"), MAC: mac})
	if err == nil || !strings.Contains(err.Error(), "tap-setup.sh") || !strings.Contains(err.Error(), "CAP_NET_ADMIN") {
		t.Errorf("create without CAP_NET_ADMIN: %v", err)
	}
}

const noTunEnv = "NETXSIM_TAPDEV_NO_TUN"

// TestNoTunDevice: without /dev/net/tun, Open says how to get it. The
// child runs in a private mount namespace with an empty /dev/net.
func TestNoTunDevice(t *testing.T) {
	needRoot(t)
	testio.NeedTools(t, "unshare")
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c",
		"mount -t tmpfs none /dev/net && exec \"$@\"", "sh", os.Args[0], "-test.run=^TestHelperNoTun$", "-test.v")
	cmd.Env = append(os.Environ(), noTunEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestHelperNoTun") {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if _, err := os.Stat(TunDevice); err != nil {
		t.Fatalf("the host's %s went missing: %v", TunDevice, err)
	}
}

func TestHelperNoTun(t *testing.T) {
	if os.Getenv(noTunEnv) == "" {
		t.Skip("helper for TestNoTunDevice")
	}
	_, err := Open(Config{Name: RandomName("nxn"), MAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}})
	if err == nil || !strings.Contains(err.Error(), "modprobe tun") {
		t.Fatalf("want advice to load tun, got %v", err)
	}
}

// TestTapSetupScript drives scripts/tap-setup.sh: usage errors exit 2, add
// makes a persistent TAP owned by the user inside a namespace with the
// kernel side addressed, tapdev opens it, del removes TAP and namespace.
func TestTapSetupScript(t *testing.T) {
	needRoot(t)
	script := "../scripts/tap-setup.sh"
	testio.NeedTools(t, "bash")
	for _, args := range [][]string{
		{"add", "--ipv4", "192.0.2.1/24"},
		{"add", "--ipv4", "198.51.100.1"},
		{"add", "--tap", "0123456789abcdef"},
		{"bogus"},
		{"add", "--mtu"},
	} {
		err := exec.Command(script, args...).Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("%v: %v, want exit 2", args, err)
		}
	}
	if out, err := exec.Command(script, "--help").CombinedOutput(); err != nil || !strings.Contains(string(out), "Usage:") {
		t.Errorf("--help: %v %s", err, out)
	}
	nsName, tapName := RandomName("nxss"), RandomName("nxs")
	t.Cleanup(func() { deleteNamed(nsName) }) // if the script's del did not
	out, err := exec.Command(script, "add", "--tap", tapName, "--netns", nsName, "--user", "nobody").CombinedOutput()
	if err != nil {
		t.Fatalf("add: %v\n%s", err, out)
	}
	ns, err := OpenNetNS(nsName)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	l, err := ns.Link(tapName)
	if err != nil {
		t.Fatal(err)
	}
	tt, ok := l.(*netlink.Tuntap)
	if !ok || tt.Mode != netlink.TUNTAP_MODE_TAP || tt.NonPersist || tt.Owner != 65534 {
		t.Fatalf("link %+v: want a persistent TAP owned by nobody", l)
	}
	addrs, err := ns.Netlink().AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range addrs {
		got = append(got, a.IPNet.String())
	}
	for _, want := range []string{"198.51.100.1/24", "2001:db8::1/64"} {
		if !strings.Contains(strings.Join(got, " "), want) {
			t.Errorf("kernel side lacks %s: %v", want, got)
		}
	}
	tap, err := Open(Config{Name: tapName, NetNS: ns, MAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}})
	if err != nil {
		t.Fatal(err)
	}
	if tap.Created() {
		t.Error("script's TAP reported as created")
	}
	tap.Close()
	out, err = exec.Command(script, "del", "--tap", tapName, "--netns", nsName).CombinedOutput()
	if err != nil {
		t.Fatalf("del: %v\n%s", err, out)
	}
	if NetNSExists(nsName) {
		t.Errorf("namespace left after del:\n%s", out)
	}
}
