package ftpcmd

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netxsim/netxsim/cmd/netxsim/internal/cli/clitest"
	"github.com/netxsim/netxsim/internal/testio"
	"github.com/netxsim/netxsim/tapdev"
	"github.com/netxsim/netxsim/tapdev/taptest"
)

// persistentTAP makes a namespace with a persistent TAP of the same name inside (the device's MAC),
// the kernel side's addresses on it and the link up, all removed when the test ends: a TAP that
// `netxsim ftp --netns --tap` opens as it is and leaves behind.
func persistentTAP(t *testing.T, prefix string, addrs ...string) (string, *tapdev.NetNS) {
	t.Helper()
	name := taptest.Name(prefix)
	ns, err := tapdev.CreateNetNS(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.DeleteLink(name); ns.Delete() })
	tap, err := tapdev.Open(tapdev.Config{Name: name, NetNS: ns, Persist: true, MAC: net.HardwareAddr{2, 0x4e, 0x58, 0, 0, 2}})
	if err != nil {
		t.Fatal(err)
	}
	tap.Close()
	for _, p := range addrs {
		if err := ns.AddAddr(name, netip.MustParsePrefix(p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := ns.LinkUp(name); err != nil {
		t.Fatal(err)
	}
	return name, ns
}

// TestCommandsOnTAP runs `netxsim ftp --netns --tap` (the client on the device stack on a TAP) against
// pyftpdlib on the kernel side of a namespace, over IPv4 and IPv6.
func TestCommandsOnTAP(t *testing.T) {
	if why := taptest.Skip(); why != "" {
		t.Skip(why)
	}
	needPyftpdlib(t)
	// A persistent TAP with the kernel side's addresses; the command attaches the device stack to it.
	name, ns := persistentTAP(t, "nxc", "198.51.100.1/24", "2001:db8::1/64")
	root := t.TempDir()
	ports := map[string]int{}
	for _, host := range []string{"198.51.100.1", "2001:db8::1"} {
		args := pyftpdArgs(host, root)
		ports[host] = startPyftpd(t, ns.Command(t.Context(), args[0], args[1:]...))
	}
	data := bytes.Repeat([]byte("tap "), 100_000)
	src := filepath.Join(t.TempDir(), "src.bin")
	os.WriteFile(src, data, 0o644)
	for host, port := range ports {
		u := fmt.Sprintf("ftp://user:secret@%s/", netip.AddrPortFrom(netip.MustParseAddr(host), uint16(port)))
		dev := []string{"--netns", name, "--tap", name}
		dst := filepath.Join(t.TempDir(), "got.bin")
		// pyftpdlib compares EPRT addresses as strings and refuses NetX's full-form IPv6 EPRT (see
		// pyftpd.py), so the netxduo profile's active upload runs over IPv4.
		profile := "netxduo"
		if strings.Contains(host, ":") {
			profile = "extended"
		}
		for _, args := range [][]string{
			append([]string{"put", src, u + "f.bin", "--profile", profile}, dev...),
			append([]string{"nlst", u, "--passive"}, dev...),
			append([]string{"get", u + "f.bin", dst}, dev...),
			append([]string{"rm", u + "f.bin"}, dev...),
		} {
			code, out, errOut := clitest.Run(t, Run, args...)
			if code != 0 {
				t.Fatalf("netxsim ftp %q = %d\n%s%s", args, code, out, errOut)
			}
			if args[0] == "nlst" && !strings.Contains(out, "f.bin") {
				t.Fatalf("nlst = %q", out)
			}
		}
		if got, err := os.ReadFile(dst); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: downloaded %d bytes, %v", host, len(got), err)
		}
	}
}

// pyftpdOnFD serves root with pyftpdlib (user/secret) on an already listening socket, passed as fd 3,
// inside the namespace ns.
const pyftpdOnFD = `
import socket, sys
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer
auth = DummyAuthorizer()
auth.add_user("user", "secret", sys.argv[1], perm="elradfmwMT")
class H(FTPHandler):
    authorizer = auth
FTPServer(socket.socket(fileno=3), H).serve_forever()
`

// TestNetNSFresh: `netxsim ftp --netns NS` with a namespace name that does not exist creates the
// namespace, a TAP in it with the kernel side's addresses, transfers, and removes all of it. The kernel
// server is pyftpdlib in that namespace: its socket is made and listening the moment the namespace
// appears (connections wait in the kernel's backlog until python accepts them), so there is no race
// with the command's first SYN.
func TestNetNSFresh(t *testing.T) {
	if why := taptest.Skip(); why != "" {
		t.Skip(why)
	}
	needPyftpdlib(t)
	name := taptest.Name("nxn")
	t.Cleanup(func() {
		clitest.NetNSGone(t, name)
	})
	root := t.TempDir()
	data := bytes.Repeat([]byte("fresh namespace "), 20000)
	os.WriteFile(filepath.Join(root, "f.bin"), data, 0o644)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	served := make(chan error, 1)
	go func() {
		for ctx.Err() == nil {
			if ns, err := tapdev.OpenNetNS(name); err == nil {
				srv := ns.Command(ctx, "/usr/bin/python3", "-c", pyftpdOnFD, root)
				ln, err := ns.Kernel().Listen(ctx, netip.MustParseAddrPort("0.0.0.0:2121"))
				ns.Close()
				if err != nil {
					served <- err
					return
				}
				f, err := ln.(*net.TCPListener).File()
				ln.Close()
				if err != nil {
					served <- err
					return
				}
				srv.ExtraFiles = []*os.File{f}
				err = srv.Start()
				f.Close()
				if err == nil {
					t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
				}
				served <- err
				return
			}
			time.Sleep(time.Millisecond)
		}
		served <- ctx.Err()
	}()
	dst := filepath.Join(t.TempDir(), "got.bin")
	code, out, errOut := clitest.Run(t, Run, "get", "ftp://user:secret@198.51.100.1:2121/f.bin", dst, "--netns", name, "--timeout", "40s")
	if err := <-served; err != nil {
		t.Fatalf("kernel server in the namespace: %v", err)
	}
	if code != 0 {
		t.Fatalf("netxsim ftp get --netns %s (fresh) = %d\n%s%s", name, code, out, errOut)
	}
	if got, err := os.ReadFile(dst); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("downloaded %d bytes (%v), want %d", len(got), err, len(data))
	}
	if tapdev.NetNSExists(name) {
		t.Errorf("namespace %s still exists after the command", name)
	}
}

