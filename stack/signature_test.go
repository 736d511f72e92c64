package stack_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/netxsim/netxsim/internal/testio"
	"github.com/netxsim/netxsim/internal/wiresig"
	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/stack/capture"
	"github.com/netxsim/netxsim/stack/link"
)

// netxPair runs a SignatureNetX device and a gVisor (Linux-like: SACK, timestamps, window scaling)
// host on a pair captured at the device's port.
func netxPair(t *testing.T, win stack.Windows) (dev, host *stack.IP, pcap *bytes.Buffer, done func()) {
	t.Helper()
	p, err := link.NewPair(link.PairConfig{})
	if err != nil {
		t.Fatal(err)
	}
	pcap = &bytes.Buffer{}
	w, err := capture.NewWriter(pcap, capture.PcapNG)
	if err != nil {
		t.Fatal(err)
	}
	dc := devConfig()
	dc.Signature, dc.Windows = stack.SignatureNetX, win
	dev, host = startCaptured(t, p, w, false, dc, hostConfig())
	var closed bool
	done = func() {
		if closed {
			return
		}
		closed = true
		host.Close()
		dev.Close()
		p.Close()
		w.Close()
	}
	t.Cleanup(done)
	return dev, host, pcap, done
}

// exchange accepts one connection on ln, echoes what it reads, and dials it from d.
func exchange(t *testing.T, ctx context.Context, ln net.Listener, d interface {
	Dial(context.Context, netip.AddrPort, netip.AddrPort) (net.Conn, error)
}, local, remote netip.AddrPort, n int) {
	t.Helper()
	errc := testio.ServeOne(ln, func(c net.Conn) error {
		_, err := io.Copy(c, c)
		return err
	})
	c, err := d.Dial(ctx, local, remote)
	if err != nil {
		t.Fatalf("dial %v: %v", remote, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	msg := bytes.Repeat([]byte("netx "), n/5+1)[:n]
	go func() { c.Write(msg); c.(interface{ CloseWrite() error }).CloseWrite() }()
	got, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("echo via %v: got %d bytes, err %v; want %d bytes back", remote, len(got), err, n)
	}
	if err := <-errc; err != nil {
		t.Fatalf("echo server: %v", err)
	}
}

// The NetX signature on the wire: TTL 128 (hop limit 255 on IPv6, as measured), MSS as the only TCP
// option of every SYN and SYN-ACK the device sends, window 400 on port 21 and 2,048 elsewhere,
// IPv4 identifications counting up by one, and the peer's SACK/timestamp/window-scale offers
// ignored (no timestamps follow).
func TestNetXSignatureOnTheWire(t *testing.T) {
	dev, host, pcap, done := netxPair(t, stack.Windows{})
	ctx := timeout(t, 30*time.Second)

	ctl := listen(t, ctx, dev, netip.AddrPortFrom(netip.Addr{}, 21))
	data := listen(t, ctx, dev, netip.AddrPortFrom(devV4, 49152))
	exchange(t, ctx, ctl, host, netip.AddrPort{}, netip.AddrPortFrom(devV4, 21), 100)
	exchange(t, ctx, ctl, host, netip.AddrPort{}, netip.AddrPortFrom(devV6, 21), 100)
	exchange(t, ctx, data, host, netip.AddrPort{}, netip.AddrPortFrom(devV4, 49152), 64<<10)
	// the device's own SYN, as in active FTP from port 20
	hl := listen(t, ctx, host, netip.AddrPortFrom(hostV4, 40000))
	exchange(t, ctx, hl, dev, netip.AddrPortFrom(netip.Addr{}, 20), netip.AddrPortFrom(hostV4, 40000), 3000)
	if _, err := dev.Ping(ctx, hostV4); err != nil {
		t.Fatal(err)
	}
	done()

	if f := os.Getenv("NETXSIM_SIG_PCAP"); f != "" {
		os.WriteFile(f, pcap.Bytes(), 0o644)
	}
	rep, err := wiresig.Read(bytes.NewReader(pcap.Bytes()), devV4, devV6, dev.LinkLocal())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Syns) != 4 {
		t.Fatalf("device sent %d SYN/SYN-ACKs, want 4: %+v", len(rep.Syns), rep.Syns)
	}
	for _, s := range rep.Syns {
		wantTTL, wantWin := uint8(128), uint16(2048)
		if s.IPv6 {
			wantTTL = 255
		}
		if s.SrcPort == 21 {
			wantWin = 400
		}
		if s.TTL != wantTTL || s.Window != wantWin || !s.OnlyMSS() || s.MSS == 0 {
			t.Errorf("frame %d (%d->%d synack=%v): TTL %d window %d options %v, want TTL %d window %d and MSS only",
				s.Frame, s.SrcPort, s.DstPort, s.SynAck, s.TTL, s.Window, s.Options, wantTTL, wantWin)
		}
		if !s.IPv6 && !s.DF {
			t.Errorf("frame %d: DF not set (NetX sets it on TCP)", s.Frame)
		}
		// NetX's option area, byte for byte: MSS, NOP, NOP, NOP, EOL.
		if want := []byte{2, 4, byte(s.MSS >> 8), byte(s.MSS), 1, 1, 1, 0}; !bytes.Equal(s.OptionBytes, want) {
			t.Errorf("frame %d (%d->%d synack=%v): options % x, want NetX's % x", s.Frame, s.SrcPort, s.DstPort, s.SynAck, s.OptionBytes, want)
		}
	}
	// The peer did offer SACK, timestamps and window scaling; none of it was taken up.
	offered := 0
	for _, s := range rep.PeerSyns {
		if !s.OnlyMSS() {
			offered++
		}
	}
	if offered == 0 {
		t.Error("the host's SYNs offered nothing but MSS: the test proves nothing")
	}
	if rep.PeerTS != 0 {
		t.Errorf("%d host segments carry timestamps after the handshake: the device negotiated them", rep.PeerTS)
	}
	for _, s := range rep.Segments {
		limit := uint16(2048)
		if s.SrcPort == 21 {
			limit = 400
		}
		if s.Window > limit || s.HasTS {
			t.Errorf("frame %d %s %d->%d: window %d (limit %d), timestamps %v", s.Frame, s.Flags, s.SrcPort, s.DstPort, s.Window, limit, s.HasTS)
		}
	}
	for ttl := range rep.TTLs {
		if ttl != 128 && ttl != 255 && ttl != 1 { // 1: MLD/IGMP reports
			t.Errorf("device sent packets with TTL/hop limit %d", ttl)
		}
	}
	ids := rep.IPv4IDs
	if len(ids) < 10 {
		t.Fatalf("only %d IPv4 packets from the device", len(ids))
	}
	if ids[0] == 0 || ids[0] > 16 {
		t.Errorf("first IPv4 identification %d, want a small number counting from 1", ids[0])
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] != ids[i-1]+1 {
			t.Fatalf("IPv4 identification %d follows %d (packet %d of the device): want +1", ids[i], ids[i-1], i+1)
		}
	}
}

