// Package cli holds what netxsim's subcommands share about their command lines.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
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

// NewCommandFlagSet is NewFlagSet whose usage starts with UsageLine(name, lead, fs, tail), made when
// it is printed (so from every flag registered by then), followed by text and the flags' defaults.
func NewCommandFlagSet(name, lead, tail, text string, stderr io.Writer) *flag.FlagSet {
	fs := NewFlagSet(name, text, stderr)
	fs.Usage = func() {
		io.WriteString(fs.Output(), UsageLine(name, lead, fs, tail)+text)
		fs.PrintDefaults()
	}
	return fs
}

// UsageLine is a command's usage line that lists every flag of fs, so it cannot fall behind the
// flags: "usage: netxsim NAME LEAD [--flag VALUE]... TAIL", wrapped at 100 columns. Flags that LEAD
// already names (as --name) and aliases (usage "same as --...") are left out; a value's name is the
// back-quoted word of the flag's usage (flag.UnquoteUsage), upper-cased, with |none where the usage
// offers "none".
func UsageLine(name, lead string, fs *flag.FlagSet, tail string) string {
	head := "usage: netxsim " + name
	words := strings.Fields(lead)
	fs.VisitAll(func(f *flag.Flag) {
		if strings.HasPrefix(f.Usage, "same as --") || strings.Contains(" "+lead+" ", "--"+f.Name+" ") ||
			strings.Contains(lead, "--"+f.Name+"]") || strings.Contains(lead, "--"+f.Name+"|") {
			return
		}
		dash := "--"
		if len(f.Name) == 1 {
			dash = "-"
		}
		w := "[" + dash + f.Name
		if v, usage := flag.UnquoteUsage(f); v != "" {
			if strings.IndexFunc(v, func(r rune) bool { return r < 'a' || r > 'z' }) < 0 {
				v = strings.ToUpper(v) // a word: CIDR, FILE; a grammar such as local=IP:PORT stays
			}
			if strings.Contains(usage, `"none"`) {
				v += "|none" // the one spelling of "no address"
			}
			w += " " + v
		}
		words = append(words, w+"]")
	})
	words = append(words, strings.Fields(tail)...)
	var b strings.Builder
	b.WriteString(head)
	indent, col := len(head)+1, len(head)
	for _, w := range words {
		if col+1+len(w) > 100 && col > indent {
			b.WriteString("\n" + strings.Repeat(" ", indent-1))
			col = indent - 1
		}
		b.WriteString(" " + w)
		col += 1 + len(w)
	}
	return b.String() + "\n"
}
