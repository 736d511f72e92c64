package ftpcheck

import (
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/netxsim/netxsim/ftp"
)

// CheckInfo names a check and says what it verifies; the order is the order of the reports.
type CheckInfo struct {
	Name, Doc string
}

// Checks lists every per-session check. Capture-level checks are "ftp-found" and "capture-frames".
var Checks = []CheckInfo{
	{"greeting", "the server speaks first, with 220 (120 then 220 allowed)"},
	{"login", "USER then PASS; USER gets 331 in the netxduo profile; nothing but USER/PASS/FEAT/SYST/AUTH/OPTS/HELP/NOOP/STAT succeeds before 230"},
	{"type-binary", "RETR/STOR/APPE/STOU start only after TYPE I got 200 since the last login (netxduo; TYPE A transfers are noted in extended)"},
	{"data-setup", "every transfer is preceded by its own PORT/EPRT/PASV/EPSV, and a refused one starts no transfer"},
	{"data-connection", "every transfer that got a 1xx has its data connection, to the announced endpoint, opened by the right side, data in the right direction, closed at the end"},
	{"data-third-address", "data connections only join the client and the server of the control connection (no FTP bounce, no port theft)"},
	{"data-reset", "no data connection is reset before its sender finished (a reset mid-transfer, and a 2xx after it, fail)"},
	{"transfer-order", "1xx before 2xx, 2xx only after the last data byte, no completion without a 1xx"},
	{"transfer-size", "bytes on the data connection equal the file's size when known (\"(N bytes)\" in the 1xx reply, a SIZE reply, or Options.Files), less the offset of an accepted REST; TYPE A counts are noted, not judged"},
	{"transfer-content", "SHA-256 of the transferred bytes equals Options.Files' hash for that file name"},
	{"profile-codes", "transfer replies use the profile's codes: netxduo active 125/250, passive 150/226; extended 150/226"},
	{"reply-code", "every reply is one RFC 959's command/reply table allows for its command (NetX deviations noted in the netxduo profile); no malformed or unsolicited replies"},
	{"unanswered", "every command other than QUIT gets a final reply"},
	{"quit-221", "the session ends with QUIT answered by 221; a client that closes without QUIT is a warning (a failure with Options.Strict)"},
	{"control-close", "after 221 the server closes the control connection (warning only)"},
	{"control-reset", "no RST on the control connection before the session ended with 221"},
	{"ipv6-port", "IPv6 sessions use EPRT/EPSV, never PORT/PASV"},
	{"tcp-retransmission", "retransmitted segments on the session's connections (warning only)"},
	{"tcp-zero-window", "zero windows that stay shut 200 ms or more, i.e. stalled receivers (warning only; shorter ones are noted)"},
	{"capture-gaps", "bytes missing from the capture, so counts and hashes are incomplete (warning only)"},
	{"credentials", "USER/PASS sent in clear text (note only)"},
}

// builder accumulates one check's verdict.
type builder struct {
	c       Check
	applies bool
}

func newCheck(name string) *builder { return &builder{c: Check{Name: name}} }

func (b *builder) fail(format string, args ...any) {
	b.applies = true
	b.c.Status = StatusFail
	b.c.Messages = append(b.c.Messages, fmt.Sprintf(format, args...))
}

func (b *builder) warn(format string, args ...any) {
	b.applies = true
	if b.c.Status != StatusFail {
		b.c.Status = StatusWarn
	}
	b.c.Messages = append(b.c.Messages, fmt.Sprintf(format, args...))
}

func (b *builder) note(format string, args ...any) {
	b.c.Notes = append(b.c.Notes, fmt.Sprintf(format, args...))
}

func (b *builder) done() Check {
	if b.c.Status == "" {
		if b.applies {
			b.c.Status = StatusPass
		} else {
			b.c.Status = StatusSkip
		}
	}
	return b.c
}

func seedProfile(p ftp.Profile) bool {
	return p == ftp.ProfileNetXDuo || p == ftp.ProfileNetXDuo64 || p == ftp.ProfileExtended
}

