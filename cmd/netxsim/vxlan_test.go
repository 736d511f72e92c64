package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netxsim/netxsim/cmd/netxsim/internal/cli/clitest"
)

// TestVXLANTwoProcesses joins two netxsim processes on loopback by VXLAN (no root): the FTP client of
// one (this test's, in process) puts files to the device of the other (a child) and gets them back,
// over IPv4 and IPv6.
func TestVXLANTwoProcesses(t *testing.T) {
	p1, p2 := clitest.FreeUDPPort(t), clitest.FreeUDPPort(t)
	dir := t.TempDir()
	pcap := filepath.Join(dir, "device.pcapng")
	srv := startCLI(t, "running", "serve", "--vxlan", fmt.Sprintf("local=127.0.0.1:%d,remote=127.0.0.1:%d,vni=42", p1, p2),
		"--ram", "8M", "--user", "u:p", "--profile", "extended", "--skip-dad", "--pcap", pcap)
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
		if code, out, errOut := clitest.Run(t, run, argv...); code != 0 {
			t.Fatalf("netxsim %s: exit %d\n%s%s", strings.Join(argv, " "), code, out, errOut)
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
	code, out, errOut := clitest.Run(t, run, "verify", pcap)
	if code != 0 || !strings.Contains(out, "4 FTP sessions, 0 violations") || !strings.Contains(out, "2001:db8::1") {
		t.Fatalf("verify the VXLAN segment's capture: exit %d\n%s%s", code, out, errOut)
	}
}
