package replay

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/ftp/ftpcheck"
	"github.com/netxsim/netxsim/internal/junit"
)

// Difference is one place where the replayed server did not do what the captured one did.
type Difference struct {
	Step     int    `json:"step"`
	Command  string `json:"command,omitempty"` // the control line sent at that step
	Kind     string `json:"kind"`              // reply, data, data-connection, close, send
	Expected string `json:"expected"`
	Got      string `json:"got"`
	// Excuse names the documented deliberate difference this is (or follows from); empty for a real one.
	Excuse string `json:"excuse,omitempty"`
}

// SessionResult is the replay of one captured session.
type SessionResult struct {
	ID          int            `json:"id"`
	Client      string         `json:"client"`
	Server      string         `json:"server"`
	Steps       int            `json:"steps"`
	Replies     int            `json:"replies"` // reply lines compared
	DataConns   int            `json:"data_connections"`
	DataBytes   int            `json:"data_bytes"` // bytes of data connections that matched
	Differences []Difference   `json:"differences"`
	Normalised  map[string]int `json:"normalised,omitempty"`
	Error       string         `json:"error,omitempty"` // the replay could not go on
}

// Report is the replay of a whole capture.
type Report struct {
	Capture    string           `json:"capture"`
	Target     string           `json:"target"`
	Profile    ftp.Profile      `json:"profile,omitempty"`
	Sessions   []*SessionResult `json:"sessions"`
	Steps      int              `json:"steps"`
	Replies    int              `json:"replies"`
	DataConns  int              `json:"data_connections"`
	Real       int              `json:"differences"` // differences no documented exception explains
	Excused    int              `json:"excused"`     // documented deliberate differences
	Normalised map[string]int   `json:"normalised"`  // name -> how often it changed something
}

// Failed reports whether the replay found a real difference or could not finish a session.
func (r *Report) Failed() bool {
	if r.Real > 0 {
		return true
	}
	for _, s := range r.Sessions {
		if s.Error != "" {
			return true
		}
	}
	return false
}

// Run replays every session of sc, one after the other, in capture order.
func Run(ctx context.Context, sc *Script, o Options) *Report {
	rep := &Report{Profile: o.Profile, Normalised: map[string]int{}}
	for _, s := range sc.Sessions {
		res := runSession(ctx, &o, s)
		excuse(o.Profile, s, res)
		rep.Sessions = append(rep.Sessions, res)
		rep.Steps += res.Steps
		rep.Replies += res.Replies
		rep.DataConns += res.DataConns
		for _, d := range res.Differences {
			if d.Excuse != "" {
				rep.Excused++
			} else {
				rep.Real++
			}
		}
		for k, v := range res.Normalised {
			rep.Normalised[k] += v
		}
	}
	return rep
}

// Excuses are the documented deliberate differences of the NetX-like profiles from the real NetX
// Duo 6.4.2 (docs/ftp-server.md): a difference they explain, and everything after it in the same
// session, is reported as excused instead of failing the replay.
var Excuses = map[string]string{
	"pass-without-user": "PASS without USER is refused (530); NetX 6.4.2 logs in with the user name the previous connection left in the session slot (a security defect)",
	"rnto-crash":        "RNTO without a pending RNFR: NetX 6.4.2 dereferences a NULL pointer and the device dies (no reply, no close); netxsim logs the defect and closes the session",
}

