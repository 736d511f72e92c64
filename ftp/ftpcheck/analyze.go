package ftpcheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/reassembly"
	"github.com/netxsim/netxsim/ftp"
)

// Checker-only profiles, beside ftp.ProfileNetXDuo and ftp.ProfileExtended.
const (
	// ProfileAuto picks the profile per session: netxduo when the server greets with NetX's
	// "220 Connection Ready", rfc959 otherwise.
	ProfileAuto ftp.Profile = "auto"
	// ProfileRFC959 is any standard server: reply codes from RFC 959's table, no seed-order rules
	// beyond what RFC 959 requires.
	ProfileRFC959 ftp.Profile = "rfc959"
)

// FileExpect is what a transferred file should be; zero fields are not checked.
type FileExpect struct {
	Size   int64  // -1 or 0 with SHA256 set: size unknown
	SHA256 string // lower-case hex
}

// Options tune Analyze. The zero value auto-detects the profile.
type Options struct {
	// Profile is the server's profile: "", ProfileAuto, ftp.ProfileNetXDuo, ftp.ProfileNetXDuo64,
	// ftp.ProfileExtended or ProfileRFC959.
	Profile ftp.Profile
	// Files maps a file's base name to its expected content, for RETR/STOR/APPE transfers of that name.
	Files map[string]FileExpect
	// Strict checks the seed's sequence to the letter: a session that ends without QUIT fails
	// quit-221 instead of warning (clients such as wget just close the connection).
	Strict bool
	// Logger receives debug traces; nil is quiet.
	Logger *slog.Logger
	// OnSession, if set, receives every session as soon as it is complete (its control connection
	// and the data connections matched to it have ended), checked, in session order as far as a
	// window of maxHeld finished sessions allows. The analyser then forgets it: memory is bounded by
	// the connections open at one time, not by the capture. Report.Sessions stays empty; the
	// Report's counts cover every session. An error stops the analysis and is returned.
	OnSession func(*Session) error
	// OnOther, if set, likewise receives every TCP connection that is neither a control connection
	// nor matched to a transfer, once no open session can claim it; Report.Other stays empty.
	OnOther func(*DataConn) error
}

// ParseProfile accepts the profile names of the --profile flag.
func ParseProfile(s string) (ftp.Profile, error) {
	switch p := ftp.Profile(strings.ToLower(s)); p {
	case "", ProfileAuto:
		return ProfileAuto, nil
	case ftp.ProfileNetXDuo, ftp.ProfileNetXDuo64, ftp.ProfileExtended, ProfileRFC959:
		return p, nil
	}
	return "", fmt.Errorf("unknown profile %q: use auto, netxduo, netxduo-6.4, extended or rfc959", s)
}

// analyzer is the state of one Analyze call.
type analyzer struct {
	opts      Options
	log       *slog.Logger
	mark      Mark
	rep       *Report
	announced map[netip.AddrPort]int

	// pending are the connections not yet released, in the order they were first seen.
	pending []*conn
	// ended are connections the reassembler is done with (and has let go of) that are not yet
	// released: their trailing ACKs and RSTs are recorded here. gone are 4-tuples released lately:
	// their trailing packets are dropped instead of making new connections.
	ended       map[tuple]*conn
	gone        map[tuple]struct{}
	completions int // since the last sweep
	conns       int // every connection seen
	controls    int // control connections found: the next session's ID - 1

	held   map[int]*Session // finished sessions waiting for an earlier one (ordered output)
	nextID int              // the session to hand out next
	err    error            // a callback's error: the analysis stops
}

// maxHeld bounds the finished sessions held back so that sessions are handed out in ID order; past
// it the earliest held one goes out even if an earlier session is still open.
const maxHeld = 1024

// maxGone bounds the table of released 4-tuples (cleared when full: a trailing packet after that
// makes an empty extra connection at worst).
const maxGone = 1 << 16

// tuple names a connection in either direction.
type tuple struct{ a, b netip.AddrPort }

