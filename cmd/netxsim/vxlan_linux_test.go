//go:build linux

package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netxsim/netxsim/cmd/netxsim/internal/cli/clitest"
	"github.com/netxsim/netxsim/tapdev/taptest"
)

// TestVXLANLinuxInterface: a Linux vxlan interface in one namespace reaches a netxsim device (its
// serve process in a second namespace) over VXLAN on an underlay of 203.0.113.0/24 across a veth
// pair between the two; curl puts a file and lists the FTP root, over IPv4 and IPv6.
func TestVXLANLinuxInterface(t *testing.T) {
	needRootAndTools(t, "network namespaces, a veth pair and a Linux vxlan interface", "ip", "curl", "ethtool")
	bin := buildNetxsim(t)
	linuxNS, simNS := taptest.VethPair(t, "nxv") // the underlay: 203.0.113.1 and .2 on a veth pair
	var underlay string                          // linuxNS's end of the veth (VethPair names it)
	links, err := linuxNS.Netlink().LinkList()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if l.Type() == "veth" {
			underlay = l.Attrs().Name
		}
	}
	ip := func(args ...string) {
		t.Helper()
		if out, err := linuxNS.Command(t.Context(), "ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	ip("link", "add", "vx0", "type", "vxlan", "id", "4242", "local", "203.0.113.1", "remote", "203.0.113.2", "dstport", "4789", "dev", underlay)
	ip("addr", "add", "198.51.100.1/24", "dev", "vx0")
	ip("addr", "add", "2001:db8::1/64", "dev", "vx0", "nodad")
	ip("link", "set", "vx0", "up")
	// A veth hands the encapsulated segment over with the inner TCP checksum still to be filled in
	// (checksum offload, done by a real NIC on the wire); a UDP socket then reads it unfinished.
	// Software checksums on the underlay veth, as a NIC would have done (docs/vxlan.md).
	if out, err := linuxNS.Command(t.Context(), "ethtool", "-K", underlay, "tx", "off").CombinedOutput(); err != nil {
		t.Fatalf("ethtool: %v\n%s", err, out)
	}

	// Not the test's context: it ends before the cleanups, and serve must be interrupted (Stop), not killed.
	clitest.StartProc(t, simNS.Command(context.Background(), bin, "serve",
		"--vxlan", "local=203.0.113.2:4789,remote=203.0.113.1:4789,vni=4242", "--ram", "8M", "--user", "u:p", "--skip-dad"), "running")

	file := filepath.Join(t.TempDir(), "hello.txt")
	if err := os.WriteFile(file, []byte("over vxlan\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	curl := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, err := linuxNS.Command(ctx, "curl", append([]string{"-sS", "-g", "--connect-timeout", "20", "-u", "u:p"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("curl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	curl("-T", file, "ftp://198.51.100.2/hello.txt")
	for _, url := range []string{"ftp://198.51.100.2/", "ftp://[2001:db8::2]/"} {
		if out := curl(url); !strings.Contains(out, "hello.txt") {
			t.Fatalf("LIST of %s over VXLAN lacks hello.txt:\n%s", url, out)
		}
	}
	if out := curl("ftp://[2001:db8::2]/hello.txt"); out != "over vxlan\n" {
		t.Fatalf("RETR over IPv6: %q", out)
	}
}
