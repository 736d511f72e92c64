package server_test

// What a client must not get: files outside the root, connections to third parties or privileged
// ports, unlimited password guesses, session slots held without logging in.

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/ftp/server"
	"github.com/netxsim/netxsim/stack"
)

// TestTraversal: "..", absolute paths and symbolic links never leave the root.
func TestTraversal(t *testing.T) {
	top := t.TempDir()
	root := filepath.Join(top, "root")
	writeFile(t, top, "secret", []byte("SECRET"))
	writeFile(t, root, "pub/ok.txt", []byte("ok"))
	must(t, os.Symlink("../secret", filepath.Join(root, "escape")))
	must(t, os.Symlink("/etc", filepath.Join(root, "etcdir")))
	must(t, os.Symlink("pub/ok.txt", filepath.Join(root, "inside")))
	fsys := openHostFS(t, root)
	for _, prof := range []ftp.Profile{ftp.ProfileNetXDuo, ftp.ProfileExtended} {
		t.Run(string(prof), func(t *testing.T) {
			e := startKernel(t, baseServer(fsys, prof), v4)
			c := e.connect(t)
			c.read()
			c.login("u", "p")
			c.do("TYPE I", 200, nx(c, "Type Binary"))
			for _, name := range []string{"../../etc/passwd", "../secret", "/../secret", "/etc/passwd", `..\secret`,
				"escape", "etcdir/passwd", "pub/../../secret"} {
				c.do("RETR "+name, 550, nx(c, "File Open Fail"))
			}
			c.do("CWD ../..", 250, nx(c, `"/" set successfully`))
			c.do("CWD etcdir", 550, nx(c, "Change Dir Fail"))
			c.do("CWD /..", 250, nx(c, `"/" set successfully`))
			c.do("PWD", 257, nx(c, `"/" is current Directory`))
			// writes through a link or upwards land inside or fail
			d := c.pasvData()
			c.send("STOR ../../outside.txt")
			code, _ := c.read()
			d.Write([]byte("data"))
			d.Close()
			c.read()
			if code >= 400 {
				t.Fatalf("STOR ../../outside.txt: %d", code)
			}
			if _, err := os.Stat(filepath.Join(top, "outside.txt")); err == nil {
				t.Fatal("STOR escaped the root")
			}
			if _, err := os.Stat(filepath.Join(root, "outside.txt")); err != nil {
				t.Fatalf("STOR ../../outside.txt did not land at the root: %v", err)
			}
			os.Remove(filepath.Join(root, "outside.txt"))
			// a link that stays inside works
			if got := string(c.pasvRead("RETR inside")); got != "ok" {
				t.Fatalf("RETR inside: %q", got)
			}
			if b, _ := os.ReadFile(filepath.Join(top, "secret")); string(b) != "SECRET" {
				t.Fatal("secret changed")
			}
		})
	}
}

// TestPortToOtherAddress: PORT/EPRT to an address that is not the client's gets an error and the
// server never connects there.
func TestPortToOtherAddress(t *testing.T) {
	for _, prof := range []ftp.Profile{ftp.ProfileNetXDuo, ftp.ProfileExtended} {
		t.Run(string(prof), func(t *testing.T) {
			fsys, dir := newHostFS(t)
			writeFile(t, dir, "f", []byte("x"))
			e := startKernel(t, baseServer(fsys, prof), v4)
			victim, err := net.Listen("tcp", "127.0.0.2:0")
			if err != nil {
				t.Skipf("127.0.0.2 not usable: %v", err)
			}
			defer victim.Close()
			vap := victim.Addr().(*net.TCPAddr).AddrPort()
			c := e.connect(t)
			c.read()
			c.login("u", "p")
			c.do("TYPE I", 200, nx(c, "Type Binary"))
			c.do("PORT "+ftp.FormatPORT(vap, false), 501, nx(c, "Port Fail"))
			if prof == ftp.ProfileExtended {
				c.do("EPRT "+ftp.FormatEPRT(vap), 501, "EPRT command failed: only to your own address and a port >= 1024")
				c.do("PORT 127,0,0,1,0,21", 501, "Port Fail") // privileged port
			}
			c.do("RETR f", 425, nx(c, "Use PORT, EPRT, PASV or EPSV first"))
			victim.(*net.TCPListener).SetDeadline(time.Now().Add(300 * time.Millisecond))
			if conn, err := victim.Accept(); err == nil {
				conn.Close()
				t.Fatal("the server connected to a third party")
			}
		})
	}
}

