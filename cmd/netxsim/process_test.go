package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netxsim/netxsim/internal/testio"
)

// buildNetxsim builds the command into a fresh directory that every user can read and run (the
// rootless test runs it as nobody; t.TempDir's parents are private), removed at cleanup.
func buildNetxsim(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "netxsim-bin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "netxsim")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// needRootAndTools skips the test unless it runs as root (why: what for) with every tool on PATH.
func needRootAndTools(t *testing.T, why string, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: " + why)
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
}

// proc is netxsim running as a process (startProc).
type proc struct {
	cmd    *exec.Cmd
	stderr testio.Buffer
	done   chan struct{} // closed once the process has ended; err is then its exit
	err    error
}

// startProc starts cmd and returns once a line of its stdout holds ready (within a minute); the rest
// of stdout is drained, as a terminal would. Cleanup stops it (stop).
func startProc(t testing.TB, cmd *exec.Cmd, ready string) *proc {
	t.Helper()
	p := &proc{cmd: cmd, done: make(chan struct{})}
	cmd.Stderr = &p.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	var seen testio.Buffer
	readyc := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		isReady := false
		for sc.Scan() {
			seen.Write([]byte(sc.Text() + "\n"))
			if !isReady && strings.Contains(sc.Text(), ready) {
				isReady = true
				close(readyc)
			}
		}
		p.err = cmd.Wait()
		close(p.done)
	}()
	select {
	case <-readyc:
		return p
	case <-p.done:
		select {
		case <-readyc: // ready, then ended at once
			return p
		default:
		}
		t.Fatalf("%q exited (%v) before %q\nstdout:\n%s\nstderr:\n%s", cmd.Args, p.err, ready, seen.String(), p.stderr.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("%q: no %q within 60s\nstdout:\n%s\nstderr:\n%s", cmd.Args, ready, seen.String(), p.stderr.String())
	}
	return nil
}

// stop interrupts the process (SIGINT, as Ctrl-C: it removes what it made) and waits for it; it is
// killed if it has not ended 30 s later. It may be called more than once.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// startCLI runs this test binary as `netxsim args...` (TestMain) until stdout shows ready.
func startCLI(t testing.TB, ready string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "NETXSIM_TEST_MAIN=1")
	return startProc(t, cmd, ready)
}
