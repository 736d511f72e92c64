package replay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/netxsim/netxsim/ftp"
)

// Network is how the replayer reaches the server: the project's one Listen/Dial interface.
type Network = ftp.Network

// Options say where and how to replay.
type Options struct {
	Net Network
	// V4 and V6 are the server's control address for sessions captured over IPv4 and over IPv6; when
	// one is unset the other is used.
	V4, V6 netip.AddrPort
	// Wait bounds the wait for each reply, connection and close the capture shows; 0: 3 s.
	Wait time.Duration
	// Quiet is how long a command the captured server did not answer is watched for a reply; 0: 300 ms.
	Quiet time.Duration
	// Profile names the server's profile so its documented deliberate differences (Excuses) are told
	// apart from real ones; "" excuses nothing.
	Profile ftp.Profile
	Logger  *slog.Logger
}

func (o *Options) wait() time.Duration {
	if o.Wait > 0 {
		return o.Wait
	}
	return 3 * time.Second
}

func (o *Options) quiet() time.Duration {
	if o.Quiet > 0 {
		return o.Quiet
	}
	return 300 * time.Millisecond
}

// step is one client action and what the capture shows the server doing before the next one.
type step struct {
	action  Event
	lines   []string // control reply lines expected after the action, before the next one
	expects []Event  // server events on data connections and closes
	command string   // the control line the action sent, if any
	// window is the index of the step that opened this step's reply window: replies are compared
	// per control command (from one command to the next), so a reply that comes before or after a
	// data connection's close, where the capture had it the other way round, still matches.
	window int
}

func buildSteps(s *Session) []*step {
	var steps []*step
	var partial []byte
	for _, ev := range s.Events {
		if ev.Kind.clientAction() {
			st := &step{action: ev, window: len(steps)}
			if ev.Kind == ClientData && ev.Conn == 0 {
				st.command = strings.TrimRight(string(ev.Data), "\r\n")
			} else if len(steps) > 0 && !(ev.Kind == Connect && ev.Conn == 0) {
				st.window = steps[len(steps)-1].window
			}
			steps = append(steps, st)
			continue
		}
		if len(steps) == 0 {
			continue // cannot happen: a session starts with the client's SYN
		}
		cur := steps[len(steps)-1]
		if ev.Kind == ServerData && ev.Conn == 0 {
			partial = append(partial, ev.Data...)
			for {
				i := bytes.IndexByte(partial, '\n')
				if i < 0 {
					break
				}
				cur.lines = append(cur.lines, string(partial[:i+1]))
				partial = partial[i+1:]
			}
			continue
		}
		cur.expects = append(cur.expects, ev)
	}
	return steps
}

// live is the replay state of one session.
type live struct {
	o      *Options
	s      *Session
	res    *SessionResult
	norm   map[string]int
	mu     sync.Mutex
	change chan struct{}

	ctl      net.Conn
	ctlLines []string
	ctlPart  []byte
	ctlEOF   bool
	// ctlReplies assembles ctlLines into replies, for the passive addresses in them
	ctlReplies ftp.ReplyParser
	// lastPassive is the address of the latest 227/229 reply: where the client's next passive
	// connection goes, as the captured client connected to the captured server's latest one
	lastPassive netip.AddrPort

	data      map[int]*dconn
	listeners map[uint16]*plistener // by the captured client port of PORT/EPRT
	conns     []io.Closer
}

type dconn struct {
	c    net.Conn
	got  []byte
	eof  bool
	want []byte
}

type plistener struct {
	ln       net.Listener
	accepted []*dconn
	used     int
}

func (l *live) poke() {
	select {
	case l.change <- struct{}{}:
	default:
	}
}

// until waits for cond (called with mu held) or the deadline; it reports whether cond came true.
func (l *live) until(ctx context.Context, d time.Duration, cond func() bool) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		l.mu.Lock()
		ok := cond()
		l.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-l.change:
		case <-t.C:
			l.mu.Lock()
			ok := cond()
			l.mu.Unlock()
			return ok
		case <-ctx.Done():
			return false
		}
	}
}

func (l *live) readCtl(c net.Conn) {
	l.pump(c, 4096, func(b []byte, err error) {
		l.ctlPart = append(l.ctlPart, b...)
		for {
			i := bytes.IndexByte(l.ctlPart, '\n')
			if i < 0 {
				break
			}
			line := string(l.ctlPart[:i+1])
			l.ctlLines = append(l.ctlLines, line)
			if r, done, err := l.ctlReplies.Line(strings.TrimRight(line, "\r\n")); err == nil && done {
				if ap, ok := passiveTarget(r, ftp.AddrPortOf(c.RemoteAddr()).Addr()); ok {
					l.lastPassive = ap
				}
			}
			l.ctlPart = l.ctlPart[i+1:]
		}
		if err != nil {
			l.ctlEOF = true
		}
	})
}