func cmdName(ex *Exchange) string {
	if ex.Unknown {
		return fmt.Sprintf("%q", ex.Raw)
	}
	if ex.Arg == "" {
		return ex.Verb
	}
	return ex.Verb + " " + clip(ex.Arg, 60)
}

func trName(t *Transfer) string { return cmdName(t.ex) }

func replyName(r *Reply) string {
	if r == nil {
		return "no reply"
	}
	first, _, _ := strings.Cut(r.Text, "\n")
	return fmt.Sprintf("%d %q", r.Code, clip(first, 60))
}

// runChecks runs every check of Checks on one session.
func runChecks(s *Session, opts Options) []Check {
	fns := map[string]func(*Session, Options, *builder){
		"greeting": checkGreeting, "login": checkLogin, "type-binary": checkType, "data-setup": checkSetup,
		"data-connection": checkDataConn, "data-third-address": checkThird, "data-reset": checkDataReset,
		"transfer-order": checkOrder, "transfer-size": checkSize, "transfer-content": checkContent,
		"profile-codes": checkProfile, "reply-code": checkReplyCodes, "unanswered": checkUnanswered,
		"quit-221": checkQuit, "control-close": checkClose, "control-reset": checkControlReset,
		"ipv6-port": checkIPv6Port, "tcp-retransmission": checkRetrans, "tcp-zero-window": checkZeroWin,
		"capture-gaps": checkGaps, "credentials": checkCredentials,
	}
	out := make([]Check, 0, len(Checks))
	for _, ci := range Checks {
		b := newCheck(ci.Name)
		fns[ci.Name](s, opts, b)
		out = append(out, b.done())
	}
	return out
}

func checkGreeting(s *Session, _ Options, b *builder) {
	b.applies = true
	switch {
	case s.Greeting == nil && len(s.Exchanges) > 0:
		b.fail("the client sent %s (packet %d) before any 220 greeting from the server", cmdName(s.Exchanges[0]), s.Exchanges[0].At.Packet)
	case s.Greeting == nil:
		b.fail("the server never sent its 220 greeting")
	case s.Greeting.Code != 220:
		b.fail("the greeting is %s (packet %d); the seed's server sends 220", replyName(s.Greeting), s.Greeting.At.Packet)
	}
}

// preLogin reports whether a server may accept the command before the user is logged in
// (ftp.Commands, the table the server reads too).
func preLogin(verb string) bool {
	c, _ := ftp.LookupCommand(verb)
	return c.MayPreLogin
}

func checkLogin(s *Session, _ Options, b *builder) {
	logged := false
	var prev *Exchange
	for _, ex := range s.Exchanges {
		code := 0
		if ex.Final != nil {
			code = ex.Final.Code
		}
		switch ex.Verb {
		case "USER":
			b.applies = true
			logged = false
			if s.Profile.NetXLike() && code != 0 && code != 331 {
				b.fail("USER (packet %d) answered %s; the netxduo server always answers 331", ex.At.Packet, replyName(ex.Final))
			}
			if code == 230 {
				logged = true
			}
		case "PASS":
			b.applies = true
			if (prev == nil || prev.Verb != "USER") && (code == 230 || code == 202) {
				b.fail("PASS (packet %d) was accepted (%d) without USER right before it", ex.At.Packet, code)
			}
			if code == 230 || code == 202 {
				logged = true
			} else if code == 530 {
				b.note("login refused at packet %d: %s", ex.At.Packet, replyName(ex.Final))
			}
		default:
			if !logged && !ex.Unknown && !preLogin(ex.Verb) && code >= 100 && code < 400 {
				b.fail("the server accepted %s (reply %d, packet %d) before a successful login", cmdName(ex), code, ex.At.Packet)
			}
		}
		prev = ex
	}
}

func isBinaryType(arg string) bool {
	a := strings.ToUpper(strings.TrimSpace(arg))
	return a == "I" || strings.HasPrefix(a, "L 8") || a == "L8"
}

