// Package clitest runs netxsim's subcommands in tests, in the test's process: their exit code and
// what they print, so that every command's tests check command lines the same way. StartProc runs
// child processes (netxsim as a binary, servers in namespaces) with the same ready-line handshake.
package clitest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
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
	stream
	Line   string // the first stdout line that held Start's ready text
	cancel context.CancelFunc
	code   int
}

// Start runs cmd with args in this process until a line of its standard output holds ready, and
// returns it running; it fails the test if the command ends first or is not ready within a
// minute. Cleanup stops it.
func Start(t testing.TB, cmd Command, ready string, args ...string) *Running {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	r := &Running{stream: newStream(args), cancel: cancel}
	pr, pw := io.Pipe()
	returned := make(chan struct{})
	go func() {
		r.code = cmd(ctx, args, pw, &r.stderr)
		close(returned)
		pw.Close()
	}()
	t.Cleanup(func() { r.Stop() })
	r.Line = r.follow(t, pr, ready, func() { <-returned }, func() string { return fmt.Sprint("exit ", r.Wait()) })
	return r
}

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

// stream is what Running and Proc share: a started command's output as it comes, and its end.
type stream struct {
	args           []string // for failure messages
	stdout, stderr testio.Buffer
	done           chan struct{} // closed once the command has ended and its stdout is read
}

func newStream(args []string) stream { return stream{args: args, done: make(chan struct{})} }

// Stdout is what the command printed on its standard output so far.
func (s *stream) Stdout() string { return s.stdout.String() }

// Stderr is what the command printed on its standard error so far.
func (s *stream) Stderr() string { return s.stderr.String() }

// Ended is closed once the command has ended.
func (s *stream) Ended() <-chan struct{} { return s.done }

// follow reads stdout's lines from r to its end, then calls end (which returns once the command
// has ended) and closes done. It returns the first line that holds ready ("" at once when ready
// is empty) and fails the test if the command ends first or no such line comes within a minute;
// exit says how the command ended, for the message.
func (s *stream) follow(t testing.TB, r io.Reader, ready string, end func(), exit func() string) string {
	t.Helper()
	line := make(chan string, 1)
	if ready == "" {
		line <- ""
	}
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			s.stdout.Write([]byte(sc.Text() + "\n"))
			if ready != "" && strings.Contains(sc.Text(), ready) {
				select {
				case line <- sc.Text():
				default:
				}
			}
		}
		io.Copy(io.Discard, r) // past a line too long to scan: the command must not block on stdout
		end()
		close(s.done)
	}()
	select {
	case l := <-line:
		return l
	case <-s.done:
		select {
		case l := <-line: // ready, then ended at once
			return l
		default:
		}
		t.Fatalf("%q ended (%s) before printing %q\nstdout:\n%s\nstderr:\n%s", s.args, exit(), ready, s.Stdout(), s.Stderr())
	case <-time.After(time.Minute):
		t.Fatalf("%q: no %q within a minute\nstdout:\n%s\nstderr:\n%s", s.args, ready, s.Stdout(), s.Stderr())
	}
	return ""
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

// FreeUDPPort is a loopback UDP port nobody uses now, for the local= and remote= of a --vxlan
// command line.
func FreeUDPPort(t testing.TB) uint16 {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return uint16(c.LocalAddr().(*net.UDPAddr).Port)
}
