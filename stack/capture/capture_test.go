package capture_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"go.uber.org/goleak"

	"github.com/netxsim/netxsim/internal/testio"
	"github.com/netxsim/netxsim/internal/tsharktest"
	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/stack/capture"
	"github.com/netxsim/netxsim/stack/link"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// traffic runs two captured instances on a pair: pings over IPv4 and IPv6 and a small TCP exchange.
func traffic(t *testing.T, w *capture.Writer) {
	t.Helper()
	p, err := link.NewPair(link.PairConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// The device on end A, the host on end B, each end captured under the instance's name.
	cfgs := []stack.Config{
		{Name: "dev0", MAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, IPv4: netip.MustParsePrefix("198.51.100.2/24"), IPv6: true, SkipDAD: true,
			IPv6Global: []netip.Prefix{netip.MustParsePrefix("2001:db8::2/64")}},
		{Name: "host0", MAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, IPv4: netip.MustParsePrefix("198.51.100.1/24"), IPv6: true, SkipDAD: true,
			IPv6Global: []netip.Prefix{netip.MustParsePrefix("2001:db8::1/64")}},
	}
	ips := make([]*stack.IP, 2)
	for i, end := range []stack.LinkEndpoint{p.A(), p.B()} {
		cfg := cfgs[i]
		ep, err := capture.New(end, w, cfg.Name)
		if err != nil {
			t.Fatal(err)
		}
		ip, err := stack.New(context.Background(), cfg, ep)
		if err != nil {
			t.Fatal(err)
		}
		defer ip.Close()
		ips[i] = ip
	}
	dev, host := ips[0], ips[1]
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, a := range []string{"198.51.100.2", "2001:db8::2"} {
		if _, err := host.Ping(ctx, netip.MustParseAddr(a)); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := dev.Listen(ctx, netip.MustParseAddrPort("198.51.100.2:21"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	testio.Greet(ln, "220 ready\r\n")
	c, err := host.Dial(ctx, netip.AddrPort{}, netip.MustParseAddrPort("198.51.100.2:21"))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(c); err != nil || string(b) != "220 ready\r\n" {
		t.Fatalf("read %q, %v", b, err)
	}
	c.Close()
}

// memWriter is a capture Writer of format f into a buffer the test reads back.
func memWriter(t *testing.T, f capture.Format) (*capture.Writer, *bytes.Buffer) {
	t.Helper()
	buf := &bytes.Buffer{}
	w, err := capture.NewWriter(buf, f)
	if err != nil {
		t.Fatal(err)
	}
	return w, buf
}

type seen struct {
	arp, ns, na, echo4, echo6, tcp int
	ifaces                         map[int]bool
	dirs                           map[[2]int]int // [interface, 1 if sent by MAC ...:02]
}

func classify(t *testing.T, data []byte, ci gopacket.CaptureInfo, s *seen) {
	t.Helper()
	pkt := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
	if el := pkt.ErrorLayer(); el != nil {
		t.Fatalf("undecodable frame %x: %v", data, el.Error())
	}
	if ci.CaptureLength != len(data) || ci.Timestamp.IsZero() {
		t.Errorf("bad capture info %+v", ci)
	}
	s.ifaces[ci.InterfaceIndex] = true
	if eth, ok := pkt.Layer(layers.LayerTypeEthernet).(*layers.Ethernet); ok && s.dirs != nil {
		fromDev := 0
		if eth.SrcMAC[5] == 2 {
			fromDev = 1
		}
		s.dirs[[2]int{ci.InterfaceIndex, fromDev}]++
	}
	if pkt.Layer(layers.LayerTypeARP) != nil {
		s.arp++
	}
	if pkt.Layer(layers.LayerTypeICMPv6NeighborSolicitation) != nil {
		s.ns++
	}
	if pkt.Layer(layers.LayerTypeICMPv6NeighborAdvertisement) != nil {
		s.na++
	}
	if l, ok := pkt.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4); ok && (l.TypeCode.Type() == layers.ICMPv4TypeEchoRequest || l.TypeCode.Type() == layers.ICMPv4TypeEchoReply) {
		s.echo4++
	}
	if pkt.Layer(layers.LayerTypeICMPv6Echo) != nil {
		s.echo6++
	}
	if pkt.Layer(layers.LayerTypeTCP) != nil {
		s.tcp++
	}
}

func TestPcapNG(t *testing.T) {
	path := filepath.Join(t.TempDir(), "two.pcapng")
	w, err := capture.Create(path, capture.PcapNG)
	if err != nil {
		t.Fatal(err)
	}
	traffic(t, w)
	if w.Frames() == 0 {
		t.Fatal("no frame written")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	s := seen{ifaces: map[int]bool{}, dirs: map[[2]int]int{}}
	n := 0
	r := testio.ReadPcapNGFile(t, path, func(data []byte, ci gopacket.CaptureInfo) {
		classify(t, data, ci, &s)
		n++
	})
	if r.NInterfaces() != 2 {
		t.Fatalf("%d interfaces, want 2", r.NInterfaces())
	}
	for i, want := range []string{"dev0", "host0"} {
		intf, _ := r.Interface(i)
		if intf.Name != want || intf.LinkType != layers.LinkTypeEthernet || intf.TimestampResolution != 9 {
			t.Errorf("interface %d = %+v, want %s, Ethernet, ns", i, intf, want)
		}
	}
	if uint64(n) != w.Frames() || s.arp == 0 || s.ns == 0 || s.na == 0 || s.echo4 == 0 || s.echo6 == 0 || s.tcp == 0 || len(s.ifaces) != 2 {
		t.Errorf("read %d of %d frames: %+v", n, w.Frames(), s)
	}
	// Each interface recorded both directions: frames from its own MAC and from the peer's.
	for k, c := range s.dirs {
		if c == 0 {
			t.Errorf("no frame for interface/direction %v", k)
		}
	}
	if len(s.dirs) != 4 {
		t.Errorf("interface/direction pairs seen: %v, want 4", s.dirs)
	}
	if tsharktest.Have() {
		var protocols []string
		for _, f := range tsharktest.Fields(t, path, "-e", "frame.protocols") {
			protocols = append(protocols, f[0])
		}
		for _, p := range []string{"eth:ethertype:arp", "icmpv6", "icmp", "tcp"} {
			if !strings.Contains(strings.Join(protocols, "\n"), p) {
				t.Errorf("tshark finds no %s", p)
			}
		}
	} else {
		t.Log("tshark not on PATH: gopacket check only")
	}
}

func TestClassicPcap(t *testing.T) {
	w, buf := memWriter(t, capture.Pcap)
	traffic(t, w)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := pcapgo.NewReader(buf)
	if err != nil {
		t.Fatal(err)
	}
	if r.LinkType() != layers.LinkTypeEthernet || r.Resolution() != gopacket.TimestampResolutionNanosecond {
		t.Errorf("link type %v resolution %v", r.LinkType(), r.Resolution())
	}
	s := seen{ifaces: map[int]bool{}}
	n := testio.EachFrame(t, r, func(data []byte, ci gopacket.CaptureInfo) { classify(t, data, ci, &s) })
	if uint64(n) != w.Frames() || s.arp == 0 || s.tcp == 0 || s.echo6 == 0 {
		t.Errorf("read %d of %d frames: %+v", n, w.Frames(), s)
	}
}

func TestEmptyAndClosed(t *testing.T) {
	w, buf := memWriter(t, capture.PcapNG)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := pcapgo.NewNgReader(bytes.NewReader(buf.Bytes()), pcapgo.DefaultNgReaderOptions); err != nil {
		t.Errorf("empty capture is not valid pcapng: %v", err)
	}
	p, _ := link.NewPair(link.PairConfig{})
	defer p.Close()
	if _, err := capture.New(p.A(), w, "late"); err == nil {
		t.Error("New on a closed Writer succeeded")
	}
	if _, err := capture.NewWriter(buf, capture.Format(7)); err == nil {
		t.Error("unknown format accepted")
	}
	if _, err := capture.Create(filepath.Join(t.TempDir(), "no", "such", "dir.pcapng"), capture.PcapNG); err == nil {
		t.Error("Create in a missing directory succeeded")
	}
	if f, err := capture.ParseFormat("pcap"); err != nil || f != capture.Pcap {
		t.Errorf("ParseFormat(pcap) = %v, %v", f, err)
	}
	if _, err := capture.ParseFormat("erf"); err == nil {
		t.Error("ParseFormat(erf) accepted")
	}
}

// Many goroutines on several interfaces of one Writer: the file must stay well-formed (run with -race).
func TestConcurrentWriters(t *testing.T) {
	w, buf := memWriter(t, capture.PcapNG)
	sw, err := link.NewSwitch(link.SwitchConfig{Ports: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer sw.Close()
	var ips []*stack.IP
	for i := range 4 {
		ep, err := capture.New(sw.Port(i), w, "if"+string(rune('0'+i)))
		if err != nil {
			t.Fatal(err)
		}
		ip, err := stack.New(context.Background(), stack.Config{Name: "if" + string(rune('0'+i)), MAC: net.HardwareAddr{2, 0, 0, 0, 1, byte(i + 1)},
			IPv4: netip.PrefixFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + i)}), 24)}, ep)
		if err != nil {
			t.Fatal(err)
		}
		defer ip.Close()
		ips = append(ips, ip)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i, ip := range ips {
		wg.Go(func() {
			for j := range ips {
				if j != i {
					if _, err := ip.Ping(ctx, netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + j)})); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	for _, ip := range ips {
		ip.Close()
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := pcapgo.NewNgReader(buf, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	n := testio.EachFrame(t, r, nil)
	if r.NInterfaces() != 4 || uint64(n) != w.Frames() || n < 12*4 {
		t.Errorf("%d interfaces, %d frames read of %d written", r.NInterfaces(), n, w.Frames())
	}
}