func tupleOf(x, y netip.AddrPort) tuple {
	if x.Compare(y) > 0 {
		x, y = y, x
	}
	return tuple{x, y}
}

// announce records an announced data endpoint; false when the table is full.
func (a *analyzer) announce(ap netip.AddrPort) bool {
	if !ap.IsValid() || len(a.announced) >= 1<<20 {
		return false
	}
	a.announced[ap]++
	return true
}

func (a *analyzer) unannounce(ap netip.AddrPort) {
	if n := a.announced[ap]; n > 1 {
		a.announced[ap] = n - 1
	} else {
		delete(a.announced, ap)
	}
}

type assemblerContext gopacket.CaptureInfo

func (c *assemblerContext) GetCaptureInfo() gopacket.CaptureInfo { return gopacket.CaptureInfo(*c) }

// Analyze reads a pcap or pcapng capture from r as a stream, reassembles every TCP connection,
// finds the FTP sessions and checks them. The capture is never held in memory: only control lines,
// per-connection counters and out-of-order segments are kept. It returns an error for input that is
// not a readable capture (with what to do about it); violations are in the Report, not the error.
func Analyze(ctx context.Context, r io.Reader, opts Options) (*Report, error) {
	prof, err := ParseProfile(string(opts.Profile))
	if err != nil {
		return nil, err
	}
	opts.Profile = prof
	a := &analyzer{opts: opts, log: opts.Logger, announced: map[netip.AddrPort]int{},
		ended: map[tuple]*conn{}, gone: map[tuple]struct{}{}, held: map[int]*Session{}, nextID: 1}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	cp, err := openCapture(r)
	if err != nil {
		return nil, err
	}
	rep := &Report{Capture: CaptureSummary{Format: cp.format}, Strict: opts.Strict}
	a.rep = rep
	asm := reassembly.NewAssembler(reassembly.NewStreamPool(a))
	// Bound memory spent on out-of-order data (pages of 1900 bytes): about 8 MB per connection, 64 MB in all.
	asm.MaxBufferedPagesPerConnection = 4096
	asm.MaxBufferedPagesTotal = 32768
	var d decoded
	var actx assemblerContext
	var n int64
	var linkErr error
	for {
		if n&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("analysis stopped after packet %d: %w", n, err)
			}
		}
		if a.err != nil {
			return nil, a.err
		}
		data, ci, err := cp.src.ZeroCopyReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, fmt.Errorf("capture is truncated: packet %d is cut short (was the capture stopped while writing? a complete file is needed): %w", n+1, err)
			}
			return nil, fmt.Errorf("capture is corrupt at packet %d (not a valid %s record; is the file complete?): %w", n+1, cp.format, err)
		}
		n++
		rep.Capture.Packets = n
		rep.Capture.Bytes += int64(len(data))
		if n == 1 {
			rep.Capture.First = ci.Timestamp
		}
		rep.Capture.Last = ci.Timestamp
		a.mark = Mark{Packet: n, Time: ci.Timestamp}
		if err := d.decode(cp.link(ci), data); err != nil {
			switch {
			case errors.Is(err, errSkip):
				rep.Capture.Skipped++
			case strings.HasPrefix(err.Error(), "link type"):
				rep.Capture.Skipped++
				if linkErr == nil {
					linkErr = fmt.Errorf("packet %d: %w", n, err)
				}
			default:
				rep.Capture.Malformed++
			}
			continue
		}
		rep.Capture.TCPSegments++
		actx = assemblerContext(ci)
		asm.AssembleWithContext(d.netFlow, &d.tcp, &actx)
	}
	if linkErr != nil && rep.Capture.TCPSegments == 0 {
		return nil, linkErr // nothing readable at all: say why
	}
	asm.FlushAll()
	a.sweep(true)
	if a.err != nil {
		return nil, a.err
	}
	rep.Capture.Connections = a.conns
	a.finishReport(rep)
	return rep, a.err
}