// checkType applies NetX's rule that files move only in TYPE I. The extended profile converts ASCII
// (as any RFC server does), so there TYPE A transfers are legitimate and only noted.
func checkType(s *Session, _ Options, b *builder) {
	if !seedProfile(s.Profile) {
		return
	}
	for _, t := range s.Transfers {
		if t.Verb != "RETR" && t.Verb != "STOR" && t.Verb != "APPE" && t.Verb != "STOU" {
			continue
		}
		b.applies = true
		if t.Prelim == 0 || !t.ASCII {
			continue
		}
		if s.Profile == ftp.ProfileExtended {
			b.note("%s (packet %d) ran in TYPE A: the extended profile converts ASCII", trName(t), t.ex.At.Packet)
			continue
		}
		b.fail("%s (packet %d) started (%d) without TYPE I accepted before it: the seed sends TYPE I, and NetX refuses image transfers in ASCII with 504",
			trName(t), t.ex.At.Packet, t.Prelim)
	}
}

func checkSetup(s *Session, _ Options, b *builder) {
	for _, t := range s.Transfers {
		b.applies = true
		if t.setup == nil {
			if t.Prelim == 0 && t.Final/100 >= 4 {
				// refused before any data connection (e.g. 530 before login): nothing to set up
				b.note("%s (packet %d) was refused (%d) without a data set-up before it", trName(t), t.ex.At.Packet, t.Final)
				continue
			}
			if seedProfile(s.Profile) {
				b.fail("%s (packet %d) has no PORT/EPRT/PASV/EPSV of its own before it (the seed sets up every transfer)", trName(t), t.ex.At.Packet)
			}
			continue
		}
		if (t.setup.Final == nil || t.setup.Final.Code/100 != 2) && t.Prelim != 0 {
			b.fail("%s (packet %d) was refused (%s), yet %s started with %d", cmdName(t.setup), t.setup.At.Packet, replyName(t.setup.Final), trName(t), t.Prelim)
		}
		if !t.Announced.IsValid() && t.setup.Final != nil && t.setup.Final.Code/100 == 2 {
			b.fail("%s (packet %d) was accepted but its endpoint cannot be read from %s", cmdName(t.setup), t.setup.At.Packet, replyName(t.setup.Final))
		}
	}
}

func checkDataConn(s *Session, _ Options, b *builder) {
	for _, t := range s.Transfers {
		if t.Prelim == 0 {
			if t.Data != nil {
				b.note("%s was refused (%s) after the data connection %d had opened", trName(t), replyName(t.ex.Final), t.Data.ID)
			}
			continue
		}
		b.applies = true
		if t.Data == nil {
			where := "the default data port"
			if t.setup != nil {
				where = fmt.Sprintf("%s announced by %s (packet %d)", t.Announced, t.setup.Verb, t.setup.At.Packet)
			}
			b.fail("%s got %d but no data connection to %s was captured", trName(t), t.Prelim, where)
			continue
		}
		d := t.Data
		rcv := 1 - sender(t)
		if wrong := d.c.half[rcv].bytes; wrong > 0 {
			b.fail("%s: the receiving side (%s) of data connection %d sent %d bytes; data flows one way", trName(t), d.c.ep[rcv], d.ID, wrong)
		}
		if t.Mode == "active" && d.Open.Packet < t.ex.At.Packet {
			if seedProfile(s.Profile) {
				b.fail("%s: the server connected (packet %d) before the command (packet %d); the seed's server connects after RETR/STOR", trName(t), d.Open.Packet, t.ex.At.Packet)
			} else {
				b.note("%s: the server connected (packet %d) right after %s, before the command (packet %d)", trName(t), d.Open.Packet, t.Setup, t.ex.At.Packet)
			}
		}
		if d.End == "open" && t.Final/100 == 2 {
			b.fail("%s completed (%d) but data connection %d was never closed", trName(t), t.Final, d.ID)
		}
		if t.Mode == "active" && !d.FromPort20 && s.Profile.NetXLike() {
			b.note("%s: the server connected from port %d, not 20 (NetX falls back when 20 is busy)", trName(t), d.Initiator.Port())
		}
	}
}