func (l *live) readData(d *dconn) {
	l.pump(d.c, 32<<10, func(b []byte, err error) {
		if len(d.got) < maxData {
			d.got = append(d.got, b[:min(len(b), maxData-len(d.got))]...)
		}
		if err != nil {
			d.eof = true
		}
	})
}

// pump reads r until an error, handing each read's bytes and error to take under l.mu and poking
// the waiters after each.
func (l *live) pump(r io.Reader, size int, take func(b []byte, err error)) {
	buf := make([]byte, size)
	for {
		n, err := r.Read(buf)
		l.mu.Lock()
		take(buf[:n], err)
		l.mu.Unlock()
		l.poke()
		if err != nil {
			return
		}
	}
}

// settle is the quiet time that ends a command's reply window.
const settle = 40 * time.Millisecond

// maxData bounds what a replay keeps of one data connection.
const maxData = 64 << 20

func (l *live) acceptLoop(p *plistener) {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		d := &dconn{c: c}
		l.mu.Lock()
		p.accepted = append(p.accepted, d)
		l.conns = append(l.conns, c)
		l.mu.Unlock()
		l.poke()
		go l.readData(d)
	}
}

func (l *live) target() netip.AddrPort {
	if l.s.Server.Addr().Is6() && l.o.V6.IsValid() || !l.o.V4.IsValid() {
		return l.o.V6
	}
	return l.o.V4
}

func (l *live) diff(st int, cmd, kind, want, got string) {
	l.res.Differences = append(l.res.Differences, Difference{Step: st, Command: cmd, Kind: kind, Expected: want, Got: got})
}

// runSession replays one session.
func runSession(ctx context.Context, o *Options, s *Session) *SessionResult {
	res := &SessionResult{ID: s.ID, Client: s.Client.String(), Server: s.Server.String(), Differences: []Difference{}}
	l := &live{o: o, s: s, res: res, norm: map[string]int{}, change: make(chan struct{}, 1),
		data: map[int]*dconn{}, listeners: map[uint16]*plistener{}}
	defer func() {
		for _, c := range l.conns {
			c.Close()
		}
		for _, p := range l.listeners {
			p.ln.Close()
		}
	}()
	steps := buildSteps(s)
	res.Steps = len(steps)
	start, wantSoFar := 0, 0
	closeWindow := func(i int) { // compare the replies of the window that ends before step i
		if i == 0 {
			return
		}
		w := steps[steps[i-1].window]
		var want []string
		for _, st := range steps[steps[i-1].window:i] {
			want = append(want, st.lines...)
		}
		// let a reply the capture did not have arrive: until the control connection is quiet
		for {
			l.mu.Lock()
			have := len(l.ctlLines)
			l.mu.Unlock()
			if !l.until(ctx, settle, func() bool { return len(l.ctlLines) > have || l.ctlEOF }) || l.ctlEOF {
				break
			}
		}
		l.mu.Lock()
		got := append([]string(nil), l.ctlLines[start:]...)
		start = len(l.ctlLines)
		l.mu.Unlock()
		l.compareLines(steps[i-1].window+1, w, want, got)
	}
	for i, st := range steps {
		if ctx.Err() != nil {
			res.Error = ctx.Err().Error()
			return res
		}
		if st.window == i {
			closeWindow(i)
			wantSoFar = 0
		}
		if err := l.act(ctx, i+1, st); err != nil {
			res.Error = fmt.Sprintf("step %d (%s, packet %d): %v", i+1, st.action.Kind, st.action.Packet, err)
			return res
		}
		wantSoFar += len(st.lines)
		l.expect(ctx, i+1, st, start, wantSoFar)
	}
	closeWindow(len(steps))
	l.finish(ctx, steps)
	for k, v := range l.norm {
		if res.Normalised == nil {
			res.Normalised = map[string]int{}
		}
		res.Normalised[k] += v
	}
	return res
}

