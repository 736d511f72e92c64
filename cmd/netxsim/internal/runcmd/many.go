package runcmd

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/netxsim/netxsim"
	"github.com/netxsim/netxsim/internal/junit"
	"github.com/netxsim/netxsim/scenario"
)

// runMany runs several scenario files (a shard's) one after the other: every file is loaded first, so
// a bad one stops the run before anything started (exit 2); then each runs into dir/NAME, and one
// JUnit document gathers every scenario's suites.
func runMany(ctx context.Context, files []string, shard Shard, out, junitFile string, quiet, verbose bool, stdout, stderr io.Writer) int {
	if out == "" {
		out = "netxsim-out"
	}
	var scs []*scenario.Scenario
	names := map[string]string{}
	for _, f := range files {
		sc, err := scenario.Load(f)
		if err != nil {
			fmt.Fprintf(stderr, "netxsim run: %v\n", err)
			return 2
		}
		if other, dup := names[sc.Name]; dup {
			fmt.Fprintf(stderr, "netxsim run: %s and %s are both named %q: their artifacts would share %s; rename one\n", other, f, sc.Name, filepath.Join(out, sc.Name))
			return 2
		}
		names[sc.Name] = f
		scs = append(scs, sc)
	}
	report := junit.Suites{Name: "netxsim scenarios"}
	if shard.N > 0 {
		report.Name += " shard " + shard.String()
	}
	code := 0
	for i, sc := range scs {
		opts := scenario.Options{Out: filepath.Join(out, sc.Name)}
		if !quiet {
			opts.Progress = stdout
		}
		if verbose {
			opts.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
		res, err := scenario.Run(ctx, sc, opts)
		if err != nil {
			fmt.Fprintf(stderr, "netxsim run: %s: %v\n", files[i], err)
			var se *scenario.Error
			if errors.As(err, &se) || errors.Is(err, scenario.ErrNeedsRoot) || errors.Is(err, netxsim.ErrReservedAddress) {
				code = max(code, 2)
			} else {
				code = max(code, 1)
			}
			report.Suites = append(report.Suites, errorSuite(sc.Name, files[i], err))
			continue
		}
		if err := res.WriteTable(stdout); err != nil {
			fmt.Fprintf(stderr, "netxsim run: %v\n", err)
			code = max(code, 1)
		}
		if !res.OK {
			code = max(code, 1)
		}
		var buf bytes.Buffer
		var one junit.Suites
		if err := res.WriteJUnit(&buf); err == nil && xml.Unmarshal(buf.Bytes(), &one) == nil {
			report.Suites = append(report.Suites, one.Suites...)
		} else {
			fmt.Fprintf(stderr, "netxsim run: %s: JUnit: %v\n", files[i], err)
			code = max(code, 1)
		}
	}
	var paths []string
	if shard.N > 0 {
		paths = append(paths, filepath.Join(out, fmt.Sprintf("junit-shard-%d-of-%d.xml", shard.K, shard.N)))
	}
	if junitFile != "" {
		paths = append(paths, junitFile)
	}
	for _, p := range paths {
		if err := writeJUnit(p, &report); err != nil {
			fmt.Fprintf(stderr, "netxsim run: %v\n", err)
			code = max(code, 1)
			continue
		}
		fmt.Fprintf(stdout, "junit: %s\n", p)
	}
	verdict := "PASS"
	if code != 0 {
		verdict = "FAIL"
	}
	fmt.Fprintf(stdout, "%s: %d scenario files", verdict, len(scs))
	if shard.N > 0 {
		fmt.Fprintf(stdout, " (shard %s)", shard)
	}
	fmt.Fprintln(stdout)
	return code
}

// errorSuite records a scenario that could not run as one failed case.
func errorSuite(name, file string, err error) junit.Suite {
	s := junit.Suite{Name: "scenario " + name}
	s.Add(junit.Case{Name: "run " + file, Classname: "netxsim.scenario." + name, Time: "0",
		Failure: &junit.Failure{Message: err.Error(), Type: "run", Text: err.Error()}})
	return s
}

func writeJUnit(path string, r *junit.Suites) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("junit %s: %w", path, err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("junit %s: %w", path, err)
	}
	if err := r.Write(f); err != nil {
		f.Close()
		return fmt.Errorf("junit %s: %w", path, err)
	}
	return f.Close()
}
