package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/ftp/server"
	"github.com/netxsim/netxsim/ftp/server/hostfs"
	"github.com/netxsim/netxsim/internal/testio"
	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/stack/link"
)

// A scripted peer: a loopback TCP server that plays one exact dialogue, for behaviours no real server
// shows on demand (split replies, refusals, a connection dropped mid-transfer).
type session struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func scripted(t *testing.T, play func(s *session)) netip.AddrPort {
	t.Helper()
	return acceptOne(t, netip.MustParseAddr("127.0.0.1"), func(conn net.Conn) {
		play(&session{t: t, conn: conn, r: bufio.NewReader(conn)})
	})
}

// acceptOne listens on host, hands the first connection to handle (and closes it after) and, on
// cleanup, waits for handle to return.
func acceptOne(t *testing.T, host netip.Addr, handle func(c net.Conn)) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", netip.AddrPortFrom(host, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := ln.Accept()
		ln.Close()
		if err != nil {
			return
		}
		defer c.Close()
		handle(c)
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return netip.MustParseAddrPort(ln.Addr().String())
}

// recorder holds what the client sent through a recordingProxy.
type recorder struct {
	testio.Buffer
	done chan struct{} // closed when the relay ended
}

// recordingProxy relays one connection on listen's address family to target and records what the
// client sent.
func recordingProxy(t *testing.T, listen netip.Addr, target netip.AddrPort) (netip.AddrPort, *recorder) {
	t.Helper()
	rec := &recorder{done: make(chan struct{})}
	return acceptOne(t, listen, func(c net.Conn) {
		defer close(rec.done)
		s, err := net.Dial("tcp", target.String())
		if err != nil {
			return
		}
		back := make(chan struct{})
		go func() { io.Copy(c, s); c.Close(); close(back) }()
		io.Copy(io.MultiWriter(s, rec), c)
		s.Close()
		<-back
	}), rec
}

func (s *session) send(raw ...string) {
	for _, r := range raw {
		if _, err := io.WriteString(s.conn, r); err != nil {
			s.t.Errorf("script: send %q: %v", r, err)
		}
	}
}

// expect reads one command and checks it equals want (or starts with it when want ends in '*').
func (s *session) expect(want string) string {
	s.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := s.r.ReadString('\n')
	if err != nil {
		s.t.Errorf("script: waiting for %q: %v", want, err)
		return ""
	}
	line = strings.TrimSuffix(line, "\r\n")
	if p, ok := strings.CutSuffix(want, "*"); ok && strings.HasPrefix(line, p) || line == want {
		return line
	}
	s.t.Errorf("script: got command %q, want %q", line, want)
	return line
}

// exchange expects each command in turn and answers it with the reply after it:
// exchange(cmd1, reply1, cmd2, reply2, ...), the replies without their CRLF.
func (s *session) exchange(cmdReply ...string) {
	for i := 0; i+1 < len(cmdReply); i += 2 {
		s.expect(cmdReply[i])
		s.send(cmdReply[i+1] + "\r\n")
	}
}

// login plays greeting, USER, PASS.
func (s *session) login() {
	s.send("220 scripted\r\n")
	s.exchange("USER u", "331 pw", "PASS p", "230 in")
}

// pasv answers a PASV with a fresh loopback listener and returns it.
func (s *session) pasv() net.Listener {
	s.expect("PASV")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.t.Errorf("script: %v", err)
		return nil
	}
	ap := netip.MustParseAddrPort(ln.Addr().String())
	s.send("227 " + ftp.Format227(ap) + "\r\n")
	return ln
}

// binaryPassive plays TYPE I, PASV and the transfer command cmd, and returns the accepted data
// connection (nil when the script failed or the client never connected).
func (s *session) binaryPassive(cmd string) net.Conn {
	s.expect("TYPE I")
	s.send("200 ok\r\n")
	ln := s.pasv()
	if ln == nil {
		return nil
	}
	defer ln.Close()
	s.expect(cmd)
	data, err := ln.Accept()
	if err != nil {
		return nil
	}
	return data
}

