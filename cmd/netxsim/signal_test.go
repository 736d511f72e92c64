package main

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netxsim/netxsim/tapdev"
	"github.com/netxsim/netxsim/tapdev/taptest"
)

// TestMain lets the test binary act as netxsim itself (NETXSIM_TEST_MAIN=1), so tests can run the real
// command as a process and signal it.
func TestMain(m *testing.M) {
	if os.Getenv("NETXSIM_TEST_MAIN") == "1" {
		os.Args = append([]string{"netxsim"}, os.Args[1:]...)
		main()
		return
	}
	os.Exit(m.Run())
}

// startCLI runs this binary as `netxsim args...` and waits until stdout shows ready. The process is
// killed at cleanup if still running.
func startCLI(t testing.TB, ready string, args ...string) (*exec.Cmd, *strings.Builder) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "NETXSIM_TEST_MAIN=1")
	var errb strings.Builder
	cmd.Stderr = &errb
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	var seen strings.Builder
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				cmd.Wait()
				t.Fatalf("netxsim %v exited before %q\nstdout:\n%s\nstderr:\n%s", args, ready, seen.String(), errb.String())
			}
			seen.WriteString(l + "\n")
			if strings.Contains(l, ready) {
				go func() { // keep draining, as a terminal would
					for l := range lines {
						_ = l
					}
				}()
				return cmd, &seen
			}
		case <-timeout:
			t.Fatalf("netxsim %v: no %q within 60s\n%s\n%s", args, ready, seen.String(), errb.String())
		}
	}
}

// TestSIGHUPCleansUp: closing the terminal (SIGHUP) stops `up` and `serve` like Ctrl-C does, and they
// remove the namespace and TAP they made.
func TestSIGHUPCleansUp(t *testing.T) {
	if why := taptest.Skip(); why != "" {
		t.Skip(why)
	}
	for _, tc := range []struct {
		name string
		args func(ns string) []string
	}{
		{"up", func(ns string) []string { return []string{"up", "--tap", ns, "--netns", ns, "--skip-dad"} }},
		{"serve", func(ns string) []string {
			return []string{"serve", "--tap", ns, "--netns", ns, "--ram", "2M", "--user", "u:p"}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := taptest.Name("nxh")
			t.Cleanup(func() { // if the command failed to clean up, do it here, and fail
				if tapdev.NetNSExists(ns) {
					t.Errorf("namespace %s left behind after SIGHUP", ns)
					if n, err := tapdev.OpenNetNS(ns); err == nil {
						n.Delete()
					}
				}
			})
			cmd, _ := startCLI(t, "running;", tc.args(ns)...)
			if !tapdev.NetNSExists(ns) {
				t.Fatalf("namespace %s not made", ns)
			}
			if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("exit after SIGHUP: %v (want 0)", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("still running 30s after SIGHUP")
			}
			if tapdev.NetNSExists(ns) {
				t.Errorf("namespace %s still exists after SIGHUP", ns)
			}
		})
	}
}