// TestPassiveForeignPeer: a passive data connection from another address is refused; the client's own works.
func TestPassiveForeignPeer(t *testing.T) {
	fsys, dir := newHostFS(t)
	writeFile(t, dir, "f", []byte("payload"))
	e := startKernel(t, baseServer(fsys, ftp.ProfileNetXDuo), v4)
	c := e.connect(t)
	c.read()
	c.login("u", "p")
	c.do("TYPE I", 200, "Type Binary ")
	c.send("PASV")
	_, text := c.read()
	ap, err := ftp.Parse227(text)
	must(t, err)
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 5 * time.Second}
	foreign, err := d.Dial("tcp", ap.String())
	if err != nil {
		t.Skipf("cannot dial from 127.0.0.2: %v", err)
	}
	defer foreign.Close()
	c.send("RETR f")
	c.expect(150, "File Opened ")
	foreign.SetReadDeadline(time.Now().Add(10 * time.Second))
	if b, _ := io.ReadAll(foreign); len(b) != 0 {
		t.Fatalf("foreign peer got %q", b)
	}
	own, err := e.dial(t.Context(), netip.AddrPortFrom(ap.Addr(), ap.Port()))
	must(t, err)
	if got := string(readAll(t, own)); got != "payload" {
		t.Fatalf("own data connection got %q", got)
	}
	c.expect(226, "File Sent ")
}

// TestFailedLogins: each failure waits LoginFailDelay, and the connection closes after the limit.
func TestFailedLogins(t *testing.T) {
	bothProfiles(t, func(t *testing.T, srv *server.Server, _ string) {
		srv.LoginFailDelay = 150 * time.Millisecond
		srv.MaxLoginFailures = 3
		e := startKernel(t, srv, v4)
		c := e.connect(t)
		c.read()
		for i := 0; i < 3; i++ {
			c.do("USER u", 331, nx(c, "Enter password"))
			start := time.Now()
			c.do("PASS bad", 530, nx(c, "Login Fail"))
			if d := time.Since(start); d < srv.LoginFailDelay {
				t.Fatalf("failure %d answered after %v, before the %v delay", i+1, d, srv.LoginFailDelay)
			}
		}
		if srv.Profile == ftp.ProfileExtended {
			c.expect(421, "Too many failed logins, closing control connection")
		}
		expectClosed(t, c)
	})
}

// TestSessionLimits: netxduo keeps extra connections waiting (NetX's backlog), extended answers 421;
// the per-address limit answers 421 in both.
func TestSessionLimits(t *testing.T) {
	fsys, _ := newHostFS(t)
	// full starts a server of prof limited to two sessions and fills them (both greeted); a is the first.
	full := func(t *testing.T, prof ftp.Profile) (srv *server.Server, e *env, a *ctrl) {
		t.Helper()
		srv = baseServer(fsys, prof)
		srv.MaxSessions = 2
		e = startKernel(t, srv, v4)
		a, b := e.connect(t), e.connect(t)
		a.read()
		b.read()
		return srv, e, a
	}
	t.Run("netxduo", func(t *testing.T) {
		_, e, a := full(t, ftp.ProfileNetXDuo)
		third := e.connect(t)
		third.c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if n, _ := third.c.Read(make([]byte, 1)); n != 0 {
			t.Fatal("a third session was greeted over the limit of 2")
		}
		a.do("USER u", 331, "Enter password ")
		a.c.Close()
		third.expect(220, "Connection Ready ")
	})
	t.Run("extended", func(t *testing.T) {
		srv, e, a := full(t, ftp.ProfileExtended)
		third := e.connect(t)
		third.expect(421, "Too many sessions, try later")
		expectClosed(t, third)
		a.do("QUIT", 221, "Logging Off")
		waitSessions(t, srv, 1)
		fourth := e.connect(t)
		fourth.expect(220, "Connection Ready")
	})
	t.Run("per-address", func(t *testing.T) {
		srv := baseServer(fsys, ftp.ProfileNetXDuo)
		srv.MaxSessionsPerAddr = 1
		e := startKernel(t, srv, v4)
		a := e.connect(t)
		a.read()
		b := e.connect(t)
		b.expect(421, "Too many sessions from your address, try later")
	})
}

