package vxlan_test

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"go.uber.org/goleak"

	"github.com/netxsim/netxsim/internal/testio"
	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/stack/capture"
	"github.com/netxsim/netxsim/stack/vxlan"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestHeaderRoundTrip(t *testing.T) {
	for _, vni := range []uint32{0, 1, 42, 0x123456, vxlan.MaxVNI} {
		b := make([]byte, vxlan.HeaderLen+3)
		copy(b[vxlan.HeaderLen:], "abc")
		vxlan.PutHeader(b, vni)
		// RFC 7348 section 5: flags 0x08, 24 reserved bits, VNI, 8 reserved bits.
		if b[0] != 0x08 || b[1]|b[2]|b[3]|b[7] != 0 {
			t.Fatalf("vni %d: header % x", vni, b[:8])
		}
		got, frame, err := vxlan.ParseHeader(b)
		if err != nil || got != vni || string(frame) != "abc" {
			t.Fatalf("vni %d: got %d %q %v", vni, got, frame, err)
		}
	}
	// The wire bytes of VNI 42 as Linux sends them.
	want := []byte{0x08, 0, 0, 0, 0, 0, 42, 0}
	b := make([]byte, 8)
	vxlan.PutHeader(b, 42)
	if !bytes.Equal(b, want) {
		t.Fatalf("VNI 42: % x, want % x", b, want)
	}
	for _, bad := range [][]byte{nil, {0x08, 0, 0}, {0, 0, 0, 0, 0, 0, 42, 0}} {
		if _, _, err := vxlan.ParseHeader(bad); err == nil {
			t.Errorf("ParseHeader(% x) accepted", bad)
		}
	}
	// Reserved bits and other flags are ignored on receipt.
	if vni, _, err := vxlan.ParseHeader([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 7, 0xff}); err != nil || vni != 7 {
		t.Errorf("reserved bits set: vni %d, %v", vni, err)
	}
}

func FuzzParseHeader(f *testing.F) {
	f.Add([]byte{0x08, 0, 0, 0, 0, 0, 42, 0, 1, 2})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		vni, frame, err := vxlan.ParseHeader(b)
		if err != nil {
			return
		}
		if vni > vxlan.MaxVNI || len(frame) != len(b)-vxlan.HeaderLen {
			t.Fatalf("vni %d frame %d of %d", vni, len(frame), len(b))
		}
		out := make([]byte, len(b))
		copy(out[vxlan.HeaderLen:], frame)
		vxlan.PutHeader(out, vni)
		if v2, _, err := vxlan.ParseHeader(out); err != nil || v2 != vni {
			t.Fatalf("re-encoded: %d %v", v2, err)
		}
	})
}

