package scenario

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/ftp/ftpcheck"
	"github.com/netxsim/netxsim/stack/capture"
)

// Options tune Run.
type Options struct {
	Out      string       // output directory for the artifacts (created); "" is the current directory
	JUnit    string       // also write the JUnit XML here (besides Out/junit.xml)
	Logger   *slog.Logger // nil: quiet
	Progress io.Writer    // one line per step as it finishes; nil: none
	// Capture names the capture file: "" is capture.pcapng; a relative name is inside Out.
	Capture       string
	CaptureFormat capture.Format // pcapng (default) or pcap
	// Before runs once the network is up, before the FTP servers start (the demo's pings and TCP
	// streams); its error stops the run. After runs after the last step, before the network stops.
	Before, After func(ctx context.Context, n *Net) error
}

// Artifacts are the files a run wrote.
type Artifacts struct {
	Dir      string   `json:"dir"`
	Capture  string   `json:"capture"`
	Text     string   `json:"text"`
	JSON     string   `json:"json"`
	Scenario string   `json:"scenario_json"`
	JUnit    []string `json:"junit"`
	SVG      []string `json:"svg"`
	SVGDir   string   `json:"svg_dir"`
	Images   []string `json:"images,omitempty"`
}

// Outcome is one expectation and whether it held.
type Outcome struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// Result is everything a run found. OK is the verdict: every step did what it should and every
// expectation held.
type Result struct {
	Scenario     string           `json:"scenario"`
	OK           bool             `json:"ok"`
	Steps        []StepResult     `json:"steps"`
	Expectations []Outcome        `json:"expectations"`
	Report       *ftpcheck.Report `json:"-"`
	Artifacts    Artifacts        `json:"artifacts"`
	Frames       uint64           `json:"frames"`
	Elapsed      time.Duration    `json:"elapsed_ns"`

	expected map[string]bool // expected violations, for the JUnit and the table
}

// Run executes the scenario: it validates it, builds the network with a capture, makes the images,
// starts the servers, runs the steps in order, stops everything, verifies the capture and the images,
// checks the expectations and writes the artifacts. The error is for a scenario that could not run
// (an *Error for a bad scenario, ErrNeedsRoot, I/O problems); broken expectations are in Result.OK.
func Run(ctx context.Context, sc *Scenario, opts Options) (*Result, error) {
	if err := sc.validate(); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	out := opts.Out
	if out == "" {
		out = "."
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, sc.timeout())
	defer cancel()
	res := &Result{Scenario: sc.Name, expected: map[string]bool{}}
	for _, v := range sc.Expect.Violations {
		res.expected[v] = true
	}
	a := &res.Artifacts
	a.Dir = out
	a.Capture = opts.Capture
	if a.Capture == "" {
		a.Capture = "capture." + opts.CaptureFormat.String()
	}
	if !filepath.IsAbs(a.Capture) {
		a.Capture = filepath.Join(out, a.Capture)
	}

	w, err := build(ctx, sc, a.Capture, opts, log)
	if err != nil {
		return nil, err
	}
	names := newByBase()
	r := &runner{sc: sc, w: w, out: out, names: names}
	var runErr error
	if opts.Before != nil {
		runErr = opts.Before(ctx, &Net{w})
	}
	if runErr == nil {
		runErr = w.startServers(ctx, sc, names)
	}
	if runErr == nil {
		for i := range sc.Steps {
			sr := r.step(ctx, i, &sc.Steps[i])
			res.Steps = append(res.Steps, sr)
			if opts.Progress != nil {
				verdict := "ok"
				if !sr.OK {
					verdict = "FAILED: " + sr.Error
				}
				fmt.Fprintf(opts.Progress, "step %d %s: %s (%s)\n", sr.Index, sr.Name, verdict, sr.Elapsed.Round(time.Millisecond))
			}
		}
	}
	if runErr == nil && opts.After != nil {
		runErr = opts.After(ctx, &Net{w})
	}
	// The library's Close stops in the one right order: servers (sessions end), the wait for the links
	// to go quiet, the capture (before any stack: closing the stacks resets connections still in
	// TIME-WAIT, which is teardown, not part of any session), the stacks, the segments.
	counts := w.connCounts()
	closeErr := w.close()
	res.Frames = w.n.Frames()
	if runErr != nil {
		return nil, runErr
	}
	if err := closeErr; err != nil {
		return nil, fmt.Errorf("stopping the network: %w", err)
	}

	rep, err := analyze(ctx, a.Capture, sc, names)
	if err != nil {
		return nil, err
	}
	res.Report = rep
	res.expect(sc, w, counts)
	res.OK = true
	for _, s := range res.Steps {
		res.OK = res.OK && s.OK
	}
	for _, o := range res.Expectations {
		res.OK = res.OK && o.OK
	}
	if err := res.saveImages(sc, w); err != nil {
		return nil, err
	}
	res.Elapsed = time.Since(start)
	if err := res.writeArtifacts(opts.JUnit); err != nil {
		return nil, err
	}
	return res, nil
}

