package ftpcheck

import (
	"bufio"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/netxsim/netxsim/internal/junit"
)

// Writer writes the report of one Analyze while it runs: each session as it is handed out
// (Options.OnSession), so that memory does not grow with the capture. Set the outputs wanted, pass
// Options(o) to Analyze, then call Finish with the report; Close removes its temporary files.
//
// The text has the sessions first and the capture's summary last. The JSON is one object with the
// fields of Report ("sessions" first, "capture" and the counts last). The JUnit document's root
// carries totals, so its parts are spooled to temporary files and assembled by Finish.
type Writer struct {
	Text   io.Writer // human summary; nil: none
	JSON   io.Writer // JSON report; nil: none
	JUnit  io.Writer // JUnit XML; nil: none
	SVGDir string    // one SVG per session; "": none

	text          *bufio.Writer
	json          *bufio.Writer
	jsonSessions  int
	others        *os.File // other connections' JSON, spooled until the sessions array is closed
	nOthers       int
	junitCases    *os.File // the "sessions" suite's cases
	junitSuites   *os.File // a suite per session
	junitSessions junit.Suite
	junitPer      junit.Suite // the totals of the per-session suites
	SVGs          int         // SVG files written
}

// Options returns o with OnSession and OnOther set to write to w.
func (w *Writer) Options(o Options) Options {
	o.OnSession = w.Session
	o.OnOther = w.Other
	return o
}

func (w *Writer) start() error {
	if w.Text != nil && w.text == nil {
		w.text = bufio.NewWriter(w.Text)
	}
	if w.JSON != nil && w.json == nil {
		w.json = bufio.NewWriter(w.JSON)
		if _, err := w.json.WriteString("{\n  \"sessions\": ["); err != nil {
			return fmt.Errorf("writing JSON report: %w", err)
		}
	}
	if w.JUnit != nil && w.junitCases == nil {
		var err error
		if w.junitCases, err = os.CreateTemp("", "ftpcheck-junit-*.xml"); err != nil {
			return fmt.Errorf("JUnit report: %w", err)
		}
		if w.junitSuites, err = os.CreateTemp("", "ftpcheck-junit-*.xml"); err != nil {
			return fmt.Errorf("JUnit report: %w", err)
		}
	}
	if w.SVGDir != "" && w.SVGs == 0 {
		if err := os.MkdirAll(w.SVGDir, 0o755); err != nil {
			return fmt.Errorf("creating SVG directory: %w", err)
		}
	}
	return nil
}

// Session writes one session to every output.
func (w *Writer) Session(s *Session) error {
	if err := w.start(); err != nil {
		return err
	}
	if w.text != nil {
		writeSessionText(w.text, s)
	}
	if w.json != nil {
		if err := appendJSON(w.json, &w.jsonSessions, s); err != nil {
			return err
		}
	}
	if w.junitCases != nil {
		sc, suite := sessionJUnit(s)
		w.junitSessions.Tests++ // the counts; the case itself is spooled
		if sc.Failure != nil {
			w.junitSessions.Failures++
		}
		w.junitPer.Tests += suite.Tests
		w.junitPer.Failures += suite.Failures
		w.junitPer.Skipped += suite.Skipped
		if err := encodeXML(w.junitCases, "    ", sc, "testcase"); err != nil {
			return err
		}
		if err := encodeXML(w.junitSuites, "  ", suite, "testsuite"); err != nil {
			return err
		}
	}
	if w.SVGDir != "" {
		if _, err := writeSVGFile(w.SVGDir, s); err != nil {
			return err
		}
		w.SVGs++
	}
	return nil
}

func encodeXML(f *os.File, prefix string, v any, name string) error {
	f.WriteString(prefix)
	enc := xml.NewEncoder(f)
	enc.Indent(prefix, "  ")
	if err := enc.EncodeElement(v, xml.StartElement{Name: xml.Name{Local: name}}); err != nil {
		return fmt.Errorf("JUnit report: %w", err)
	}
	if _, err := f.WriteString("\n"); err != nil {
		return fmt.Errorf("JUnit report: %w", err)
	}
	return nil
}

// Other writes one connection that is neither control nor data (JSON only).
func (w *Writer) Other(d *DataConn) error {
	if w.JSON == nil {
		return nil
	}
	if w.others == nil {
		var err error
		if w.others, err = os.CreateTemp("", "ftpcheck-other-*.json"); err != nil {
			return fmt.Errorf("JSON report: %w", err)
		}
	}
	return appendJSON(w.others, &w.nOthers, d)
}

