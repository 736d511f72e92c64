package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/netxsim/netxsim/cmd/netxsim/internal/cli/clitest"
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

// startCLI runs this test binary as `netxsim args...` (TestMain) until stdout shows ready.
func startCLI(t testing.TB, ready string, args ...string) *clitest.Proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "NETXSIM_TEST_MAIN=1")
	return clitest.StartProc(t, cmd, ready)
}