// TestIdleTimeout: an idle session is closed (netxduo silently as NetX, extended with 421).
func TestIdleTimeout(t *testing.T) {
	bothProfiles(t, func(t *testing.T, srv *server.Server, _ string) {
		srv.IdleTimeout = 200 * time.Millisecond
		logouts := make(chan string, 1)
		srv.Logout = func(_ netip.AddrPort, user string) { logouts <- user }
		e := startKernel(t, srv, v4)
		c := e.connect(t)
		c.read()
		c.login("u", "p")
		if srv.Profile == ftp.ProfileExtended {
			c.expect(421, "Idle timeout, closing control connection")
		}
		expectClosed(t, c)
		if u := <-logouts; u != "u" {
			t.Fatalf("logout callback for %q", u)
		}
	})
}

// TestDataTimeout: a passive connection that never comes gets 425.
func TestDataTimeout(t *testing.T) {
	fsys, dir := newHostFS(t)
	writeFile(t, dir, "f", []byte("x"))
	srv := baseServer(fsys, ftp.ProfileExtended)
	srv.DataTimeout = 200 * time.Millisecond
	e := startKernel(t, srv, v4)
	c := e.connect(t)
	c.read()
	c.login("u", "p")
	c.do("TYPE I", 200, "Type Binary")
	c.send("EPSV")
	c.read()
	c.do("RETR f", 150, "File Opened") // and then nobody connects
	c.expect(425, "Can't open data connection")
	c.do("NOOP", 200, "NOOP Success")
}

// ConnState reports each control connection's states in order: new, logged-in, closed; one over the
// extended limit is refused and never new.
func TestConnState(t *testing.T) {
	fsys, _ := newHostFS(t)
	srv := baseServer(fsys, ftp.ProfileExtended)
	srv.MaxSessions = 1
	states := make(chan server.ConnState, 16)
	srv.ConnState = func(_ net.Conn, st server.ConnState) { states <- st }
	e := startKernel(t, srv, v4)
	a := e.connect(t)
	a.expect(220, "Connection Ready")
	a.login("u", "p")
	b := e.connect(t)
	b.expect(421, "Too many sessions, try later")
	a.do("QUIT", 221, "Logging Off")
	var got []string
	timeout := time.After(10 * time.Second)
	for len(got) < 4 {
		select {
		case st := <-states:
			got = append(got, st.String())
		case <-timeout:
			t.Fatalf("states %v, want 4", got)
		}
	}
	// The refusal is reported from its own goroutine, so only a's states have an order.
	var a3 []string
	refused := 0
	for _, s := range got {
		if s == "refused" {
			refused++
		} else {
			a3 = append(a3, s)
		}
	}
	if refused != 1 || strings.Join(a3, " ") != "new logged-in closed" {
		t.Fatalf("states %q, want new logged-in closed and one refused", strings.Join(got, " "))
	}
}

var allProfiles = []ftp.Profile{ftp.ProfileNetXDuo, ftp.ProfileNetXDuo64, ftp.ProfileExtended}