// act performs a step's client action.
func (l *live) act(ctx context.Context, n int, st *step) error {
	ev := st.action
	switch {
	case ev.Kind == Connect && ev.Conn == 0:
		c, err := l.o.Net.Dial(ctx, netip.AddrPort{}, l.target())
		if err != nil {
			return fmt.Errorf("connecting to the server at %s: %w", l.target(), err)
		}
		l.ctl = c
		l.conns = append(l.conns, c)
		go l.readCtl(c)
	case ev.Kind == Connect:
		want := l.s.DataPeer[ev.Conn]
		l.mu.Lock()
		to := l.lastPassive
		l.mu.Unlock()
		if to.IsValid() && want.Addr() == l.s.Server.Addr() && want.Addr().Is4() != to.Addr().Is4() {
			// the captured client took the port and kept the control connection's host (a 227 on
			// IPv6): so does the replay
			to = netip.AddrPortFrom(l.target().Addr(), to.Port())
		}
		if !to.IsValid() {
			l.diff(n, "", "data-connection", "client connects to "+want.String()+", announced by the captured server", "the server announced no passive address for it")
			return nil
		}
		dctx, cancel := context.WithTimeout(ctx, l.o.wait())
		c, err := l.o.Net.Dial(dctx, netip.AddrPort{}, to)
		cancel()
		if err != nil {
			l.diff(n, "", "data-connection", "client connects to the passive port", fmt.Sprintf("connecting to %s failed: %v", to, err))
			return nil
		}
		d := &dconn{c: c}
		l.mu.Lock()
		l.data[ev.Conn] = d
		l.conns = append(l.conns, c)
		l.mu.Unlock()
		go l.readData(d)
	case ev.Kind == ClientData && ev.Conn == 0:
		out := l.rewrite(ctx, ev.Data)
		if l.ctl == nil {
			return errors.New("no control connection")
		}
		l.ctl.SetWriteDeadline(time.Now().Add(l.o.wait()))
		if _, err := l.ctl.Write(out); err != nil { // one captured segment, one write
			l.mu.Lock()
			closed := l.ctlEOF
			l.mu.Unlock()
			if !closed { // after the server's close, the missing replies tell the story
				l.diff(n, st.command, "send", "the server takes the command", "writing failed: "+err.Error())
			}
		}
	case ev.Kind == ClientData:
		l.mu.Lock()
		d := l.data[ev.Conn]
		l.mu.Unlock()
		if d == nil {
			return nil // reported when the connection was missed
		}
		d.c.SetWriteDeadline(time.Now().Add(l.o.wait()))
		if _, err := d.c.Write(ev.Data); err != nil {
			l.diff(n, "", "data", fmt.Sprintf("client sends %d bytes on data connection %d", len(ev.Data), ev.Conn), "writing failed: "+err.Error())
		}
	case ev.Kind == ClientClose:
		var c net.Conn
		if ev.Conn == 0 {
			c = l.ctl
		} else {
			l.mu.Lock()
			if d := l.data[ev.Conn]; d != nil {
				c = d.c
			}
			l.mu.Unlock()
		}
		if c == nil {
			return nil
		}
		if cw, ok := c.(interface{ CloseWrite() error }); ok && !ev.RST {
			cw.CloseWrite()
		} else {
			c.Close()
		}
	}
	return nil
}

// rewrite puts the replayer's own data address into PORT and EPRT commands that named the captured
// client (normalisation "client-data-address"), listening there for the server's connection.
func (l *live) rewrite(ctx context.Context, seg []byte) []byte {
	line := strings.TrimRight(string(seg), "\r\n")
	end := seg[len(line):]
	verb, arg, ok := strings.Cut(line, " ")
	if !ok {
		return seg
	}
	up := strings.ToUpper(verb)
	var ap netip.AddrPort
	var err error
	switch up {
	case "PORT":
		ap, err = ftp.ParsePORT(strings.TrimSpace(arg))
	case "EPRT":
		ap, err = ftp.ParseEPRT(strings.TrimSpace(arg))
	default:
		return seg
	}
	if err != nil || ap.Addr().Unmap() != l.s.Client.Addr().Unmap() && !(up == "EPRT" && ap.Addr().Is6() == l.s.Client.Addr().Is6()) {
		return seg // names another host: sent as captured
	}
	local := ftp.AddrPortOf(l.ctl.LocalAddr())
	if ap.Addr().Is4() != local.Addr().Is4() {
		return seg // the other family than the control connection: sent as captured
	}
	p, ok := l.listeners[ap.Port()]
	if !ok {
		ln, err := l.o.Net.Listen(ctx, netip.AddrPortFrom(local.Addr(), 0))
		if err != nil {
			return seg
		}
		p = &plistener{ln: ln}
		l.listeners[ap.Port()] = p
		go l.acceptLoop(p)
	}
	mine := ftp.AddrPortOf(p.ln.Addr())
	mine = netip.AddrPortFrom(local.Addr(), mine.Port())
	var repl string
	if up == "PORT" {
		repl = ftp.FormatPORT(mine, strings.Contains(arg, ",0") && len(strings.Split(arg, ",")[0]) == 3)
	} else {
		repl = ftp.FormatEPRT(mine)
	}
	out := verb + " " + repl
	if out != line {
		l.norm["client-data-address"]++
	}
	return append([]byte(out), end...)
}