// complete is called when the reassembler is done with c (both directions ended, or the capture
// did): c's session, or c itself, can be finished at the next sweep.
func (a *analyzer) complete(c *conn) {
	if c.complete {
		return
	}
	c.complete = true
	a.ended[tupleOf(c.ep[0], c.ep[1])] = c
	if c.kind == kindControl {
		c.ctl.flush()
	}
	// sweeps are amortised: one per quarter of the pending connections completed
	if a.completions++; a.completions > len(a.pending)/4+16 {
		a.sweep(false)
	}
}

// sweep finishes what can be finished: every session whose control connection and matched data
// connections ended (all of them when final), then every other connection no unfinished session
// can claim; it releases them and compacts the pending list.
func (a *analyzer) sweep(final bool) {
	a.completions = 0
	var others []*conn
	for _, c := range a.pending {
		if c.kind != kindControl && !c.released {
			others = append(others, c)
		}
	}
	sort.SliceStable(others, func(i, j int) bool { return others[i].open().Packet < others[j].open().Packet })
	for _, c := range a.pending {
		if c.kind != kindControl || c.released || !c.complete || a.err != nil {
			continue
		}
		s := a.session(c, c.sid)
		a.matchData(s, others)
		ready := true
		for _, t := range s.Transfers {
			if t.Data != nil && !t.Data.c.complete {
				ready = false
			}
		}
		if !ready && !final {
			for _, t := range s.Transfers {
				if t.Data != nil {
					t.Data.c.used = false
				}
			}
			continue
		}
		a.finish(s)
	}
	// An unused connection can only be claimed by a session (or a connection not yet classified)
	// that was open before it: once none is, it is finished.
	minLive := int64(1) << 62
	for _, c := range a.pending {
		if !c.released && (c.kind == kindControl || (c.kind == kindUnknown && !c.complete)) {
			minLive = min(minLive, c.open().Packet)
		}
	}
	for _, c := range others {
		if !c.released && !c.used && c.complete && (final || c.open().Packet < minLive) {
			a.other(dataConn(c))
			a.release(c)
		}
	}
	if final {
		a.flushHeld(true)
	}
	a.pending = slices.DeleteFunc(a.pending, func(c *conn) bool { return c.released })
}

// finish checks a session and hands it out with its data connections released.
func (a *analyzer) finish(s *Session) {
	s.Checks = runChecks(s, a.opts)
	for _, c := range s.Checks {
		count(c, &s.Violations, &s.Warnings)
	}
	s.Events = ladder(s)
	a.rep.Violations += s.Violations
	a.rep.Warnings += s.Warnings
	a.rep.SessionCount++
	if s.Passed() {
		a.rep.SessionsPassed++
	}
	a.release(s.ctl.c)
	for _, t := range s.Transfers {
		if t.Data != nil {
			a.release(t.Data.c)
		}
	}
	a.held[s.ID] = s
	a.flushHeld(false)
}

// flushHeld hands out held sessions in ID order; past maxHeld (or at the end) without waiting for
// missing ones.
func (a *analyzer) flushHeld(all bool) {
	for len(a.held) > 0 && a.err == nil {
		s, ok := a.held[a.nextID]
		if !ok {
			if !all && len(a.held) <= maxHeld {
				return
			}
			low := 0
			for id := range a.held {
				if low == 0 || id < low {
					low = id
				}
			}
			s = a.held[low]
		}
		delete(a.held, s.ID)
		a.nextID = max(a.nextID, s.ID+1)
		if a.opts.OnSession != nil {
			a.err = a.opts.OnSession(s)
		} else {
			a.rep.Sessions = append(a.rep.Sessions, s)
		}
	}
}

func (a *analyzer) other(d *DataConn) {
	if a.err != nil {
		return
	}
	if a.opts.OnOther != nil {
		a.err = a.opts.OnOther(d)
	} else {
		a.rep.Other = append(a.rep.Other, d)
	}
}