// checkProfile is the profile ftpcheck verifies against.
func checkProfile(sc *Scenario) ftp.Profile {
	if sc.Expect.Profile != "" {
		p, _ := ftpcheck.ParseProfile(sc.Expect.Profile)
		return p
	}
	var prof ftp.Profile
	for i := range sc.Devices {
		if s := sc.Devices[i].Server; s != nil {
			p, _ := ftp.ParseProfile(string(s.Profile))
			if prof != "" && prof != p {
				return ftpcheck.ProfileAuto
			}
			prof = p
		}
	}
	return prof
}

func analyze(ctx context.Context, pcap string, sc *Scenario, names *byBase) (*ftpcheck.Report, error) {
	f, err := os.Open(pcap)
	if err != nil {
		return nil, fmt.Errorf("reading the capture: %w", err)
	}
	defer f.Close()
	files := map[string]ftpcheck.FileExpect{}
	for base, st := range names.m {
		files[base] = ftpcheck.FileExpect{Size: st.size, SHA256: st.sha}
	}
	rep, err := ftpcheck.Analyze(ctx, f, ftpcheck.Options{Profile: checkProfile(sc), Files: files})
	if err != nil {
		return nil, fmt.Errorf("verifying the capture %s: %w", pcap, err)
	}
	return rep, nil
}

// expect evaluates the expectations: the verdicts, the session count, the files and the images.
func (res *Result) expect(sc *Scenario, w *world, counts map[string]map[uint16]int64) {
	rep := res.Report
	add := func(name string, ok bool, format string, args ...any) {
		res.Expectations = append(res.Expectations, Outcome{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...)})
	}
	// Which checks failed where.
	failed := map[string][]string{}
	for _, ch := range rep.Checks {
		if ch.Status == ftpcheck.StatusFail {
			failed[ch.Name] = append(failed[ch.Name], "capture: "+strings.Join(ch.Messages, "; "))
		}
	}
	for _, s := range rep.Sessions {
		for _, ch := range s.Checks {
			if ch.Status == ftpcheck.StatusFail {
				failed[ch.Name] = append(failed[ch.Name], fmt.Sprintf("session %d: %s", s.ID, strings.Join(ch.Messages, "; ")))
			}
		}
	}
	var unexpected []string
	for name, where := range failed {
		if !res.expected[name] {
			unexpected = append(unexpected, name+" ("+strings.Join(where, " | ")+")")
		}
	}
	sort.Strings(unexpected)
	if len(unexpected) == 0 {
		what := "every check passed"
		if len(res.expected) > 0 {
			what = "no check failed other than the expected ones"
		}
		add("verdicts", true, "%s in %d sessions (%d warnings)", what, len(rep.Sessions), rep.Warnings)
	} else {
		add("verdicts", false, "unexpected violations: %s", strings.Join(unexpected, "; "))
	}
	for _, v := range sc.Expect.Violations {
		if where, ok := failed[v]; ok {
			add("violation "+v, true, "found as expected: %s", strings.Join(where, " | "))
		} else {
			add("violation "+v, false, "expected check %s to fail, but it did not fail in any of the %d sessions", v, len(rep.Sessions))
		}
	}
	want := sc.Expect.Sessions
	if want == 0 {
		want = len(sc.Steps)
	}
	add("sessions", len(rep.Sessions) == want, "%d FTP sessions in the capture, %d expected", len(rep.Sessions), want)

	for _, fe := range sc.Expect.Files {
		n := w.nodes[fe.Device]
		name := fmt.Sprintf("file %s:%s", fe.Device, key(fe.Path))
		got, err := hashFile(n, fe.Path)
		switch {
		case fe.Absent:
			add(name, errors.Is(err, os.ErrNotExist), "absent: %s", outcome(err))
		case err != nil:
			add(name, false, "%v", err)
		default:
			want := fe.SHA256
			if want == "same" {
				st, ok := n.model.get(fe.Path)
				if !ok {
					add(name, false, "sha256 \"same\": the scenario did not write %s", fe.Path)
					continue
				}
				want = st.sha
			}
			if fe.SameAs != "" {
				dev, p, _ := strings.Cut(fe.SameAs, ":")
				other, err := hashFile(w.nodes[dev], p)
				if err != nil {
					add(name, false, "same_as %s: %v", fe.SameAs, err)
					continue
				}
				if other != got {
					add(name, false, "%d bytes, sha256 %s; %s has %d bytes, sha256 %s", got.size, got.sha, fe.SameAs, other.size, other.sha)
					continue
				}
			}
			ok := want == "" || strings.EqualFold(want, got.sha)
			if fe.Size != nil && got.size != int64(*fe.Size) {
				ok = false
			}
			add(name, ok, "%d bytes, sha256 %s", got.size, got.sha)
		}
	}
	for _, ce := range sc.Expect.Connections {
		got := counts[ce.Device][ce.Port]
		add(fmt.Sprintf("connections %s:%d", ce.Device, ce.Port), got == int64(ce.Count), "%d connections, %d expected", got, ce.Count)
	}
	if sc.Expect.Fsck == nil || *sc.Expect.Fsck {
		for i := range sc.Devices {
			n := w.nodes[sc.Devices[i].Name]
			if n == nil || n.fs == nil {
				continue
			}
			r, err := n.fs.Check()
			switch {
			case err != nil:
				add("fsck "+n.dev.Name, false, "%v", err)
			case !r.OK():
				add("fsck "+n.dev.Name, false, "%d problems: %s", len(r.Problems), strings.Join(r.Problems, "; "))
			default:
				add("fsck "+n.dev.Name, true, "image clean: %d files, %d directories, %d clusters used, %d free",
					r.Files, r.Dirs, r.UsedClusters, r.FreeClusters)
			}
		}
	}
}

