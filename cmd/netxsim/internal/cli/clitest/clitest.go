// Package clitest runs netxsim's subcommands in tests, in the test's process: their exit code and
// what they print, so that every command's tests check command lines the same way. StartProc runs
// child processes (netxsim as a binary, servers in namespaces) with the same ready-line handshake.
package clitest

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/netxsim/netxsim/internal/testio"
	"github.com/netxsim/netxsim/tapdev"
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

// Running is a command that Start runs in the test's process.
type Running struct {
	Line   string // the first stdout line that held Start's ready text
	out    testio.Buffer
	stderr testio.Buffer
	cancel context.CancelFunc
	done   chan struct{}
	code   int
}

// Start runs cmd with args in this process until a line of its standard output holds ready, and
// returns it running; it fails the test if the command ends first or is not ready within a
// minute. Cleanup stops it.
func Start(t testing.TB, cmd Command, ready string, args ...string) *Running {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	r := &Running{cancel: cancel, done: make(chan struct{})}
	pr, pw := io.Pipe()
	readyLine := make(chan string, 1)
	scanned := make(chan struct{}) // stdout closed: the command has ended
	go func() {
		r.code = cmd(ctx, args, pw, &r.stderr)
		pw.Close()
		<-scanned // Stdout is complete once Wait returns
		close(r.done)
	}()
	t.Cleanup(func() { r.Stop() })
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			r.out.Write([]byte(sc.Text() + "\n"))
			if strings.Contains(sc.Text(), ready) {
				select {
				case readyLine <- sc.Text():
				default:
				}
			}
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case r.Line = <-readyLine:
		return r
	case <-scanned:
		select {
		case r.Line = <-readyLine:
			return r
		default:
		}
		t.Fatalf("%q ended (exit %d) before printing %q\nstdout:\n%s\nstderr:\n%s", args, r.Wait(), ready, r.Stdout(), r.Stderr())
	case <-time.After(time.Minute):
		t.Fatalf("%q: no %q within a minute\nstdout:\n%s\nstderr:\n%s", args, ready, r.Stdout(), r.Stderr())
	}
	return nil
}

// Stdout is what the command printed on its standard output so far.
func (r *Running) Stdout() string { return r.out.String() }

// Stderr is what the command printed on its standard error so far.
func (r *Running) Stderr() string { return r.stderr.String() }

// Ended is closed once the command has ended.
func (r *Running) Ended() <-chan struct{} { return r.done }

// Wait waits for the command's end and returns its exit code.
func (r *Running) Wait() int {
	<-r.done
	return r.code
}

// Stop cancels the command's context and returns its exit code once it ended; it may be called
// more than once.
func (r *Running) Stop() int {
	r.cancel()
	return r.Wait()
}

// NetNSGone fails the test if the network namespace name still exists (a command left it behind)
// and removes it.
func NetNSGone(t testing.TB, name string) {
	t.Helper()
	if tapdev.NetNSExists(name) {
		t.Errorf("namespace %s left behind", name)
		if n, err := tapdev.OpenNetNS(name); err == nil {
			n.Delete()
		}
	}
}