// TestKernelServerLinkLocal: `netxsim ftp` on the device stack to vsftpd in a namespace over the kernel
// side's IPv6 link-local address (URL zone %TAP), passive (EPSV) and active (EPRT with the device's
// link-local address), download SHA equal; the command opens an existing namespace and TAP and
// leaves both as they were.
func TestKernelServerLinkLocal(t *testing.T) {
	if why := taptest.Skip(); why != "" {
		t.Skip(why)
	}
	testio.NeedTools(t, "vsftpd")
	name, ns := persistentTAP(t, "nxl")
	kernelLL := kernelLinkLocal(t, ns, name)

	root, err := os.MkdirTemp("", "nxl-vsftpd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	os.Chmod(root, 0o755)
	data := bytes.Repeat([]byte("link-local "), 30000)
	os.WriteFile(filepath.Join(root, "f.bin"), data, 0o644)
	conf := filepath.Join(t.TempDir(), "vsftpd.conf")
	os.WriteFile(conf, []byte(strings.Join([]string{
		"listen=NO", "listen_ipv6=YES", "listen_port=2121", "background=NO",
		"anonymous_enable=YES", "no_anon_password=YES", "anon_root=" + root, "local_enable=NO", "write_enable=NO",
		"pasv_enable=YES", "pasv_min_port=30000", "pasv_max_port=30999", "port_enable=YES",
		"connect_from_port_20=NO", "seccomp_sandbox=NO", "isolate=NO", "isolate_network=NO",
		"secure_chroot_dir=/var/run/vsftpd/empty", "xferlog_enable=NO", "dirmessage_enable=NO",
	}, "\n")+"\n"), 0o600)
	os.MkdirAll("/var/run/vsftpd/empty", 0o755)
	srv := clitest.StartProc(t, ns.Command(t.Context(), "/usr/sbin/vsftpd", conf), "")
	waitPort(t, ns, netip.AddrPortFrom(kernelLL.WithZone(name), 2121))

	u := fmt.Sprintf("ftp://[%s%%%s]:2121/f.bin", kernelLL, name)
	for _, mode := range []string{"--passive", "--passive=false"} {
		dst := filepath.Join(t.TempDir(), "got.bin")
		code, out, errOut := clitest.Run(t, Run, "get", u, dst, "--netns", name, "--tap", name, "--skip-dad", mode, "--timeout", "30s")
		if code != 0 {
			t.Fatalf("netxsim ftp get %s %s = %d\n%s%s\nvsftpd: %s", u, mode, code, out, errOut, srv.Stderr())
		}
		if got, err := os.ReadFile(dst); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: %d bytes (%v), want %d", mode, len(got), err, len(data))
		}
	}
	if !ns.HasLink(name) {
		t.Error("the command removed a TAP it did not create")
	}
}

// kernelLinkLocal puts fe80::1 on the kernel side of link (AddAddr skips DAD): the TAP has no carrier
// until the device opens it, so the kernel's own EUI-64 address would not exist before the command runs.
func kernelLinkLocal(t *testing.T, ns *tapdev.NetNS, link string) netip.Addr {
	t.Helper()
	ll := netip.MustParseAddr("fe80::1")
	if err := ns.AddAddr(link, netip.PrefixFrom(ll, 64)); err != nil {
		t.Fatal(err)
	}
	return ll
}

func waitPort(t *testing.T, ns *tapdev.NetNS, ap netip.AddrPort) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, err := ns.Kernel().Dial(ctx, netip.AddrPort{}, ap)
		cancel()
		if err == nil {
			c.Close()
			return
		}
	}
	t.Fatalf("nothing listens on %s", ap)
}