// TestPrivilegedPorts: PORT and EPRT to a port below 1024 of the client's own address are refused in
// every profile (a bounce to port 25 or 22), unless AllowPrivilegedPorts.
func TestPrivilegedPorts(t *testing.T) {
	for _, prof := range allProfiles {
		for _, fam := range []family{v4, v6} {
			for _, allow := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/allow=%v", prof, fam, allow), func(t *testing.T) {
					fsys, _ := newHostFS(t)
					srv := baseServer(fsys, prof)
					srv.AllowPrivilegedPorts = allow
					e := startKernel(t, srv, fam)
					c := e.connect(t)
					c.read()
					c.login("u", "p")
					for _, port := range []int{1, 21, 25, 80, 1023, 1024, 40000} {
						var cmd string
						if fam == v4 {
							cmd = fmt.Sprintf("PORT 127,0,0,1,%d,%d", port>>8, port&255)
						} else {
							cmd = fmt.Sprintf("EPRT |2|::1|%d|", port)
						}
						c.send(cmd)
						code, text := c.read()
						if refuse := port < 1024 && !allow; refuse != (code == 501) {
							t.Errorf("%s: %d %q (refusal wanted: %v)", cmd, code, text, refuse)
						}
						if code != 200 && code != 501 {
							t.Errorf("%s: %d %q", cmd, code, text)
						}
					}
				})
			}
		}
	}
}

// trickle holds a connection open without logging in: mode "bytes" sends one byte of a line at a
// time, "noops" sends complete commands (which reset any idle timer); it stops when the server
// closes the connection or stop is closed.
func trickle(c net.Conn, mode string, stop <-chan struct{}) {
	go func() { // drain replies so the server never blocks on writing
		buf := make([]byte, 512)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	}()
	msg := "NOOP\r\n"
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-time.After(20 * time.Millisecond):
		}
		var b string
		if mode == "bytes" {
			b = msg[i%len(msg) : i%len(msg)+1]
			if i%len(msg) == len(msg)-2 {
				b = "X" // never complete a line
			}
		} else {
			b = msg
		}
		c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte(b)); err != nil {
			return
		}
	}
}

// TestLoginTimeout: as many connections as there are session slots, trickling bytes or commands
// without logging in, no longer lock a real client out: the login timeout frees their slots. A
// logged-in session is not subject to it.
func TestLoginTimeout(t *testing.T) {
	for _, prof := range allProfiles {
		for _, mode := range []string{"bytes", "noops"} {
			for _, fam := range []family{v4, v6} {
				t.Run(string(prof)+"/"+mode+"/"+string(fam), func(t *testing.T) {
					testLoginTimeout(t, prof, mode, fam)
				})
			}
		}
	}
}

func testLoginTimeout(t *testing.T, prof ftp.Profile, mode string, fam family) {
	fsys, _ := newHostFS(t)
	srv := baseServer(fsys, prof)
	srv.MaxSessions = 4
	srv.LoginTimeout = 300 * time.Millisecond
	e := startKernel(t, srv, fam)
	stop := make(chan struct{})
	defer close(stop)
	// a session logged in before the attack keeps working after the login timeout
	good := e.connect(t)
	good.read()
	good.login("u", "p")
	var wg sync.WaitGroup
	defer wg.Wait()
	for range srv.MaxSessions {
		c, err := e.dial(t.Context(), e.ctrl)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		wg.Go(func() { trickle(c, mode, stop) })
	}
	// a real client gets in once the tricklers are cut off (bounded by the test's guard,
	// not by a timing assertion: on the old server it never does)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if time.Now().After(deadline) {
			t.Fatal("no client could log in while connections trickled without logging in")
		}
		conn, err := e.dial(t.Context(), e.ctrl)
		if err != nil {
			t.Fatal(err)
		}
		c := &ctrl{t: t, e: e, c: conn, lr: ftp.NewLineReader(conn, 1<<16)}
		conn.SetReadDeadline(time.Now().Add(time.Until(deadline)))
		code, _, err := c.lr.ReadReply()
		if err == nil && code == 220 {
			c.login("u", "p")
			c.do("NOOP", 200, nx(c, "NOOP Success"))
			conn.Close()
			break
		}
		conn.Close()
		time.Sleep(50 * time.Millisecond)
	}
	good.do("NOOP", 200, nx(good, "NOOP Success"))
}