// release forgets a connection: what its session announced, its trailing-packet entry.
func (a *analyzer) release(c *conn) {
	c.released = true
	k := tupleOf(c.ep[0], c.ep[1])
	if a.ended[k] == c {
		delete(a.ended, k)
	}
	if len(a.gone) >= maxGone {
		clear(a.gone)
	}
	a.gone[k] = struct{}{}
	if c.ctl != nil {
		for _, ap := range c.ctl.announced {
			a.unannounce(ap)
		}
		c.ctl.announced = nil
	}
}

// finishReport adds the capture-level checks once every session is out.
func (a *analyzer) finishReport(rep *Report) {
	sort.SliceStable(rep.Sessions, func(i, j int) bool { return rep.Sessions[i].ID < rep.Sessions[j].ID })
	sort.SliceStable(rep.Other, func(i, j int) bool { return rep.Other[i].Open.Packet < rep.Other[j].Open.Packet })
	found := Check{Name: "ftp-found", Status: StatusPass}
	if rep.SessionCount == 0 {
		found.Status = StatusFail
		found.Messages = []string{fmt.Sprintf("no FTP control connection in %d packets (%d TCP connections): expected a connection to port 21 or one whose server greets with 220", rep.Capture.Packets, rep.Capture.Connections)}
	}
	rep.Checks = append(rep.Checks, found)
	if rep.Capture.Malformed > 0 {
		rep.Checks = append(rep.Checks, Check{Name: "capture-frames", Status: StatusWarn,
			Messages: []string{fmt.Sprintf("%d frames did not decode and were ignored", rep.Capture.Malformed)}})
	}
	for _, c := range rep.Checks {
		count(c, &rep.Violations, &rep.Warnings)
	}
}

func count(c Check, fail, warn *int) {
	switch c.Status {
	case StatusFail:
		*fail++
	case StatusWarn:
		*warn++
	}
}

// session builds a Session from a control connection's events: commands paired with replies in order
// (FTP is lock-step; pipelined commands are answered first come, first served).
//
// The shipped NetX Duo 6.4.2 server takes one TCP segment as one command: for a netxduo-6.4 session
// whose client split or pipelined commands the pairing follows that reading (control.seg), so that
// each fragment is paired with the reply NetX gave it and a lost command is not waited for.
func (a *analyzer) session(c *conn, id int) *Session {
	s := a.pair(c, id, c.ctl.events)
	if s.Profile == ftp.ProfileNetXDuo64 && c.ctl.split {
		prof, src := s.Profile, s.ProfileSource
		s = a.pair(c, id, c.ctl.seg)
		s.Profile, s.ProfileSource = prof, src+", one segment one command"
	}
	return s
}

func (a *analyzer) pair(c *conn, id int, events []rawEvent) *Session {
	ct := c.ctl
	s := &Session{ID: id, Client: ct.clientAddr(), Server: ct.serverAddr(), Open: c.open(), ctl: ct}
	s.IPv6 = s.Server.Addr().Is6()
	var queue []*Exchange
	var unsolicited []*Reply
	for _, ev := range events {
		switch ev.kind {
		case rawCommand, rawBadCommand:
			ex := &Exchange{Verb: ev.cmd.Verb, Arg: ev.cmd.Arg, arg: ev.cmd.Arg, At: ev.at}
			if ev.kind == rawBadCommand {
				ex.Unknown, ex.Raw, ex.Error, ex.Verb, ex.Arg = true, clip(ev.line, 200), ev.err, "", ""
			}
			if ex.Verb == "PASS" && ex.Arg != "" {
				ex.Arg = "****"
			}
			if ex.Verb == "USER" && s.User == "" {
				s.User = ex.Arg
			}
			s.Exchanges = append(s.Exchanges, ex)
			queue = append(queue, ex)
		case rawReply, rawBadReply:
			rp := &Reply{Code: ev.code, Text: ev.text, Lines: ev.nline, At: ev.at}
			if ev.kind == rawBadReply {
				rp.Code = 0
				rp.Text = ev.err
			}
			if s.Greeting == nil && len(s.Exchanges) == 0 && rp.Code != 0 {
				if rp.Code/100 == 1 {
					unsolicited = append(unsolicited, rp) // 120: ready in a moment; the 220 follows
					continue
				}
				s.Greeting = rp
				continue
			}
			if len(queue) == 0 {
				unsolicited = append(unsolicited, rp)
				continue
			}
			head := queue[0]
			if rp.Code/100 == 1 {
				head.Prelim = append(head.Prelim, rp)
				continue
			}
			head.Final = rp
			queue = queue[1:]
		}
	}
	ct.unsolicited = unsolicited
	// the session closes when the first side ends the control connection
	for _, h := range c.half {
		for _, m := range []Mark{h.fin, h.rst} {
			if m.Seen() && (!s.Close.Seen() || m.Packet < s.Close.Packet) {
				s.Close = m
			}
		}
	}
	s.Transfers = transfers(s)
	s.Profile, s.ProfileSource = a.opts.Profile, "option"
	if s.Profile == ProfileAuto {
		s.Profile, s.ProfileSource = detectProfile(s)
	}
	return s
}

