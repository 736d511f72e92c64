package ftpcmd

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netxsim/netxsim"
	"github.com/netxsim/netxsim/cmd/netxsim/internal/cli/clitest"
	"github.com/netxsim/netxsim/cmd/netxsim/internal/replaycmd"
	"github.com/netxsim/netxsim/fsimage"
	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/ftp/server"
	"github.com/netxsim/netxsim/internal/wiresig"
	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/stack/vxlan"
)

// service is one client service of the real client's session: its command lines (the data set-up
// with the transfer) and the `netxsim ftp` command line that asks for the same.
type service struct {
	lines []string
	args  []string
	base  uint16 // for a transfer: its real data port - 1 (a fresh session's first data port is control + 1)
}

// services splits a real session (after USER/PASS, before QUIT) into `netxsim ftp` commands. CWD has
// no command of its own (it is a step of a session; TestNetXClientSendsRealClientBytes in ftp/client
// covers it); skipped reports those lines.
func services(t *testing.T, lines []string, url, upload string) (out []service, skipped []string) {
	t.Helper()
	var pending []string // data set-up lines of the next transfer
	var port uint16
	arg := func(l string) string {
		_, a, _ := strings.Cut(strings.TrimSuffix(l, "\r\n"), " ")
		return a
	}
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		verb, _, _ := strings.Cut(strings.TrimSuffix(l, "\r\n"), " ")
		s := service{lines: append(pending, l)}
		switch verb {
		case "USER", "PASS", "QUIT":
			continue
		case "TYPE", "PASV", "EPSV":
			pending = append(pending, l)
			continue
		case "PORT", "EPRT":
			pending = append(pending, l)
			p, ok := wiresig.DataPort(l)
			if !ok {
				t.Fatalf("cannot read the port of %q", l)
			}
			port = p - 1
			continue
		case "NLST":
			s.args = []string{"nlst", url + arg(l)}
		case "RETR":
			s.args = []string{"get", url + arg(l), filepath.Join(t.TempDir(), "got")}
		case "STOR":
			s.args = []string{"put", upload, url + arg(l)}
		case "MKD":
			s.args = []string{"mkdir", url + arg(l)}
		case "RMD":
			s.args = []string{"rmdir", url + arg(l)}
		case "DELE":
			s.args = []string{"rm", url + arg(l)}
		case "RNFR":
			to := "unused"
			if i+1 < len(lines) && strings.HasPrefix(lines[i+1], "RNTO ") {
				to = arg(lines[i+1])
				s.lines = append(s.lines, lines[i+1])
				i++
			}
			s.args = []string{"mv", url + arg(l), to}
		case "CWD":
			skipped = append(skipped, l)
			continue
		default:
			t.Fatalf("real command %q: no netxsim ftp command for it", l)
		}
		if len(pending) > 0 {
			s.base = port
		}
		pending, port = nil, 0
		out = append(out, s)
	}
	return out, skipped
}