func hashFile(n *node, p string) (fileState, error) {
	if n == nil || n.fs == nil {
		return fileState{}, errors.New("the device has no image")
	}
	name := strings.TrimPrefix(path.Clean("/"+p), "/")
	f, err := n.fs.Open(name)
	if err != nil {
		return fileState{}, err
	}
	defer f.Close()
	return stateOf(f)
}

func (res *Result) saveImages(sc *Scenario, w *world) error {
	for i := range sc.Devices {
		d := &sc.Devices[i]
		n := w.nodes[d.Name]
		if d.Server == nil || !d.Server.Image.Save || n == nil || n.fs == nil {
			continue
		}
		if err := n.fs.Sync(); err != nil {
			return fmt.Errorf("image of %s: %w", d.Name, err)
		}
		p := filepath.Join(res.Artifacts.Dir, d.Name+".img")
		if err := os.WriteFile(p, n.ram.Bytes(), 0o644); err != nil {
			return fmt.Errorf("saving the image of %s: %w", d.Name, err)
		}
		res.Artifacts.Images = append(res.Artifacts.Images, p)
	}
	return nil
}

func (res *Result) writeArtifacts(junit string) error {
	a := &res.Artifacts
	a.Text = filepath.Join(a.Dir, "report.txt")
	a.JSON = filepath.Join(a.Dir, "report.json")
	a.Scenario = filepath.Join(a.Dir, "scenario.json")
	a.SVGDir = filepath.Join(a.Dir, "svg")
	a.JUnit = []string{filepath.Join(a.Dir, "junit.xml")}
	if junit != "" {
		a.JUnit = append(a.JUnit, junit)
	}
	write := func(p string, fn func(io.Writer) error) error {
		f, err := os.Create(p)
		if err != nil {
			return fmt.Errorf("writing the report: %w", err)
		}
		if err := fn(f); err != nil {
			f.Close()
			return fmt.Errorf("writing %s: %w", p, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("writing %s: %w", p, err)
		}
		return nil
	}
	if err := write(a.Text, res.Report.WriteText); err != nil {
		return err
	}
	if err := write(a.JSON, res.Report.WriteJSON); err != nil {
		return err
	}
	for _, p := range a.JUnit {
		if err := write(p, res.WriteJUnit); err != nil {
			return err
		}
	}
	svgs, err := res.Report.WriteSVGDir(a.SVGDir)
	if err != nil {
		return err
	}
	a.SVG = svgs
	return write(a.Scenario, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	})
}