// retrStarted plays the login, TYPE I, PASV and RETR f, answers 150 and writes content on the data
// connection, which it returns open (nil when the script failed or the client never connected).
func (s *session) retrStarted(content string) net.Conn {
	s.login()
	data := s.binaryPassive("RETR f")
	if data == nil {
		return nil
	}
	s.send("150 go\r\n")
	data.Write([]byte(content))
	return data
}

// stalledRETR is a server whose download of f sends "partial" and then stalls until the client goes.
func stalledRETR(s *session) {
	data := s.retrStarted("partial")
	if data == nil {
		return
	}
	defer data.Close()
	s.r.ReadString('\n')
}

// dialLogin dials srv on the kernel and logs in as u/p; the client closes at cleanup.
func dialLogin(t *testing.T, ctx context.Context, srv netip.AddrPort, opts ...Option) *Client {
	t.Helper()
	return dialAs(t, ctx, stack.Kernel{}, srv, "u", "p", opts...)
}

// dialAs dials srv over nw with opts and logs in as user; the client closes at cleanup.
func dialAs(t testing.TB, ctx context.Context, nw Network, srv netip.AddrPort, user, pass string, opts ...Option) *Client {
	t.Helper()
	c, err := Dial(ctx, nw, srv, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(ctx, user, pass); err != nil {
		t.Fatal(err)
	}
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Replies split across segments, multi-line replies, extra 220 lines before USER's answer.
func TestRepliesSplitMultilineExtra220(t *testing.T) {
	srv := scripted(t, func(s *session) {
		for _, part := range []string{"2", "20-Welcome\r", "\n220-second line\r\n", " indented\r\n220 ready\r\n"} {
			s.send(part)
			time.Sleep(5 * time.Millisecond)
		}
		s.expect("USER u")
		s.send("220 another greeting\r\n", "331 ", "password please\r\n")
		s.expect("PASS p")
		s.send("230-Hello\r\n230-there\r\n230 logged in\r\n")
		s.expect("PWD")
		s.send(`257 "/a ""q"" b" is current`, "\r\n")
		s.expect("QUIT")
		s.send("221 bye\r\n")
	})
	ctx := testCtx(t)
	var trace strings.Builder
	c, err := Dial(ctx, stack.Kernel{}, srv, WithTrace(&trace))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if g := c.Greeting(); !strings.Contains(g, "Welcome") || !strings.Contains(g, "ready") {
		t.Errorf("greeting = %q", g)
	}
	if err := c.Login(ctx, "u", "p"); err != nil {
		t.Fatal(err)
	}
	wd, err := c.Pwd(ctx)
	if err != nil || wd != `/a "q" b` {
		t.Fatalf("pwd = %q, %v", wd, err)
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(trace.String(), "> PASS ****") || strings.Contains(trace.String(), "PASS p") {
		t.Errorf("trace does not mask the password:\n%s", trace.String())
	}
}

// A refused PASV is a clear, typed error and the session stays usable.
func TestPASVRefusedSessionUsable(t *testing.T) {
	srv := scripted(t, func(s *session) {
		s.login()
		s.exchange("TYPE I", "200 ok", "PASV", "502 PASV not here", "NOOP", "200 still here")
	})
	ctx := testCtx(t)
	c := dialLogin(t, ctx, srv, WithPassive(true))
	_, err := c.Retr(ctx, "f")
	if !isCode(err, 502) || !strings.Contains(err.Error(), "passive mode refused") {
		t.Fatalf("retr with PASV refused: %v, want a 502 error saying passive mode was refused", err)
	}
	if err := c.Noop(ctx); err != nil {
		t.Fatalf("session not usable after a refused PASV: %v", err)
	}
}

// Every way a download can end early is an error.
func TestDownloadEndsEarly(t *testing.T) {
	cases := []struct {
		name   string
		block  bool
		prelim string // the 1xx reply
		data   []byte // written on the data connection, which is then closed
		final  string // the reply after it; "": the control connection is closed instead
		want   func(error) bool
	}{
		{"control closed mid-download", false, "150 here it comes", make([]byte, 1000), "",
			func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) }},
		{"426 after a partial file", false, "150 here it comes", make([]byte, 1000), "426 Connection closed; transfer aborted",
			func(err error) bool { return isCode(err, 426) }},
		{"451 local error", false, "150 go", nil, "451 read error",
			func(err error) bool { var fe *ftp.Error; return errors.As(err, &fe) && fe.Temporary() }},
		{"226 but fewer bytes than announced", false, "150 Opening BINARY mode data connection for f (5000 bytes).", make([]byte, 4000), "226 done",
			func(err error) bool { return errors.Is(err, ErrShortTransfer) }},
		{"block mode without the EOF block", true, "150 go", append([]byte{0, 0, 4}, "abcd"...), "226 done",
			func(err error) bool { return errors.Is(err, ErrShortTransfer) }},
		{"block mode cut inside a block", true, "150 go", append([]byte{0, 0, 9}, "abcd"...), "226 done",
			func(err error) bool { return errors.Is(err, ErrShortTransfer) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := scripted(t, func(s *session) {
				s.login()
				s.expect("TYPE I")
				s.send("200 ok\r\n")
				if tc.block {
					s.expect("MODE B")
					s.send("200 ok\r\n")
				}
				ln := s.pasv()
				if ln == nil {
					return
				}
				defer ln.Close()
				s.expect("RETR f")
				data, err := ln.Accept()
				if err != nil {
					return
				}
				s.send(tc.prelim + "\r\n")
				if len(tc.data) > 0 {
					data.Write(tc.data)
				}
				data.Close()
				if tc.final == "" {
					s.conn.Close()
				} else {
					s.send(tc.final + "\r\n")
				}
				s.r.ReadString('\n') // wait for the client to go
			})
			ctx := testCtx(t)
			opts := []Option{WithPassive(true)}
			if tc.block {
				opts = append(opts, WithMode(ModeBlock))
			}
			c := dialLogin(t, ctx, srv, opts...)
			b, err := get(ctx, c, "f")
			if err == nil || !tc.want(err) {
				t.Fatalf("download that ended early: %d bytes, err %v", len(b), err)
			}
			c.Close()
		})
	}
}

// A server that never answers: the call ends with the context's deadline.
func TestSilentServerTimesOutInsideContext(t *testing.T) {
	hold := make(chan struct{})
	srv := scripted(t, func(s *session) { <-hold })
	defer close(hold)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Dial(ctx, stack.Kernel{}, srv)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("dial to a silent server: %v, want context.DeadlineExceeded", err)
	}
	if time.Since(start) > 20*time.Second {
		t.Fatalf("dial did not return near its deadline")
	}
}