func TestParseConfig(t *testing.T) {
	good := []struct {
		in   string
		want vxlan.Config
	}{
		{"local=127.0.0.1:4789,remote=127.0.0.1:4790,vni=42", vxlan.Config{
			Local: netip.MustParseAddrPort("127.0.0.1:4789"), Remote: netip.MustParseAddrPort("127.0.0.1:4790"), VNI: 42, MTU: 1450}},
		{"vni=7, remote=203.0.113.2, local=0.0.0.0, mtu=1400", vxlan.Config{
			Local: netip.MustParseAddrPort("0.0.0.0:4789"), Remote: netip.MustParseAddrPort("203.0.113.2:4789"), VNI: 7, MTU: 1400}},
		{"local=[::1]:5000,remote=[::1]:5001,vni=16777215", vxlan.Config{
			Local: netip.MustParseAddrPort("[::1]:5000"), Remote: netip.MustParseAddrPort("[::1]:5001"), VNI: vxlan.MaxVNI, MTU: 1430}},
		{"local=2001:db8::1,remote=2001:db8::2,vni=0", vxlan.Config{
			Local: netip.MustParseAddrPort("[2001:db8::1]:4789"), Remote: netip.MustParseAddrPort("[2001:db8::2]:4789"), MTU: 1430}},
	}
	for _, c := range good {
		got, err := vxlan.ParseConfig(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseConfig(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
			continue
		}
		again, err := vxlan.ParseConfig(got.String())
		if err != nil || again != got {
			t.Errorf("round trip of %q: %+v, %v", got.String(), again, err)
		}
	}
	bad := map[string]string{
		"":                                     "KEY=VALUE",
		"vni":                                  "KEY=VALUE",
		"local=127.0.0.1:1,remote=127.0.0.1:2": "vni= is missing",
		"local=127.0.0.1:1,vni=1":              "remote= is missing",
		"remote=127.0.0.1:1,vni=1":             "local= is missing",
		"local=127.0.0.1:1,remote=127.0.0.1:2,vni=16777216":    "out of range",
		"local=127.0.0.1:1,remote=127.0.0.1:2,vni=-1":          "vni=-1",
		"local=127.0.0.1:1,remote=127.0.0.1:2,vni=1,vni=2":     "given twice",
		"local=127.0.0.1:1,remote=127.0.0.1:2,vni=1,ttl=3":     "unknown key",
		"local=127.0.0.1:1,remote=192.0.2.1:4789,vni=1":        "192.0.2.0/24 is refused",
		"local=192.0.2.7:1,remote=127.0.0.1:4789,vni=1":        "192.0.2.0/24 is refused",
		"local=127.0.0.1:1,remote=[::1]:2,vni=1":               "different IP families",
		"local=127.0.0.1:1,remote=239.1.1.1:4789,vni=1":        "multicast",
		"local=127.0.0.1:1,remote=0.0.0.0:4789,vni=1":          "remote",
		"local=127.0.0.1:1,remote=127.0.0.1:0,vni=1":           "remote",
		"local=host:1,remote=127.0.0.1:2,vni=1":                "want IP:PORT",
		"local=[fe80::1%eth0]:1,remote=[fe80::2%eth0]:2,vni=1": "want IP:PORT",
		"local=127.0.0.1:1,remote=127.0.0.1:2,vni=1,mtu=100":   "MTU 100 out of range",
		"local=127.0.0.1:99999,remote=127.0.0.1:2,vni=1":       "want IP:PORT",
	}
	for in, want := range bad {
		_, err := vxlan.ParseConfig(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseConfig(%q) = %v; want an error with %q", in, err, want)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add("local=127.0.0.1:4789,remote=127.0.0.1:4790,vni=42")
	f.Add("local=[::1]:1,remote=[::1]:2,vni=1,mtu=1300")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := vxlan.ParseConfig(s)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("ParseConfig accepted %q but Validate says %v", s, err)
		}
		again, err := vxlan.ParseConfig(c.String())
		if err != nil || again != c {
			t.Fatalf("round trip %q -> %q: %+v %v", s, c.String(), again, err)
		}
	})
}

var (
	macA = net.HardwareAddr{0x02, 0x4e, 0x58, 0, 0, 0x01}
	macB = net.HardwareAddr{0x02, 0x4e, 0x58, 0, 0, 0x02}
)

