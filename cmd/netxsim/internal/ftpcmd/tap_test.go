package ftpcmd

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	if _, err := os.Stat("/usr/lib/python3/dist-packages/pyftpdlib"); err != nil {
		t.Skip("needs python3-pyftpdlib (Debian package)")
	}
	// A persistent TAP with the kernel side's addresses; the command attaches the device stack to it.
	name, _ := persistentTAP(t, "nxc", "198.51.100.1/24", "2001:db8::1/64")
	root := t.TempDir()
	script, _ := filepath.Abs("../../../../ftp/client/testdata/pyftpd.py")
	ports := map[string]int{}
	for _, host := range []string{"198.51.100.1", "2001:db8::1"} {
		cmd := execInNS(name, "/usr/bin/python3", "-u", script, host, "0", root)
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		sc := bufio.NewScanner(out)
		done := make(chan int, 1)
		go func() {
			var p int
			for sc.Scan() {
				if _, err := fmt.Sscanf(sc.Text(), "PORT %d", &p); err == nil {
					done <- p
					return
				}
			}
		}()
		select {
		case ports[host] = <-done:
		case <-time.After(20 * time.Second):
			t.Fatal("pyftpdlib did not start in the namespace")
		}
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
			code, out, errOut := runCmd(t, args...)
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

func execInNS(ns string, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
}
