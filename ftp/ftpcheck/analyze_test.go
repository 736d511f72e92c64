package ftpcheck

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netxsim/netxsim"
	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/ftp/ftpcheck/capgen"
)

// The project's documentation addresses, and a third party beyond them.
var (
	host4   = netxsim.HostIPv4.Addr()
	dev4    = netxsim.DeviceIPv4.Addr()
	third4  = netip.MustParseAddr("203.0.113.9")
	host6   = netxsim.HostIPv6.Addr()
	dev6    = netxsim.DeviceIPv6.Addr()
	payload = func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*7 + i/251)
		}
		return b
	}
)

// build writes a capture from a script and returns its bytes.
func build(t testing.TB, script func(c *capgen.Capture)) []byte {
	t.Helper()
	var buf bytes.Buffer
	writeCapture(t, &buf, script)
	return buf.Bytes()
}

// writeCapture writes the capture that script makes to w.
func writeCapture(t testing.TB, w io.Writer, script func(c *capgen.Capture)) {
	t.Helper()
	c, err := capgen.New(w)
	if err != nil {
		t.Fatal(err)
	}
	script(c)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

func analyze(t testing.TB, data []byte, opts Options) *Report {
	t.Helper()
	rep, err := Analyze(context.Background(), bytes.NewReader(data), opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// cleanSession plays the seed's read and write sequences with one setup kind.
func cleanSession(c *capgen.Capture, client, server netip.AddrPort, setup string) {
	f := c.FTP(client, server)
	f.Login("alice", "secret")
	f.Transfer(capgen.Transfer{Verb: "RETR", Arg: "hello.txt", Setup: setup, Data: payload(5000)})
	f.Transfer(capgen.Transfer{Verb: "STOR", Arg: "up.bin", Setup: setup, Data: payload(3000),
		Prelim: map[bool]string{true: "125 File Open for Write", false: "150 File Open for Write"}[setup == "PORT" || setup == "EPRT"],
		Final:  map[bool]string{true: "250 File Written", false: "226 File Written"}[setup == "PORT" || setup == "EPRT"]})
	f.Quit()
}

func cleanCapture(t testing.TB) []byte {
	return build(t, func(c *capgen.Capture) {
		cleanSession(c, netip.AddrPortFrom(host4, 40001), netip.AddrPortFrom(dev4, 21), "PORT")
		cleanSession(c, netip.AddrPortFrom(host4, 40002), netip.AddrPortFrom(dev4, 21), "PASV")
		cleanSession(c, netip.AddrPortFrom(host6, 40003), netip.AddrPortFrom(dev6, 21), "EPRT")
		cleanSession(c, netip.AddrPortFrom(host6, 40004), netip.AddrPortFrom(dev6, 21), "EPSV")
		// listing, mkdir, rename, delete
		f := c.FTP(netip.AddrPortFrom(host4, 40005), netip.AddrPortFrom(dev4, 21))
		f.Login("bob", "pw")
		f.Transfer(capgen.Transfer{Verb: "LIST", Arg: "/", Setup: "PASV", Data: []byte("-rw-rw-rw-  1 owner group       5000 APR 02 08:05 hello.txt\r\n"),
			Prelim: "150 Sending List", Final: "226 List End"})
		f.Transfer(capgen.Transfer{Verb: "NLST", Arg: "/", Setup: "PORT", Data: []byte("hello.txt\r\n"), Prelim: "125 Sending List", Final: "250 List End"})
		f.Cmd("MKD /abc")
		f.Reply(`200 "/abc" Directory Created`)
		f.Cmd("RNFR hello.txt")
		f.Reply("350 Rename File From")
		f.Cmd("RNTO bye.txt")
		f.Reply("250 File Renamed")
		f.Cmd("DELE bye.txt")
		f.Reply("250 File Deleted")
		f.Cmd("PWD")
		f.Reply(`257 "/" is current Directory`)
		f.Quit()
	})
}

func TestCleanCapturePasses(t *testing.T) {
	data := cleanCapture(t)
	sum := sha256.Sum256(payload(5000))
	rep := analyze(t, data, Options{Files: map[string]FileExpect{"hello.txt": {Size: 5000, SHA256: hex.EncodeToString(sum[:])}}})
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if rep.Violations != 0 || rep.Warnings != 0 {
		t.Fatalf("clean capture: %d violations, %d warnings\n%s", rep.Violations, rep.Warnings, text.String())
	}
	if len(rep.Sessions) != 5 {
		t.Fatalf("found %d sessions, want 5\n%s", len(rep.Sessions), text.String())
	}
	modes := []string{"active", "passive", "active", "passive"}
	for i, s := range rep.Sessions[:4] {
		if s.Profile != ftp.ProfileNetXDuo || !strings.HasPrefix(s.ProfileSource, "greeting") {
			t.Errorf("session %d: profile %s from %s, want netxduo from the greeting", s.ID, s.Profile, s.ProfileSource)
		}
		if len(s.Transfers) != 2 {
			t.Fatalf("session %d: %d transfers", s.ID, len(s.Transfers))
		}
		r, w := s.Transfers[0], s.Transfers[1]
		if r.Mode != modes[i] || r.Data == nil || r.Bytes != 5000 || r.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("session %d RETR: mode %s bytes %d sha %s data %v", s.ID, r.Mode, r.Bytes, r.SHA256, r.Data)
		}
		if w.Bytes != 3000 || w.Download {
			t.Errorf("session %d STOR: bytes %d download %v", s.ID, w.Bytes, w.Download)
		}
		if r.Mode == "active" && !r.Data.FromPort20 {
			t.Errorf("session %d: active data not from port 20", s.ID)
		}
		if s.IPv6 != (i >= 2) {
			t.Errorf("session %d: IPv6 %v", s.ID, s.IPv6)
		}
	}
	// the NetX MKD 200 deviation is noted, not failed
	if !strings.Contains(text.String(), "NetX answers MKD with 200") {
		t.Errorf("MKD 200 deviation not noted:\n%s", text.String())
	}
	if !strings.Contains(text.String(), `NOTE credentials`) {
		t.Errorf("credentials not noted:\n%s", text.String())
	}
	t.Log(text.String())
}

// fault is one planted fault: a capture script, options, and the one check that must catch it.
type fault struct {
	name   string
	script func(c *capgen.Capture)
	opts   Options
	check  string
	msg    string // part of the failure message
}

var c4, s4 = netip.AddrPortFrom(host4, 40001), netip.AddrPortFrom(dev4, 21)

func faults() []fault {
	return []fault{
		{name: "wrong completion code", check: "profile-codes", msg: "replies 150 then 250",
			script: func(c *capgen.Capture) {
				f := c.FTP(c4, s4)
				f.Login("u", "p")
				f.Transfer(capgen.Transfer{Verb: "RETR", Arg: "a.bin", Setup: "PASV", Data: payload(3000), Final: "250 File Sent"})
				f.Quit()
			}},
		{name: "data connection to a third address", check: "data-third-address", msg: "FTP bounce",
			script: func(c *capgen.Capture) {
				f := c.FTP(c4, s4)
				f.Login("u", "p")
				f.Transfer(capgen.Transfer{Verb: "RETR", Arg: "a.bin", Setup: "PORT", Data: payload(3000), AnnounceAddr: third4})
				f.Quit()
			}},
		{name: "missing 221", check: "quit-221", msg: "got no 221",
			script: func(c *capgen.Capture) {
				f := c.FTP(c4, s4)
				f.Login("u", "p")
				f.Transfer(capgen.Transfer{Verb: "RETR", Arg: "a.bin", Setup: "PORT", Data: payload(3000)})
				f.Cmd("QUIT")
				f.Ctl.CloseBoth(capgen.Server)
			}},
		{name: "transfer shorter than the file (1xx size)", check: "transfer-size", msg: "1000 bytes short",
			opts: Options{Profile: ftp.ProfileExtended},
			script: func(c *capgen.Capture) {
				f := c.FTP(c4, s4)
				f.Login("u", "p")
				f.Transfer(capgen.Transfer{Verb: "RETR", Arg: "a.bin", Setup: "PASV", Data: payload(3000),
					Prelim: "150 Opening BINARY mode data connection for a.bin (4000 bytes).", Final: "226 Transfer complete."})
				f.Quit()
			}},
		{name: "transfer shorter than the file (expected files)", check: "transfer-size", msg: "500 bytes short",
			opts: Options{Files: map[string]FileExpect{"b.bin": {Size: 3500}}},
			script: func(c *capgen.Capture) {
				f := c.FTP(c4, s4)
				f.Login("u", "p")
				f.Transfer(capgen.Transfer{Verb: "STOR", Arg: "/dir/b.bin", Setup: "PORT", Data: payload(3000), Prelim: "125 File Open for Write", Final: "250 File Written"})
				f.Quit()
			}},
		{name: "RST in the middle of a transfer", check: "data-reset", msg: "reset by the server at packet",
			script: func(c *capgen.Capture) {
				f := c.FTP(c4, s4)
				f.Login("u", "p")
				f.Transfer(capgen.Transfer{Verb: "RETR", Arg: "a.bin", Setup: "PASV", Data: payload(6000), ResetAfter: 2000})
				f.Quit()
			}},
		{name: "IPv6 session using PORT", check: "ipv6-port", msg: "IPv6 session sent PORT",
			script: func(c *capgen.Capture) {
				f := c.FTP(netip.AddrPortFrom(host6, 40001), netip.AddrPortFrom(dev6, 21))
				f.Login("u", "p")
				f.Cmd("PORT 198,51,100,1,156,65")
				f.Reply("501 Port Fail")
				f.Transfer(capgen.Transfer{Verb: "RETR", Arg: "a.bin", Setup: "EPRT", Data: payload(3000)})
				f.Quit()
			}},
	}
}

// TestPlantedFaults: each planted fault fails its own check, with a clear message, and no other.
func TestPlantedFaults(t *testing.T) {
	for _, f := range faults() {
		t.Run(f.name, func(t *testing.T) {
			rep := analyze(t, build(t, f.script), f.opts)
			var text bytes.Buffer
			rep.WriteText(&text)
			if len(rep.Sessions) != 1 {
				t.Fatalf("%d sessions\n%s", len(rep.Sessions), text.String())
			}
			var failed []string
			for _, ch := range rep.Sessions[0].Checks {
				if ch.Status == StatusFail {
					failed = append(failed, ch.Name)
					if ch.Name == f.check && !strings.Contains(strings.Join(ch.Messages, "\n"), f.msg) {
						t.Errorf("check %s message %q lacks %q", ch.Name, ch.Messages, f.msg)
					}
				}
			}
			if len(failed) != 1 || failed[0] != f.check || rep.Violations != 1 {
				t.Errorf("failed checks %v (violations %d), want exactly [%s]\n%s", failed, rep.Violations, f.check, text.String())
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	data := build(t, func(c *capgen.Capture) {
		f := c.FTP(c4, s4)
		f.Login("u", "p")
		f.Transfer(capgen.Transfer{Verb: "RETR", Arg: "a.bin", Setup: "PORT", Data: payload(8000), Retransmit: true, ZeroWindow: true})
		f.Quit()
	})
	rep := analyze(t, data, Options{})
	if rep.Violations != 0 {
		t.Fatalf("violations %d", rep.Violations)
	}
	got := map[string]Status{}
	for _, ch := range rep.Sessions[0].Checks {
		got[ch.Name] = ch.Status
	}
	if got["tcp-retransmission"] != StatusWarn || got["tcp-zero-window"] != StatusWarn {
		t.Errorf("retransmission %s, zero window %s; want warn for both", got["tcp-retransmission"], got["tcp-zero-window"])
	}
	if rep.Sessions[0].Transfers[0].Bytes != 8000 {
		t.Errorf("bytes %d with a retransmission, want 8000", rep.Sessions[0].Transfers[0].Bytes)
	}
}

// A zero window that reopens at once is flow control, not a stall: noted, not warned.
func TestBriefZeroWindowIsNoted(t *testing.T) {
	data := build(t, func(c *capgen.Capture) {
		f := c.FTP(c4, s4)
		f.Login("u", "p")
		f.Transfer(capgen.Transfer{Verb: "STOR", Arg: "a.bin", Setup: "PASV", Data: payload(8000), ZeroWindowFor: 3 * time.Millisecond})
		f.Quit()
	})
	rep := analyze(t, data, Options{})
	if rep.Violations != 0 || rep.Warnings != 0 {
		t.Fatalf("violations %d, warnings %d; want none", rep.Violations, rep.Warnings)
	}
	for _, ch := range rep.Sessions[0].Checks {
		if ch.Name == "tcp-zero-window" {
			if ch.Status != StatusPass || len(ch.Notes) != 1 || !strings.Contains(ch.Notes[0], "flow control") {
				t.Errorf("tcp-zero-window: %s %q, want pass with a flow-control note", ch.Status, ch.Notes)
			}
		}
	}
}

func TestBadInput(t *testing.T) {
	clean := cleanCapture(t)
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "empty"},
		{"garbage", []byte("this is not a capture file at all"), "not a pcap or pcapng"},
		{"truncated", clean[:len(clean)/2], "truncated"},
		{"header only", clean[:20], "pcapng"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Analyze(context.Background(), bytes.NewReader(tc.data), Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	if _, err := Analyze(context.Background(), bytes.NewReader(clean), Options{Profile: "nope"}); err == nil {
		t.Fatal("bad profile accepted")
	}
}

func TestNoFTP(t *testing.T) {
	data := build(t, func(c *capgen.Capture) {
		k := c.Dial(c4, netip.AddrPortFrom(dev4, 80))
		k.Line(capgen.Client, "GET / HTTP/1.0")
		k.Line(capgen.Server, "HTTP/1.0 200 OK")
		k.CloseBoth(capgen.Server)
	})
	rep := analyze(t, data, Options{})
	if rep.Violations != 1 || rep.Checks[0].Status != StatusFail {
		t.Fatalf("no FTP: violations %d checks %+v", rep.Violations, rep.Checks)
	}
}

// TestGreetingOnOtherPort: FTP on a non-standard port is found by its 220 greeting.
func TestGreetingOnOtherPort(t *testing.T) {
	data := build(t, func(c *capgen.Capture) {
		cleanSession(c, c4, netip.AddrPortFrom(dev4, 2121), "EPSV")
	})
	rep := analyze(t, data, Options{})
	if len(rep.Sessions) != 1 || rep.Violations != 0 {
		var b bytes.Buffer
		rep.WriteText(&b)
		t.Fatalf("sessions %d violations %d\n%s", len(rep.Sessions), rep.Violations, b.String())
	}
}

func TestWriters(t *testing.T) {
	rep := analyze(t, build(t, faults()[0].script), Options{})
	dir := t.TempDir()
	paths, err := rep.WriteSVGDir(dir)
	if err != nil || len(paths) != 1 {
		t.Fatal(paths, err)
	}
	svg, _ := os.ReadFile(filepath.Join(dir, "session-1.svg"))
	for _, want := range []string{"<svg", "RETR a.bin", "250 File Sent", "FAIL profile-codes", "</svg>"} {
		if !bytes.Contains(svg, []byte(want)) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil || !bytes.Contains(js.Bytes(), []byte(`"profile-codes"`)) {
		t.Errorf("JSON: %v", err)
	}
}

func netip4(port uint16) netip.AddrPort { return netip.AddrPortFrom(host4, port) }

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestProfileDetection: our server greets alike in both profiles; behaviour tells them apart.
func TestProfileDetection(t *testing.T) {
	for _, tc := range []struct {
		name   string
		prelim string
		final  string
		want   ftp.Profile
		fails  int
	}{
		{"netxduo active", "125 File Read Start", "250 File Sent", ftp.ProfileNetXDuo, 0},
		{"extended active", "150 Opening", "226 Done", ftp.ProfileExtended, 0},
		{"mixed active", "125 File Read Start", "226 Done", ftp.ProfileNetXDuo, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := analyze(t, build(t, func(c *capgen.Capture) {
				f := c.FTP(c4, s4)
				f.Login("u", "p")
				f.Transfer(capgen.Transfer{Verb: "RETR", Arg: "x", Setup: "PORT", Data: payload(100), Prelim: tc.prelim, Final: tc.final})
				f.Quit()
			}), Options{})
			s := rep.Sessions[0]
			if s.Profile != tc.want || rep.Violations != tc.fails {
				t.Errorf("profile %s (%s), %d violations; want %s, %d", s.Profile, s.ProfileSource, rep.Violations, tc.want, tc.fails)
			}
		})
	}
	// a standard server is checked against RFC 959 only
	rep := analyze(t, build(t, func(c *capgen.Capture) {
		f := c.FTP(c4, s4)
		f.Reply("220 (vsFTPd 3.0.3)")
		f.Cmd("USER u")
		f.Reply("331 Please specify the password.")
		f.Cmd("PASS p")
		f.Reply("230 Login successful.")
		f.Transfer(capgen.Transfer{Verb: "RETR", Arg: "x", Setup: "PASV", Data: payload(100), Prelim: "150 Opening BINARY mode data connection for x (100 bytes).", Final: "226 Transfer complete."})
		f.Quit()
	}), Options{})
	if s := rep.Sessions[0]; s.Profile != ProfileRFC959 || rep.Violations != 0 {
		t.Errorf("vsftpd-like: profile %s, %d violations", s.Profile, rep.Violations)
	}
}

func netip6(port uint16) netip.AddrPort  { return netip.AddrPortFrom(host6, port) }
func netip6s(port uint16) netip.AddrPort { return netip.AddrPortFrom(dev6, port) }

// checkStatus returns the status of the named check of session i.
func checkStatus(t *testing.T, rep *Report, i int, name string) Check {
	t.Helper()
	for _, ch := range rep.Sessions[i].Checks {
		if ch.Name == name {
			return ch
		}
	}
	t.Fatalf("no check %s", name)
	return Check{}
}

// loginReport analyzes one session: login, the commands and replies of exchange, xfer if not nil,
// then QUIT, or the client's close without QUIT if noQuit.
func loginReport(t *testing.T, opts Options, xfer *capgen.Transfer, noQuit bool, exchange ...string) *Report {
	t.Helper()
	return analyze(t, build(t, func(c *capgen.Capture) {
		f := c.FTP(c4, s4)
		f.Login("u", "p")
		f.Exchange(exchange...)
		if xfer != nil {
			f.Transfer(*xfer)
		}
		if noQuit {
			f.Ctl.CloseBoth(capgen.Client)
		} else {
			f.Quit()
		}
	}), opts)
}

func reportText(rep *Report) string {
	var b bytes.Buffer
	rep.WriteText(&b)
	return b.String()
}

// TestCorrectSessionsPass: sessions that real clients and servers produce and that are correct must not
// fail: a resumed download (curl -C -), TYPE A on the extended profile, the netxduo 504 for a transfer
// outside TYPE I, and a client that closes without QUIT (wget).
func TestCorrectSessionsPass(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opts     Options
		exchange []string         // commands and replies after the login
		xfer     *capgen.Transfer // a transfer after them, if any
		noQuit   bool             // the client closes without QUIT
		check    string           // a check whose status must be want
		want     Status
		msg      string // in its messages or notes
	}{
		{name: "REST resume after SIZE", check: "transfer-size", want: StatusPass, msg: "",
			exchange: []string{"SIZE big.bin", "213 300000", "REST 200000", "350 Restarting at 200000"},
			xfer:     &capgen.Transfer{Verb: "RETR", Arg: "big.bin", Setup: "EPSV", Data: payload(100000)}},
		{name: "REST resume, ProFTPD-style 150 with the bytes to come", check: "transfer-size", want: StatusPass, msg: "as the 150 reply announced",
			opts: Options{Profile: ProfileRFC959}, exchange: []string{"REST 1000", "350 Restarting at 1000. Send STORE or RETRIEVE"},
			xfer: &capgen.Transfer{Verb: "RETR", Arg: "a.bin", Setup: "PASV", Data: payload(3000),
				Prelim: "150 Opening BINARY mode data connection for a.bin (3000 bytes)", Final: "226 Transfer complete"}},
		{name: "REST resume, vsftpd-style 150 with the whole size", check: "transfer-size", want: StatusPass, msg: "",
			opts: Options{Profile: ProfileRFC959}, exchange: []string{"REST 1000", "350 Restart position accepted (1000)."},
			xfer: &capgen.Transfer{Verb: "RETR", Arg: "a.bin", Setup: "PASV", Data: payload(3000),
				Prelim: "150 Opening BINARY mode data connection for a.bin (4000 bytes).", Final: "226 Transfer complete."}},
		{name: "TYPE A on extended", opts: Options{Profile: ftp.ProfileExtended}, check: "type-binary", want: StatusPass, msg: "converts ASCII",
			exchange: []string{"TYPE A", "200 Type ASCII", "SIZE t.txt", "213 10"},
			xfer: &capgen.Transfer{Verb: "RETR", Arg: "t.txt", Setup: "EPSV", Data: []byte("a\r\nb\r\nc\r\nd\r\ne\r\n"),
				Prelim: "150 File Read Start", Final: "226 File Sent"}},
		{name: "netxduo 504 for RETR in TYPE A", opts: Options{Profile: ftp.ProfileNetXDuo}, check: "reply-code", want: StatusPass, msg: "Only Image transfer allowed",
			exchange: []string{"TYPE A", "200 Type ASCII", "PASV", "227 Entering Passive Mode (198,51,100,2,192,0).", "RETR t.txt", "504 Only Image transfer allowed"}},
		{name: "closed without QUIT (wget)", check: "quit-221", want: StatusWarn, msg: "without QUIT",
			xfer: &capgen.Transfer{Verb: "RETR", Arg: "a.bin", Setup: "PASV", Data: payload(3000)}, noQuit: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := loginReport(t, tc.opts, tc.xfer, tc.noQuit, tc.exchange...)
			text := reportText(rep)
			if rep.Violations != 0 {
				t.Fatalf("%d violations on a correct session\n%s", rep.Violations, text)
			}
			ch := checkStatus(t, rep, 0, tc.check)
			if ch.Status != tc.want || !strings.Contains(strings.Join(append(ch.Messages, ch.Notes...), "\n"), tc.msg) {
				t.Errorf("%s: %s %q %q; want %s mentioning %q\n%s", tc.check, ch.Status, ch.Messages, ch.Notes, tc.want, tc.msg, text)
			}
		})
	}
}

// TestRESTStillCatchesShortTransfers: REST is accounted for, not a blanket pass.
func TestRESTStillCatchesShortTransfers(t *testing.T) {
	rep := loginReport(t, Options{}, &capgen.Transfer{Verb: "RETR", Arg: "big.bin", Setup: "EPSV", Data: payload(90000)}, false,
		"SIZE big.bin", "213 300000", "REST 200000", "350 Restarting at 200000")
	ch := checkStatus(t, rep, 0, "transfer-size")
	if ch.Status != StatusFail || rep.Violations != 1 || !strings.Contains(ch.Messages[0], "10000 bytes short") || !strings.Contains(ch.Messages[0], "REST offset 200000") {
		t.Errorf("short resumed transfer: %s %q (violations %d)\n%s", ch.Status, ch.Messages, rep.Violations, reportText(rep))
	}
	// a REST the server refused does not count
	rep = loginReport(t, Options{}, &capgen.Transfer{Verb: "RETR", Arg: "big.bin", Setup: "EPSV", Data: payload(2000)}, false,
		"SIZE big.bin", "213 3000", "REST 1000", "502 Command Not Implemented")
	if ch := checkStatus(t, rep, 0, "transfer-size"); ch.Status != StatusFail {
		t.Errorf("refused REST taken as an offset: %s %q", ch.Status, ch.Messages)
	}
}

// TestStrictMode: without QUIT fails in strict mode, the report says which mode it used, and TYPE A is
// still a failure in the netxduo profile (NetX never starts such a transfer).
func TestStrictMode(t *testing.T) {
	data := build(t, func(c *capgen.Capture) {
		f := c.FTP(c4, s4)
		f.Login("u", "p")
		f.Ctl.CloseBoth(capgen.Client)
	})
	rep := analyze(t, data, Options{Strict: true})
	text := reportText(rep)
	if ch := checkStatus(t, rep, 0, "quit-221"); ch.Status != StatusFail || rep.Violations != 1 || !strings.Contains(text, "mode: strict") {
		t.Errorf("strict: quit-221 %s, %d violations\n%s", ch.Status, rep.Violations, text)
	}
	if text := reportText(analyze(t, data, Options{})); !strings.Contains(text, "mode: lenient") {
		t.Errorf("lenient mode not named:\n%s", text)
	}
	rep = loginReport(t, Options{Profile: ftp.ProfileNetXDuo}, &capgen.Transfer{Verb: "RETR", Arg: "a", Setup: "PASV", Data: payload(10)}, false,
		"TYPE A", "200 Type ASCII")
	if ch := checkStatus(t, rep, 0, "type-binary"); ch.Status != StatusFail || len(ch.Messages) == 0 {
		t.Errorf("netxduo TYPE A transfer: %s %q", ch.Status, ch.Messages)
	}
}

// TestEveryFailLineHasAMessage: over every planted fault, each FAIL line of the text report says why.
func TestEveryFailLineHasAMessage(t *testing.T) {
	for _, f := range faults() {
		text := reportText(analyze(t, build(t, f.script), f.opts))
		lines := strings.Split(text, "\n")
		for i, l := range lines {
			tl := strings.TrimSpace(l)
			if !strings.HasPrefix(tl, "FAIL ") {
				continue
			}
			if !strings.Contains(tl, ": ") && (i+1 >= len(lines) || !strings.HasPrefix(strings.TrimSpace(lines[i+1]), "- ")) {
				t.Errorf("%s: FAIL line without a message: %q\n%s", f.name, l, text)
			}
		}
	}
}
