package client

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netxsim/netxsim/ftp/ftpcheck"
	"github.com/netxsim/netxsim/internal/tsharktest"
	"github.com/netxsim/netxsim/tapdev/taptest"
)

// TestCaptureAgreesWithTshark captures our client (on the device stack, on a TAP) talking to vsftpd and
// pyftpdlib in the namespace, over IPv4 and IPv6, active and passive, and reads the capture twice: with
// ftpcheck and with tshark. Both must see the same FTP sessions with the same commands and reply codes
// in the same order, and ftpcheck must find every session well formed.
func TestCaptureAgreesWithTshark(t *testing.T) {
	tsharktest.Need(t)
	pcap := filepath.Join(t.TempDir(), "client.pcapng")
	var ports []uint16
	sessions := 0
	completed := false // false after the subtest: it skipped (no TAP, no vsftpd or pyftpdlib) or failed
	t.Run("sessions", func(t *testing.T) {
		env := taptest.New(t, taptest.Options{Pcap: pcap}) // the capture is closed when this subtest ends
		for _, p := range []peer{startVsftpd(t, env), startPyftpdNS(t, env)} {
			for _, srv := range []netip.AddrPort{p.v4, p.v6} {
				ports = append(ports, srv.Port())
				for _, passive := range []bool{false, true} {
					sessions++
					ctx := testCtx(t)
					c, err := Dial(ctx, env.Device, srv, WithPassive(passive))
					if err != nil {
						t.Fatalf("%s %v: %v", p.name, srv, err)
					}
					if err := c.Login(ctx, p.user, p.pass); err != nil {
						t.Fatalf("%s: login: %v", p.name, err)
					}
					if p.dir != "" {
						if err := c.Chdir(ctx, p.dir); err != nil {
							t.Fatalf("%s: cwd: %v", p.name, err)
						}
					}
					name := fmt.Sprintf("cap-%d.bin", sessions)
					data := randomBytes(100_000, uint64(sessions))
					put(t, ctx, c, name, data)
					if got, err := get(ctx, c, name); err != nil || !bytes.Equal(got, data) {
						t.Fatalf("%s: retr %s: %d bytes, %v", p.name, name, len(got), err)
					}
					if !names(t, ctx, c, "")[name] {
						t.Fatalf("%s: nlst lacks %s", p.name, name)
					}
					if err := c.Quit(ctx); err != nil {
						t.Fatalf("%s: quit: %v", p.name, err)
					}
				}
			}
		}
		completed = true
	})
	if t.Failed() {
		return
	}
	if !completed {
		t.Skip("the capture was not made: the sessions subtest skipped (see its reason: root, vsftpd or python3-pyftpdlib missing)")
	}
	f, err := os.Open(pcap)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := ftpcheck.Analyze(context.Background(), f, ftpcheck.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Sessions) != sessions {
		t.Fatalf("ftpcheck found %d sessions, the test ran %d", len(rep.Sessions), sessions)
	}
	if rep.Violations != 0 {
		var b strings.Builder
		rep.WriteText(&b)
		t.Errorf("ftpcheck: %d violations on real peers:\n%s", rep.Violations, b.String())
	}
	var ours [][]string
	for _, s := range rep.Sessions {
		ours = append(ours, s.Dialogue())
	}
	tsharktest.Compare(t, pcap, ours, ports...)
	t.Logf("%d sessions, ftpcheck and tshark agree on every command and reply code", len(ours))
}
