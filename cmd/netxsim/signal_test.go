package main

import (
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/netxsim/netxsim/cmd/netxsim/internal/cli/clitest"
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
				clitest.NetNSGone(t, ns)
			})
			p := startCLI(t, "running;", tc.args(ns)...)
			if !tapdev.NetNSExists(ns) {
				t.Fatalf("namespace %s not made", ns)
			}
			if err := p.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			select {
			case <-p.Ended():
				if err := p.Wait(); err != nil {
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