func checkThird(s *Session, _ Options, b *builder) {
	for _, t := range s.Transfers {
		if !t.Announced.IsValid() {
			continue
		}
		b.applies = true
		client, server := s.Client.Addr(), s.Server.Addr()
		d := t.Data
		if t.Mode == "active" {
			if t.Announced.Addr() != client {
				if d != nil {
					b.fail("%s (packet %d) announces %s, not the client %s, and the server connected there for %s: data to a third address (FTP bounce)",
						t.Setup, t.setup.At.Packet, t.Announced, client, trName(t))
				} else {
					b.note("%s (packet %d) announces the third address %s; no connection was made", t.Setup, t.setup.At.Packet, t.Announced)
				}
			}
			if d != nil && d.Initiator.Addr() != server {
				b.fail("%s: the data connection came from %s, not the server %s", trName(t), d.Initiator, server)
			}
			continue
		}
		if t.Announced.Addr() != server && d != nil && d.Responder.Addr() == server {
			b.note("%s reply (packet %d) names %s, but the client connected to the server's own address %s for %s (as NetX names its IPv4 address in a 227 on IPv6)",
				t.Setup, t.setup.At.Packet, t.Announced, d.Responder, trName(t))
		} else if t.Announced.Addr() != server && d != nil {
			b.fail("%s reply (packet %d) sends the client to %s, not the server %s, and data went there for %s: a third address",
				t.Setup, t.setup.At.Packet, t.Announced, server, trName(t))
		}
		if d != nil && d.Initiator.Addr() != client {
			b.fail("%s: the passive data port %s was connected from %s, not the client %s (port theft)", trName(t), t.Announced, d.Initiator, client)
		}
	}
}

// sender is the index in c.half of the side that sends the file's bytes.
func sender(t *Transfer) int {
	c := t.Data.c
	serverSide := c.initiator
	if t.Mode == "passive" {
		serverSide = 1 - c.initiator
	}
	if t.Download {
		return serverSide
	}
	return 1 - serverSide
}

func checkDataReset(s *Session, _ Options, b *builder) {
	for _, t := range s.Transfers {
		if t.Data == nil {
			continue
		}
		b.applies = true
		d := t.Data
		if d.End != "rst" {
			continue
		}
		if t.Prelim == 0 {
			// refused (e.g. NetX's 504 outside TYPE I): no transfer started, so tearing down the
			// connection opened for it is clean-up, whoever does it
			b.note("%s was refused (%s); data connection %d was then reset by the %s", trName(t), replyName(t.ex.Final), d.ID, d.ResetBy)
			continue
		}
		h := &d.c.half[sender(t)]
		if h.fin.Seen() && h.fin.Packet <= d.EndAt.Packet {
			b.note("%s: data connection %d was reset by the %s at packet %d after the sender's FIN (all %d bytes sent)", trName(t), d.ID, d.ResetBy, d.EndAt.Packet, t.Bytes)
			continue
		}
		who := "client"
		if (d.ResetBy == "initiator") == (t.Mode == "active") { // the server opens active data connections
			who = "server"
		}
		tail := ""
		if t.Final/100 == 2 {
			tail = fmt.Sprintf(", yet the server replied %s", replyName(t.ex.Final))
		}
		b.fail("%s: data connection %d (%s -> %s) was reset by the %s at packet %d after %d bytes, before the sender finished%s",
			trName(t), d.ID, d.Initiator, d.Responder, who, d.EndAt.Packet, t.Bytes, tail)
	}
}

