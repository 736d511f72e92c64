package client

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/netxsim/netxsim/ftp"
)

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
