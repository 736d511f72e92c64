package ftpcheck

import (
	"bufio"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/netxsim/netxsim/internal/junit"
)

// WriteJSON writes the whole report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error { return WriteJSON(w, r) }

// WriteJSON writes v as indented JSON: the form of the JSON reports here and in replay.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("writing JSON report: %w", err)
	}
	return nil
}

func statusWord(s Status) string { return strings.ToUpper(string(s)) }

func offset(s *Session, m Mark) string {
	if !m.Seen() || s.Open.Time.IsZero() {
		return "         "
	}
	return fmt.Sprintf("%+9.6f", m.Time.Sub(s.Open.Time).Seconds())
}

// WriteText writes a human summary: per session a ladder of events, the transfers and the checks.
func (r *Report) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	writeTextSummary(bw, r)
	for _, s := range r.Sessions {
		writeSessionText(bw, s)
	}
	return bw.Flush()
}

// writeTextSummary is the capture line, the counts and the capture-level checks.
func writeTextSummary(bw io.Writer, r *Report) {
	c := r.Capture
	fmt.Fprintf(bw, "capture: %s, %d packets, %d TCP connections, %s .. %s\n", c.Format, c.Packets, c.Connections,
		c.First.UTC().Format(time.RFC3339Nano), c.Last.UTC().Format(time.RFC3339Nano))
	fmt.Fprintf(bw, "%d FTP sessions, %d violations, %d warnings\n", r.SessionCount, r.Violations, r.Warnings)
	if r.Strict {
		fmt.Fprintln(bw, "mode: strict (the seed's sequence to the letter: a session without QUIT fails)")
	} else {
		fmt.Fprintln(bw, "mode: lenient (a session closed without QUIT is a warning; --strict makes it a failure)")
	}
	for _, ch := range r.Checks {
		writeCheck(bw, ch, "")
	}
}

// writeSessionText is one session's block: its ladder, transfers, checks and verdict.
func writeSessionText(bw io.Writer, s *Session) {
	fmt.Fprintf(bw, "\n%s  (%s, profile %s from %s", s.Name(), ipVersion(s), s.Profile, s.ProfileSource)
	if s.User != "" {
		fmt.Fprintf(bw, ", user %q", s.User)
	}
	fmt.Fprintln(bw, ")")
	for _, e := range s.Events {
		arrow := "client --> server"
		switch {
		case strings.HasPrefix(e.Kind, "data") && e.From == "client":
			arrow = "client ==> server"
		case strings.HasPrefix(e.Kind, "data"):
			arrow = "client <== server"
		case e.From == "server":
			arrow = "client <-- server"
		}
		mark := " "
		if e.Fail {
			mark = "!"
		}
		fmt.Fprintf(bw, "  %s %6d %s %s %s\n", offset(s, e.At), e.At.Packet, mark, arrow, e.Text)
	}
	if len(s.Transfers) > 0 {
		fmt.Fprintln(bw, "  transfers:")
		for _, t := range s.Transfers {
			fmt.Fprintf(bw, "    %-24s %-7s %-4s %-8d bytes  %d/%d", clip(trName(t), 24), or(t.Mode, "-"), or(t.Setup, "-"), t.Bytes, t.Prelim, t.Final)
			if t.Data != nil {
				fmt.Fprintf(bw, "  data %d %s -> %s (%s)  sha256 %s", t.Data.ID, t.Data.Initiator, t.Data.Responder, t.Data.End, t.SHA256)
			} else {
				fmt.Fprint(bw, "  no data connection")
			}
			fmt.Fprintln(bw)
		}
	}
	fmt.Fprintln(bw, "  checks:")
	for _, ch := range s.Checks {
		writeCheck(bw, ch, "    ")
	}
	verdict := "PASS"
	if !s.Passed() {
		verdict = fmt.Sprintf("FAIL (%d failed checks)", s.Violations)
	}
	fmt.Fprintf(bw, "  verdict: %s\n", verdict)
}