func checkOrder(s *Session, _ Options, b *builder) {
	for _, t := range s.Transfers {
		ex := t.ex
		if ex.Final == nil || ex.Final.Code/100 != 2 {
			continue
		}
		b.applies = true
		if len(ex.Prelim) == 0 {
			b.fail("%s completed with %s without a 1xx reply first", trName(t), replyName(ex.Final))
			continue
		}
		if t.Data == nil {
			continue
		}
		// Only an upload's order is fixed on the wire: the server cannot know the file ended before the
		// client's last byte and FIN arrived. A download's 2xx may overtake data still queued in the
		// server's socket buffer, so that is only noted.
		if t.Data.LastData.Packet > ex.Final.At.Packet {
			if t.Download {
				b.note("%s: the %d reply (packet %d) was captured before the last data byte (packet %d), data still queued in the sender", trName(t), ex.Final.Code, ex.Final.At.Packet, t.Data.LastData.Packet)
			} else {
				b.fail("%s: the %d reply (packet %d) came before the last uploaded byte (packet %d): the server cannot have stored the whole file", trName(t), ex.Final.Code, ex.Final.At.Packet, t.Data.LastData.Packet)
			}
		}
		if !t.Download {
			h := &t.Data.c.half[sender(t)]
			if h.fin.Seen() && h.fin.Packet > ex.Final.At.Packet {
				b.fail("%s: the %d reply (packet %d) came before the client closed the data connection (packet %d), the only end-of-file signal in stream mode", trName(t), ex.Final.Code, ex.Final.At.Packet, h.fin.Packet)
			}
		}
		if t.Download && t.Data.FirstData.Seen() && t.Data.FirstData.Packet < ex.Prelim[0].At.Packet {
			b.note("%s: data (packet %d) was captured before the %d reply (packet %d)", trName(t), t.Data.FirstData.Packet, ex.Prelim[0].Code, ex.Prelim[0].At.Packet)
		}
	}
}

func checkSize(s *Session, _ Options, b *builder) {
	for _, t := range s.Transfers {
		if t.Data == nil || t.ExpectedSize < 0 {
			continue
		}
		b.applies = true
		want, from := t.ExpectedSize, t.SizeFrom
		if t.Offset > 0 {
			want = max(t.ExpectedSize-t.Offset, 0)
			from = fmt.Sprintf("%s, less the REST offset %d", t.SizeFrom, t.Offset)
			// A 1xx "(N bytes)" is ambiguous after REST: vsftpd announces the file's size, ProFTPD
			// what it is about to send. Both readings are correct replies.
			if t.Bytes == t.ExpectedSize && t.Prelim != 0 && strings.HasSuffix(t.SizeFrom, "reply") && !strings.HasPrefix(t.SizeFrom, "SIZE") {
				b.note("%s: resumed at %d; %d bytes, as the %s announced them", trName(t), t.Offset, t.Bytes, t.SizeFrom)
				continue
			}
		}
		if t.Bytes != want && t.ASCII {
			b.note("%s: %d bytes in TYPE A, the file has %d (from the %s): ASCII transfers may convert line ends, so the count is not judged", trName(t), t.Bytes, want, from)
			continue
		}
		switch {
		case t.Bytes < want:
			b.fail("%s: %d bytes on data connection %d, but the file has %d (from the %s): %d bytes short", trName(t), t.Bytes, t.Data.ID, want, from, want-t.Bytes)
		case t.Bytes > want:
			b.fail("%s: %d bytes on data connection %d, but the file has %d (from the %s): %d bytes too many", trName(t), t.Bytes, t.Data.ID, want, from, t.Bytes-want)
		}
		if t.Data.Lost > 0 {
			b.note("%s: %d bytes are missing from the capture; the count covers only captured bytes", trName(t), t.Data.Lost)
		}
	}
}

func checkContent(s *Session, opts Options, b *builder) {
	for _, t := range s.Transfers {
		exp, ok := opts.Files[path.Base(t.ex.arg)]
		if !ok || exp.SHA256 == "" || t.Data == nil || (t.Verb != "RETR" && t.Verb != "STOR" && t.Verb != "APPE") {
			continue
		}
		if t.Offset > 0 {
			b.note("%s: resumed at offset %d, so the %d bytes are only the file's tail; the hash is not judged", trName(t), t.Offset, t.Bytes)
			continue
		}
		b.applies = true
		if !strings.EqualFold(t.SHA256, exp.SHA256) {
			if t.ASCII {
				b.note("%s: SHA-256 of the %d bytes sent in TYPE A is %s, not the file's %s: ASCII transfers may convert line ends", trName(t), t.Bytes, t.SHA256, exp.SHA256)
				continue
			}
			b.fail("%s: SHA-256 of the %d transferred bytes is %s, expected %s", trName(t), t.Bytes, t.SHA256, exp.SHA256)
		}
	}
}