// expect waits for what the capture shows after a step and compares the control lines.
func (l *live) expect(ctx context.Context, n int, st *step, start, want int) {
	w := l.o.wait()
	l.until(ctx, w, func() bool { return len(l.ctlLines)-start >= want || l.ctlEOF })
	if want == 0 && st.action.Kind == ClientData && st.action.Conn == 0 {
		// the captured server did not answer: watch for an answer anyway
		l.until(ctx, l.o.quiet(), func() bool { return len(l.ctlLines) > start || l.ctlEOF })
	}
	for _, ev := range st.expects {
		switch ev.Kind {
		case ServerConnect:
			l.acceptData(ctx, n, ev)
		case ServerData:
			l.mu.Lock()
			d := l.data[ev.Conn]
			if d != nil {
				d.want = append(d.want, ev.Data...)
			}
			l.mu.Unlock()
			if d != nil {
				need := len(d.want)
				l.until(ctx, w, func() bool { return len(d.got) >= need || d.eof })
			}
		case ServerClose:
			if ev.Conn == 0 {
				if !l.until(ctx, w, func() bool { return l.ctlEOF }) {
					l.diff(n, st.command, "close", "the server closes the control connection", fmt.Sprintf("still open after %v", w))
				}
				continue
			}
			l.mu.Lock()
			d := l.data[ev.Conn]
			l.mu.Unlock()
			if d != nil && !l.until(ctx, w, func() bool { return d.eof }) {
				l.diff(n, st.command, "close", fmt.Sprintf("the server closes data connection %d", ev.Conn), fmt.Sprintf("still open after %v", w))
			}
		}
	}
}

func (l *live) acceptData(ctx context.Context, n int, ev Event) {
	cl := l.s.DataClient[ev.Conn]
	p, ok := l.listeners[cl.Port()]
	if !ok {
		l.diff(n, "", "data-connection", "server connects to the client's PORT/EPRT address "+cl.String(), "no PORT/EPRT to that address was replayed")
		return
	}
	idx := p.used
	if !l.until(ctx, l.o.wait(), func() bool { return len(p.accepted) > idx }) {
		l.diff(n, "", "data-connection", "server connects to the PORT/EPRT address", fmt.Sprintf("no connection within %v", l.o.wait()))
		return
	}
	l.mu.Lock()
	l.data[ev.Conn] = p.accepted[idx]
	p.used++
	l.mu.Unlock()
}

var (
	re227 = regexp.MustCompile(`^227 (.*\()(\d+,\d+,\d+,\d+),(\d+),(\d+)(\).*)$`)
	re229 = regexp.MustCompile(`^229 (.*\(\|\|\|)(\d+)(\|\).*)$`)
)

// compareLines compares a step's reply lines, normalising only what cannot match: the port (and
// with another device, the address) in 227 and 229 replies.
func (l *live) compareLines(n int, st *step, wantLines, got []string) {
	for i := 0; i < max(len(wantLines), len(got)); i++ {
		switch {
		case i >= len(got):
			l.diff(n, st.command, "reply", wantLines[i], "(no reply)")
			continue
		case i >= len(wantLines):
			l.diff(n, st.command, "reply", "(no reply)", got[i])
			continue
		}
		want, have := wantLines[i], got[i]
		l.res.Replies++
		if want == have {
			continue
		}
		if w, g, ok := l.normalisePassive(want, have); ok && w == g {
			continue
		}
		l.diff(n, st.command, "reply", want, have)
	}
}