// excuse marks the differences the profile's deliberate exceptions explain.
func excuse(p ftp.Profile, s *Session, res *SessionResult) {
	if !p.NetXLike() || p == "" {
		return
	}
	steps := buildSteps(s)
	user := false
	rnfr := false
	cause := ""
	causeStep := 0
	// find the first step where an exception applies
	for i, st := range steps {
		verb, _, _ := strings.Cut(st.command, " ")
		switch strings.ToUpper(verb) {
		case "USER":
			user = true
		case "PASS":
			if !user && cause == "" {
				cause, causeStep = "pass-without-user", i+1
			}
		case "RNFR":
			rnfr = len(st.lines) > 0 && strings.HasPrefix(st.lines[0], "350")
			continue
		case "RNTO":
			if !rnfr && len(st.lines) == 0 && cause == "" {
				cause, causeStep = "rnto-crash", i+1
			}
		}
		rnfr = false
	}
	if cause == "" {
		return
	}
	for i := range res.Differences {
		if res.Differences[i].Step >= causeStep {
			res.Differences[i].Excuse = cause
		}
	}
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error { return ftpcheck.WriteJSON(w, r) }

// WriteText writes a human-readable report: every session and every difference.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "replay of %s against %s", r.Capture, r.Target)
	if r.Profile != "" {
		fmt.Fprintf(&b, " (profile %s)", r.Profile)
	}
	b.WriteString("\n")
	for _, s := range r.Sessions {
		real, exc := 0, 0
		for _, d := range s.Differences {
			if d.Excuse == "" {
				real++
			} else {
				exc++
			}
		}
		verdict := "SAME"
		if real > 0 || s.Error != "" {
			verdict = "DIFFERENT"
		}
		fmt.Fprintf(&b, "session %d  %s -> %s: %d steps, %d reply lines, %d data connections: %s", s.ID, s.Client, s.Server, s.Steps, s.Replies, s.DataConns, verdict)
		if exc > 0 {
			fmt.Fprintf(&b, " (%d excused)", exc)
		}
		b.WriteString("\n")
		if s.Error != "" {
			fmt.Fprintf(&b, "  replay stopped: %s\n", s.Error)
		}
		for _, d := range s.Differences {
			tag := "DIFF"
			if d.Excuse != "" {
				tag = "EXCUSED " + d.Excuse
			}
			fmt.Fprintf(&b, "  %s step %d %s", tag, d.Step, d.Kind)
			if d.Command != "" {
				fmt.Fprintf(&b, " after %q", clip(d.Command, 60))
			}
			fmt.Fprintf(&b, "\n    capture: %s\n    replay:  %s\n", clip(strings.TrimRight(d.Expected, "\r\n"), 200), clip(strings.TrimRight(d.Got, "\r\n"), 200))
		}
	}
	fmt.Fprintf(&b, "normalised:")
	if len(r.Normalised) == 0 {
		b.WriteString(" nothing")
	}
	for _, k := range slices.Sorted(maps.Keys(r.Normalised)) {
		fmt.Fprintf(&b, " %s=%d", k, r.Normalised[k])
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// Summary is the one-line verdict.
func (r *Report) Summary() string {
	verdict := "PASS"
	if r.Failed() {
		verdict = "FAIL"
	}
	return fmt.Sprintf("%s: %d differences, %d excused, in %d sessions (%d steps, %d reply lines, %d data connections compared)",
		verdict, r.Real, r.Excused, len(r.Sessions), r.Steps, r.Replies, r.DataConns)
}

// WriteJUnit writes one test case per session.
func (r *Report) WriteJUnit(w io.Writer) error {
	suite := junit.Suite{Name: "netxsim replay " + r.Capture}
	for _, s := range r.Sessions {
		c := junit.Case{Name: fmt.Sprintf("session %d %s -> %s", s.ID, s.Client, s.Server), Classname: "replay"}
		var msgs []string
		var excused []string
		for _, d := range s.Differences {
			line := fmt.Sprintf("step %d %s after %q: capture %q, replay %q", d.Step, d.Kind, d.Command, d.Expected, d.Got)
			if d.Excuse != "" {
				excused = append(excused, d.Excuse+": "+line)
			} else {
				msgs = append(msgs, line)
			}
		}
		if s.Error != "" {
			msgs = append(msgs, "replay stopped: "+s.Error)
		}
		if len(msgs) > 0 {
			c.Failure = &junit.Failure{Message: fmt.Sprintf("%d differences", len(msgs)), Type: "difference", Text: strings.Join(msgs, "\n")}
		}
		if len(excused) > 0 {
			c.SystemOut = "excused (documented deliberate differences):\n" + strings.Join(excused, "\n")
		}
		suite.Add(c)
	}
	doc := junit.Suites{Name: "netxsim replay", Suites: []junit.Suite{suite}}
	return doc.Write(w)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
