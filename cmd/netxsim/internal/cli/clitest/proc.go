package clitest

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Proc is a child process that StartProc runs: netxsim built as a binary, or a server the test
// talks to (often inside a namespace, from (*tapdev.NetNS).Command).
type Proc struct {
	stream
	Cmd  *exec.Cmd
	Line string // the first stdout line that held StartProc's ready text
	err  error
}

// StartProc starts cmd and returns once a line of its standard output holds ready (at once when
// ready is empty); it fails the test if the process ends first or is not ready within a minute.
// Stderr is kept unless cmd already sends it elsewhere. Cleanup stops the process (Stop).
func StartProc(t testing.TB, cmd *exec.Cmd, ready string) *Proc {
	t.Helper()
	p := &Proc{stream: newStream(cmd.Args), Cmd: cmd}
	if cmd.Stderr == nil {
		cmd.Stderr = &p.stderr
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %q: %v", cmd.Args, err)
	}
	t.Cleanup(func() { p.Stop() })
	// Wait only once stdout is read to its end, as StdoutPipe asks.
	p.Line = p.follow(t, out, ready, func() { p.err = cmd.Wait() }, func() string { return fmt.Sprint(p.Wait()) })
	return p
}

// Wait waits for the process's end and returns how it exited.
func (p *Proc) Wait() error {
	<-p.done
	return p.err
}

// Stop interrupts the process (SIGINT, as Ctrl-C: netxsim then removes what it made) and waits for
// it; it is killed if it has not ended 30 s later. It may be called more than once.
func (p *Proc) Stop() error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	p.Cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.Cmd.Process.Kill()
	}
	return p.Wait()
}

// HintsRun checks that every hint (a command line a command printed for its user to paste) runs
// as printed: in sh, exiting 0 within 30 s with want in its output. A hint gets up to tries runs
// a pause apart, for what the kernel may still be setting up (a tentative link-local address).
func HintsRun(t testing.TB, hints []string, want string, tries int) {
	t.Helper()
	for _, h := range hints {
		var out []byte
		var err error
		for i := range tries {
			if i > 0 {
				time.Sleep(300 * time.Millisecond)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			out, err = exec.CommandContext(ctx, "sh", "-c", h).CombinedOutput()
			cancel()
			if err == nil && strings.Contains(string(out), want) {
				break
			}
		}
		if err != nil || !strings.Contains(string(out), want) {
			t.Errorf("hint %q: %v\n%s", h, err, out)
		}
	}
}
