package server_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/ftp/server"
	"github.com/netxsim/netxsim/ftp/server/hostfs"
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
	fsys, err := hostfs.New(root)
	must(t, err)
	t.Cleanup(func() { fsys.Close() })
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

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
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
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	own, err := e.dial(ctx, netip.AddrPortFrom(ap.Addr(), ap.Port()))
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

func expectClosed(t testing.TB, c *ctrl) {
	t.Helper()
	c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c.c)
	if err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("connection not closed: %v", err)
	}
	if len(b) != 0 {
		t.Fatalf("unexpected data before close: %q", b)
	}
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

var _ = bytes.Equal

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
