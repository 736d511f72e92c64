// Package verifycmd implements `netxsim verify CAPTURE`: check every FTP session in a capture
// against the seed's sequences and RFC 959, print a ladder per session, write JSON, JUnit and SVG.
package verifycmd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/netxsim/netxsim/cmd/netxsim/internal/cli"

	"github.com/netxsim/netxsim/ftp/ftpcheck"
	"github.com/netxsim/netxsim/internal/termtext"
)

const usage = `usage: netxsim verify CAPTURE [--json FILE] [--junit FILE] [--svg DIR] [--profile P] [--strict] [-q] [-v]

Checks every FTP session in a pcap or pcapng capture: the seed's command/reply order, the reply codes
of the server's profile and of RFC 959, data connections matched to PORT/EPRT/PASV/EPSV, transfer sizes,
resets, bounces, IPv6 sessions using PORT/PASV. A session the client closes without QUIT (wget does)
is a warning unless --strict. Exit status: 0 all sessions pass, 1 a violation (or an
unreadable capture), 2 usage error.

flags:
`

// Run is the entry point of the subcommand.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlagSet("verify", usage, stderr)
	jsonPath := fs.String("json", "", "write the full report as JSON to `FILE` (- for stdout)")
	junitPath := fs.String("junit", "", "write JUnit XML to `FILE` (a test case per session and per check)")
	svgDir := fs.String("svg", "", "write one SVG sequence diagram per session into `DIR`")
	profile := fs.String("profile", "auto", "server profile: auto, netxduo, netxduo-6.4, extended or rfc959")
	strict := fs.Bool("strict", false, "check the seed's sequence to the letter: a session closed without QUIT fails")
	quiet := fs.Bool("q", false, "print only the verdict line")
	verbose := fs.Bool("v", false, "debug logs on stderr")
	pos, exit := cli.ParseInterspersed(fs, args, stdout, stderr)
	if exit != nil {
		return *exit
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "netxsim verify: want exactly one capture file, got %d\n", len(pos))
		fs.Usage()
		return 2
	}
	prof, err := ftpcheck.ParseProfile(*profile)
	if err != nil {
		fmt.Fprintf(stderr, "netxsim verify: %v\n", err)
		return 2
	}
	opts := ftpcheck.Options{Profile: prof, Strict: *strict}
	if *verbose {
		opts.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	f, err := os.Open(pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "netxsim verify: cannot read the capture: %v\n", err)
		return 1
	}
	defer f.Close()
	// Every output is written while the capture is read, a session at a time, so memory does not
	// grow with the capture.
	w := &ftpcheck.Writer{SVGDir: *svgDir}
	defer w.Close()
	if !*quiet && *jsonPath != "-" {
		// reply texts come from the capture: a terminal gets their control characters escaped
		w.Text = termtext.ForTerminal(stdout)
	}
	var files []*os.File
	open := func(path string) (io.Writer, error) {
		if path == "-" {
			return stdout, nil
		}
		out, err := os.Create(path)
		if err != nil {
			return nil, fmt.Errorf("cannot write report: %w", err)
		}
		files = append(files, out)
		return out, nil
	}
	defer func() {
		for _, out := range files {
			out.Close()
		}
	}()
	if *jsonPath != "" {
		if w.JSON, err = open(*jsonPath); err != nil {
			fmt.Fprintf(stderr, "netxsim verify: %v\n", err)
			return 1
		}
	}
	if *junitPath != "" {
		if w.JUnit, err = open(*junitPath); err != nil {
			fmt.Fprintf(stderr, "netxsim verify: %v\n", err)
			return 1
		}
	}
	rep, err := ftpcheck.Analyze(ctx, f, w.Options(opts))
	if err != nil {
		fmt.Fprintf(stderr, "netxsim verify: %s: %v\n", pos[0], err)
		return 1
	}
	if err := w.Finish(rep); err != nil {
		fmt.Fprintf(stderr, "netxsim verify: %v\n", err)
		return 1
	}
	for _, out := range files {
		if err := out.Close(); err != nil {
			fmt.Fprintf(stderr, "netxsim verify: writing %s: %v\n", out.Name(), err)
			return 1
		}
		fmt.Fprintf(stderr, "netxsim verify: wrote %s\n", out.Name())
	}
	files = nil
	if *svgDir != "" {
		fmt.Fprintf(stderr, "netxsim verify: wrote %d SVG diagrams to %s\n", w.SVGs, *svgDir)
	}
	passed := rep.SessionsPassed
	verdict := "PASS"
	if rep.Violations > 0 {
		verdict = "FAIL"
	}
	mode := "lenient"
	if *strict {
		mode = "strict"
	}
	fmt.Fprintf(stderr, "netxsim verify: %s: %d/%d sessions passed, %d violations, %d warnings (%s)\n", verdict, passed, rep.SessionCount, rep.Violations, rep.Warnings, mode)
	if rep.Violations > 0 {
		return 1
	}
	return 0
}
