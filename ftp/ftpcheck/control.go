package ftpcheck

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"

	"github.com/netxsim/netxsim/ftp"
)

// maxLine bounds one control line; longer lines are cut and flagged. RFC 959 lines are short.
const maxLine = 8192

// maxReplyLines bounds a multi-line reply kept in the report.
const maxReplyLines = 1000

// rawKind is the kind of a control-connection event found while streaming.
type rawKind int

const (
	rawCommand rawKind = iota
	rawBadCommand
	rawReply
	rawBadReply
)

// rawEvent is a command line or a complete (possibly multi-line) reply.
type rawEvent struct {
	kind  rawKind
	at    Mark
	cmd   ftp.Command
	line  string // the command line as sent (PASS argument kept; the report masks it)
	code  int
	text  string // reply text, lines joined by "\n"
	nline int    // reply lines
	err   string
}

// lineBuf splits one direction into lines (LF or CRLF), bounded by maxLine.
type lineBuf struct {
	buf      []byte
	start    Mark
	overlong bool
}

// control parses one FTP control connection: client lines into commands, server lines into replies.
type control struct {
	a      *analyzer
	c      *conn
	server int
	lines  [2]lineBuf
	events []rawEvent
	// seg is the control dialogue as the shipped NetX Duo 6.4.2 server reads it: one TCP segment is
	// one command (the bytes up to its first line end, or all of them), the rest of the segment is
	// lost. Replies are the same as in events. split says whether any segment held other than
	// exactly one line, i.e. whether the two readings differ.
	seg   []rawEvent
	split bool
	// replies assembles the server's lines into replies; multiStart is where the one in progress began
	replies    ftp.ReplyParser
	multiStart Mark
	// replies that answered no command (set when the session is built)
	unsolicited []*Reply
	// data endpoints this session announced, forgotten when it is released
	announced []netip.AddrPort
}

// maxAnnounced bounds the endpoints one session keeps announced (a session sending PORT in a loop).
const maxAnnounced = 4096

func (ct *control) announce(ap netip.AddrPort) {
	if ap.IsValid() && len(ct.announced) < maxAnnounced && ct.a.announce(ap) {
		ct.announced = append(ct.announced, ap)
	}
}

func newControl(a *analyzer, c *conn, server int) *control {
	return &control{a: a, c: c, server: server, replies: ftp.ReplyParser{MaxLines: maxReplyLines}}
}

func (ct *control) clientAddr() netip.AddrPort { return ct.c.ep[1-ct.server] }
func (ct *control) serverAddr() netip.AddrPort { return ct.c.ep[ct.server] }

// feed splits data from direction i into lines.
func (ct *control) feed(i int, data []byte, m Mark) {
	if i != ct.server {
		ct.segment(data, m)
	}
	lb := &ct.lines[i]
	for len(data) > 0 {
		if len(lb.buf) == 0 && !lb.overlong {
			lb.start = m
		}
		nl := bytes.IndexByte(data, '\n')
		chunk := data
		if nl >= 0 {
			chunk = data[:nl]
		}
		room := max(maxLine-len(lb.buf), 0)
		if len(chunk) > room {
			chunk, lb.overlong = chunk[:room], true
		}
		lb.buf = append(lb.buf, chunk...)
		if nl < 0 {
			return
		}
		data = data[nl+1:]
		line := strings.TrimSuffix(string(lb.buf), "\r")
		over := lb.overlong
		lb.buf, lb.overlong = lb.buf[:0], false
		if i == ct.server {
			ct.replyLine(line, m, over)
		} else {
			ct.commandLine(line, m, over)
		}
	}
}

// flush ends the connection: a last line without its line end still counts.
func (ct *control) flush() {
	for i := range ct.lines {
		lb := &ct.lines[i]
		if len(lb.buf) > 0 {
			line := strings.TrimSuffix(string(lb.buf), "\r")
			lb.buf = nil
			if i == ct.server {
				ct.replyLine(line, lb.start, lb.overlong)
			} else {
				ct.commandLine(line, lb.start, lb.overlong)
			}
		}
	}
	if r, open := ct.replies.Pending(); open {
		ct.replyEvent(rawEvent{kind: rawBadReply, at: ct.multiStart, code: r.Code,
			text: r.Text(), err: fmt.Sprintf("multi-line %d reply never ended (no %d<space> line)", r.Code, r.Code)})
		ct.replies.Reset()
	}
}