// A cancelled context stops a download that stalls, and the client refuses further use.
func TestCancelStalledDownload(t *testing.T) {
	srv := scripted(t, stalledRETR)
	ctx := testCtx(t)
	c := dialLogin(t, ctx, srv, WithPassive(true))
	dctx, cancel := context.WithCancel(ctx)
	d, err := c.Retr(dctx, "f")
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err = io.ReadAll(d)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("stalled download after cancel: %v, want context.Canceled", err)
	}
	if err := c.Noop(ctx); err == nil {
		t.Fatal("client still usable after its control connection lost step")
	}
}

// One client refuses a second call while a transfer is open.
func TestBusyWhileTransferOpen(t *testing.T) {
	srv := scripted(t, func(s *session) {
		data := s.retrStarted("hello")
		if data == nil {
			return
		}
		data.Close()
		s.send("226 done\r\n")
		s.expect("NOOP")
		s.send("200 ok\r\n")
	})
	ctx := testCtx(t)
	c := dialLogin(t, ctx, srv, WithPassive(true))
	d, err := c.Retr(ctx, "f")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Noop(ctx); !errors.Is(err, ErrBusy) {
		t.Fatalf("noop during a transfer: %v, want ErrBusy", err)
	}
	b, err := io.ReadAll(d)
	if err != nil || string(b) != "hello" {
		t.Fatalf("read = %q, %v", b, err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Noop(ctx); err != nil {
		t.Fatalf("noop after the transfer: %v", err)
	}
}

// 4xx replies are temporary, 5xx permanent, and both are *ftp.Error.
func TestTypedErrors(t *testing.T) {
	srv := scripted(t, func(s *session) {
		s.login()
		s.exchange("DELE a", "450 busy, try later", "DELE b", "550 no such file", "RNFR c", "250 odd")
	})
	ctx := testCtx(t)
	c := dialLogin(t, ctx, srv)
	var fe *ftp.Error
	if err := c.Delete(ctx, "a"); !errors.As(err, &fe) || fe.Code != 450 || !fe.Temporary() {
		t.Errorf("450: %v", err)
	}
	if err := c.Delete(ctx, "b"); !errors.As(err, &fe) || fe.Code != 550 || fe.Temporary() {
		t.Errorf("550: %v", err)
	}
	if err := c.Rename(ctx, "c", "d"); !errors.Is(err, ErrUnexpectedReply) {
		t.Errorf("RNFR answered 250: %v, want ErrUnexpectedReply", err)
	}
}

// A wrong password is a typed 530 (pyftpdlib).
func TestWrongPassword530(t *testing.T) {
	srv := startPyftpd(t, netip.MustParseAddr("127.0.0.1"), t.TempDir(), false, nil)
	ctx := testCtx(t)
	c, err := Dial(ctx, stack.Kernel{}, srv)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Login(ctx, "user", "wrong")
	var fe *ftp.Error
	if !errors.As(err, &fe) || fe.Code != 530 {
		t.Fatalf("wrong password: %v, want *ftp.Error 530", err)
	}
	// missing file: 550, and the session goes on
	if err := c.Login(ctx, "user", "secret"); err != nil {
		t.Fatal(err)
	}
	for _, passive := range []bool{false, true} {
		c.SetPassive(passive)
		if _, err := get(ctx, c, "missing"); !isCode(err, 550) {
			t.Fatalf("retr of a missing file (passive %v): %v, want 550", passive, err)
		}
		if err := c.Noop(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNetxEPRT(t *testing.T) {
	got := netxEPRT(netip.MustParseAddrPort("[2001:db8::2]:49153"))
	want := "|2|2001:0DB8:0000:0000:0000:0000:0000:0002|49153|"
	if got != want {
		t.Fatalf("netxEPRT = %q, want %q", got, want)
	}
	if ap, err := ftp.ParseEPRT(got); err != nil || ap != netip.MustParseAddrPort("[2001:db8::2]:49153") {
		t.Fatalf("ftp.ParseEPRT(%q) = %v, %v", got, ap, err)
	}
}

func TestParseQuotedPath(t *testing.T) {
	for in, want := range map[string]string{
		`"/" is current directory`:          "/",
		`"/a ""b""" created`:                `/a "b"`,
		`Current dir is "/x y".`:            "/x y",
		`200 "/path" Directory Created`[4:]: "/path",
	} {
		if got, err := parseQuotedPath(in); err != nil || got != want {
			t.Errorf("parseQuotedPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"no quotes", `"unterminated`} {
		if _, err := parseQuotedPath(bad); err == nil {
			t.Errorf("parseQuotedPath(%q): no error", bad)
		}
	}
}

func TestAnnouncedSize(t *testing.T) {
	for in, want := range map[string]int64{
		"Opening BINARY mode data connection for f (5000 bytes).": 5000,
		"Opening data connection (0 bytes)":                       0,
		"File status okay. About to open data connection.":        -1,
		"weird (x bytes)": -1,
	} {
		if got := announcedSize(in); got != want {
			t.Errorf("announcedSize(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestParseMDTM(t *testing.T) {
	got, err := ParseMDTM("20240102030405.250")
	want := time.Date(2024, 1, 2, 3, 4, 5, 250e6, time.UTC)
	if err != nil || !got.Equal(want) {
		t.Fatalf("ParseMDTM = %v, %v", got, err)
	}
	for _, bad := range []string{"", "2024", "20241302030405", "20240102030405.", "2024010203040x"} {
		if _, err := ParseMDTM(bad); err == nil {
			t.Errorf("ParseMDTM(%q): no error", bad)
		}
	}
}

// Without a context deadline the idle timeout still ends a download whose server stalls.
func TestIdleTimeoutStalledDownload(t *testing.T) {
	srv := scripted(t, stalledRETR)
	ctx := context.Background() // no deadline: the idle timeout alone must end it
	c := dialLogin(t, ctx, srv, WithPassive(true), WithIdleTimeout(300*time.Millisecond))
	d, err := c.Retr(ctx, "f")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(d)
	if err == nil || string(b) != "partial" {
		t.Fatalf("stalled download: %q, %v; want the partial data and an error", b, err)
	}
}

// TestPASVAddressIgnored: a hostile server's 227 names a third host (the class of curl's
// CVE-2020-8284). By default the client connects to the control connection's server with the 227
// port and never touches the third host; WithTrustPASVAddress(true) follows the reply. A 227 of
// 0.0.0.0 always means the control peer. Every client profile, downloads and uploads.
func TestPASVAddressIgnored(t *testing.T) {
	for _, prof := range []ftp.Profile{ftp.ProfileNetXDuo, ftp.ProfileNetXDuo64, ftp.ProfileExtended} {
		for _, trust := range []bool{false, true} {
			for _, announce := range []string{"127.0.0.3", "0.0.0.0", "127.0.0.1"} {
				for _, verb := range []string{"RETR", "STOR"} {
					t.Run(fmt.Sprintf("%s/trust=%v/%s/%s", prof, trust, announce, verb), func(t *testing.T) {
						testPASVAddress(t, prof, trust, announce, verb)
					})
				}
			}
		}
	}
}

func testPASVAddress(t *testing.T, prof ftp.Profile, trust bool, announce, verb string) {
	// the server's own data listener and a bait on the third address, on the same port
	own, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	port := netip.MustParseAddrPort(own.Addr().String()).Port()
	bait, err := net.Listen("tcp", fmt.Sprintf("127.0.0.3:%d", port))
	if err != nil {
		t.Skipf("no second loopback address here: %v", err)
	}
	defer bait.Close()
	wantBait := trust && announce == "127.0.0.3"
	served, other := own, bait
	if wantBait {
		served, other = bait, own
	}
	baited := make(chan net.Conn, 1)
	go func() {
		if c, err := other.Accept(); err == nil {
			baited <- c
		}
	}()
	payload := "data from the right host\n"
	srv := scripted(t, func(s *session) {
		s.login()
		s.expect("TYPE I")
		s.send("200 ok\r\n")
		s.expect("PASV")
		s.send("227 " + ftp.Format227(netip.AddrPortFrom(netip.MustParseAddr(announce), port)) + "\r\n")
		s.expect(verb + " f")
		served.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
		dc, err := served.Accept()
		if err != nil {
			s.send("425 no data connection\r\n")
			return
		}
		s.send("150 here\r\n")
		if verb == "RETR" {
			io.WriteString(dc, payload)
			dc.Close()
		} else {
			b, _ := io.ReadAll(dc)
			dc.Close()
			if string(b) != payload {
				s.t.Errorf("server got %q", b)
			}
		}
		s.send("226 done\r\n")
	})
	ctx := testCtx(t)
	c := dialLogin(t, ctx, srv, WithProfile(prof), WithPassive(true), WithTrustPASVAddress(trust))
	if verb == "RETR" {
		got, err := get(ctx, c, "f")
		if err != nil || string(got) != payload {
			t.Fatalf("RETR: %q, %v", got, err)
		}
	} else {
		u, err := c.Stor(ctx, "f")
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(u, payload)
		if err := u.Close(); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case bc := <-baited:
		bc.Close()
		t.Fatalf("the client connected to %v, which the 227 reply should not have sent it to", bc.LocalAddr())
	default:
	}
}

var (
	devV4  = netip.MustParsePrefix("198.51.100.2/24")
	hostV4 = netip.MustParsePrefix("198.51.100.1/24")
	devV6  = netip.MustParsePrefix("2001:db8::2/64")
	hostV6 = netip.MustParsePrefix("2001:db8::1/64")
)

// inMemory makes two IP instances joined by an in-memory Ethernet cable: the client's (the device) and
// the server's.
func inMemory(t *testing.T) (dev, host *stack.IP) {
	t.Helper()
	p, err := link.NewPair(link.PairConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	mk := func(name string, mac byte, v4, v6 netip.Prefix, ep *link.Impaired) *stack.IP {
		ip, err := stack.New(context.Background(), stack.Config{Name: name, MAC: net.HardwareAddr{2, 0, 0, 0, 0, mac}, IPv4: v4,
			IPv6: true, IPv6Global: []netip.Prefix{v6}, SkipDAD: true}, ep)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ip.Close() })
		return ip
	}
	dev = mk("dev", 2, devV4, devV6, p.A())
	host = mk("host", 1, hostV4, hostV6, p.B())
	return dev, host
}

// ownServer serves a fresh directory with ftp/server on ip, port 21, both families.
func ownServer(t *testing.T, ip *stack.IP, profile ftp.Profile) *server.Server {
	t.Helper()
	fsys, err := hostfs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fsys.Close() })
	srv := &server.Server{FS: fsys, Profile: profile, Network: ip, LoginFailDelay: -1, MaxSessions: -1,
		Login: func(_ context.Context, _ netip.AddrPort, user, pass string) server.Access {
			if user == "user" && pass == "secret" {
				return server.ReadWrite
			}
			return server.Deny
		}}
	for _, a := range []netip.Prefix{hostV4, hostV6} {
		ln, err := ip.Listen(context.Background(), netip.AddrPortFrom(a.Addr(), 21))
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve(ln)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// TestOwnServerInMemory: every client service against ftp/server over in-memory IP instances, for each
// server profile x client profile x active/passive x stream/block x IPv4/IPv6.
func TestOwnServerInMemory(t *testing.T) {
	for _, sp := range []ftp.Profile{ftp.ProfileNetXDuo, ftp.ProfileExtended} {
		t.Run("server-"+string(sp), func(t *testing.T) {
			dev, host := inMemory(t)
			ownServer(t, host, sp)
			for _, fam := range []netip.Prefix{hostV4, hostV6} {
				for _, mode := range []Mode{ModeStream, ModeBlock} {
					for i, v := range variants() {
						name := fmt.Sprintf("ipv%d/%s/%s", map[bool]int{true: 4, false: 6}[fam.Addr().Is4()], v.name, mode)
						t.Run(name, func(t *testing.T) {
							ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
							defer cancel()
							c := dialAs(t, ctx, dev, netip.AddrPortFrom(fam.Addr(), 21), "user", "secret", append(v.opts, WithMode(mode))...)
							dir := fmt.Sprintf("d%d%s", i, mode)
							if fam.Addr().Is6() {
								dir += "6"
							}
							// REST is for stream mode only; the netxduo server has no FEAT at all.
							exerciseOpts(t, ctx, c, dir, sp == ftp.ProfileExtended && mode == ModeStream, false)
							if err := c.Quit(ctx); err != nil {
								t.Fatal(err)
							}
						})
					}
				}
			}
		})
	}
}

// NetX's own block-mode upload with a declared size (nx_ftp_client_file_size_set), and the server's
// answer to a wrong password, on the in-memory link.
func TestOwnServerDeclaredSizeAndErrors(t *testing.T) {
	dev, host := inMemory(t)
	ownServer(t, host, ftp.ProfileNetXDuo)
	ctx := testCtx(t)
	srv := netip.AddrPortFrom(hostV4.Addr(), 21)
	c, err := Dial(ctx, dev, srv, WithProfile(ftp.ProfileNetXDuo), WithMode(ModeBlock))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(ctx, "user", "wrong"); !isCode(err, 530) {
		t.Fatalf("wrong password: %v, want 530", err)
	}
	if err := c.Login(ctx, "user", "secret"); err != nil {
		t.Fatal(err)
	}
	data := randomBytes(100_000, 7)
	u, err := c.Stor(ctx, "sized")
	if err != nil {
		t.Fatal(err)
	}
	if err := u.SetSize(int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Write(data[:50]); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Write(data[50:]); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Write([]byte{1}); err == nil {
		t.Fatal("write past the declared size accepted")
	}
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := get(ctx, c, "sized")
	if err != nil || string(got) != string(data) {
		t.Fatalf("get = %d bytes, %v", len(got), err)
	}
	// fewer bytes than declared: an error, never a short success
	u, err = c.Stor(ctx, "short")
	if err != nil {
		t.Fatal(err)
	}
	u.SetSize(10)
	u.Write([]byte("12345"))
	if err := u.Close(); !errors.Is(err, ErrShortTransfer) {
		t.Fatalf("upload short of its declared size: %v, want ErrShortTransfer", err)
	}
	if _, err := get(ctx, c, "missing"); !isCode(err, 550) {
		t.Fatalf("missing file: %v, want 550", err)
	}
	if err := c.Noop(ctx); err != nil {
		t.Fatal(err)
	}
}

// An unreachable server (nothing answers ARP for it on the link) ends with the context's deadline.
func TestUnreachableTimesOutInsideContext(t *testing.T) {
	dev, _ := inMemory(t)
	for _, to := range []string{"198.51.100.9", "2001:db8::9"} {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		_, err := Dial(ctx, dev, netip.AddrPortFrom(netip.MustParseAddr(to), 21))
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("dial unreachable %s: %v, want context.DeadlineExceeded", to, err)
		}
	}
}

// Many clients at once, each on its own goroutine.
func TestConcurrentClients(t *testing.T) {
	dev, host := inMemory(t)
	ownServer(t, host, ftp.ProfileExtended)
	ctx := testCtx(t)
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			errs <- func() error {
				c, err := Dial(ctx, dev, netip.AddrPortFrom(hostV4.Addr(), 21), WithPassive(i%2 == 0))
				if err != nil {
					return err
				}
				defer c.Close()
				if err := c.Login(ctx, "user", "secret"); err != nil {
					return err
				}
				name := fmt.Sprintf("c%d", i)
				data := randomBytes(200_000+i, uint64(i))
				u, err := c.Stor(ctx, name)
				if err != nil {
					return err
				}
				u.Write(data)
				if err := u.Close(); err != nil {
					return err
				}
				got, err := get(ctx, c, name)
				if err != nil {
					return err
				}
				if string(got) != string(data) {
					return fmt.Errorf("client %d: data differs", i)
				}
				return c.Quit(ctx)
			}()
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// In MODE B a listing is framed in blocks like any transfer (RFC 959 3.4: the mode applies to every
// data transfer; NetX's client reads block headers on listings too).
func TestOwnServerBlockModeListing(t *testing.T) {
	dev, host := inMemory(t)
	ownServer(t, host, ftp.ProfileNetXDuo)
	ctx := testCtx(t)
	c := dialAs(t, ctx, dev, netip.AddrPortFrom(hostV4.Addr(), 21), "user", "secret", WithProfile(ftp.ProfileNetXDuo), WithMode(ModeBlock))
	put(t, ctx, c, "f", []byte("x"))
	l, err := c.NameList(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	got, err := l.ReadAll()
	if err != nil || len(got) != 1 || got[0] != "f" {
		t.Fatalf("nlst in block mode = %q, %v", got, err)
	}
}

// A server that goes away in the middle of a download: an error, never a short success.
func TestOwnServerClosesMidDownload(t *testing.T) {
	for _, passive := range []bool{false, true} {
		dev, host := inMemory(t)
		srv := ownServer(t, host, ftp.ProfileExtended)
		ctx := testCtx(t)
		c := dialAs(t, ctx, dev, netip.AddrPortFrom(hostV4.Addr(), 21), "user", "secret", WithPassive(passive))
		put(t, ctx, c, "big", randomBytes(8*MiB, 3))
		d, err := c.Retr(ctx, "big")
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, MiB)
		if _, err := io.ReadFull(d, buf); err != nil {
			t.Fatal(err)
		}
		srv.Close()
		n, err := io.Copy(io.Discard, d)
		if err == nil {
			t.Fatalf("passive %v: download ended with success after %d more bytes although the server closed", passive, n)
		}
		t.Logf("passive %v: %v", passive, err)
	}
}
