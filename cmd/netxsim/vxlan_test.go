package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netxsim/netxsim/cmd/netxsim/internal/cli/clitest"
)

// freeUDPPort is a loopback UDP port nobody uses now.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// TestVXLANTwoProcesses joins two netxsim processes on loopback by VXLAN (no root): the FTP client of
// one puts files to the device of the other and gets them back, over IPv4 and IPv6.
func TestVXLANTwoProcesses(t *testing.T) {
	bin := buildNetxsim(t)
	p1, p2 := freeUDPPort(t), freeUDPPort(t)
	dir := t.TempDir()
	pcap := filepath.Join(dir, "device.pcapng")
	srv := clitest.StartProc(t, exec.Command(bin, "serve", "--vxlan", fmt.Sprintf("local=127.0.0.1:%d,remote=127.0.0.1:%d,vni=42", p1, p2),
		"--ram", "8M", "--user", "u:p", "--profile", "extended", "--skip-dad", "--pcap", pcap), "running")
	data := make([]byte, 300<<10)
	rand.Read(data)
	src := filepath.Join(dir, "src.bin")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ftp := func(args ...string) {
		t.Helper()
		argv := append([]string{"ftp", "--vxlan", fmt.Sprintf("local=127.0.0.1:%d,remote=127.0.0.1:%d,vni=42", p2, p1),
			"--ipv4", "198.51.100.1/24", "--ipv6", "2001:db8::1/64", "--mac", "02:4e:58:00:00:01", "--skip-dad", "--timeout", "60s"}, args...)
		out, err := exec.Command(bin, argv...).CombinedOutput()
		if err != nil {
			t.Fatalf("netxsim %s: %v\n%s", strings.Join(argv, " "), err, out)
		}
	}
	for i, host := range []string{"198.51.100.2", "[2001:db8::2]"} {
		name := fmt.Sprintf("f%d.bin", i)
		back := filepath.Join(dir, "back-"+name)
		ftp("put", src, "ftp://u:p@"+host+"/"+name)
		ftp("--passive", "get", "ftp://u:p@"+host+"/"+name, back)
		got, err := os.ReadFile(back)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("%s: %d bytes came back, %d sent, or changed", host, len(got), len(data))
		}
	}
	// The segment was captured like any other: the device's capture verifies, four sessions, both families.
	srv.Stop()
	out, err := exec.Command(bin, "verify", pcap).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "4 FTP sessions, 0 violations") || !strings.Contains(string(out), "2001:db8::1") {
		t.Fatalf("verify the VXLAN segment's capture: %v\n%s", err, out)
	}
}
