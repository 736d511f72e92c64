package scenario

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/netxsim/netxsim/ftp/ftpcheck"
	"github.com/netxsim/netxsim/internal/junit"
)

func secs(d time.Duration) string { return fmt.Sprintf("%.6f", d.Seconds()) }

// WriteJUnit writes the run as JUnit XML: a suite for the scenario (a test case per step and per
// expectation), one for the capture-level checks, and one per FTP session (a test case per check). A
// check that fails as the scenario expects is a passing test case, its messages in system-out.
func (res *Result) WriteJUnit(w io.Writer) error {
	root := junit.Suites{Name: "netxsim scenario " + res.Scenario, Time: secs(res.Elapsed)}
	main := junit.Suite{Name: "scenario " + res.Scenario}
	class := "netxsim.scenario." + res.Scenario
	for _, st := range res.Steps {
		c := junit.Case{Name: fmt.Sprintf("step %d: %s", st.Index, st.Name), Classname: class, Time: secs(st.Elapsed)}
		var ops []string
		for _, op := range st.Ops {
			line := op.Op
			if op.Bytes > 0 && op.SHA256 != "" {
				line += fmt.Sprintf(" (%d bytes, sha256 %s)", op.Bytes, op.SHA256)
			}
			if op.Error != "" {
				line += ": " + op.Error
			}
			ops = append(ops, line)
		}
		c.SystemOut = strings.Join(ops, "\n")
		if !st.OK {
			c.Failure = &junit.Failure{Message: st.Error, Type: "step", Text: st.Error}
		}
		main.Add(c)
	}
	for _, o := range res.Expectations {
		c := junit.Case{Name: "expect " + o.Name, Classname: class, Time: "0", SystemOut: o.Detail}
		if !o.OK {
			c.Failure = &junit.Failure{Message: o.Detail, Type: "expectation", Text: o.Detail}
			c.SystemOut = ""
		}
		main.Add(c)
	}
	root.Suites = append(root.Suites, main)
	if rep := res.Report; rep != nil {
		capSuite := junit.Suite{Name: "capture"}
		for _, ch := range rep.Checks {
			capSuite.Add(res.checkCase("ftpcheck.capture", ch))
		}
		root.Suites = append(root.Suites, capSuite)
		for _, s := range rep.Sessions {
			suite := junit.Suite{Name: s.Name()}
			cl := fmt.Sprintf("ftpcheck.session%d", s.ID)
			for _, ch := range s.Checks {
				suite.Add(res.checkCase(cl, ch))
			}
			root.Suites = append(root.Suites, suite)
		}
	}
	return root.Write(w)
}

func (res *Result) checkCase(class string, ch ftpcheck.Check) junit.Case {
	c := junit.Case{Name: ch.Name, Classname: class, Time: "0"}
	all := append(append([]string{}, ch.Messages...), ch.Notes...)
	switch {
	case ch.Status == ftpcheck.StatusFail && res.expected[ch.Name]:
		c.SystemOut = "expected violation: " + strings.Join(all, "\n")
	case ch.Status == ftpcheck.StatusFail:
		msg := "failed"
		if len(ch.Messages) > 0 {
			msg = ch.Messages[0]
		}
		c.Failure = &junit.Failure{Message: msg, Type: ch.Name, Text: strings.Join(all, "\n")}
	case ch.Status == ftpcheck.StatusSkip:
		c.Skipped = &struct{}{}
	case len(all) > 0:
		c.SystemOut = string(ch.Status) + ": " + strings.Join(all, "\n")
	}
	return c
}

// WriteTable prints the compact summary: one row per FTP session found in the capture, with its
// transfers and verdict, then the steps that failed, the expectations and where the artifacts are.
func (res *Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tclient -> server\tip\tmode\tsetup\ttransfers\tverdict")
	if rep := res.Report; rep != nil {
		for _, s := range rep.Sessions {
			mode, setup := "-", "-"
			var trs []string
			for _, t := range s.Transfers {
				if t.Mode != "" {
					mode = t.Mode
				}
				if t.Setup != "" {
					setup = t.Setup
				}
				tr := t.Verb
				if t.Verb == "RETR" || t.Verb == "STOR" || t.Verb == "APPE" {
					tr += fmt.Sprintf(" %s", humanBytes(t.Bytes))
				}
				trs = append(trs, tr)
			}
			if len(trs) == 0 {
				trs = []string{"-"}
			}
			ip := "v4"
			if s.IPv6 {
				ip = "v6"
			}
			fmt.Fprintf(tw, "%d\t%s -> %s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Client, s.Server, ip, mode, setup,
				strings.Join(trs, ", "), res.sessionVerdict(s))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, st := range res.Steps {
		if !st.OK {
			fmt.Fprintf(w, "step %d %s FAILED: %s\n", st.Index, st.Name, st.Error)
		}
	}
	held := 0
	for _, o := range res.Expectations {
		if o.OK {
			held++
		} else {
			fmt.Fprintf(w, "expectation %s FAILED: %s\n", o.Name, o.Detail)
		}
	}
	stepsOK := 0
	for _, st := range res.Steps {
		if st.OK {
			stepsOK++
		}
	}
	verdict := "PASS"
	if !res.OK {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "%s: %d/%d steps ok, %d/%d expectations hold, %d frames, %s\n", verdict, stepsOK, len(res.Steps),
		held, len(res.Expectations), res.Frames, res.Elapsed.Round(time.Millisecond))
	a := res.Artifacts
	fmt.Fprintf(w, "capture %s\nreport  %s\njson    %s\njunit   %s\nsvg     %s (%d diagrams)\n",
		a.Capture, a.Text, a.JSON, strings.Join(a.JUnit, ", "), a.SVGDir, len(a.SVG))
	for _, im := range a.Images {
		fmt.Fprintf(w, "image   %s\n", im)
	}
	return nil
}

func (res *Result) sessionVerdict(s *ftpcheck.Session) string {
	var bad, exp []string
	for _, ch := range s.Checks {
		if ch.Status != ftpcheck.StatusFail {
			continue
		}
		if res.expected[ch.Name] {
			exp = append(exp, ch.Name)
		} else {
			bad = append(bad, ch.Name)
		}
	}
	switch {
	case len(bad) > 0:
		return "FAIL " + strings.Join(bad, ",")
	case len(exp) > 0:
		return "EXPECTED-FAIL " + strings.Join(exp, ",")
	case s.Warnings > 0:
		if s.Warnings == 1 {
			return "PASS (1 warning)"
		}
		return fmt.Sprintf("PASS (%d warnings)", s.Warnings)
	}
	return "PASS"
}

func humanBytes(n int64) string {
	switch {
	case n >= 10<<20:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 10<<10:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}
