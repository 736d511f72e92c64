package netxsimtest_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/netxsim/netxsim"
	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/ftp/client"
	"github.com/netxsim/netxsim/internal/tsharktest"
	"github.com/netxsim/netxsim/internal/wiresig"
	"github.com/netxsim/netxsim/netxsimtest"
	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/stack/link"
)

// sessions runs, against the device's server, a passive and an active STOR and RETR over IPv4 and
// an EPSV RETR over IPv6 (an EPSV upload meets a defect of the shipped 6.4.2 code), so the capture
// has SYN-ACKs of the device on port 21 and on passive data ports, and its own SYN from port 20.
func sessions(t *testing.T, env *netxsimtest.Env, prof ftp.Profile) {
	t.Helper()
	ctx := context.Background()
	payload := bytes.Repeat([]byte("0123456789abcdef"), 512) // 8 KiB: several data windows
	dev4, _ := env.Device.Addr(false)
	dev6, _ := env.Device.Addr(true)
	for i, s := range []struct {
		addr    netip.Addr
		passive bool
	}{{dev4, true}, {dev4, false}, {dev6, true}} {
		c, err := env.Host.Login(ctx, netip.AddrPortFrom(s.addr, 21), netxsimtest.User, netxsimtest.Password,
			client.WithProfile(prof), client.WithPassive(s.passive))
		if err != nil {
			t.Fatal(err)
		}
		name := "f" + strconv.Itoa(min(i, 1)) + ".bin"
		if !s.addr.Is6() {
			w, err := c.Stor(ctx, name)
			if err == nil {
				_, err = w.Write(payload)
				err = errors.Join(err, w.Close())
			}
			if err != nil {
				t.Fatalf("STOR over %v (passive %v): %v", s.addr, s.passive, err)
			}
		}
		r, err := c.Retr(ctx, name)
		var got []byte
		if err == nil {
			got, err = io.ReadAll(r)
			err = errors.Join(err, r.Close())
		}
		if err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("RETR over %v: %v (%d bytes)", s.addr, err, len(got))
		}
		if err := c.Quit(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// Acceptance (issue 9): a NetX-like device in a netxsim capture answers with NetX Duo's signature by
// default: SYN-ACKs with TTL 128 (hop limit 255), window 400 on port 21 and 2,048 on data
// connections, MSS only (no SACK, timestamps or window scale); IPv4 identifications count up by one.
// The host stays Linux-like. tshark reads the same from the capture when installed.
func TestNetXDeviceSignatureInCapture(t *testing.T) {
	for _, prof := range []ftp.Profile{ftp.ProfileNetXDuo, ftp.ProfileNetXDuo64} {
		t.Run(string(prof), func(t *testing.T) {
			env := netxsimtest.New(t, netxsimtest.Profile(prof))
			env.ServeFTP(t, 1<<20, prof)
			sessions(t, env, prof)
			dev := []netip.Addr{env.Device.IP().LinkLocal()}
			for _, v6 := range []bool{false, true} {
				a, _ := env.Device.Addr(v6)
				dev = append(dev, a)
			}
			if err := env.Close(); err != nil {
				t.Fatal(err)
			}
			checkNetXCapture(t, env.CapturePath, dev[1], dev[2], dev[0])
		})
	}
}

func checkNetXCapture(t *testing.T, pcap string, dev4, dev6, ll netip.Addr) {
	t.Helper()
	raw, err := os.ReadFile(pcap)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := wiresig.Read(bytes.NewReader(raw), dev4, dev6, ll)
	if err != nil {
		t.Fatal(err)
	}
	var ctl, pasv, active int
	for _, s := range rep.Syns {
		wantTTL, wantWin := uint8(128), uint16(stack.NetXDataWindow)
		if s.IPv6 {
			wantTTL = 255 // NetX Duo 6.4.2's hop limit as measured on the real device (docs/stack.md)
		}
		switch {
		case s.SynAck && s.SrcPort == 21:
			ctl++
			wantWin = stack.NetXControlWindow
		case s.SynAck:
			pasv++
		case s.SrcPort == 20:
			active++
		}
		if s.TTL != wantTTL || s.Window != wantWin || !s.OnlyMSS() || s.MSS == 0 {
			t.Errorf("frame %d %d->%d (SYN-ACK %v): TTL %d window %d options %v, want TTL %d window %d, MSS only",
				s.Frame, s.SrcPort, s.DstPort, s.SynAck, s.TTL, s.Window, s.Options, wantTTL, wantWin)
		}
		// the real device's option area, byte for byte (server-dialogues-*.pcap): MSS, NOP, NOP, NOP, EOL
		if want := []byte{2, 4, byte(s.MSS >> 8), byte(s.MSS), 1, 1, 1, 0}; !bytes.Equal(s.OptionBytes, want) {
			t.Errorf("frame %d: options % x, want NetX's % x", s.Frame, s.OptionBytes, want)
		}
	}
	if ctl != 3 || pasv != 3 || active != 2 {
		t.Errorf("device sent %d control SYN-ACKs, %d passive data SYN-ACKs, %d active SYNs; want 3, 3, 2", ctl, pasv, active)
	}
	for _, s := range rep.Segments {
		limit := uint16(stack.NetXDataWindow)
		if s.SrcPort == 21 {
			limit = stack.NetXControlWindow
		}
		if s.Window > limit || s.HasTS {
			t.Errorf("frame %d %s %d->%d: window %d (NetX's is %d), timestamps %v", s.Frame, s.Flags, s.SrcPort, s.DstPort, s.Window, limit, s.HasTS)
		}
	}
	// The Linux-like host offered SACK, timestamps and window scaling: none was taken up.
	offered := false
	for _, s := range rep.PeerSyns {
		offered = offered || !s.OnlyMSS()
		if !s.SynAck && !s.IPv6 && s.TTL != 64 {
			t.Errorf("host SYN frame %d: TTL %d, want Linux's 64", s.Frame, s.TTL)
		}
	}
	if !offered || rep.PeerTS != 0 {
		t.Errorf("host offered more than MSS: %v; host segments with timestamps after the handshake: %d (want 0)", offered, rep.PeerTS)
	}
	ids := rep.IPv4IDs
	if len(ids) < 20 || ids[0] != 1 {
		t.Fatalf("device's IPv4 identifications start %v (%d packets), want 1, 2, 3, ...", ids[:min(len(ids), 5)], len(ids))
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] != ids[i-1]+1 {
			t.Fatalf("IPv4 identification %d follows %d (device packet %d): want +1", ids[i], ids[i-1], i+1)
		}
	}
	t.Logf("%d SYN/SYN-ACKs of the device, %d IPv4 identifications 1..%d", len(rep.Syns), len(ids), ids[len(ids)-1])

	if !tsharktest.Have() {
		t.Log("tshark not on PATH (Debian package tshark): skipping the second reader")
		return
	}
	rows := tsharktest.Fields(t, pcap, "-Y", "tcp.flags.syn==1 && tcp.flags.ack==1 && (ip.src=="+dev4.String()+" || ipv6.src=="+dev6.String()+")",
		"-e", "ip.ttl", "-e", "ipv6.hlim", "-e", "tcp.srcport",
		"-e", "tcp.window_size_value", "-e", "tcp.options.sack_perm", "-e", "tcp.options.timestamp.tsval",
		"-e", "tcp.options.wscale.shift", "-e", "tcp.options.mss_val", "-e", "tcp.options")
	if len(rows) != ctl+pasv {
		t.Errorf("tshark finds %d SYN-ACKs of the device, gopacket %d", len(rows), ctl+pasv)
	}
	for _, f := range rows {
		if len(f) < 9 {
			t.Errorf("tshark line %q", f)
			continue
		}
		ttl, win := f[0]+f[1], "2048"
		if f[1] != "" {
			ttl = f[1]
			if ttl != "255" {
				t.Errorf("tshark: IPv6 SYN-ACK hop limit %s, want 255", ttl)
			}
		} else if ttl != "128" {
			t.Errorf("tshark: IPv4 SYN-ACK TTL %s, want 128", ttl)
		}
		if f[2] == "21" {
			win = "400"
		}
		if !strings.HasSuffix(f[8], "01010100") || len(f[8]) != 16 {
			t.Errorf("tshark: SYN-ACK from port %s: options %s, want NetX's MSS, NOP, NOP, NOP, EOL", f[2], f[8])
		}
		if f[3] != win || f[4] != "" || f[5] != "" || f[6] != "" || f[7] == "" {
			t.Errorf("tshark: SYN-ACK from port %s: window %s (want %s), SACK-permitted %q, TSval %q, window scale %q, MSS %q",
				f[2], f[3], win, f[4], f[5], f[6], f[7])
		}
	}
}

// A test that measures speed or moves large files picks the fast stack explicitly; the extended
// profile is not NetX-like and keeps gVisor's look. Either way the device's SYN-ACK shows it.
func TestSignatureChoices(t *testing.T) {
	for _, c := range []struct {
		name  string
		opts  []netxsimtest.Option
		prof  ftp.Profile
		ttl   uint8
		win   uint16 // 0: anything but NetX's 400
		onlyM bool
	}{
		{"gvisor-explicit", []netxsimtest.Option{netxsimtest.Signature(stack.SignatureGVisor)}, ftp.ProfileNetXDuo, 64, 0, false},
		{"extended", []netxsimtest.Option{netxsimtest.Profile(ftp.ProfileExtended)}, ftp.ProfileExtended, 64, 0, false},
		{"netx-windows", []netxsimtest.Option{netxsimtest.Windows(stack.Windows{Control: 1024})}, ftp.ProfileNetXDuo, 128, 1024, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := netxsimtest.New(t, c.opts...)
			env.ServeFTP(t, 1<<20, c.prof)
			cl := env.Login(t, client.WithProfile(c.prof))
			if err := cl.Quit(context.Background()); err != nil {
				t.Fatal(err)
			}
			dev4, _ := env.Device.Addr(false)
			if err := env.Close(); err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(env.CapturePath)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := wiresig.Read(bytes.NewReader(raw), dev4)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Syns) != 1 {
				t.Fatalf("%d SYNs of the device, want its one SYN-ACK", len(rep.Syns))
			}
			s := rep.Syns[0]
			if s.TTL != c.ttl || s.OnlyMSS() != c.onlyM || c.win != 0 && s.Window != c.win || c.win == 0 && s.Window == stack.NetXControlWindow {
				t.Errorf("SYN-ACK: TTL %d window %d options %v; want TTL %d, window %d, MSS only %v", s.TTL, s.Window, s.Options, c.ttl, c.win, c.onlyM)
			}
		})
	}
}

