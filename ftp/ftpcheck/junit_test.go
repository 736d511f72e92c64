package ftpcheck

import (
	"bytes"
	"encoding/xml"
	"testing"

	"github.com/netxsim/netxsim/ftp/ftpcheck/capgen"
)

// TestJUnitCounts parses the JUnit XML back and checks every count against the test cases.
func TestJUnitCounts(t *testing.T) {
	data := build(t, func(c *capgen.Capture) {
		for _, f := range faults()[:3] {
			f.script(c)
		}
		cleanSession(c, c4, s4, "EPSV")
	})
	rep := analyze(t, data, Options{})
	var buf bytes.Buffer
	if err := rep.WriteJUnit(&buf); err != nil {
		t.Fatal(err)
	}
	type tc struct {
		Name    string    `xml:"name,attr"`
		Failure *struct{} `xml:"failure"`
		Skipped *struct{} `xml:"skipped"`
	}
	type suite struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Skipped  int    `xml:"skipped,attr"`
		Cases    []tc   `xml:"testcase"`
	}
	var root struct {
		XMLName  xml.Name `xml:"testsuites"`
		Tests    int      `xml:"tests,attr"`
		Failures int      `xml:"failures,attr"`
		Skipped  int      `xml:"skipped,attr"`
		Suites   []suite  `xml:"testsuite"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &root); err != nil {
		t.Fatalf("JUnit is not well-formed XML: %v\n%s", err, buf.String())
	}
	if len(root.Suites) != 2+len(rep.Sessions) {
		t.Fatalf("%d suites for %d sessions", len(root.Suites), len(rep.Sessions))
	}
	tests, fails, skips := 0, 0, 0
	for _, s := range root.Suites {
		f, k := 0, 0
		for _, c := range s.Cases {
			if c.Failure != nil {
				f++
			}
			if c.Skipped != nil {
				k++
			}
		}
		if s.Tests != len(s.Cases) || s.Failures != f || s.Skipped != k {
			t.Errorf("suite %q: tests=%d failures=%d skipped=%d, cases say %d/%d/%d", s.Name, s.Tests, s.Failures, s.Skipped, len(s.Cases), f, k)
		}
		tests, fails, skips = tests+s.Tests, fails+s.Failures, skips+s.Skipped
	}
	if root.Tests != tests || root.Failures != fails || root.Skipped != skips {
		t.Errorf("root counts %d/%d/%d, suites sum to %d/%d/%d", root.Tests, root.Failures, root.Skipped, tests, fails, skips)
	}
	// one failing session case per faulty session, one failing check case per fault
	sessions := root.Suites[1]
	if sessions.Tests != 4 || sessions.Failures != 3 {
		t.Errorf("sessions suite: %d tests, %d failures; want 4 and 3", sessions.Tests, sessions.Failures)
	}
	if fails != 3+rep.Violations {
		t.Errorf("failures %d, want 3 session cases + %d violations", fails, rep.Violations)
	}
	if rep.Violations != 3 {
		t.Errorf("violations %d, want 3", rep.Violations)
	}
	for i, s := range root.Suites[2:] {
		if s.Tests != len(Checks) {
			t.Errorf("session suite %d: %d cases, want one per check (%d)", i, s.Tests, len(Checks))
		}
	}
}