// detectProfile: NetX's greeting "220 Connection Ready" marks our server (netxduo or extended; both
// greet alike). What tells them apart is behaviour NetX has and the extended profile corrects: MKD
// answered 200 (NetX) or 257, FEAT refused or answered 211, active transfers starting with 125 or 150.
// Without such evidence it is netxduo (passive transfers use 150/226 in both). A passive transfer
// answered 125 is the shipped NetX Duo code (netxduo-6.4). Any other greeting
// means a standard server, checked against RFC 959 only.
func detectProfile(s *Session) (ftp.Profile, string) {
	if s.Greeting == nil || !strings.HasPrefix(strings.TrimSpace(s.Greeting.Text), "Connection Ready") {
		return ProfileRFC959, "default"
	}
	for _, t := range s.Transfers {
		if t.Mode == "passive" && t.Prelim == 125 { // the shipped NetX code, not the seed's 150
			return ftp.ProfileNetXDuo64, "greeting and passive 125"
		}
	}
	for _, ex := range s.Exchanges {
		if ex.Final == nil {
			continue
		}
		switch {
		case (ex.Verb == "MKD" || ex.Verb == "XMKD") && ex.Final.Code == 200, ex.Verb == "FEAT" && ex.Final.Code == 502:
			return ftp.ProfileNetXDuo, "greeting and " + ex.Verb
		case (ex.Verb == "MKD" || ex.Verb == "XMKD") && ex.Final.Code == 257, ex.Verb == "FEAT" && ex.Final.Code == 211:
			return ftp.ProfileExtended, "greeting and " + ex.Verb
		}
	}
	for _, t := range s.Transfers {
		if t.Mode == "active" && t.Prelim == 125 {
			return ftp.ProfileNetXDuo, "greeting and active 125"
		}
		if t.Mode == "active" && t.Prelim == 150 {
			return ftp.ProfileExtended, "greeting and active 150"
		}
	}
	return ftp.ProfileNetXDuo, "greeting"
}

// transferVerb reports whether the command moves data over a data connection (ftp.Commands).
func transferVerb(verb string) bool {
	c, _ := ftp.LookupCommand(verb)
	return c.Transfer
}

func isDownload(verb string) bool {
	return verb == "RETR" || verb == "LIST" || verb == "NLST" || verb == "MLSD"
}

var bytesRE = regexp.MustCompile(`\((\d+) [Bb]ytes\)`)

