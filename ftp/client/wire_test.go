package client

import (
	"io"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/internal/testio"
	"github.com/netxsim/netxsim/stack"
)

// recorder relays one TCP connection to target and records what the client sent.
type recorder struct{ testio.Buffer }

func recordingProxy(t *testing.T, target netip.AddrPort) (netip.AddrPort, *recorder) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := ln.Accept()
		ln.Close()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", target.String())
		if err != nil {
			c.Close()
			return
		}
		done := make(chan struct{})
		go func() { io.Copy(c, s); c.Close(); close(done) }()
		io.Copy(io.MultiWriter(s, rec), c)
		s.Close()
		<-done
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return netip.MustParseAddrPort(ln.Addr().String()), rec
}

// The bytes each profile sends, checked on the wire against pyftpdlib: NetX's exactly (TYPE I before
// each file, no TYPE before NLST, zero-padded PORT), the extended profile's modern form.
func TestWireBytesPerProfile(t *testing.T) {
	srv := startPyftpd(t, netip.MustParseAddr("127.0.0.1"), t.TempDir(), false, nil)
	port := `\d{3},\d{3}`
	cases := map[string]string{
		"netxduo": `^USER user\r\nPASS secret\r\n` +
			`TYPE I\r\nPORT 127,000,000,001,` + port + `\r\nSTOR f\r\n` +
			`TYPE I\r\nPORT 127,000,000,001,` + port + `\r\nRETR f\r\n` +
			`PORT 127,000,000,001,` + port + `\r\nNLST \r\n` +
			`MKD d\r\nCWD d\r\nCWD /\r\nRNFR f\r\nRNTO g\r\nDELE g\r\nRMD d\r\nQUIT\r\n$`,
		"extended": `^USER user\r\nPASS secret\r\n` +
			`TYPE I\r\nPORT 127,0,0,1,\d{1,3},\d{1,3}\r\nSTOR f\r\n` +
			`PORT 127,0,0,1,\d{1,3},\d{1,3}\r\nRETR f\r\n` +
			`TYPE A\r\nPORT 127,0,0,1,\d{1,3},\d{1,3}\r\nNLST\r\n` +
			`MKD d\r\nCWD d\r\nCWD /\r\nRNFR f\r\nRNTO g\r\nDELE g\r\nRMD d\r\nQUIT\r\n$`,
	}
	for profile, want := range cases {
		t.Run(profile, func(t *testing.T) {
			proxy, rec := recordingProxy(t, srv)
			ctx := testCtx(t)
			c, err := Dial(ctx, stack.Kernel{}, proxy, WithProfile(ftpProfile(profile)))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Login(ctx, "user", "secret"); err != nil {
				t.Fatal(err)
			}
			put(t, ctx, c, "f", []byte("hello"))
			if b, err := get(ctx, c, "f"); err != nil || string(b) != "hello" {
				t.Fatalf("get = %q, %v", b, err)
			}
			if n := names(t, ctx, c, ""); !n["f"] {
				t.Fatalf("nlst = %v", n)
			}
			for _, step := range []error{c.Mkdir(ctx, "d"), c.Chdir(ctx, "d"), c.Chdir(ctx, "/"),
				c.Rename(ctx, "f", "g"), c.Delete(ctx, "g"), c.Rmdir(ctx, "d"), c.Quit(ctx)} {
				if step != nil {
					t.Fatal(step)
				}
			}
			ctl := c.LocalAddr().Port()
			c.Close()
			// the proxy finishes copying when the server closes
			got := waitFor(rec, "QUIT\r\n")
			if !regexp.MustCompile(want).MatchString(got) {
				t.Fatalf("client sent:\n%q\nwant match for\n%q", got, want)
			}
			if profile != "netxduo" {
				return
			}
			// NetX's data ports: the control connection's local port + 1, counting up by one.
			for i, m := range regexp.MustCompile(`PORT \d{3},\d{3},\d{3},\d{3},(\d{3}),(\d{3})`).FindAllStringSubmatch(got, -1) {
				hi, _ := strconv.Atoi(m[1])
				lo, _ := strconv.Atoi(m[2])
				if want := int(ctl) + 1 + i; hi*256+lo != want {
					t.Errorf("PORT %d announces port %d, want control port %d + %d = %d", i+1, hi*256+lo, ctl, 1+i, want)
				}
			}
		})
	}
}

func ftpProfile(s string) ftp.Profile { return ftp.Profile(s) }

func waitFor(r *recorder, suffix string) string {
	for i := 0; i < 200; i++ {
		if s := r.String(); strings.HasSuffix(s, suffix) {
			return s
		}
		time.Sleep(10 * time.Millisecond)
	}
	return r.String()
}
