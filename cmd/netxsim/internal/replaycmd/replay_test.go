package replaycmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/netxsim/netxsim/cmd/netxsim/internal/cli/clitest"
	"github.com/netxsim/netxsim/ftp/replay"
)

const captures = "../../../../testdata/netxduo-6.4.2"

// replayJSON runs `netxsim replay` on a capture and returns its exit code and report.
func replayJSON(t *testing.T, o options, args ...string) (int, *replay.Report) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), o, append(args, "--json", "-"), &out, &errb)
	t.Logf("%s", strings.TrimSpace(errb.String()))
	if code == 2 {
		t.Fatalf("usage error: %s", errb.String())
	}
	var rep replay.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("JSON report: %v\n%s", err, out.String())
	}
	return code, &rep
}

func diffList(rep *replay.Report) []string {
	var l []string
	for _, s := range rep.Sessions {
		for _, d := range s.Differences {
			e := ""
			if d.Excuse != "" {
				e = " [" + d.Excuse + "]"
			}
			l = append(l, fmt.Sprintf("%d %d %s %s | %s | %s%s", s.ID, d.Step, d.Kind, d.Command,
				strings.TrimSpace(d.Expected), strings.TrimSpace(d.Got), e))
		}
	}
	return l
}

// TestReplayNetXDuo64 is the acceptance: the real NetX Duo 6.4.2 dialogues replayed against a
// simulated netxduo-6.4 device seeded like the real one give no difference; only the two deliberate
// exceptions show, excused by name.
func TestReplayNetXDuo64(t *testing.T) {
	for _, c := range []string{"ipv4", "ipv6"} {
		t.Run(c, func(t *testing.T) {
			code, rep := replayJSON(t, options{}, filepath.Join(captures, "server-dialogues-"+c+".pcap"))
			if code != 0 || rep.Real != 0 {
				t.Errorf("exit %d, %d differences:\n%s", code, rep.Real, strings.Join(diffList(rep), "\n"))
			}
			if rep.Replies < 130 || rep.DataConns < 17 {
				t.Errorf("compared only %d reply lines and %d data connections", rep.Replies, rep.DataConns)
			}
			var excuses []string
			for _, d := range diffList(rep) {
				excuses = append(excuses, d[strings.LastIndex(d, "[")+1:len(d)-1])
			}
			excuses = slices.Compact(excuses)
			if !slices.Equal(excuses, []string{"pass-without-user", "rnto-crash"}) {
				t.Errorf("excused %q, want pass-without-user then rnto-crash", excuses)
			}
			if n := rep.Normalised["227-port"] + rep.Normalised["229-port"] + rep.Normalised["227-address"]; n != 0 {
				t.Errorf("passive replies needed normalising %d times: the ports should match exactly", n)
			}
		})
	}
}