// The library decides in one place: DeviceConfig.EffectiveSignature.
func TestDeviceConfigSignature(t *testing.T) {
	gv, nx := stack.SignatureGVisor, stack.SignatureNetX
	for _, c := range []struct {
		cfg  netxsim.DeviceConfig
		want stack.Signature
	}{
		{netxsim.DeviceConfig{}, gv},
		{netxsim.DeviceConfig{Profile: ftp.ProfileNetXDuo}, nx},
		{netxsim.DeviceConfig{Profile: ftp.ProfileNetXDuo64}, nx},
		{netxsim.DeviceConfig{Profile: ftp.ProfileExtended}, gv},
		{netxsim.DeviceConfig{Profile: ftp.ProfileNetXDuo, StackSignature: &gv}, gv},
		{netxsim.DeviceConfig{Profile: ftp.ProfileExtended, StackSignature: &nx}, nx},
		{netxsim.DeviceConfig{Config: stack.Config{Signature: nx}}, nx},
	} {
		if got := c.cfg.EffectiveSignature(); got != c.want {
			t.Errorf("%+v: %v, want %v", c.cfg, got, c.want)
		}
	}
	n := &netxsim.Network{}
	defer n.Close()
	seg, err := n.Switch("s", link.SwitchConfig{Ports: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.AddDevice(context.Background(), seg, netxsim.DeviceConfig{Config: stack.Config{Name: "d", SkipDAD: true}, Profile: "netx"}); err == nil || !strings.Contains(err.Error(), "unknown FTP profile") {
		t.Errorf("AddDevice with profile %q: %v, want an unknown-profile error", "netx", err)
	}
}