// Acceptance (issue 9): `netxsim ftp --profile netxduo` sends, for each service of the real NetX Duo
// 6.4.2 client in client-services.pcap (listing, read, write, mkdir, rmdir, rename, delete, refused
// rename and delete), exactly its bytes: login, the service's commands and QUIT, one command per
// segment, the data port rebased to this session's control port (a fresh session's first data port
// is the control port + 1, as NetX's). No root: the command's device is on a VXLAN segment over
// loopback to a netxsim server device at the real server's addresses, seeded like the real device.
func TestNetXDuoCommandSendsRealClientBytes(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "..", "..", "..", "testdata", "netxduo-6.4.2", "client-services.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	real, err := wiresig.Streams(f, 21)
	f.Close()
	if err != nil || len(real) != 4 {
		t.Fatalf("client-services.pcap: %d control connections, %v; want 4", len(real), err)
	}
	upload := filepath.Join(t.TempDir(), "upload.txt")
	if err := os.WriteFile(upload, []byte("written by NetX Duo FTP client\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, rs := range real {
		lines := rs.Lines()
		v6 := rs.Client.Addr().Is6()
		passive := strings.Contains(strings.Join(lines, ""), "PASV") || strings.Contains(strings.Join(lines, ""), "EPSV")
		name := fmt.Sprintf("ipv%d-passive-%v", map[bool]int{false: 4, true: 6}[v6], passive)
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			srvPort, cliPort := clitest.FreeUDPPort(t), clitest.FreeUDPPort(t)
			pcap := filepath.Join(t.TempDir(), "server.pcapng")
			n := &netxsim.Network{Capture: pcap}
			defer n.Close()
			lo := netip.MustParseAddr("127.0.0.1")
			seg, err := n.VXLAN("vx", vxlan.Config{Local: netip.AddrPortFrom(lo, srvPort), Remote: netip.AddrPortFrom(lo, cliPort), VNI: 9}, netxsim.CaptureEveryPort)
			if err != nil {
				t.Fatal(err)
			}
			srv, err := n.AddDevice(ctx, seg, netxsim.DeviceConfig{Config: stack.Config{Name: "server", IPv4: netxsim.HostIPv4,
				IPv6: true, IPv6Global: []netip.Prefix{netxsim.HostIPv6}, SkipDAD: true}, Profile: ftp.ProfileNetXDuo})
			if err != nil {
				t.Fatal(err)
			}
			// the real device's start-up files
			img, err := srv.FormatRAM(8<<20, fsimage.FormatOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := replaycmd.SeedCaptured(img); err != nil {
				t.Fatal(err)
			}
			if err := srv.ServeFTP(ctx, &server.Server{Profile: ftp.ProfileNetXDuo,
				Login: server.Users(map[string]string{"netx": "secret"}, server.Deny)}); err != nil {
				t.Fatal(err)
			}
			saddr, _ := srv.Addr(v6)
			host := saddr.String()
			if v6 {
				host = "[" + host + "]"
			}
			url := "ftp://netx:secret@" + host + "/"
			svcs, skipped := services(t, lines, url, upload)
			if len(svcs) < 8 {
				t.Fatalf("%d services in the real session, want the README's 9 (less CWD)", len(svcs))
			}
			base := []string{"--profile", "netxduo", "--skip-dad", "--ipv4", netxsim.DeviceIPv4.String(), "--ipv6", netxsim.DeviceIPv6.String(),
				"--vxlan", fmt.Sprintf("local=127.0.0.1:%d,remote=127.0.0.1:%d,vni=9", cliPort, srvPort)}
			if passive {
				base = append(base, "--passive")
			}
			for _, s := range svcs {
				code, out, errs := clitest.Run(t, Run, append(base, s.args...)...)
				refused := strings.Contains(strings.Join(s.lines, ""), "missing")
				if code != 0 && !refused || code == 0 && refused {
					t.Fatalf("netxsim ftp %s: exit %d\n%s%s", strings.Join(s.args, " "), code, out, errs)
				}
			}
			if err := n.Close(); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(pcap)
			if err != nil {
				t.Fatal(err)
			}
			ours, err := wiresig.Streams(f, 21)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			if len(ours) != len(svcs) {
				t.Fatalf("server capture: %d control connections for %d commands", len(ours), len(svcs))
			}
			login, quit := lines[:2], lines[len(lines)-1:]
			for i, s := range svcs {
				if a := ours[i].Client.Addr(); a != rs.Client.Addr() {
					t.Errorf("our client at %v, the real one at %v", a, rs.Client.Addr())
				}
				want := append(append(append([]string{}, login...), s.lines...), quit...)
				diffs, _ := wiresig.CompareCommands(want, s.base, ours[i])
				for _, d := range diffs {
					t.Errorf("netxsim ftp %s: %s", s.args[0], d)
				}
			}
			if !t.Failed() {
				t.Logf("%d netxsim ftp commands, byte for byte the real client's (CWD not a command: %q)", len(svcs), skipped)
			}
			compareClientSignature(t, pcap, rs.Client.Addr())
		})
	}
}

// compareClientSignature checks the device of netxsim ftp --profile netxduo against the real client's
// SYNs and SYN-ACKs in client-services.pcap: the same TTL or hop limit, the same window (2,000, the
// NetX client's window_size) and the same option bytes (MSS, NOP, NOP, NOP, EOL), the MSS value
// aside: it follows the link's MTU (1,450 on this VXLAN segment, 1,500 on the real device's TAP).
func compareClientSignature(t *testing.T, ours string, client netip.Addr) {
	t.Helper()
	read := func(file string) *wiresig.Report {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		rep, err := wiresig.Read(f, client)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	real := read(filepath.Join("..", "..", "..", "..", "testdata", "netxduo-6.4.2", "client-services.pcap"))
	got := read(ours)
	type sig struct {
		ttl     uint8
		window  uint16
		mss     bool
		options string // the option bytes, the MSS value blanked
	}
	layout := func(b []byte) string {
		b = append([]byte(nil), b...)
		if len(b) >= 4 && b[0] == 2 {
			b[2], b[3] = 0, 0
		}
		return fmt.Sprintf("% x", b)
	}
	want := map[sig]bool{}
	for _, s := range real.Syns {
		if s.IPv6 == client.Is6() {
			want[sig{s.TTL, s.Window, s.OnlyMSS(), layout(s.OptionBytes)}] = true
		}
	}
	if len(want) != 1 {
		t.Fatalf("the real client's SYNs differ among themselves: %v", want)
	}
	if len(got.Syns) == 0 {
		t.Fatal("no SYN of our client in the capture")
	}
	for _, s := range got.Syns {
		if g := (sig{s.TTL, s.Window, s.OnlyMSS(), layout(s.OptionBytes)}); !want[g] {
			t.Errorf("our client's SYN (SYN-ACK %v) frame %d: %+v, the real client's %v", s.SynAck, s.Frame, g, want)
		}
	}
}
