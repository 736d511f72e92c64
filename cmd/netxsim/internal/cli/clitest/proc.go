package clitest

import (
	"bufio"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netxsim/netxsim/internal/testio"
)

// Proc is a child process that StartProc runs: netxsim built as a binary, or a server the test
// talks to (often inside a namespace, from (*tapdev.NetNS).Command).
type Proc struct {
	Cmd    *exec.Cmd
	Line   string // the first stdout line that held StartProc's ready text
	stdout testio.Buffer
	stderr testio.Buffer
	done   chan struct{} // closed once the process has ended; err is then its exit
	err    error
}

// StartProc starts cmd and returns once a line of its standard output holds ready (at once when
// ready is empty); it fails the test if the process ends first or is not ready within a minute.
// The rest of stdout is read and kept, as a terminal would; stderr is kept unless cmd already sends
// it elsewhere. Cleanup stops the process (Stop).
func StartProc(t testing.TB, cmd *exec.Cmd, ready string) *Proc {
	t.Helper()
	p := &Proc{Cmd: cmd, done: make(chan struct{})}
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
	readyLine := make(chan string, 1)
	if ready == "" {
		readyLine <- ""
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.stdout.Write([]byte(sc.Text() + "\n"))
			if ready != "" && strings.Contains(sc.Text(), ready) {
				select {
				case readyLine <- sc.Text():
				default:
				}
			}
		}
		p.err = cmd.Wait()
		close(p.done)
	}()
	select {
	case p.Line = <-readyLine:
		return p
	case <-p.done:
		select {
		case p.Line = <-readyLine: // ready, then ended at once
			return p
		default:
		}
		t.Fatalf("%q exited (%v) before printing %q\nstdout:\n%s\nstderr:\n%s", cmd.Args, p.err, ready, p.Stdout(), p.Stderr())
	case <-time.After(time.Minute):
		t.Fatalf("%q: no %q within a minute\nstdout:\n%s\nstderr:\n%s", cmd.Args, ready, p.Stdout(), p.Stderr())
	}
	return nil
}

// Stdout is what the process printed on its standard output so far.
func (p *Proc) Stdout() string { return p.stdout.String() }

// Stderr is what the process printed on its standard error so far (empty if cmd sent it elsewhere).
func (p *Proc) Stderr() string { return p.stderr.String() }

// Ended is closed once the process has ended.
func (p *Proc) Ended() <-chan struct{} { return p.done }

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