// appendJSON writes v, indented, as the next element of a JSON array that *n elements precede.
func appendJSON(w io.Writer, n *int, v any) error {
	b, err := json.MarshalIndent(v, "    ", "  ")
	if err != nil {
		return fmt.Errorf("writing JSON report: %w", err)
	}
	sep := ",\n    "
	if *n == 0 {
		sep = "\n    "
	}
	*n++
	if _, err := w.Write(append([]byte(sep), b...)); err != nil {
		return fmt.Errorf("writing JSON report: %w", err)
	}
	return nil
}

// Finish writes what only the end of the capture tells: the summary, the counts, the capture-level
// checks, and the JUnit document.
func (w *Writer) Finish(r *Report) error {
	if err := w.start(); err != nil {
		return err
	}
	// a report made without Options (Sessions kept) is written the same way
	for _, s := range r.Sessions {
		if err := w.Session(s); err != nil {
			return err
		}
	}
	for _, d := range r.Other {
		if err := w.Other(d); err != nil {
			return err
		}
	}
	if w.text != nil {
		fmt.Fprintln(w.text)
		writeTextSummary(w.text, r)
		if err := w.text.Flush(); err != nil {
			return err
		}
	}
	if w.json != nil {
		if err := w.finishJSON(r); err != nil {
			return fmt.Errorf("writing JSON report: %w", err)
		}
	}
	if w.junitCases != nil {
		if err := w.finishJUnit(r); err != nil {
			return fmt.Errorf("writing JUnit report: %w", err)
		}
	}
	return nil
}

func (w *Writer) finishJSON(r *Report) error {
	if w.jsonSessions > 0 {
		w.json.WriteString("\n  ")
	}
	w.json.WriteString("],\n  \"other_connections\": [")
	if w.others != nil {
		if _, err := w.others.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if _, err := io.Copy(w.json, w.others); err != nil {
			return err
		}
		w.json.WriteString("\n  ")
	}
	w.json.WriteString("],\n")
	tail := *r
	tail.Sessions, tail.Other = nil, nil
	b, err := json.MarshalIndent(struct {
		Capture        CaptureSummary `json:"capture"`
		Checks         []Check        `json:"checks"`
		Strict         bool           `json:"strict"`
		Violations     int            `json:"violations"`
		Warnings       int            `json:"warnings"`
		SessionCount   int            `json:"session_count"`
		SessionsPassed int            `json:"sessions_passed"`
	}{tail.Capture, tail.Checks, tail.Strict, tail.Violations, tail.Warnings, tail.SessionCount, tail.SessionsPassed}, "  ", "  ")
	if err != nil {
		return err
	}
	// the fields without the braces of their own object
	inner := strings.TrimSuffix(strings.TrimPrefix(string(b), "{\n"), "\n  }")
	w.json.WriteString(inner)
	if _, err := w.json.WriteString("\n}\n"); err != nil {
		return err
	}
	return w.json.Flush()
}

func (w *Writer) finishJUnit(r *Report) error {
	capSuite := captureJUnit(r)
	root := junit.Suites{Name: "ftpcheck"}
	root.Tests = capSuite.Tests + w.junitSessions.Tests + w.junitPer.Tests
	root.Failures = capSuite.Failures + w.junitSessions.Failures + w.junitPer.Failures
	root.Skipped = capSuite.Skipped + w.junitPer.Skipped

	bw := bufio.NewWriter(w.JUnit)
	bw.WriteString(xml.Header)
	fmt.Fprintf(bw, "<testsuites name=%q tests=\"%d\" failures=\"%d\" errors=\"0\" skipped=\"%d\">\n", root.Name, root.Tests, root.Failures, root.Skipped)
	enc := xml.NewEncoder(bw)
	enc.Indent("  ", "  ")
	if err := enc.EncodeElement(capSuite, xml.StartElement{Name: xml.Name{Local: "testsuite"}}); err != nil {
		return err
	}
	fmt.Fprintf(bw, "\n  <testsuite name=\"sessions\" tests=\"%d\" failures=\"%d\" errors=\"0\" skipped=\"0\">\n", w.junitSessions.Tests, w.junitSessions.Failures)
	for _, f := range []*os.File{w.junitCases, w.junitSuites} {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		if _, err := io.Copy(bw, f); err != nil {
			return err
		}
		if f == w.junitCases {
			bw.WriteString("  </testsuite>\n")
		}
	}

	bw.WriteString("</testsuites>\n")
	return bw.Flush()
}

// Close removes the temporary files.
func (w *Writer) Close() error {
	var errs []error
	for _, f := range []*os.File{w.others, w.junitCases, w.junitSuites} {
		if f != nil {
			errs = append(errs, f.Close(), os.Remove(f.Name()))
		}
	}
	return errors.Join(errs...)
}
