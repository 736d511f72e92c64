//go:build linux

package netxsim_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netxsim/netxsim"
	"github.com/netxsim/netxsim/fsimage"
	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/ftp/client"
	"github.com/netxsim/netxsim/ftp/ftpcheck"
	"github.com/netxsim/netxsim/internal/testio"
	"github.com/netxsim/netxsim/netxsimtest"
	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/tapdev"
)

// A device on a TAP talks to the kernel side in a namespace made for it; Close removes the namespace.
func TestTAPSegment(t *testing.T) {
	if why := netxsim.TAPSupported(); why != "" {
		t.Skip(why)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var n netxsim.Network
	defer n.Close()
	seg, err := n.TAP(ctx, "tap", netxsim.TAPConfig{CreateNetNS: true, HostAddrs: []netip.Prefix{netxsim.HostIPv4}})
	if err != nil {
		t.Fatal(err)
	}
	ns := seg.NetNS().Name
	d, err := n.AddDevice(ctx, seg, netxsim.DeviceConfig{Config: stack.Config{Name: seg.TAPName(), IPv4: netxsim.DeviceIPv4, SkipDAD: true}})
	if err != nil {
		t.Fatal(err)
	}
	k := seg.Kernel()
	ln, err := k.Listen(ctx, netip.AddrPortFrom(netxsim.HostIPv4.Addr(), 0))
	if err != nil {
		t.Fatal(err)
	}
	testio.Greet(ln, "hello from the kernel")
	c, err := d.Dial(ctx, netip.AddrPort{}, netip.MustParseAddrPort(ln.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(c)
	c.Close()
	ln.Close()
	if string(b) != "hello from the kernel" {
		t.Fatalf("read %q", b)
	}
	if _, err := d.Dial(ctx, netip.AddrPort{}, netip.MustParseAddrPort("192.0.2.1:21")); !errors.Is(err, netxsim.ErrReservedAddress) {
		t.Fatalf("device on a TAP dialing 192.0.2.1: %v, want ErrReservedAddress", err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if tapdev.NetNSExists(ns) {
		t.Fatalf("namespace %s left behind", ns)
	}
}

func TestTAPRefusesReserved(t *testing.T) {
	if why := netxsim.TAPSupported(); why != "" {
		t.Skip(why)
	}
	var n netxsim.Network
	defer n.Close()
	if _, err := n.TAP(t.Context(), "tap", netxsim.TAPConfig{CreateNetNS: true, HostAddrs: []netip.Prefix{netip.MustParsePrefix("192.0.2.1/24")}}); !errors.Is(err, netxsim.ErrReservedAddress) {
		t.Fatalf("kernel side in 192.0.2.0/24: %v, want ErrReservedAddress", err)
	}
	seg, err := n.TAP(t.Context(), "tap2", netxsim.TAPConfig{CreateNetNS: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = n.AddDevice(t.Context(), seg, netxsim.DeviceConfig{Config: stack.Config{Name: "d", IPv4: netip.MustParsePrefix("192.0.2.2/24"), SkipDAD: true}})
	if !errors.Is(err, netxsim.ErrReservedAddress) {
		t.Fatalf("device in 192.0.2.0/24 on a TAP: %v, want ErrReservedAddress", err)
	}
}

// The device as NetX's FTP client on its own files, against a real server on the kernel side of a
// TAP (issue 12 item 7): it uploads its log from its FAT image to pyftpdlib in the namespace and fetches
// it back into the image under another name; all three copies are equal, and the capture verifies.
func TestDeviceUploadsLogsToKernelServer(t *testing.T) {
	if why := netxsim.TAPSupported(); why != "" {
		t.Skip(why)
	}
	testio.NeedTools(t, "pyftpdlib")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pcap := filepath.Join(t.TempDir(), "c.pcapng")
	n := &netxsim.Network{Capture: pcap}
	defer n.Close()
	seg, err := n.TAP(ctx, "tap", netxsim.TAPConfig{CreateNetNS: true, HostAddrs: []netip.Prefix{netxsim.HostIPv4}})
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	os.Chmod(root, 0o777)
	script, _ := filepath.Abs("ftp/client/testdata/pyftpd.py")
	srv := seg.NetNS().Command(ctx, "/usr/bin/python3", "-u", script, netxsim.HostIPv4.Addr().String(), "2121", root)
	out, _ := srv.StdoutPipe()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || !strings.HasPrefix(line, "PORT") {
		t.Fatalf("pyftpdlib did not start: %q %v", line, err)
	}
	d, err := n.AddDevice(ctx, seg, netxsim.DeviceConfig{Config: stack.Config{Name: seg.TAPName(), IPv4: netxsim.DeviceIPv4, SkipDAD: true}})
	if err != nil {
		t.Fatal(err)
	}
	img, err := d.FormatRAM(4<<20, fsimage.FormatOptions{})
	if err != nil {
		t.Fatal(err)
	}
	logs := bytes.Repeat([]byte("boot: ok\r\n"), 30000)
	if err := fsimage.WriteFile(img, "logs/boot.log", bytes.NewReader(logs)); err != nil {
		t.Fatal(err)
	}
	c, err := d.Login(ctx, netip.AddrPortFrom(netxsim.HostIPv4.Addr(), 2121), "user", "secret", client.WithProfile(ftp.ProfileNetXDuo))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Send(ctx, c, "logs/boot.log", "boot.log"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Fetch(ctx, c, "boot.log", "logs/back.log"); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	onServer, err1 := os.ReadFile(filepath.Join(root, "boot.log"))
	back, err2 := fs.ReadFile(img, "logs/back.log")
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(onServer) != sha256.Sum256(logs) || sha256.Sum256(back) != sha256.Sum256(logs) {
		t.Fatalf("SHA-256 differ: server %d bytes, back %d bytes, log %d", len(onServer), len(back), len(logs))
	}
	if _, err := netxsimtest.Verify(pcap, ftpcheck.Options{}); err != nil {
		t.Fatal(err)
	}
}
