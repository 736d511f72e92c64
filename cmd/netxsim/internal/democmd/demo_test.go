package democmd

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"go.uber.org/goleak"

	"github.com/netxsim/netxsim/internal/testio"
	"github.com/netxsim/netxsim/internal/wiresig"
	"github.com/netxsim/netxsim/stack"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDemoCapture(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := Run(context.Background(), []string{"--out", dir, "--size", "2"}, &out, &errb)
	if code != 0 {
		t.Fatalf("demo exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	t.Logf("demo output:\n%s", out.String())
	for _, want := range []string{"IPv4 dev->host", "IPv6 host->dev", "IPv6 link-local", "match", "capture:",
		"PORT", "PASV", "EPRT", "EPSV", "PASS: 10/10 steps ok, 9/9 expectations hold", "junit.xml", "svg"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	path := filepath.Join(dir, "netxsim-demo.pcapng")
	counts := map[string]int{}
	r := testio.ReadPcapNGFile(t, path, func(data []byte, _ gopacket.CaptureInfo) {
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
		if l, ok := pkt.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4); ok {
			switch l.TypeCode.Type() {
			case layers.ICMPv4TypeEchoRequest:
				counts["echo4-request"]++
			case layers.ICMPv4TypeEchoReply:
				counts["echo4-reply"]++
			}
		}
		if l, ok := pkt.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6); ok {
			switch l.TypeCode.Type() {
			case layers.ICMPv6TypeEchoRequest:
				counts["echo6-request"]++
			case layers.ICMPv6TypeEchoReply:
				counts["echo6-reply"]++
			}
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
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Log("tshark not on PATH: skipping the tshark cross-check")
		return
	}
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
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--help"}, 0, "usage: netxsim demo"},
		{[]string{"--bogus"}, 2, "flag provided but not defined"},
		{[]string{"extra"}, 2, "unexpected argument"},
		{[]string{"--format", "erf"}, 2, "use pcapng or pcap"},
		{[]string{"--size", "-3"}, 2, "--size"},
		{[]string{"--pcap", ""}, 2, "--pcap"},
	} {
		var out, errb bytes.Buffer
		code := Run(context.Background(), tc.args, &out, &errb)
		if code != tc.code || !strings.Contains(out.String()+errb.String(), tc.want) {
			t.Errorf("demo %q: exit %d, output %q; want exit %d mentioning %q", tc.args, code, out.String()+errb.String(), tc.code, tc.want)
		}
	}
}

func TestUnwritableOutput(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := Run(context.Background(), []string{"--out", file, "--size", "1"}, &out, &errb); code != 1 {
		t.Errorf("demo with --out on a file: exit %d (%s), want 1", code, errb.String())
	}
}

func TestDemoTAPFlag(t *testing.T) {
	var out, errb bytes.Buffer
	args := []string{"--tap", "--out", t.TempDir(), "--size", "1"}
	code := Run(context.Background(), args, &out, &errb)
	if os.Geteuid() != 0 {
		if code != 2 || !strings.Contains(errb.String(), "root") {
			t.Errorf("--tap as non-root: exit %d, %s", code, errb.String())
		}
		return
	}
	if code != 0 {
		t.Fatalf("demo --tap: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	for _, want := range []string{"the Linux kernel in network namespace", "dev->kernel", "PASS: 10/10 steps ok"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--tap output lacks %q:\n%s", want, out.String())
		}
	}
}
