package client

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/netxsim/netxsim/ftp/ftpcheck"
	"github.com/netxsim/netxsim/tapdev/taptest"
)

// TestCaptureAgreesWithTshark captures our client (on the device stack, on a TAP) talking to vsftpd and
// pyftpdlib in the namespace, over IPv4 and IPv6, active and passive, and reads the capture twice: with
// ftpcheck and with tshark. Both must see the same FTP sessions with the same commands and reply codes
// in the same order, and ftpcheck must find every session well formed.
func TestCaptureAgreesWithTshark(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("needs tshark (Debian package)")
	}
	pcap := filepath.Join(t.TempDir(), "client.pcapng")
	var ports []uint16
	sessions := 0
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
	})
	if t.Failed() {
		return
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
	ours := commandsAndReplies(rep)
	theirs := tsharkCommandsAndReplies(t, pcap, ports)
	if len(ours) != len(theirs) {
		t.Fatalf("ftpcheck sees %d sessions, tshark %d FTP streams", len(ours), len(theirs))
	}
	for i := range ours {
		if !slices.Equal(ours[i], theirs[i]) {
			t.Errorf("session %d:\nftpcheck %v\ntshark   %v", i+1, ours[i], theirs[i])
		}
	}
	t.Logf("%d sessions, ftpcheck and tshark agree on every command and reply code", len(ours))
}

// commandsAndReplies lists, per session, "C:VERB" and "R:code" in packet order.
func commandsAndReplies(rep *ftpcheck.Report) [][]string {
	var res [][]string
	for _, s := range rep.Sessions {
		var seq []string
		for _, e := range s.Events {
			switch e.Kind {
			case "command":
				v, _, _ := strings.Cut(e.Text, " ")
				seq = append(seq, "C:"+strings.ToUpper(v))
			case "reply":
				if c, _, ok := strings.Cut(e.Text, " "); ok && len(c) == 3 {
					seq = append(seq, "R:"+c)
				}
			}
		}
		res = append(res, foldRepeats(seq))
	}
	return res
}

// tsharkCommandsAndReplies is the same from tshark's FTP dissector, one list per TCP stream in order of
// first appearance; ports other than 21 are decoded as FTP with -d.
func tsharkCommandsAndReplies(t *testing.T, pcap string, ports []uint16) [][]string {
	t.Helper()
	args := []string{"-r", pcap, "-Y", "ftp", "-T", "fields", "-E", "separator=/t",
		"-e", "tcp.stream", "-e", "ftp.request.command", "-e", "ftp.response.code"}
	for _, p := range ports {
		if p != 21 {
			args = append(args, "-d", fmt.Sprintf("tcp.port==%d,ftp", p))
		}
	}
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark %v: %v", args, err)
	}
	var order []int
	streams := map[int][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) < 3 {
			continue
		}
		id, err := strconv.Atoi(f[0])
		if err != nil {
			continue
		}
		if _, ok := streams[id]; !ok {
			order = append(order, id)
		}
		for _, c := range strings.Split(f[1], ",") {
			if c != "" {
				streams[id] = append(streams[id], "C:"+strings.ToUpper(c))
			}
		}
		for _, c := range strings.Split(f[2], ",") {
			if c != "" {
				streams[id] = append(streams[id], "R:"+c)
			}
		}
	}
	var res [][]string
	for _, id := range order {
		res = append(res, foldRepeats(streams[id]))
	}
	return res
}

// foldRepeats folds a reply code repeated with no command between (one multi-line reply that tshark,
// working per packet, may count once per segment).
func foldRepeats(seq []string) []string {
	var out []string
	for _, s := range seq {
		if len(out) > 0 && s[0] == 'R' && out[len(out)-1] == s {
			continue
		}
		out = append(out, s)
	}
	return out
}
