package netxsim_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io/fs"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/netxsim/netxsim"
	"github.com/netxsim/netxsim/fsimage"
	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/ftp/client"
	"github.com/netxsim/netxsim/ftp/ftpcheck"
	"github.com/netxsim/netxsim/ftp/server"
	"github.com/netxsim/netxsim/internal/testio"
	"github.com/netxsim/netxsim/netxsimtest"
	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/stack/link"
)

func dev(name string, n byte) netxsim.DeviceConfig {
	return netxsim.DeviceConfig{Config: stack.Config{Name: name, IPv4: netxsim.IPv4(n), SkipDAD: true}}
}

// Three devices on one switch: a server, a client that fetches a file into its own image and sends
// it back under another name, and a third device the server can reach too. Each frame is captured
// once, and the capture verifies.
func TestSwitchThreeDevicesDeviceAsClient(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pcap := filepath.Join(t.TempDir(), "c.pcapng")
	n := &netxsim.Network{Capture: pcap}
	defer n.Close()
	sw, err := n.Switch("lan", link.SwitchConfig{Ports: 3, Port: []link.PortConfig{{In: link.Impairment{Loss: 0.01}}}})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := n.AddDevices(ctx, sw, dev("srv", 2), dev("cli", 3), dev("third", 4))
	if err != nil {
		t.Fatal(err)
	}
	srv, cli, third := ds[0], ds[1], ds[2]
	img, err := srv.FormatRAM(8<<20, fsimage.FormatOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fw := bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 50000)
	testio.CreateFile(t, img, "fw.bin", fw)
	if err := srv.ServeFTP(ctx, &server.Server{Login: server.Users(map[string]string{"u": "p"}, server.Deny), LoginFailDelay: -1}); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.FormatRAM(4<<20, fsimage.FormatOptions{}); err != nil {
		t.Fatal(err)
	}
	sa, _ := srv.Addr(false)
	c, err := cli.Login(ctx, netip.AddrPortFrom(sa, 21), "u", "p", client.WithProfile(ftp.ProfileNetXDuo))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := cli.Fetch(ctx, c, "fw.bin", "/firmware/fw.bin"); err != nil || got != int64(len(fw)) {
		t.Fatalf("fetch: %d bytes, %v", got, err)
	}
	if _, err := cli.Send(ctx, c, "/firmware/fw.bin", "back.bin"); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatal(err)
	}
	ta, _ := third.Addr(false)
	if _, err := srv.IP().Ping(ctx, ta); err != nil {
		t.Fatalf("server to third device: %v", err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	onCli, err1 := fs.ReadFile(cli.Image(), "firmware/fw.bin")
	back, err2 := fs.ReadFile(img, "back.bin")
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(onCli) != sha256.Sum256(fw) || sha256.Sum256(back) != sha256.Sum256(fw) {
		t.Fatalf("SHA-256 differ: client image %d bytes, back on server %d bytes, sent %d", len(onCli), len(back), len(fw))
	}
	rep, err := netxsimtest.Verify(pcap, ftpcheckOptions())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Sessions) != 1 {
		t.Fatalf("%d sessions in the capture, want 1", len(rep.Sessions))
	}
	if n.Frames() == 0 {
		t.Fatal("no frames captured")
	}
}

func TestNetworkErrors(t *testing.T) {
	var n netxsim.Network
	p, err := n.Pair("p", link.PairConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Pair("p", link.PairConfig{}); err == nil {
		t.Error("a second segment named p was accepted")
	}
	if _, err := n.AddDevices(t.Context(), p, dev("a", 2), dev("b", 3)); err != nil {
		t.Fatal(err)
	}
	if _, err := n.AddDevice(t.Context(), p, dev("c", 4)); err == nil {
		t.Error("a third device on a pair was accepted")
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Pair("q", link.PairConfig{}); !errors.Is(err, netxsim.ErrClosed) {
		t.Errorf("Pair after Close: %v, want ErrClosed", err)
	}
}

func TestHostRefusesReserved(t *testing.T) {
	var n netxsim.Network
	defer n.Close()
	h, err := n.Host("host")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Dial(t.Context(), netip.AddrPort{}, netip.MustParseAddrPort("192.0.2.1:21")); !errors.Is(err, netxsim.ErrReservedAddress) {
		t.Fatalf("dial 192.0.2.1 from the host: %v, want ErrReservedAddress", err)
	}
}

func ftpcheckOptions() ftpcheck.Options { return ftpcheck.Options{Profile: ftp.ProfileNetXDuo} }

// A server on the Device (not on its *stack.IP) knows the device's addresses: a netxduo server
// names its IPv4 address in the 227 reply to PASV on an IPv6 control connection, as NetX does.
func TestServeOnDeviceKnowsAddrs(t *testing.T) {
	env := netxsimtest.New(t, netxsimtest.NoCapture())
	env.ServeFTP(t, 1<<20, ftp.ProfileNetXDuo)
	if got, want := env.Device.Addrs(), env.Device.IP().Addrs(); len(got) != len(want) || len(got) == 0 {
		t.Fatalf("Addrs %v, IP().Addrs %v", got, want)
	}
	ctx := context.Background()
	c, err := env.Host.Login(ctx, netip.AddrPortFrom(netxsim.DeviceIPv6.Addr(), 21), netxsimtest.User, netxsimtest.Password)
	if err != nil {
		t.Fatal(err)
	}
	code, msg, err := c.Quote(ctx, "PASV")
	if err != nil || code != 227 || !bytes.Contains([]byte(msg), []byte("198,51,100,2,")) {
		t.Fatalf("PASV over IPv6: %d %q %v, want 227 naming 198,51,100,2", code, msg, err)
	}
}
