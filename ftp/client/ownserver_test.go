package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/ftp/server"
	"github.com/netxsim/netxsim/ftp/server/hostfs"
	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/stack/link"
)

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
							c, err := Dial(ctx, dev, netip.AddrPortFrom(fam.Addr(), 21), append(v.opts, WithMode(mode))...)
							if err != nil {
								t.Fatal(err)
							}
							defer c.Close()
							if err := c.Login(ctx, "user", "secret"); err != nil {
								t.Fatal(err)
							}
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
	c, err := Dial(ctx, dev, netip.AddrPortFrom(hostV4.Addr(), 21), WithProfile(ftp.ProfileNetXDuo), WithMode(ModeBlock))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(ctx, "user", "secret"); err != nil {
		t.Fatal(err)
	}
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
		c, err := Dial(ctx, dev, netip.AddrPortFrom(hostV4.Addr(), 21), WithPassive(passive))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Login(ctx, "user", "secret"); err != nil {
			t.Fatal(err)
		}
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
