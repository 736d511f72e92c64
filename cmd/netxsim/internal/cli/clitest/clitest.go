// Package clitest runs netxsim's subcommands in tests, in the test's process: their exit code and
// what they print, so that every command's tests check command lines the same way.
package clitest

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
)

// Command is a subcommand's entry point (its Run).
type Command func(ctx context.Context, args []string, stdout, stderr io.Writer) int

// Run runs cmd with args to its end on the test's context.
func Run(t testing.TB, cmd Command, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = cmd(t.Context(), args, &o, &e)
	return code, o.String(), e.String()
}

// Case is a command line, the exit code it must end with, and a text its standard output (Out)
// and its standard error (Err) must each contain (empty: any).
type Case struct {
	Args     []string
	Code     int
	Out, Err string
}

// Exits runs every case and reports each that ends with another code or lacks a text.
func Exits(t testing.TB, cmd Command, cases ...Case) {
	t.Helper()
	for _, c := range cases {
		code, out, errOut := Run(t, cmd, c.Args...)
		if code != c.Code || !strings.Contains(out, c.Out) || !strings.Contains(errOut, c.Err) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want %d with %q on stdout and %q on stderr",
				c.Args, code, out, errOut, c.Code, c.Out, c.Err)
		}
	}
}
