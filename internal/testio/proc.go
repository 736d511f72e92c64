package testio

import (
	"os"
	"os/exec"
)

// Skipper is the part of testing.TB NeedTools needs.
type Skipper interface {
	Helper()
	Skipf(format string, args ...any)
}

// NeedTools skips the test unless every named program (a name on PATH or a path) is there: the
// external oracles and peers a test runs are optional on a build machine.
func NeedTools(t Skipper, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("needs %s: %v", n, err)
		}
	}
}

// SelfCommand returns the test binary itself as a command that runs only the test named test (no
// test when test is ""), verbosely, with env added to its environment: the way a test watches a
// second process of its own, one that fails on purpose or holds a resource. The caller's TestMain
// or the named test reads env to know its part.
func SelfCommand(test string, env ...string) *exec.Cmd {
	run := "^$"
	if test != "" {
		run = "^" + test + "$"
	}
	cmd := exec.Command(os.Args[0], "-test.run="+run, "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

// peerPath is where Debian installs each real peer the interop tests run, and the package that has
// it (scripts/test.sh installs them): the one place a test looks for one.
func peerPath(name string) (path, pkg string) {
	switch name {
	case "vsftpd":
		return "/usr/sbin/vsftpd", "vsftpd"
	case "pyftpdlib": // for Debian's /usr/bin/python3
		return "/usr/lib/python3/dist-packages/pyftpdlib", "python3-pyftpdlib"
	case "curl":
		return "/usr/bin/curl", "curl"
	}
	panic("testio: no such peer: " + name)
}

// NeedPeers skips the test unless every named peer ("vsftpd", "pyftpdlib", "curl") is installed
// where Debian puts it, saying which package to install.
func NeedPeers(t Skipper, names ...string) {
	t.Helper()
	for _, n := range names {
		path, pkg := peerPath(n)
		if _, err := os.Stat(path); err != nil {
			t.Skipf("needs %s (Debian package %s): %v", n, pkg, err)
		}
	}
}