// dialFrom connects to the server from a given loopback source address (all of 127/8 is local).
func dialFrom(t testing.TB, e *env, src string) *ctrl {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	conn, err := d.Dial("tcp", e.ctrl.String())
	if err != nil {
		t.Skipf("cannot connect from %s: %v", src, err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &ctrl{t: t, e: e, c: conn, lr: ftp.NewLineReader(conn, 1<<16)}
	c.read()
	return c
}

// guess sends USER and a PASS and returns the PASS reply.
func guess(c *ctrl, user, pass string) (int, string) {
	c.send("USER " + user)
	c.read()
	c.send("PASS " + pass)
	return c.read()
}

// TestAddrFailureBudget: failed logins from one address, spread over many connections (in turn and
// in parallel), lock that address out: the right password is then refused unchecked, while another
// address logs in. Off by default only in netxduo-6.4, where the option turns it on.
func TestAddrFailureBudget(t *testing.T) {
	type variant struct {
		prof     ftp.Profile
		budget   int
		locks    bool
		parallel bool
	}
	var vs []variant
	for _, prof := range allProfiles {
		for _, par := range []bool{false, true} {
			vs = append(vs, variant{prof, 0, prof != ftp.ProfileNetXDuo64, par}) // the default
		}
		vs = append(vs, variant{prof, 3, true, false}, variant{prof, -1, false, false})
	}
	for _, v := range vs {
		t.Run(fmt.Sprintf("%s/budget=%d/parallel=%v", v.prof, v.budget, v.parallel), func(t *testing.T) {
			fsys, _ := newHostFS(t)
			srv := baseServer(fsys, v.prof)
			srv.MaxSessions = -1
			srv.AddrFailureBudget = v.budget
			srv.AddrLockout = time.Minute // longer than the test: no race with its end
			e := startKernel(t, srv, v4)
			budget := v.budget
			if budget <= 0 {
				budget = 10
			}
			// twice the budget of wrong guesses, 2 per connection (under MaxLoginFailures)
			n := 2 * budget
			if v.parallel {
				var wg sync.WaitGroup
				for i := 0; i < n; i++ {
					wg.Go(func() {
						c := dialFrom(t, e, "127.0.0.2")
						if code, text := guess(c, "u", fmt.Sprintf("wrong%d", i)); code != 530 {
							t.Errorf("wrong guess: %d %q", code, text)
						}
					})
				}
				wg.Wait()
			} else {
				for i := 0; i < n; i += 2 {
					c := dialFrom(t, e, "127.0.0.2")
					for j := range 2 {
						if code, text := guess(c, "u", fmt.Sprintf("wrong%d", i+j)); code != 530 {
							t.Fatalf("wrong guess: %d %q", code, text)
						}
					}
					c.c.Close()
				}
			}
			c := dialFrom(t, e, "127.0.0.2")
			code, text := guess(c, "u", "p")
			if v.locks {
				if code != 530 {
					t.Fatalf("right password after %d failures from one address: %d %q, want 530", n, code, text)
				}
				if v.prof == ftp.ProfileExtended && !strings.Contains(text, "too many failed logins") {
					t.Errorf("lock-out reply %q does not say why", text)
				}
				if v.prof != ftp.ProfileExtended && text != "Login Fail " && text != "Login Fail" {
					t.Errorf("NetX profile lock-out reply %q is not NetX's", text)
				}
			} else if code != 230 {
				t.Fatalf("budget off, right password: %d %q", code, text)
			}
			// another address is not affected
			o := dialFrom(t, e, "127.0.0.3")
			if code, text := guess(o, "u", "p"); code != 230 {
				t.Fatalf("another address: %d %q", code, text)
			}
		})
	}
}

// TestAddrLockoutExpires: once the lock-out has passed, the right password works again and clears
// the address's record.
func TestAddrLockoutExpires(t *testing.T) {
	fsys, _ := newHostFS(t)
	srv := baseServer(fsys, ftp.ProfileExtended)
	srv.AddrFailureBudget = 2
	srv.AddrLockout = 100 * time.Millisecond
	srv.AddrLockoutMax = 200 * time.Millisecond
	e := startKernel(t, srv, v4)
	c := dialFrom(t, e, "127.0.0.2")
	guess(c, "u", "x")
	guess(c, "u", "y")
	if code, _ := guess(c, "u", "p"); code != 530 {
		t.Fatalf("not locked out: %d", code)
	}
	if srv.FailureRecords() != 1 {
		t.Fatalf("%d failure records, want 1", srv.FailureRecords())
	}
	for i := 0; ; i++ {
		time.Sleep(100 * time.Millisecond)
		c := dialFrom(t, e, "127.0.0.2")
		code, _ := guess(c, "u", "p")
		if code == 230 {
			break
		}
		if i > 200 {
			t.Fatal("the lock-out never ended")
		}
	}
	if srv.FailureRecords() != 0 {
		t.Fatalf("%d failure records after a success, want 0", srv.FailureRecords())
	}
}

// TestNetXSlotsHoldSYN: a NetX-like device has 4 session slots shared by its IPv4 and IPv6
// listeners. A 5th connection is not answered at all while they are taken (its SYN is held, no
// SYN-ACK: the client's connect has not returned), as NetX queues the SYN without a listening
// socket; when one of the 4 quits, the held SYN is answered and the 5th gets its 220.
func TestNetXSlotsHoldSYN(t *testing.T) {
	for _, prof := range []ftp.Profile{ftp.ProfileNetXDuo64, ftp.ProfileNetXDuo} {
		t.Run(string(prof), func(t *testing.T) {
			fsys, _ := newHostFS(t)
			srv := baseServer(fsys, prof)
			dev, host := memPair(t)
			srv.Network = dev
			ctx := context.Background()
			ln4, err := dev.Listen(ctx, netip.AddrPortFrom(devV4.Addr(), 21))
			if err != nil {
				t.Fatal(err)
			}
			ln6, err := dev.Listen(ctx, netip.AddrPortFrom(devV6.Addr(), 21))
			if err != nil {
				t.Fatal(err)
			}
			e4 := serve(t, srv, ln4, &env{dial: func(ctx context.Context, r netip.AddrPort) (net.Conn, error) {
				return host.Dial(ctx, netip.AddrPort{}, r)
			}})
			e6 := *e4
			e6.ctrl = netip.AddrPortFrom(devV6.Addr(), 21)
			go srv.Serve(ln6) // stopped by serve's cleanup (Close)
			var open []*ctrl
			for i, e := range []*env{e4, e4, e4, &e6} {
				c := e.connect(t)
				c.expect(220, "Connection Ready ")
				if i == 0 {
					c.login("u", "p")
				}
				open = append(open, c)
			}
			type dialed struct {
				c   net.Conn
				err error
			}
			fifth := make(chan dialed, 1)
			dctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			go func() {
				c, err := host.Dial(dctx, netip.AddrPort{}, e6.ctrl)
				fifth <- dialed{c, err}
			}()
			held := ln6.(*stack.Listener)
			for i := 0; i < 2000 && held.Held() == 0; i++ {
				time.Sleep(5 * time.Millisecond)
			}
			if held.Held() != 1 {
				t.Fatalf("the device holds %d connection requests, want the 5th's", held.Held())
			}
			select {
			case d := <-fifth:
				t.Fatalf("the 5th connection was answered while 4 sessions are open (%v)", d.err)
			default:
			}
			open[0].do("QUIT", 221, "Logging Off ")
			d := <-fifth
			if d.err != nil {
				t.Fatalf("5th connection after a slot freed: %v", d.err)
			}
			defer d.c.Close()
			c := &ctrl{t: t, e: &e6, c: d.c, lr: ftp.NewLineReader(d.c, 1<<16)}
			c.expect(220, "Connection Ready ")
			c.login("u", "p")
			if n := held.Held(); n != 0 {
				t.Errorf("%d requests still held", n)
			}
		})
	}
}
