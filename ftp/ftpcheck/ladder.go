package ftpcheck

import (
	"fmt"
	"sort"
	"strings"
)

// ladder lists the session's events in capture order: the control connection's opening and closing,
// commands, replies, and each data connection's opening, payload and end.
func ladder(s *Session) []Event {
	var ev []Event
	c := s.ctl.c
	srv := s.ctl.server
	who := func(i int) string {
		if i == srv {
			return "server"
		}
		return "client"
	}
	ev = append(ev, Event{At: s.Open, Kind: "connect", From: "client", Text: fmt.Sprintf("TCP connect %s -> %s", s.Client, s.Server)})
	if s.Greeting != nil {
		ev = append(ev, replyEvent(s.Greeting))
	}
	for _, r := range s.ctl.unsolicited {
		e := replyEvent(r)
		ev = append(ev, e)
	}
	for _, ex := range s.Exchanges {
		text := cmdName(ex)
		if ex.Unknown {
			text = "malformed command " + text
		}
		ev = append(ev, Event{At: ex.At, Kind: "command", From: "client", Text: text})
		for _, r := range ex.Prelim {
			ev = append(ev, replyEvent(r))
		}
		if ex.Final != nil {
			ev = append(ev, replyEvent(ex.Final))
		}
	}
	for _, t := range s.Transfers {
		d := t.Data
		if d == nil {
			continue
		}
		opener := "server"
		if t.Mode == "passive" {
			opener = "client"
		}
		ev = append(ev, Event{At: d.Open, Kind: "data-open", From: opener, Text: fmt.Sprintf("data connection %d: %s -> %s", d.ID, d.Initiator, d.Responder)})
		from := "server"
		if !t.Download {
			from = "client"
		}
		if d.LastData.Seen() || t.Bytes > 0 {
			ev = append(ev, Event{At: d.LastData, Kind: "data", From: from, Text: fmt.Sprintf("%s data: %d bytes, sha256 %s", t.Verb, t.Bytes, short(t.SHA256))})
		}
		switch d.End {
		case "rst":
			ev = append(ev, Event{At: d.EndAt, Kind: "data-reset", From: from, Text: fmt.Sprintf("data connection %d reset by the %s", d.ID, d.ResetBy), Fail: true})
		case "fin", "half-closed":
			ev = append(ev, Event{At: d.EndAt, Kind: "data-close", From: from, Text: fmt.Sprintf("data connection %d closed (%s)", d.ID, d.End)})
		}
	}
	for i, h := range c.half {
		if h.fin.Seen() {
			ev = append(ev, Event{At: h.fin, Kind: "close", From: who(i), Text: "FIN on the control connection"})
		}
		if h.rst.Seen() {
			ev = append(ev, Event{At: h.rst, Kind: "reset", From: who(i), Text: "RST on the control connection"})
		}
	}
	sort.SliceStable(ev, func(i, j int) bool { return ev[i].At.Packet < ev[j].At.Packet })
	return ev
}

func replyEvent(r *Reply) Event {
	first, _, _ := strings.Cut(r.Text, "\n")
	text := fmt.Sprintf("%d %s", r.Code, first)
	if r.Lines > 1 {
		text += fmt.Sprintf(" (+%d lines)", r.Lines-1)
	}
	if r.Code == 0 {
		text = r.Text
	}
	return Event{At: r.At, Kind: "reply", From: "server", Text: clip(text, 120), Fail: r.Code == 0}
}

func short(h string) string {
	if len(h) > 16 {
		return h[:16] + "..."
	}
	return h
}