// Windows are overridable, for speed: a 65,535-byte data window is what the SYN-ACK offers.
func TestNetXSignatureWindowsOverride(t *testing.T) {
	dev, host, pcap, done := netxPair(t, stack.Windows{Control: 1000, Data: 65535})
	ctx := timeout(t, 30*time.Second)
	ctl := listen(t, ctx, dev, netip.AddrPortFrom(devV4, 21))
	data := listen(t, ctx, dev, netip.AddrPortFrom(devV4, 0))
	exchange(t, ctx, ctl, host, netip.AddrPort{}, netip.AddrPortFrom(devV4, 21), 10)
	exchange(t, ctx, data, host, netip.AddrPort{}, netip.AddrPortFrom(devV4, uint16(data.Addr().(*net.TCPAddr).Port)), 1<<20)
	done()
	rep, err := wiresig.Read(bytes.NewReader(pcap.Bytes()), devV4)
	if err != nil {
		t.Fatal(err)
	}
	// gVisor caps the window of a SYN-ACK at twice ten initial segments (InitialCwnd*MSS*2 = 29,200
	// here, tcp endpoint.go initialReceiveWindow); later segments offer the whole window.
	var maxData uint16
	for _, s := range rep.Segments {
		if s.SrcPort != 21 {
			maxData = max(maxData, s.Window)
		}
	}
	for _, s := range rep.Syns {
		want := uint16(min(65535, 29200))
		if s.SrcPort == 21 {
			want = 1000
		}
		if s.Window != want {
			t.Errorf("SYN-ACK from port %d: window %d, want %d", s.SrcPort, s.Window, want)
		}
	}
	if maxData != 65535 {
		t.Errorf("largest data window %d, want 65535", maxData)
	}
}

func TestParseWindowsAndSignature(t *testing.T) {
	for _, c := range []struct {
		in   string
		want stack.Windows
		bad  bool
	}{
		{"400,2048", stack.Windows{Control: 400, Data: 2048}, false},
		{",65535", stack.Windows{Data: 65535}, false},
		{"400,", stack.Windows{Control: 400}, false},
		{"400", stack.Windows{}, true},
		{"400,70000", stack.Windows{}, true},
		{"x,1", stack.Windows{}, true},
		{"10,2048", stack.Windows{}, true},
	} {
		got, err := stack.ParseWindows(c.in)
		if (err != nil) != c.bad || !c.bad && got != c.want {
			t.Errorf("ParseWindows(%q) = %+v, %v", c.in, got, err)
		}
	}
	for in, want := range map[string]stack.Signature{"netx": stack.SignatureNetX, "": stack.SignatureGVisor, "gvisor": stack.SignatureGVisor, "Linux": stack.SignatureGVisor} {
		if got, err := stack.ParseSignature(in); err != nil || got != want {
			t.Errorf("ParseSignature(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := stack.ParseSignature("bsd"); err == nil {
		t.Error("ParseSignature(bsd) accepted")
	}
	p, err := link.NewPair(link.PairConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := stack.New(context.Background(), stack.Config{MAC: devMAC, Signature: "bsd"}, p.A()); err == nil {
		t.Error("New accepted an unknown signature")
	}
}