// transfers lists the data transfers and what announced their data connections.
func transfers(s *Session) []*Transfer {
	var out []*Transfer
	var setup *Exchange
	sizes := map[string]int64{}
	var rest int64 // offset of an accepted REST, for the next transfer
	ascii := true  // RFC 959's default type, and NetX's after every login
	for _, ex := range s.Exchanges {
		switch ex.Verb {
		case "PORT", "EPRT", "PASV", "EPSV":
			setup = ex
			continue
		case "REST":
			if ex.Final != nil && ex.Final.Code == 350 {
				if n, err := strconv.ParseInt(strings.TrimSpace(ex.arg), 10, 64); err == nil && n >= 0 {
					rest = n
				}
			}
			continue
		case "TYPE":
			if ex.Final != nil && ex.Final.Code == 200 {
				ascii = !isBinaryType(ex.arg)
			}
			continue
		case "PASS", "USER":
			if ex.Final != nil && ex.Final.Code == 230 {
				ascii = true
			}
			continue
		case "SIZE":
			if ex.Final != nil && ex.Final.Code == 213 {
				if n, err := strconv.ParseInt(strings.TrimSpace(ex.Final.Text), 10, 64); err == nil {
					sizes[ex.arg] = n
				}
			}
			continue
		}
		if !transferVerb(ex.Verb) {
			continue
		}
		t := &Transfer{Verb: ex.Verb, Arg: ex.Arg, Download: isDownload(ex.Verb), ExpectedSize: -1, ex: ex, setup: setup}
		if ex.Verb == "RETR" || ex.Verb == "STOR" || ex.Verb == "APPE" || ex.Verb == "STOU" {
			t.Offset, t.ASCII = rest, ascii
		}
		rest = 0 // REST applies to the next transfer command only (RFC 3659 section 5)
		if len(ex.Prelim) > 0 {
			t.Prelim = ex.Prelim[0].Code
			if m := bytesRE.FindStringSubmatch(ex.Prelim[0].Text); m != nil && ex.Verb == "RETR" {
				if n, err := strconv.ParseInt(m[1], 10, 64); err == nil {
					t.ExpectedSize, t.SizeFrom = n, fmt.Sprintf("%d reply", t.Prelim)
				}
			}
		}
		if ex.Final != nil {
			t.Final = ex.Final.Code
		}
		if n, ok := sizes[ex.arg]; ok && t.ExpectedSize < 0 && ex.Verb == "RETR" {
			t.ExpectedSize, t.SizeFrom = n, "SIZE reply"
		}
		if setup != nil {
			t.Setup = setup.Verb
			switch setup.Verb {
			case "PORT", "EPRT":
				t.Mode = "active"
			default:
				t.Mode = "passive"
			}
			t.Announced = announcedBy(s, setup)
		}
		out = append(out, t)
		setup = nil // PASV/EPSV are one-shot, and the seed sends PORT/EPRT before every transfer
	}
	return out
}

// announcedBy is the data endpoint a setup exchange announced (invalid if it did not parse).
func announcedBy(s *Session, ex *Exchange) netip.AddrPort {
	switch ex.Verb {
	case "PORT":
		ap, _ := ftp.ParsePORT(ex.arg)
		return ap
	case "EPRT":
		ap, _ := ftp.ParseEPRT(ex.arg)
		return ap
	case "PASV":
		if ex.Final != nil && ex.Final.Code == 227 {
			ap, _ := ftp.Parse227(ex.Final.Text)
			return ap
		}
	case "EPSV":
		if ex.Final != nil && ex.Final.Code == 229 {
			if p, err := ftp.Parse229(ex.Final.Text); err == nil {
				return netip.AddrPortFrom(s.Server.Addr(), p)
			}
		}
	}
	return netip.AddrPort{}
}

