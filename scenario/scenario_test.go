package scenario

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// outDir is a temporary directory, or SCENARIO_KEEP/name to look at the artifacts afterwards.
func outDir(t *testing.T, name string) string {
	if d := os.Getenv("SCENARIO_KEEP"); d != "" {
		return filepath.Join(d, name)
	}
	return t.TempDir()
}

// junitDoc mirrors the JUnit XML for decoding in tests.
type junitDoc struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Skipped  int      `xml:"skipped,attr"`
	Suites   []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Skipped  int    `xml:"skipped,attr"`
		Cases    []struct {
			Name    string    `xml:"name,attr"`
			Failure *struct{} `xml:"failure"`
			Skipped *struct{} `xml:"skipped"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// checkJUnit decodes a JUnit file and checks that every count attribute matches its test cases; it
// returns the total failures.
func checkJUnit(t *testing.T, path string) (tests, failures int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc junitDoc
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("%s is not well-formed JUnit XML: %v", path, err)
	}
	var tt, tf, ts int
	for _, s := range doc.Suites {
		var n, f, sk int
		for _, c := range s.Cases {
			n++
			if c.Failure != nil {
				f++
			}
			if c.Skipped != nil {
				sk++
			}
		}
		if n != s.Tests || f != s.Failures || sk != s.Skipped {
			t.Errorf("suite %q says tests=%d failures=%d skipped=%d, has %d cases, %d failures, %d skipped",
				s.Name, s.Tests, s.Failures, s.Skipped, n, f, sk)
		}
		tt, tf, ts = tt+n, tf+f, ts+sk
	}
	if tt != doc.Tests || tf != doc.Failures || ts != doc.Skipped {
		t.Errorf("testsuites says tests=%d failures=%d skipped=%d, cases add up to %d, %d, %d", doc.Tests, doc.Failures, doc.Skipped, tt, tf, ts)
	}
	if tt == 0 {
		t.Errorf("%s has no test cases", path)
	}
	return tt, tf
}

// TestExamples runs every scenario in testdata/scenarios: each must run, violation-unexpected must
// fail and the others pass, and the JUnit XML must be well formed with consistent counts.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("../testdata/scenarios/*.yaml")
	if err != nil || len(files) < 5 {
		t.Fatalf("example scenarios: %v, %d files", err, len(files))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			sc, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			out := outDir(t, name)
			extra := filepath.Join(out, "extra-junit.xml")
			res, err := Run(context.Background(), sc, Options{Out: out, JUnit: extra})
			if errors.Is(err, ErrNeedsRoot) {
				t.Skip(err)
			}
			if err != nil {
				t.Fatal(err)
			}
			var table bytes.Buffer
			res.WriteTable(&table)
			t.Logf("\n%s", table.String())
			wantOK := name != "violation-unexpected"
			if res.OK != wantOK {
				t.Fatalf("verdict %v, want %v", res.OK, wantOK)
			}
			tests, failures := checkJUnit(t, filepath.Join(out, "junit.xml"))
			checkJUnit(t, extra)
			if wantOK && failures != 0 {
				t.Errorf("passing run has %d JUnit failures", failures)
			}
			if !wantOK && failures == 0 {
				t.Errorf("failing run has no JUnit failure")
			}
			// scenario suite: one case per step and per expectation
			if want := len(res.Steps) + len(res.Expectations); tests < want {
				t.Errorf("JUnit has %d cases, want at least %d", tests, want)
			}
			if len(res.Report.Sessions) != len(sc.Steps) && sc.Expect.Sessions == 0 {
				t.Errorf("%d sessions for %d steps", len(res.Report.Sessions), len(sc.Steps))
			}
			for _, p := range []string{res.Artifacts.Capture, res.Artifacts.Text, res.Artifacts.JSON, res.Artifacts.Scenario} {
				if fi, err := os.Stat(p); err != nil || fi.Size() == 0 {
					t.Errorf("artifact %s: %v", p, err)
				}
			}
			if len(res.Artifacts.SVG) != len(res.Report.Sessions) {
				t.Errorf("%d SVG files for %d sessions", len(res.Artifacts.SVG), len(res.Report.Sessions))
			}
		})
	}
}

func TestLossyRecovers(t *testing.T) {
	sc, err := Load("../testdata/scenarios/lossy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Shorter files: the point is that impairments happen and the sessions still pass.
	for i := range sc.Steps {
		for j := range sc.Steps[i].Do {
			if p := sc.Steps[i].Do[j].Put; p != nil {
				p.Size = 16 << 10
			}
		}
	}
	var stats []string
	after := func(ctx context.Context, n *Net) error {
		ab, ba := n.Pair(0).Stats()
		if ab.Lost == 0 || ba.Lost == 0 {
			t.Errorf("no frames lost: %+v / %+v", ab, ba)
		}
		if ab.Duplicated+ba.Duplicated == 0 && ab.Reordered+ba.Reordered == 0 {
			t.Errorf("nothing duplicated or reordered: %+v / %+v", ab, ba)
		}
		stats = append(stats, fmt.Sprintf("a->b %+v", ab), fmt.Sprintf("b->a %+v", ba))
		return nil
	}
	res, err := Run(context.Background(), sc, Options{Out: t.TempDir(), After: after})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(stats)
	if !res.OK {
		var b bytes.Buffer
		res.WriteTable(&b)
		t.Fatalf("lossy scenario failed:\n%s", b.String())
	}
}
