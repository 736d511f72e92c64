package democmd

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/pcapgo"
)

// TestFormatNaming: --format pcap writes a classic pcap named .pcap, not .pcapng (issue 10 item 17),
// and a --pcap name that says the other format is refused before anything runs.
func TestFormatNaming(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := Run(context.Background(), []string{"--out", dir, "--size", "0", "--format", "pcap"}, &out, &errb); code != 0 {
		t.Fatalf("demo --format pcap: exit %d\n%s%s", code, out.String(), errb.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "netxsim-demo.pcapng")); err == nil {
		t.Fatal("--format pcap wrote netxsim-demo.pcapng")
	}
	f, err := os.Open(filepath.Join(dir, "netxsim-demo.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := pcapgo.NewReader(f); err != nil {
		t.Fatalf("netxsim-demo.pcap is not a classic pcap: %v", err)
	}
	for _, args := range [][]string{
		{"--format", "pcap", "--pcap", "x.pcapng"},
		{"--format", "pcapng", "--pcap", "x.pcap"},
		{"--pcap", "x.PCAP"},
	} {
		errb.Reset()
		code := Run(context.Background(), append([]string{"--out", t.TempDir()}, args...), &out, &errb)
		if code != 2 || !strings.Contains(errb.String(), "--pcap") {
			t.Errorf("%q: exit %d, stderr %q; want 2", args, code, errb.String())
		}
	}
}

// --tap stays a switch, and --tap=NAME names the TAP as --tap NAME does in up, serve and ftp; a name
// the kernel would refuse is a usage error.
func TestTAPFlag(t *testing.T) {
	var o Options
	f := &tapFlag{&o}
	if err := f.Set("true"); err != nil || !o.TAP || o.TAPName != "" {
		t.Fatalf("--tap: %+v %v", o, err)
	}
	if err := f.Set("nxdemo0"); err != nil || !o.TAP || o.TAPName != "nxdemo0" || f.String() != "nxdemo0" {
		t.Fatalf("--tap=nxdemo0: %+v %v", o, err)
	}
	if err := f.Set("false"); err != nil || o.TAP {
		t.Fatalf("--tap=false: %+v %v", o, err)
	}
	var out, errb bytes.Buffer
	if code := Run(context.Background(), []string{"--tap=bad/name"}, &out, &errb); code != 2 {
		t.Fatalf("--tap=bad/name: exit %d, want 2", code)
	}
}
