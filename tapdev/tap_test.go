//go:build linux

package tapdev

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces and TAP devices")
	}
	if _, err := os.Stat(TunDevice); err != nil {
		t.Skipf("needs %s: %v", TunDevice, err)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip (iproute2)")
	}
}

func uniq(prefix string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func newNS(t *testing.T) *NetNS {
	t.Helper()
	ns, err := CreateNetNS(uniq("nxst"))
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

func TestNetNSLifecycle(t *testing.T) {
	needRoot(t)
	ns, err := CreateNetNS(uniq("nxst"))
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
	an, bn := uniq("nxv"), uniq("nxv")
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
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Write([]byte("hi"))
			c.Close()
		}
	}()
	c, err := a.Kernel().Dial(ctx, netip.AddrPort{}, netip.MustParseAddrPort("203.0.113.2:7000"))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2)
	if _, err := c.Read(buf); err != nil || string(buf) != "hi" {
		t.Fatalf("read %q %v", buf, err)
	}
	c.Close()
	// Deleting one namespace takes the veth pair with it.
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
	needRoot(t)
	ns := newNS(t)
	name := uniq("nxt")
	mac := net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x00, 0x02}
	tap, err := Open(Config{Name: name, NetNS: ns, MAC: mac, MTU: 1500})
	if err != nil {
		t.Fatal(err)
	}
	if !tap.Created() || tap.Name() != name {
		t.Fatalf("created=%v name=%s", tap.Created(), tap.Name())
	}
	if !ns.HasLink(name) {
		t.Fatal("TAP not in its namespace")
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
	out, err := exec.Command("ip", "netns", "exec", ns.Name, "ping", "-c1", "-W5", "198.51.100.2").CombinedOutput()
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
	needRoot(t)
	ns := newNS(t)
	name := uniq("nxp")
	mac := net.HardwareAddr{0x02, 0, 0, 0, 0, 2}
	uid := uint(65534)
	tap, err := Open(Config{Name: name, NetNS: ns, MAC: mac, Persist: true, Owner: &uid})
	if err != nil {
		t.Fatal(err)
	}
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
	if err := ns.AddVeth(name, uniq("nxq"), nil); err != nil {
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
	needRoot(t)
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("needs setpriv (util-linux)")
	}
	ns := newNS(t)
	name := uniq("nxr")
	uid := uint(65534)
	tap, err := Open(Config{Name: name, NetNS: ns, MAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, Persist: true, Owner: &uid})
	if err != nil {
		t.Fatal(err)
	}
	tap.Close()
	// A copy of the test binary that the unprivileged user can execute.
	dir, err := os.MkdirTemp("", "nxsroot")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
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
	_, err = Open(Config{Name: uniq("nxn"), MAC: mac})
	if err == nil || !strings.Contains(err.Error(), "tap-setup.sh") || !strings.Contains(err.Error(), "CAP_NET_ADMIN") {
		t.Errorf("create without CAP_NET_ADMIN: %v", err)
	}
}