func (l *live) normalisePassive(want, have string) (string, string, bool) {
	// the line ends must match as they are; the patterns see the lines without them
	wb, we := cutLineEnd(want)
	hb, he := cutLineEnd(have)
	if we != he {
		return want, have, false
	}
	want, have = wb, hb
	if m, h := re227.FindStringSubmatch(want), re227.FindStringSubmatch(have); m != nil && h != nil {
		if m[1] != h[1] || m[5] != h[5] {
			return want, have, false
		}
		if m[2] != h[2] {
			// only the server's own address stands in for the captured one: any other is an answer
			// that would send the client elsewhere
			if a, ok := dotted(h[2]); !ok || a != l.o.V4.Addr() {
				return want, have, false
			}
			l.norm["227-address"]++
		}
		if m[3] != h[3] || m[4] != h[4] {
			l.norm["227-port"]++
		}
		return "", "", true
	}
	if m, h := re229.FindStringSubmatch(want), re229.FindStringSubmatch(have); m != nil && h != nil {
		if m[1] != h[1] || m[3] != h[3] {
			return want, have, false
		}
		l.norm["229-port"]++
		return "", "", true
	}
	return want, have, false
}

// finish compares the data connections and how the control connection ended.
func (l *live) finish(ctx context.Context, steps []*step) {
	n := len(steps)
	capturedClose := false
	for _, ev := range l.s.Events {
		if ev.Kind == ServerClose && ev.Conn == 0 {
			capturedClose = true
		}
	}
	if !capturedClose {
		if l.until(ctx, l.o.quiet(), func() bool { return l.ctlEOF }) {
			l.diff(n, lastCommand(steps), "close", "the server keeps the control connection open (the capture ends)", "the server closed the control connection")
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for k := 1; k <= l.s.DataConns; k++ {
		d := l.data[k]
		if d == nil {
			continue
		}
		l.res.DataConns++
		want, got := d.want, d.got
		if bytes.Equal(want, got) {
			l.res.DataBytes += len(got)
			continue
		}
		if w, g := l.normaliseList(want), l.normaliseList(got); w != nil && bytes.Equal(w, g) {
			l.res.DataBytes += len(got)
			l.norm["list-dates"] += countDiffLines(want, got)
			continue
		}
		l.diff(n, fmt.Sprintf("data connection %d (%s)", k, l.s.DataPeer[k]), "data",
			describe(want), describe(got))
	}
	for port, p := range l.listeners {
		for i := p.used; i < len(p.accepted); i++ {
			l.diff(n, "", "data-connection", "no connection to the PORT/EPRT address for captured port "+strconv.Itoa(int(port)),
				fmt.Sprintf("the server connected and sent %s", describe(p.accepted[i].got)))
		}
	}
}

func lastCommand(steps []*step) string {
	for i := len(steps) - 1; i >= 0; i-- {
		if steps[i].command != "" {
			return steps[i].command
		}
	}
	return ""
}

var listLineRE = regexp.MustCompile(`^([-d][-rwx]{9} +\d+ \S+ \S+ +\d+ )([A-Z][A-Za-z]{2} [ \d]\d (?:\d\d:\d\d| \d{4}))( .*)$`)

// normaliseList masks the dates of a body made of LIST lines (normalisation "list-dates"); nil when
// the body is not a listing.
func (l *live) normaliseList(b []byte) []byte {
	if len(b) == 0 || !bytes.HasSuffix(b, []byte("\r\n")) {
		return nil
	}
	var out bytes.Buffer
	for _, line := range strings.SplitAfter(string(b), "\r\n") {
		if line == "" {
			continue
		}
		m := listLineRE.FindStringSubmatch(strings.TrimSuffix(line, "\r\n"))
		if m == nil {
			return nil
		}
		out.WriteString(m[1] + "MON DD HH:MM" + m[3] + "\r\n")
	}
	return out.Bytes()
}

func countDiffLines(a, b []byte) int {
	la, lb := strings.Split(string(a), "\r\n"), strings.Split(string(b), "\r\n")
	n := 0
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			n++
		}
	}
	return n
}

func describe(b []byte) string {
	if len(b) <= 120 {
		return fmt.Sprintf("%d bytes %q", len(b), b)
	}
	return fmt.Sprintf("%d bytes %q...", len(b), b[:120])
}

// cutLineEnd splits a reply line into its text and its line end (CRLF, LF or none).
func cutLineEnd(s string) (string, string) {
	switch {
	case strings.HasSuffix(s, "\r\n"):
		return s[:len(s)-2], "\r\n"
	case strings.HasSuffix(s, "\n"):
		return s[:len(s)-1], "\n"
	}
	return s, ""
}

// dotted reads the four comma-separated numbers of a 227 address.
func dotted(s string) (netip.Addr, bool) {
	var b [4]byte
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return netip.Addr{}, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 255 {
			return netip.Addr{}, false
		}
		b[i] = byte(n)
	}
	return netip.AddrFrom4(b), true
}