// TestReplayNetXDuoSeedDifferences: the netxduo profile differs from the shipped code exactly where
// docs/ftp-server.md says (the seed's 150/226 in passive mode, robust command parsing, three failed
// logins, a failed passive RETR not leaving its connection, EPSV uploads stored, early passive
// connections not closed with the client), and nowhere else.
func TestReplayNetXDuoSeedDifferences(t *testing.T) {
	want := seedDifferences()
	for _, c := range []string{"ipv4", "ipv6"} {
		t.Run(c, func(t *testing.T) {
			code, rep := replayJSON(t, options{loginDelay: -1}, "--profile", "netxduo", "--wait", "1s",
				filepath.Join(captures, "server-dialogues-"+c+".pcap"))
			if code != 1 {
				t.Errorf("exit %d, want 1 (differences)", code)
			}
			got := diffList(rep)
			w := want[c]
			slices.Sort(got)
			slices.Sort(w)
			if !slices.Equal(got, w) {
				t.Errorf("differences:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(w, "\n"))
			}
		})
	}
}

func TestReplayBadInput(t *testing.T) {
	dir := t.TempDir()
	full, err := os.ReadFile(filepath.Join(captures, "server-dialogues-ipv4.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	capture := filepath.Join(captures, "server-dialogues-ipv4.pcap")
	clitest.Exits(t, Run,
		clitest.Case{Args: []string{write("cut.pcap", full[:len(full)/2+7])}, Code: 1, Err: "truncated"},
		clitest.Case{Args: []string{write("text.pcap", []byte("this is not a capture at all\n"))}, Code: 1, Err: "not a pcap"},
		clitest.Case{Args: []string{write("empty.pcap", full[:24])}, Code: 1, Err: "no FTP session"},
		clitest.Case{Args: []string{filepath.Join(dir, "nothing.pcap")}, Code: 1, Err: "cannot read"},
		clitest.Case{Args: []string{"a", "b"}, Code: 2},
		clitest.Case{Args: []string{"--against", "http://x", "a"}, Code: 2},
		clitest.Case{Args: []string{"--against", "ftp://192.0.2.1", "a"}, Code: 2, Err: "192.0.2.0/24"},
		clitest.Case{Args: []string{"--netns", "nx", "a"}, Code: 2},
		clitest.Case{Args: []string{"--pcap", "x.pcapng", "--against", "ftp://198.51.100.2", "a"}, Code: 2},
		clitest.Case{Args: []string{"--against", "ftp://198.51.100.2", "--netns", "netxsim-no-such-ns", capture}, Code: 1, Err: "--netns"})
}

// seedDifferences are the netxsim netxduo profile's documented differences from the real NetX Duo
// 6.4.2 in each server-dialogues capture, one line per difference as diffList writes it.
func seedDifferences() map[string][]string {
	seedPassive := func(steps ...string) []string {
		var l []string
		for _, s := range steps {
			cmd, kind, _ := strings.Cut(s, "|")
			pre, fin := map[string][2]string{
				"list": {"Sending List", "List End"}, "stor": {"File Open for Write", "File Written"},
				"retr": {"File Opened", "File Sent"}}[kind][0], map[string][2]string{
				"list": {"Sending List", "List End"}, "stor": {"File Open for Write", "File Written"},
				"retr": {"File Opened", "File Sent"}}[kind][1]
			l = append(l, fmt.Sprintf("1 %s | 125 %s | 150 %s", cmd, pre, pre), fmt.Sprintf("1 %s | 250 %s | 226 %s", cmd, fin, fin))
		}
		return l
	}
	common := func(off int, client, lostPort string) []string {
		st := func(n int) int { return n - off }
		l := seedPassive("26 reply NLST|list", "30 reply NLST pub|list", "34 reply LIST|list", "42 reply LIST pub|list",
			"50 reply STOR up.txt|stor", "55 reply RETR up.txt|retr", "72 reply STOR a0.txt|stor", "77 reply NLST|list",
			"83 reply LIST d3|list", "87 reply NLST d3|list", "92 reply RETR hello.txt|retr")
		return append(l,
			fmt.Sprintf("1 %d close ABOR | the server closes data connection 17 | still open after 1s", st(112)),
			fmt.Sprintf("1 %d close TYPE I | the server closes data connection 18 | still open after 1s", st(122)),
			fmt.Sprintf("1 %d reply NO | 502 Not Implemented | (no reply)", st(123)),
			fmt.Sprintf("1 %d reply OP | 502 Not Implemented | 200 NOOP Success", st(124)),
			fmt.Sprintf("1 %d reply NOOP\r\nPWD | (no reply) | 257 \"/\" is current Directory", st(125)),
			client,
			fmt.Sprintf("1 %d data-connection  | no connection to the PORT/EPRT address for captured port %s | the server connected and sent 3000 bytes \"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnop\"...", st(142), lostPort),
			"2 6 reply PASS bad4 | 530 Login Fail | (no reply)",
			"2 7 reply NOOP | 530 Not logged in | (no reply)",
			"4 2 reply PASS secret | 230 Logged in | 530 Login Fail [pass-without-user]",
			"4 3 reply PWD | 257 \"/\" is current Directory | 530 Not logged in [pass-without-user]",
			"4 4 close QUIT | the server closes the control connection | still open after 1s [pass-without-user]",
			"4 4 reply QUIT | 221 Logging Off | 530 Not logged in [pass-without-user]",
			"5 4 reply RNTO nowhere.txt | (no reply) | 550 Rename failed [rnto-crash]",
		)
	}
	data11 := "data connection 11 (%s) | 3000 bytes \"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnop\"... | 0 bytes \"\""
	return map[string][]string{
		"ipv4": common(0, "1 142 data "+fmt.Sprintf(data11, "198.51.100.2:49159"), "57523"),
		"ipv6": append(common(1, "1 141 data data connection 8 ([2001:db8::2]:49158) | 0 bytes \"\" | 37 bytes \"uploaded by transcript.py\\r\\nline two\\r\\n\"", "46957"),
			"1 141 data "+fmt.Sprintf(data11, "[2001:db8::2]:49159")),
	}
}
