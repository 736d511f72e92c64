package ftpcheck

import (
	"bytes"
	"strings"
	"testing"

	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/ftp/ftpcheck/capgen"
)

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
