// Package runcmd implements `netxsim run SCENARIO.yaml`: build the scenario's network, run its FTP
// sessions, verify the capture and the images, write the artifacts, and exit with the verdict.
package runcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/netxsim/netxsim/cmd/netxsim/internal/cli"

	"github.com/netxsim/netxsim"
	"github.com/netxsim/netxsim/scenario"
)

// Summary is the one-line description for the command list.
const Summary = "run a YAML scenario (devices, links, FTP sessions, expectations); the exit code is the verdict"

const usage = `usage: netxsim run SCENARIO.yaml... [--shard K/N [--list]] [--out DIR] [--junit FILE] [-q] [-v]

Builds the scenario's devices and links (in memory with impairments, or a TAP with the Linux kernel
as peer, which needs root), starts the FTP servers on their FAT images, runs the FTP sessions in
order, captures every frame to one pcapng, verifies the capture with ftpcheck and the images with a
consistency check, and checks the scenario's expectations.

Artifacts in --out: capture.pcapng, report.txt (ladders), report.json (ftpcheck), scenario.json
(steps and expectations), junit.xml, svg/session-N.svg.

Several files run one after the other, each into DIR/NAME (default netxsim-out/NAME); --junit then
gets one document with every scenario's suites. --shard K/N runs part K of N of the files: they are
sorted by their path relative to the working directory and dealt round-robin, so the N parts are
disjoint, cover every file and are the same on every machine (docs/ci.md). --list prints the files the
shard would run, one a line, and runs nothing. A shard writes its JUnit to DIR/junit-shard-K-of-N.xml
(and to --junit when given).

Exit status: 0 every expectation held, 1 one did not (or the run failed), 2 usage or scenario error.
The format is described in docs/scenarios.md; examples are in testdata/scenarios/.

flags:
`

// Run is the entry point of the subcommand.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlagSet("run", usage, stderr)
	out := fs.String("out", "", "directory for the artifacts (default netxsim-out/NAME)")
	junit := fs.String("junit", "", "also write the JUnit XML to `FILE`")
	quiet := fs.Bool("q", false, "print only the verdict and the artifact paths")
	verbose := fs.Bool("v", false, "debug logs of stacks, server and client on stderr")
	shardFlag := fs.String("shard", "", "run part `K/N` of the files (1 <= K <= N): sorted by relative path, dealt round-robin")
	list := fs.Bool("list", false, "print the files the shard would run, one a line, and run nothing")
	pos, exit := cli.ParseInterspersed(fs, args, stdout, stderr)
	if exit != nil {
		return *exit
	}
	if len(pos) == 0 {
		fmt.Fprintf(stderr, "netxsim run: want one or more scenario files (see --help)\n")
		return 2
	}
	var shard Shard
	if *shardFlag != "" {
		var err error
		if shard, err = ParseShard(*shardFlag); err != nil {
			fmt.Fprintf(stderr, "netxsim run: %v\n", err)
			return 2
		}
	} else if *list {
		fmt.Fprintf(stderr, "netxsim run: --list needs --shard K/N (use --shard 1/1 for every file)\n")
		return 2
	}
	files, err := shard.Pick(pos)
	if err != nil {
		fmt.Fprintf(stderr, "netxsim run: %v\n", err)
		return 2
	}
	if *list {
		for _, f := range files {
			fmt.Fprintln(stdout, f)
		}
		return 0
	}
	if len(pos) > 1 || shard.N > 0 {
		return runMany(ctx, files, shard, *out, *junit, *quiet, *verbose, stdout, stderr)
	}
	sc, err := scenario.Load(pos[0])
	if err != nil {
		fmt.Fprintf(stderr, "netxsim run: %v\n", err)
		return 2
	}
	dir := *out
	if dir == "" {
		dir = filepath.Join("netxsim-out", sc.Name)
	}
	opts := scenario.Options{Out: dir, JUnit: *junit}
	if !*quiet {
		opts.Progress = stdout
	}
	if *verbose {
		opts.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	res, err := scenario.Run(ctx, sc, opts)
	if err != nil {
		fmt.Fprintf(stderr, "netxsim run: %s: %v\n", pos[0], err)
		var se *scenario.Error
		if errors.As(err, &se) || errors.Is(err, scenario.ErrNeedsRoot) || errors.Is(err, netxsim.ErrReservedAddress) {
			return 2
		}
		return 1
	}
	if err := res.WriteTable(stdout); err != nil {
		fmt.Fprintf(stderr, "netxsim run: %v\n", err)
		return 1
	}
	if !res.OK {
		return 1
	}
	return 0
}
