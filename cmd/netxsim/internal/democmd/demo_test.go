package democmd

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"go.uber.org/goleak"

	"github.com/netxsim/netxsim/cmd/netxsim/internal/cli/clitest"
	"github.com/netxsim/netxsim/internal/testio"
	"github.com/netxsim/netxsim/internal/tsharktest"
	"github.com/netxsim/netxsim/internal/wiresig"
	"github.com/netxsim/netxsim/stack"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDemoCapture(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := clitest.Run(t, Run, "--out", dir, "--size", "2")
	if code != 0 {
		t.Fatalf("demo exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	t.Logf("demo output:\n%s", out)
	for _, want := range []string{"IPv4 dev->host", "IPv6 host->dev", "IPv6 link-local", "match", "capture:",
		"PORT", "PASV", "EPRT", "EPSV", "PASS: 10/10 steps ok, 9/9 expectations hold", "junit.xml", "svg"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	path := filepath.Join(dir, "netxsim-demo.pcapng")
	counts := map[string]int{}
	r := testio.ReadPcapNGFile(t, path, func(data []byte, _ gopacket.CaptureInfo) {
		// The stacks exchange 64 KiB super-segments in memory; the capture must still hold wire frames.
		if len(data) > 1514 {
			counts["jumbo"]++
		}
		pkt := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		if pkt.Layer(layers.LayerTypeARP) != nil {
			counts["arp"]++
		}
		if pkt.Layer(layers.LayerTypeICMPv6NeighborSolicitation) != nil {
			counts["ns"]++
		}
		if pkt.Layer(layers.LayerTypeICMPv6NeighborAdvertisement) != nil {
			counts["na"]++
		}
		if k := echoKind(pkt); k != "" {
			counts[k]++
		}
		if tcp, ok := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP); ok {
			counts["tcp"]++
			if tcp.SYN {
				counts["syn"]++
			}
		}
	})
	intf, err := r.Interface(0)
	if err != nil || intf.Name != DeviceName {
		t.Errorf("interface 0 = %+v, %v; want name %s", intf, err, DeviceName)
	}
	t.Logf("frames by kind: %v", counts)
	for _, k := range []string{"arp", "ns", "na", "echo4-request", "echo4-reply", "echo6-request", "echo6-reply", "tcp"} {
		if counts[k] == 0 {
			t.Errorf("capture has no %s frame", k)
		}
	}
	if counts["syn"] < 8+2*24 { // 4 streams and 24 FTP connections: SYN and SYN-ACK each
		t.Errorf("%d SYN segments, want at least 8", counts["syn"])
	}
	// The device looks like NetX Duo on the wire, the host stays Linux-like (issue 9).
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := wiresig.Read(bytes.NewReader(raw), DeviceV4.Addr(), DeviceV6.Addr())
	if err != nil {
		t.Fatal(err)
	}
	ctl := 0
	for _, s := range rep.Syns {
		if !s.SynAck || s.SrcPort != 21 {
			continue
		}
		ctl++
		ttl := map[bool]uint8{false: 128, true: 255}[s.IPv6]
		if s.TTL != ttl || s.Window != stack.NetXControlWindow || !bytes.Equal(s.OptionBytes, []byte{2, 4, byte(s.MSS >> 8), byte(s.MSS), 1, 1, 1, 0}) {
			t.Errorf("device SYN-ACK frame %d: TTL %d window %d options % x; want NetX's TTL %d, window 400, MSS NOP NOP NOP EOL", s.Frame, s.TTL, s.Window, s.OptionBytes, ttl)
		}
	}
	linuxLike := 0
	for _, s := range rep.PeerSyns {
		if !s.SynAck && s.TTL == 64 && !s.OnlyMSS() {
			linuxLike++
		}
	}
	if ctl < 10 || linuxLike < 10 {
		t.Errorf("%d NetX SYN-ACKs from the device's port 21, %d Linux-like SYNs from the host (TTL 64, SACK, timestamps); want at least 10 each", ctl, linuxLike)
	}
	if counts["jumbo"] > 0 {
		t.Errorf("%d captured frames are longer than 1,514 bytes", counts["jumbo"])
	}
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Log("tshark not on PATH: skipping the tshark cross-check")
		return
	}
	// tshark as the second reader: frame sizes again, and every IP and TCP checksum validated.
	frames, data := tsharktest.CheckWire(t, path)
	t.Logf("tshark: %d frames, %d with TCP payload, none above 1,514 bytes, no bad checksum", frames, data)
	// One tshark pass: per frame, its protocol stack and the ICMP/ICMPv6 types, tab-separated.
	tsOut, err := exec.Command(tshark, "-r", path, "-T", "fields",
		"-e", "frame.protocols", "-e", "icmp.type", "-e", "icmpv6.type").Output()
	if err != nil {
		t.Fatalf("tshark -r %s: %v", path, err)
	}
	ts := map[string]int{}
	for _, line := range strings.Split(string(tsOut), "\n") {
		f := strings.Split(line, "\t")
		if len(f) < 3 {
			continue
		}
		protos, icmp4, icmp6 := f[0], f[1], f[2]
		switch {
		case strings.Contains(protos, ":arp"):
			ts["arp"]++
		case strings.Contains(protos, ":tcp"):
			ts["tcp"]++
		}
		for _, t6 := range strings.Split(icmp6, ",") {
			ts["icmpv6-"+t6]++
		}
		if icmp4 != "" {
			ts["icmp-"+icmp4]++
		}
	}
	t.Logf("tshark: %v", ts)
	for k, what := range map[string]string{"arp": "ARP", "tcp": "TCP", "icmpv6-135": "neighbour solicitation",
		"icmpv6-136": "neighbour advertisement", "icmp-8": "ICMP echo request", "icmp-0": "ICMP echo reply",
		"icmpv6-128": "ICMPv6 echo request", "icmpv6-129": "ICMPv6 echo reply"} {
		if ts[k] == 0 {
			t.Errorf("tshark finds no %s", what)
		}
	}
}

func TestUsage(t *testing.T) {
	clitest.Exits(t, Run,
		clitest.Case{Args: []string{"--help"}, Code: 0, Out: "usage: netxsim demo"},
		clitest.Case{Args: []string{"--bogus"}, Code: 2, Err: "flag provided but not defined"},
		clitest.Case{Args: []string{"extra"}, Code: 2, Err: "unexpected argument"},
		clitest.Case{Args: []string{"--format", "erf"}, Code: 2, Err: "use pcapng or pcap"},
		clitest.Case{Args: []string{"--size", "-3"}, Code: 2, Err: "--size"},
		clitest.Case{Args: []string{"--pcap", ""}, Code: 2, Err: "--pcap"})
}

func TestUnwritableOutput(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := clitest.Run(t, Run, "--out", file, "--size", "1"); code != 1 {
		t.Errorf("demo with --out on a file: exit %d (%s), want 1", code, errOut)
	}
}

func TestDemoTAPFlag(t *testing.T) {
	code, out, errOut := clitest.Run(t, Run, "--tap", "--out", t.TempDir(), "--size", "1")
	if os.Geteuid() != 0 {
		if code != 2 || !strings.Contains(errOut, "root") {
			t.Errorf("--tap as non-root: exit %d, %s", code, errOut)
		}
		return
	}
	if code != 0 {
		t.Fatalf("demo --tap: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"the Linux kernel in network namespace", "dev->kernel", "PASS: 10/10 steps ok"} {
		if !strings.Contains(out, want) {
			t.Errorf("--tap output lacks %q:\n%s", want, out)
		}
	}
}

// TestFormatNaming: --format pcap writes a classic pcap named .pcap, not .pcapng (issue 10 item 17),
// and a --pcap name that says the other format is refused before anything runs.
func TestFormatNaming(t *testing.T) {
	dir := t.TempDir()
	if code, out, errOut := clitest.Run(t, Run, "--out", dir, "--size", "0", "--format", "pcap"); code != 0 {
		t.Fatalf("demo --format pcap: exit %d\n%s%s", code, out, errOut)
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
	var cases []clitest.Case
	for _, args := range [][]string{
		{"--format", "pcap", "--pcap", "x.pcapng"},
		{"--format", "pcapng", "--pcap", "x.pcap"},
		{"--pcap", "x.PCAP"},
	} {
		cases = append(cases, clitest.Case{Args: append([]string{"--out", t.TempDir()}, args...), Code: 2, Err: "--pcap"})
	}
	clitest.Exits(t, Run, cases...)
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
	if code, _, _ := clitest.Run(t, Run, "--tap=bad/name"); code != 2 {
		t.Fatalf("--tap=bad/name: exit %d, want 2", code)
	}
}

// echoKind names the ICMP or ICMPv6 echo request or reply pkt carries ("echo4-request" …), else "".
func echoKind(pkt gopacket.Packet) string {
	if l, ok := pkt.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4); ok {
		return map[uint8]string{layers.ICMPv4TypeEchoRequest: "echo4-request", layers.ICMPv4TypeEchoReply: "echo4-reply"}[l.TypeCode.Type()]
	}
	if l, ok := pkt.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6); ok {
		return map[uint8]string{layers.ICMPv6TypeEchoRequest: "echo6-request", layers.ICMPv6TypeEchoReply: "echo6-reply"}[l.TypeCode.Type()]
	}
	return ""
}
