package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/netxsim/netxsim/cmd/netxsim/internal/cli/clitest"
	"github.com/netxsim/netxsim/internal/testio"
)

// buildNetxsim builds the command into a fresh directory that every user can read and run (the
// rootless test runs it as nobody), removed at cleanup.
func buildNetxsim(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(testio.SharedDir(t, "netxsim-bin-"), "netxsim")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// needRootAndTools skips the test unless it runs as root (why: what for) with every tool there.
func needRootAndTools(t *testing.T, why string, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: " + why)
	}
	testio.NeedTools(t, tools...)
}

// startCLI runs this test binary as `netxsim args...` (TestMain) until stdout shows ready.
func startCLI(t testing.TB, ready string, args ...string) *clitest.Proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "NETXSIM_TEST_MAIN=1")
	return clitest.StartProc(t, cmd, ready)
}