// profileCodes are the preliminary and completion codes of a successful transfer.
func profileCodes(p ftp.Profile, mode string) (int, int, bool) {
	switch {
	case p == ftp.ProfileNetXDuo64: // the shipped code: 125/250 in both modes
		return 125, 250, true
	case p == ftp.ProfileNetXDuo && mode == "active":
		return 125, 250, true
	case p == ftp.ProfileNetXDuo && mode == "passive", p == ftp.ProfileExtended:
		return 150, 226, true
	}
	return 0, 0, false
}

func checkProfile(s *Session, _ Options, b *builder) {
	for _, t := range s.Transfers {
		pre, fin, ok := profileCodes(s.Profile, t.Mode)
		if !ok || t.Final/100 != 2 || t.Prelim == 0 {
			continue
		}
		b.applies = true
		if t.Prelim != pre || t.Final != fin {
			b.fail("%s (%s): replies %d then %d; the %s profile answers %d then %d (seed, %s transfers)",
				trName(t), t.Mode, t.Prelim, t.Final, s.Profile, pre, fin, t.Mode)
		}
	}
}

// netxDeviation reports the documented NetX replies RFC 959 does not list (see the wire reference).
func netxDeviation(verb string, code int, loggedIn bool) (string, bool) {
	switch {
	case (verb == "MKD" || verb == "XMKD") && code == 200:
		return "NetX answers MKD with 200, not 257", true
	case code == 532 && (verb == "RNFR" || verb == "DELE" || verb == "RMD" || verb == "XRMD" || verb == "MKD" || verb == "XMKD"):
		return "NetX refuses writes in a read-only session with 532", true
	case code == 550 && (verb == "LIST" || verb == "NLST"):
		return "NetX refuses a listing of a path that is not a directory (or NLST of a file) with 550", true
	case code == 530 && !loggedIn:
		return "NetX answers every command but USER/PASS with 530 before login", true
	case code == 504 && (verb == "RETR" || verb == "STOR" || verb == "APPE" || verb == "STOU"):
		return "NetX refuses transfers outside TYPE I with 504 Only Image transfer allowed", true
	}
	return "", false
}

func checkReplyCodes(s *Session, _ Options, b *builder) {
	b.applies = true
	if s.Greeting != nil && !ftp.ReplyCodeAllowed("", s.Greeting.Code) {
		b.fail("greeting %s is not a connection reply (120, 220, 421)", replyName(s.Greeting))
	}
	logged := false
	for _, ex := range s.Exchanges {
		verb := ex.Verb
		if ex.Unknown {
			verb = "?"
		}
		for _, r := range append(append([]*Reply{}, ex.Prelim...), ex.Final) {
			if r == nil {
				continue
			}
			if r.Code == 0 {
				b.fail("after %s (packet %d): %s", cmdName(ex), r.At.Packet, r.Text)
				continue
			}
			if ftp.ReplyCodeAllowed(verb, r.Code) {
				continue
			}
			if why, ok := netxDeviation(verb, r.Code, logged); ok && s.Profile.NetXLike() {
				b.note("%s answered %d (packet %d): %s", cmdName(ex), r.Code, r.At.Packet, why)
				continue
			}
			b.fail("%s (packet %d) answered %s: RFC 959 does not allow %d for %s", cmdName(ex), ex.At.Packet, replyName(r), r.Code, ex.Verb)
		}
		if (ex.Verb == "PASS" || ex.Verb == "USER") && ex.Final != nil && ex.Final.Code == 230 {
			logged = true
		}
	}
	for _, r := range s.ctl.unsolicited {
		switch {
		case r.Code == 0:
			b.fail("packet %d: %s", r.At.Packet, r.Text)
		case r.Code == 421, r.Code == 120 && s.Greeting != nil && r.At.Packet <= s.Greeting.At.Packet:
		default:
			b.fail("reply %s (packet %d) answers no command", replyName(r), r.At.Packet)
		}
	}
}

