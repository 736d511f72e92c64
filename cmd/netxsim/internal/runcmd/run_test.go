package runcmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netxsim/netxsim/cmd/netxsim/internal/cli/clitest"
)

const examples = "../../../../testdata/scenarios/"

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return clitest.Run(t, Run, args...)
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	junit := filepath.Join(dir, "ci.xml")
	code, out, errs := run(t, examples+"basic.yaml", "--out", filepath.Join(dir, "basic"), "--junit", junit)
	if code != 0 {
		t.Fatalf("basic: exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"step 1 write IPv4 active (PORT): ok", "PORT", "PASV", "EPRT", "EPSV", "PASS: 9/9 steps ok", "junit.xml"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if fi, err := os.Stat(junit); err != nil || fi.Size() == 0 {
		t.Errorf("--junit file: %v", err)
	}
	code, out, _ = run(t, "-q", "--out", filepath.Join(dir, "v-exp"), examples+"violation-expected.yaml")
	if code != 0 || !strings.Contains(out, "EXPECTED-FAIL profile-codes") {
		t.Errorf("violation-expected: exit %d, want 0:\n%s", code, out)
	}
	code, out, _ = run(t, "-q", "--out", filepath.Join(dir, "v-unexp"), examples+"violation-unexpected.yaml")
	if code != 1 || !strings.Contains(out, "FAIL profile-codes") || !strings.Contains(out, "expectation verdicts FAILED") {
		t.Errorf("violation-unexpected: exit %d, want 1:\n%s", code, out)
	}
}

func TestUsage(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("name: x\ndevices:\n  - name: d\n    colour: blue\n"), 0o644)
	clitest.Exits(t, Run,
		clitest.Case{Args: []string{"--help"}, Code: 0, Out: "usage: netxsim run"},
		clitest.Case{Args: nil, Code: 2, Err: "want one or more scenario files"},
		clitest.Case{Args: []string{"a.yaml", "b.yaml"}, Code: 2, Err: "open a.yaml: no such file"}, // every file is loaded before any runs
		clitest.Case{Args: []string{"--bogus"}, Code: 2, Err: "flag provided but not defined"},
		clitest.Case{Args: []string{filepath.Join(dir, "missing.yaml")}, Code: 2, Err: "no such file"},
		clitest.Case{Args: []string{bad}, Code: 2, Err: "bad.yaml:4: field colour not found"})
}

func TestTAPNeedsRoot(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root: the TAP scenario would run (see scenario.TestDemoTAP)")
	}
	dir := t.TempDir()
	f := filepath.Join(dir, "tap.yaml")
	os.WriteFile(f, []byte(`
devices:
  - {name: d, ipv4: 198.51.100.2/24, server: {users: {u: p}}}
  - {name: h, ipv4: 198.51.100.1/24}
links: [{between: [d, h], type: tap}]
steps: [{client: h, server: d, do: [{ls: /}]}]
`), 0o644)
	code, out, errs := run(t, f, "--out", dir)
	if code != 2 || !strings.Contains(errs, "root") {
		t.Errorf("tap scenario as non-root: exit %d, %s%s", code, out, errs)
	}
}

// A scenario with an address in 192.0.2.0/24 (the build machines' uplink) is refused with exit 2,
// before anything is built.
func TestRefuses192_0_2(t *testing.T) {
	b, err := os.ReadFile(examples + "basic.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := filepath.Join(dir, "bad.yaml")
	os.WriteFile(f, []byte(strings.Replace(string(b), "198.51.100.2/24", "192.0.2.2/24", 1)), 0o644)
	code, _, errs := run(t, "-q", "--out", filepath.Join(dir, "out"), f)
	if code != 2 || !strings.Contains(errs, "192.0.2.0/24") {
		t.Fatalf("exit %d, want 2 with the reason: %s", code, errs)
	}
}