// matchData finds each transfer's data connection: the first unused connection to the announced
// endpoint opened after the announcement (and before the transfer's final reply).
func (a *analyzer) matchData(s *Session, others []*conn) {
	for _, t := range s.Transfers {
		want := t.Announced
		after := int64(0)
		if t.setup != nil {
			after = t.setup.At.Packet
			if t.setup.Final != nil && (t.setup.Verb == "PASV" || t.setup.Verb == "EPSV") {
				after = t.setup.Final.At.Packet
			}
		}
		if !want.IsValid() {
			if t.setup != nil {
				continue
			}
			// No PORT/PASV at all: RFC 959's default is the client's control port, connected from port 20.
			want = s.Client
		}
		before := int64(1) << 62
		if t.ex.Final != nil {
			before = t.ex.Final.At.Packet
		}
		for _, c := range others {
			if c.used {
				continue
			}
			o := c.open().Packet
			if o < after || o > before {
				continue
			}
			r := c.responder()
			if r < 0 {
				// no SYN captured: whichever endpoint was announced is the responder
				if r = c.index(want); r < 0 {
					continue
				}
				c.initiator = 1 - r
			}
			// Many clients connect to a 227's port at the control connection's server address, not the
			// address in the reply (curl, lftp; on NetX an IPv6 session's 227 names the IPv4 address).
			pasvAtServer := t.setup != nil && t.setup.Verb == "PASV" && c.ep[r] == netip.AddrPortFrom(s.Server.Addr(), want.Port())
			if c.ep[r] != want && !pasvAtServer {
				continue
			}
			c.used = true
			t.Data = dataConn(c)
			a.log.Debug("ftpcheck: data connection", "session", s.ID, "transfer", t.Verb, "conn", c.id, "endpoint", want)
			break
		}
		if t.Data == nil {
			continue
		}
		c := t.Data.c
		// the sender of the file's bytes is the server for downloads, the client for uploads
		serverSide := c.initiator // active: the server connects
		if t.Mode == "passive" {
			serverSide = 1 - c.initiator
		}
		sender := serverSide
		if !t.Download {
			sender = 1 - serverSide
		}
		t.Bytes = c.half[sender].bytes
		t.SHA256 = c.half[sender].digest()
		if t.SHA256 == "" {
			t.SHA256 = emptySHA256
		}
		if exp, ok := a.opts.Files[path.Base(t.ex.arg)]; ok && t.ExpectedSize < 0 && exp.Size > 0 && (t.Verb == "RETR" || t.Verb == "STOR") {
			t.ExpectedSize, t.SizeFrom = exp.Size, "options"
		}
	}
}

const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func dataConn(c *conn) *DataConn {
	i := c.initiator
	if i < 0 {
		i = 0
	}
	r := 1 - i
	d := &DataConn{ID: c.id, Initiator: c.ep[i], Responder: c.ep[r], Open: c.open(), c: c,
		InitiatorBytes: c.half[i].bytes, ResponderBytes: c.half[r].bytes,
		InitiatorSHA256: c.half[i].digest(), ResponderSHA256: c.half[r].digest(),
		FromPort20: c.ep[i].Port() == 20, End: "open"}
	for j := range c.half {
		h := &c.half[j]
		d.Retransmissions += h.retrans
		d.ZeroWindows += h.zeroWin
		d.Lost += h.lost
		if h.firstData.Seen() && (!d.FirstData.Seen() || h.firstData.Packet < d.FirstData.Packet) {
			d.FirstData = h.firstData
		}
		if h.lastData.Packet > d.LastData.Packet {
			d.LastData = h.lastData
		}
	}
	// a reset ends the connection whatever else happened; otherwise it ends with both FINs
	for j, who := range []string{"initiator", "responder"} {
		h := &c.half[[]int{i, r}[j]]
		if h.rst.Seen() && (d.ResetBy == "" || h.rst.Packet < d.EndAt.Packet) {
			d.End, d.EndAt, d.ResetBy = "rst", h.rst, who
		}
	}
	if d.End == "open" {
		switch f0, f1 := c.half[0].fin, c.half[1].fin; {
		case f0.Seen() && f1.Seen():
			d.End, d.EndAt = "fin", f0
			if f1.Packet > f0.Packet {
				d.EndAt = f1
			}
		case f0.Seen() || f1.Seen():
			d.End, d.EndAt = "half-closed", f0
			if f1.Seen() {
				d.EndAt = f1
			}
		}
	}
	return d
}
