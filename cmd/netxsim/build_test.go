package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
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
