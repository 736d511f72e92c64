// Package cli holds what netxsim's subcommands share about their command lines.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// ParseInterspersed parses args with fs, allowing flags after positional arguments too
// (`netxsim verify cap.pcapng --json -`), and returns the positional arguments. The flag set's
// messages are printed once: --help's usage to stdout, an error with the usage to stderr. A non-nil
// exit code means the caller should return it: 0 after --help, 2 after a usage error.
func ParseInterspersed(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (pos []string, exit *int) {
	code := func(c int) *int { return &c }
	for {
		fs.SetOutput(io.Discard)
		err := fs.Parse(args)
		fs.SetOutput(stderr)
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return nil, code(0)
		}
		if err != nil {
			fmt.Fprintf(stderr, "netxsim %s: %v\n", fs.Name(), err)
			fs.Usage()
			return nil, code(2)
		}
		left := fs.Args()
		if used := len(args) - len(left); used > 0 && args[used-1] == "--" {
			return append(pos, left...), nil // everything after "--" is positional
		}
		if len(left) == 0 {
			return pos, nil
		}
		pos = append(pos, left[0])
		args = left[1:]
	}
}

// NewFlagSet is a flag set for the subcommand name whose usage is text followed by the flags'
// defaults; ParseInterspersed prints it once where it belongs.
func NewFlagSet(name, text string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		io.WriteString(fs.Output(), text)
		fs.PrintDefaults()
	}
	return fs
}