// stripTelnet removes Telnet IAC commands (clients send "IAC IP IAC DM" before ABOR).
func stripTelnet(s string) string {
	if strings.IndexByte(s, 0xff) < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0xff && i+1 < len(s) {
			i++
			if s[i] >= 251 && s[i] <= 254 && i+1 < len(s) { // WILL/WONT/DO/DONT take an option byte
				i++
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// replyEvent records a reply in both readings of the dialogue.
func (ct *control) replyEvent(ev rawEvent) {
	ct.events = append(ct.events, ev)
	ct.seg = append(ct.seg, ev)
}

// segment records the command NetX Duo 6.4.2 takes from one client segment (see control.seg).
func (ct *control) segment(data []byte, m Mark) {
	first, rest, found := bytes.Cut(data, []byte("\n"))
	if !found || len(rest) > 0 || len(ct.lines[1-ct.server].buf) > 0 {
		ct.split = true // a fragment, more than one line, or the end of a line begun before
	}
	line := stripTelnet(strings.TrimSuffix(string(first[:min(len(first), maxLine)]), "\r"))
	ev := rawEvent{kind: rawCommand, at: m, line: line}
	if cmd, err := ftp.ParseCommand(line); err != nil {
		ev.kind, ev.err = rawBadCommand, err.Error()
	} else {
		ev.cmd = cmd
	}
	ct.seg = append(ct.seg, ev)
}

func (ct *control) commandLine(line string, m Mark, overlong bool) {
	line = stripTelnet(line)
	ev := rawEvent{kind: rawCommand, at: m, line: line}
	if overlong {
		ev.kind, ev.err = rawBadCommand, fmt.Sprintf("command line longer than %d bytes", maxLine)
		ct.events = append(ct.events, ev)
		return
	}
	cmd, err := ftp.ParseCommand(line)
	if err != nil {
		ev.kind, ev.err = rawBadCommand, err.Error()
		ct.events = append(ct.events, ev)
		return
	}
	ev.cmd = cmd
	ct.events = append(ct.events, ev)
	// Announce data endpoints as soon as they are seen, so the data connection's SYN is recognised.
	switch cmd.Verb {
	case "PORT":
		if ap, err := ftp.ParsePORT(cmd.Arg); err == nil {
			ct.announce(ap)
		}
	case "EPRT":
		if ap, err := ftp.ParseEPRT(cmd.Arg); err == nil {
			ct.announce(ap)
		}
	}
}

func (ct *control) replyLine(line string, m Mark, overlong bool) {
	_, open := ct.replies.Pending()
	if !open && overlong {
		ct.replyEvent(rawEvent{kind: rawBadReply, at: m, text: clip(line, 200), err: fmt.Sprintf("reply line longer than %d bytes", maxLine)})
		return
	}
	r, done, err := ct.replies.Line(line)
	switch {
	case err != nil:
		ct.replyEvent(rawEvent{kind: rawBadReply, at: m, text: clip(line, 200), err: fmt.Sprintf("malformed reply line %q (want \"ddd text\")", clip(line, 80))})
	case done && open:
		ct.reply(r.Code, r.Lines, ct.multiStart, m)
	case done:
		ct.reply(r.Code, r.Lines, m, m)
	default:
		if !open {
			ct.multiStart = m
		}
	}
}

func (ct *control) reply(code int, lines []string, start, end Mark) {
	text := strings.Join(lines, "\n")
	ct.replyEvent(rawEvent{kind: rawReply, at: end, code: code, text: text, nline: len(lines)})
	switch code {
	case 227:
		if ap, err := ftp.Parse227(text); err == nil {
			ct.announce(ap)
		}
	case 229:
		if p, err := ftp.Parse229(text); err == nil {
			ct.announce(netip.AddrPortFrom(ct.serverAddr().Addr(), p))
		}
	}
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