func or(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func ipVersion(s *Session) string {
	if s.IPv6 {
		return "IPv6"
	}
	return "IPv4"
}

func writeCheck(w io.Writer, ch Check, indent string) {
	if ch.Status == StatusSkip {
		fmt.Fprintf(w, "%s%-4s %s\n", indent, statusWord(ch.Status), ch.Name)
		return
	}
	fmt.Fprintf(w, "%s%-4s %s", indent, statusWord(ch.Status), ch.Name)
	if ch.Status == StatusFail && len(ch.Messages) == 0 {
		ch.Messages = []string{"(the check failed without saying why: please report this)"}
	}
	if len(ch.Messages) == 1 && len(ch.Notes) == 0 {
		fmt.Fprintf(w, ": %s\n", ch.Messages[0])
		return
	}
	fmt.Fprintln(w)
	for _, m := range ch.Messages {
		fmt.Fprintf(w, "%s     - %s\n", indent, m)
	}
	for _, m := range ch.Notes {
		fmt.Fprintf(w, "%s     . %s\n", indent, m)
	}
}

func checkCase(class string, ch Check) junit.Case {
	c := junit.Case{Name: ch.Name, Classname: class, Time: "0"}
	all := append(append([]string{}, ch.Messages...), ch.Notes...)
	switch ch.Status {
	case StatusFail:
		c.Failure = &junit.Failure{Message: ch.Messages[0], Type: ch.Name, Text: strings.Join(ch.Messages, "\n")}
		if len(ch.Notes) > 0 {
			c.SystemOut = strings.Join(ch.Notes, "\n")
		}
	case StatusSkip:
		c.Skipped = &struct{}{}
	default:
		if len(all) > 0 {
			c.SystemOut = string(ch.Status) + ": " + strings.Join(all, "\n")
		}
	}
	return c
}

// WriteJUnit writes JUnit XML: a suite "sessions" with a test case per session, then a suite per
// session with a test case per check, and a suite for the capture-level checks.
func (r *Report) WriteJUnit(w io.Writer) error {
	root := junit.Suites{Name: "ftpcheck"}
	sessions := junit.Suite{Name: "sessions"}
	var per []junit.Suite
	for _, s := range r.Sessions {
		sc, suite := sessionJUnit(s)
		sessions.Add(sc)
		per = append(per, suite)
	}
	root.Suites = append([]junit.Suite{captureJUnit(r), sessions}, per...)
	return root.Write(w)
}

func captureJUnit(r *Report) junit.Suite {
	capSuite := junit.Suite{Name: "capture"}
	for _, ch := range r.Checks {
		capSuite.Add(checkCase("ftpcheck.capture", ch))
	}
	return capSuite
}

// sessionJUnit is a session's case in the "sessions" suite and its own suite of checks.
func sessionJUnit(s *Session) (junit.Case, junit.Suite) {
	class := fmt.Sprintf("ftpcheck.session%d", s.ID)
	sc := junit.Case{Name: s.Name(), Classname: "ftpcheck.sessions", Time: seconds(s)}
	var failed []string
	for _, ch := range s.Checks {
		if ch.Status == StatusFail {
			failed = append(failed, ch.Name+": "+strings.Join(ch.Messages, "; "))
		}
	}
	if len(failed) > 0 {
		sc.Failure = &junit.Failure{Message: fmt.Sprintf("%d checks failed", len(failed)), Type: "session", Text: strings.Join(failed, "\n")}
	}
	suite := junit.Suite{Name: s.Name()}
	if !s.Open.Time.IsZero() {
		suite.Timestamp = s.Open.Time.UTC().Format("2006-01-02T15:04:05")
	}
	for _, ch := range s.Checks {
		suite.Add(checkCase(class, ch))
	}
	return sc, suite
}

func seconds(s *Session) string {
	end := s.Close
	if !end.Seen() && len(s.Events) > 0 {
		end = s.Events[len(s.Events)-1].At
	}
	if !end.Seen() || s.Open.Time.IsZero() {
		return "0"
	}
	return fmt.Sprintf("%.6f", max(end.Time.Sub(s.Open.Time).Seconds(), 0))
}

// WriteSVGDir writes one SVG sequence diagram per session into dir (created if missing), named
// session-N.svg, and returns the paths written.
func (r *Report) WriteSVGDir(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating SVG directory: %w", err)
	}
	var paths []string
	for _, s := range r.Sessions {
		p, err := writeSVGFile(dir, s)
		if err != nil {
			return paths, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

func writeSVGFile(dir string, s *Session) (string, error) {
	p := filepath.Join(dir, fmt.Sprintf("session-%d.svg", s.ID))
	f, err := os.Create(p)
	if err != nil {
		return "", fmt.Errorf("writing SVG: %w", err)
	}
	err = WriteSVG(f, s)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("writing %s: %w", p, err)
	}
	return p, nil
}

func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// WriteSVG draws one session as a sequence diagram: client and server columns, commands and replies
// as arrows, data connections as thick dashed arrows, violations in red, the checks underneath.
func WriteSVG(w io.Writer, s *Session) error {
	const (
		left, clientX, serverX, width = 10, 230, 730, 960
		top, row                      = 80, 26
	)
	var failing []Check
	for _, ch := range s.Checks {
		if ch.Status == StatusFail || ch.Status == StatusWarn {
			failing = append(failing, ch)
		}
	}
	lines := 0
	for _, ch := range failing {
		lines += 1 + len(ch.Messages)
	}
	height := top + row*(len(s.Events)+1) + 40 + 18*lines + 20
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="monospace" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintln(bw, `<defs><marker id="a" markerWidth="10" markerHeight="8" refX="9" refY="4" orient="auto"><path d="M0,0 L10,4 L0,8 z" fill="#333"/></marker>`+
		`<marker id="r" markerWidth="10" markerHeight="8" refX="9" refY="4" orient="auto"><path d="M0,0 L10,4 L0,8 z" fill="#c00"/></marker></defs>`)
	fmt.Fprintf(bw, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	verdict, vcolor := "PASS", "#070"
	if !s.Passed() {
		verdict, vcolor = fmt.Sprintf("FAIL: %d failed checks", s.Violations), "#c00"
	}
	fmt.Fprintf(bw, `<text x="%d" y="20" font-size="14" font-weight="bold">%s</text>`+"\n", left, esc(s.Name()))
	fmt.Fprintf(bw, `<text x="%d" y="38">%s, profile %s  <tspan fill="%s" font-weight="bold">%s</tspan></text>`+"\n", left, ipVersion(s), esc(string(s.Profile)), vcolor, esc(verdict))
	bottom := top + row*len(s.Events)
	for _, col := range []struct {
		x    int
		name string
	}{{clientX, "client " + s.Client.String()}, {serverX, "server " + s.Server.String()}} {
		fmt.Fprintf(bw, `<text x="%d" y="%d" text-anchor="middle" font-weight="bold">%s</text>`+"\n", col.x, top-20, esc(col.name))
		fmt.Fprintf(bw, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#999"/>`+"\n", col.x, top-12, col.x, bottom)
	}
	for i, e := range s.Events {
		y := top + row*i + 14
		x1, x2 := clientX, serverX
		if e.From == "server" {
			x1, x2 = serverX, clientX
		}
		color, marker, dash, sw := "#333", "a", "", 1
		if strings.HasPrefix(e.Kind, "data") {
			color, dash, sw = "#06c", ` stroke-dasharray="6,3"`, 3
		}
		if e.Kind == "connect" || e.Kind == "close" || e.Kind == "reset" {
			color = "#777"
		}
		if e.Fail || e.Kind == "reset" {
			color, marker = "#c00", "r"
		}
		fmt.Fprintf(bw, `<text x="%d" y="%d" fill="#666">%s #%d</text>`+"\n", left, y, esc(strings.TrimSpace(offset(s, e.At))), e.At.Packet)
		fmt.Fprintf(bw, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="%d"%s marker-end="url(#%s)"/>`+"\n", x1, y, x2, y, color, sw, dash, marker)
		fmt.Fprintf(bw, `<text x="%d" y="%d" text-anchor="middle" fill="%s">%s</text>`+"\n", (clientX+serverX)/2, y-4, color, esc(clip(e.Text, 70)))
	}
	y := bottom + 30
	for _, ch := range failing {
		color := "#c00"
		if ch.Status == StatusWarn {
			color = "#a60"
		}
		fmt.Fprintf(bw, `<text x="%d" y="%d" fill="%s" font-weight="bold">%s %s</text>`+"\n", left, y, color, statusWord(ch.Status), esc(ch.Name))
		y += 18
		for _, m := range ch.Messages {
			fmt.Fprintf(bw, `<text x="%d" y="%d" fill="%s">%s</text>`+"\n", left+20, y, color, esc(clip(m, 130)))
			y += 18
		}
	}
	fmt.Fprintln(bw, "</svg>")
	return bw.Flush()
}