func checkUnanswered(s *Session, _ Options, b *builder) {
	for _, ex := range s.Exchanges {
		if ex.Verb == "QUIT" {
			continue
		}
		b.applies = true
		if ex.Final == nil {
			got := ""
			if len(ex.Prelim) > 0 {
				got = fmt.Sprintf(" after its %d", ex.Prelim[0].Code)
			}
			if ex.Verb == "RNTO" && s.Profile == ftp.ProfileNetXDuo64 {
				b.fail("%s (packet %d) got no reply: here the shipped NetX Duo 6.4.2 crashes the device (RNTO without a pending RNFR dereferences a NULL rename pointer); netxsim's netxduo-6.4 closes the session instead", cmdName(ex), ex.At.Packet)
				continue
			}
			b.fail("%s (packet %d) got no final reply%s before the end of the session", cmdName(ex), ex.At.Packet, got)
		}
	}
}

func quitExchange(s *Session) *Exchange {
	for i := len(s.Exchanges) - 1; i >= 0; i-- {
		if s.Exchanges[i].Verb == "QUIT" {
			return s.Exchanges[i]
		}
	}
	return nil
}

// loggedInBefore reports whether a USER or PASS was answered 230 before ex.
func loggedInBefore(s *Session, ex *Exchange) bool {
	for _, e := range s.Exchanges {
		if e == ex {
			return false
		}
		if (e.Verb == "PASS" || e.Verb == "USER") && e.Final != nil && e.Final.Code == 230 {
			return true
		}
	}
	return false
}

func checkQuit(s *Session, opts Options, b *builder) {
	b.applies = true
	q := quitExchange(s)
	switch {
	case q == nil && opts.Strict:
		b.fail("the session ended without QUIT (seed: QUIT, 221, then the server closes; strict mode)")
	case q == nil:
		b.warn("the client closed the session without QUIT (as wget does); the seed ends with QUIT and 221 (--strict makes this a failure)")
	case q.Final == nil:
		b.fail("QUIT (packet %d) got no 221 reply before the connection closed", q.At.Packet)
	case q.Final.Code == 530 && s.Profile.NetXLike() && !loggedInBefore(s, q):
		b.note("QUIT (packet %d) before login answered %s: NetX answers every command but USER/PASS with 530 before login, QUIT included, and leaves the connection open", q.At.Packet, replyName(q.Final))
	case q.Final.Code != 221:
		b.fail("QUIT (packet %d) answered %s, want 221", q.At.Packet, replyName(q.Final))
	}
	if q != nil && q != s.Exchanges[len(s.Exchanges)-1] {
		b.note("commands followed QUIT")
	}
}

func checkClose(s *Session, _ Options, b *builder) {
	q := quitExchange(s)
	if q == nil || q.Final == nil || q.Final.Code != 221 {
		return
	}
	b.applies = true
	c := s.ctl.c
	srv, cli := &c.half[s.ctl.server], &c.half[1-s.ctl.server]
	switch {
	case srv.ended():
		if cli.ended() && min(cli.fin.Packet|1<<62, cli.rst.Packet|1<<62) < min(srv.fin.Packet|1<<62, srv.rst.Packet|1<<62) {
			b.note("the client closed first")
		}
	case cli.ended():
		b.warn("after 221 the client closed the control connection and the server never did (the seed's server disconnects)")
	default:
		b.warn("the control connection is still open at the end of the capture")
	}
}