// pairOnLoopback starts two VTEPs on loopback UDP, joined, with an IP instance on each.
func pairOnLoopback(t *testing.T, under string, vniA, vniB uint32) (a, b *stack.IP, ea, eb *vxlan.Endpoint) {
	t.Helper()
	la, err := net.ListenPacket("udp", net.JoinHostPort(under, "0"))
	if err != nil {
		t.Skipf("no %s loopback: %v", under, err)
	}
	pa := la.LocalAddr().(*net.UDPAddr).AddrPort()
	la.Close()
	lb, err := net.ListenPacket("udp", net.JoinHostPort(under, "0"))
	if err != nil {
		t.Fatal(err)
	}
	pb := lb.LocalAddr().(*net.UDPAddr).AddrPort()
	lb.Close()
	ea, err = vxlan.New(vxlan.Config{Local: pa, Remote: pb, VNI: vniA}, nil)
	if err != nil {
		t.Fatal(err)
	}
	eb, err = vxlan.New(vxlan.Config{Local: pb, Remote: pa, VNI: vniB}, nil)
	if err != nil {
		ea.Close()
		t.Fatal(err)
	}
	a, err = stack.New(context.Background(), stack.Config{Name: "vxa", MAC: macA, IPv4: netip.MustParsePrefix("198.51.100.1/24"), IPv6: true,
		IPv6Global: []netip.Prefix{netip.MustParsePrefix("2001:db8::1/64")}, MTU: ea.MTU()}, ea)
	if err != nil {
		eb.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	b, err = stack.New(context.Background(), stack.Config{Name: "vxb", MAC: macB, IPv4: netip.MustParsePrefix("198.51.100.2/24"), IPv6: true,
		IPv6Global: []netip.Prefix{netip.MustParsePrefix("2001:db8::2/64")}, MTU: eb.MTU()}, eb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return a, b, ea, eb
}

func TestTwoStacksOverVXLAN(t *testing.T) {
	for _, under := range []string{"127.0.0.1", "::1"} {
		t.Run(under, func(t *testing.T) {
			a, b, ea, eb := pairOnLoopback(t, under, 42, 42)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			for _, dst := range []string{"198.51.100.2", "2001:db8::2"} {
				if _, err := a.Ping(ctx, netip.MustParseAddr(dst)); err != nil {
					t.Fatalf("ping %s: %v", dst, err)
				}
			}
			// A TCP transfer of 1 MiB each family, hashed at both ends.
			for _, srv := range []string{"198.51.100.2", "2001:db8::2"} {
				testio.Transfer(t, ctx, b, a, netip.MustParseAddr(srv), 1<<20)
			}
			sa, sb := ea.Stats(), eb.Stats()
			if sa.Sent == 0 || sb.Received == 0 || sa.Dropped != 0 || sb.Dropped != 0 {
				t.Fatalf("stats: a %+v b %+v", sa, sb)
			}
		})
	}
}

func TestOtherVNIAndStrangersDropped(t *testing.T) {
	a, _, ea, eb := pairOnLoopback(t, "127.0.0.1", 42, 43)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := a.Ping(ctx, netip.MustParseAddr("198.51.100.2")); err == nil {
		t.Fatal("ping crossed VNIs 42 and 43")
	}
	if s := eb.Stats(); s.DroppedOtherVNI == 0 || s.Received != 0 {
		t.Fatalf("b: %+v", s)
	}
	// A stranger (another loopback address) with the right VNI, and garbage from the remote's address.
	stranger, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP("127.0.0.2")}, net.UDPAddrFromAddrPort(ea.LocalAddr()))
	if err != nil {
		t.Skipf("no 127.0.0.2: %v", err)
	}
	defer stranger.Close()
	before := ea.Stats().Dropped
	dgram := make([]byte, vxlan.HeaderLen+60)
	vxlan.PutHeader(dgram, 43)
	copy(dgram[vxlan.HeaderLen:], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	stranger.Write(dgram)
	garbage, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP("127.0.0.1")}, net.UDPAddrFromAddrPort(ea.LocalAddr()))
	if err != nil {
		t.Fatal(err)
	}
	defer garbage.Close()
	garbage.Write([]byte{1, 2, 3})
	garbage.Write(append([]byte{0x08, 0, 0, 0, 0, 0, 42, 0}, 1, 2, 3)) // shorter than Ethernet
	deadline := time.Now().Add(5 * time.Second)
	for ea.Stats().Dropped < before+3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := ea.Stats().Dropped - before; got != 3 {
		t.Fatalf("dropped %d of 3", got)
	}
}

func TestCaptured(t *testing.T) {
	file := filepath.Join(t.TempDir(), "vx.pcapng")
	w, err := capture.Create(file, capture.PcapNG)
	if err != nil {
		t.Fatal(err)
	}
	ea, err := vxlan.New(vxlan.Config{Local: netip.MustParseAddrPort("127.0.0.1:0"), Remote: netip.MustParseAddrPort("127.0.0.1:9"), VNI: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cep, err := capture.New(ea, w, "vx0")
	if err != nil {
		t.Fatal(err)
	}
	ip, err := stack.New(context.Background(), stack.Config{Name: "vx0", MAC: macA, IPv4: netip.MustParsePrefix("198.51.100.1/24"), IPv6: true, SkipDAD: true}, cep)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	ip.Ping(ctx, netip.MustParseAddr("198.51.100.2")) // nobody answers: ARP requests go out
	cancel()
	ip.Close()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	arps := 0
	for _, p := range testio.ReadCapture(t, file) {
		if a, ok := p.Layer(layers.LayerTypeARP).(*layers.ARP); ok && net.IP(a.DstProtAddress).String() == "198.51.100.2" {
			arps++
		}
	}
	// Every ARP request the stack sent was captured as an Ethernet frame and went out as a datagram.
	if arps == 0 || uint64(arps) > ea.Stats().Sent+ea.Stats().SendErrors {
		t.Fatalf("captured %d ARP requests, endpoint sent %+v", arps, ea.Stats())
	}
}