func checkControlReset(s *Session, _ Options, b *builder) {
	b.applies = true
	c := s.ctl.c
	end := int64(1) << 62
	if q := quitExchange(s); q != nil && q.Final != nil && q.Final.Code == 221 {
		end = q.Final.At.Packet
	}
	for i, h := range c.half {
		if !h.rst.Seen() {
			continue
		}
		who := "client"
		if i == s.ctl.server {
			who = "server"
		}
		if h.rst.Packet < end {
			b.fail("the %s reset the control connection at packet %d, before the session ended with 221", who, h.rst.Packet)
		} else {
			b.note("the %s reset the control connection at packet %d, after 221", who, h.rst.Packet)
		}
	}
}

func checkIPv6Port(s *Session, _ Options, b *builder) {
	if !s.IPv6 {
		return
	}
	b.applies = true
	for _, ex := range s.Exchanges {
		if ex.Verb == "PORT" || ex.Verb == "PASV" {
			alt := map[string]string{"PORT": "EPRT", "PASV": "EPSV"}[ex.Verb]
			b.fail("IPv6 session sent %s (packet %d, answered %s): IPv6 uses %s (seed: PORT is replaced with EPRT, PASV with EPSV)",
				cmdName(ex), ex.At.Packet, replyName(ex.Final), alt)
		}
	}
}

// sessionConns are the control connection and the matched data connections.
func sessionConns(s *Session) []*conn {
	out := []*conn{s.ctl.c}
	for _, t := range s.Transfers {
		if t.Data != nil {
			out = append(out, t.Data.c)
		}
	}
	return out
}

func connLabel(s *Session, c *conn) string {
	if c == s.ctl.c {
		return "control connection"
	}
	return fmt.Sprintf("data connection %d", c.id)
}

func checkRetrans(s *Session, _ Options, b *builder) {
	b.applies = true
	for _, c := range sessionConns(s) {
		if n := c.half[0].retrans + c.half[1].retrans; n > 0 {
			b.warn("%s: %d retransmitted segments (%s: %d, %s: %d)", connLabel(s, c), n, c.ep[0], c.half[0].retrans, c.ep[1], c.half[1].retrans)
		}
	}
}

// zeroWindowStall is how long a zero window must stay shut to count as a stalled receiver. Shorter
// episodes are ordinary flow control: a fast sender fills the buffer of a receiver writing to its disk,
// which reads again a moment later (gVisor's receivers do this on every fast local transfer).
const zeroWindowStall = 200 * time.Millisecond

func checkZeroWin(s *Session, _ Options, b *builder) {
	b.applies = true
	for _, c := range sessionConns(s) {
		for i, h := range c.half {
			if h.zeroWin == 0 {
				continue
			}
			switch {
			case h.zeroSince.Seen():
				b.warn("%s: %s advertised a zero window at packet %d and never reopened it (receiver stalled)", connLabel(s, c), c.ep[i], h.zeroSince.Packet)
			case h.zeroMax >= zeroWindowStall:
				b.warn("%s: %s advertised a zero window %d times, first at packet %d; it stayed shut up to %v (receiver stalled)", connLabel(s, c), c.ep[i], h.zeroWin, h.zeroFirst.Packet, h.zeroMax.Round(time.Millisecond))
			default:
				b.applies = true
				b.note("%s: %s advertised a zero window %d times, first at packet %d, reopened within %v: flow control, the receiver caught up", connLabel(s, c), c.ep[i], h.zeroWin, h.zeroFirst.Packet, h.zeroMax.Round(time.Microsecond))
			}
		}
	}
}

func checkGaps(s *Session, _ Options, b *builder) {
	b.applies = true
	for _, c := range sessionConns(s) {
		for i, h := range c.half {
			if h.lost > 0 {
				b.warn("%s: %d bytes sent by %s are missing from the capture (snap length, or capture drops)", connLabel(s, c), h.lost, c.ep[i])
			}
		}
	}
}

func checkCredentials(s *Session, _ Options, b *builder) {
	for _, ex := range s.Exchanges {
		if ex.Verb == "PASS" {
			b.applies = true
			b.c.Status = StatusNote
			b.c.Messages = append(b.c.Messages, fmt.Sprintf("user %q and a %d-character password were sent in clear text (packet %d)", s.User, len(ex.arg), ex.At.Packet))
		}
	}
}
