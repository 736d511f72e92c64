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

// NeedTools skips the test unless every named program is there: a name on PATH, a path, or one of
// the real peers Debian installs in a place of its own ("vsftpd", "pyftpdlib" for /usr/bin/python3),
// for which the skip names the package to install. The external oracles and peers a test runs are
// optional on a build machine; scripts/test.sh installs them.
func NeedTools(t Skipper, names ...string) {
	t.Helper()
	for _, n := range names {
		if path, pkg, ok := debianPeer(n); ok {
			if _, err := os.Stat(path); err != nil {
				t.Skipf("needs %s (Debian package %s): %v", n, pkg, err)
			}
			continue
		}
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("needs %s: %v", n, err)
		}
	}
}

// debianPeer is where Debian installs a peer that is not a program on PATH, and its package.
func debianPeer(name string) (path, pkg string, ok bool) {
	switch name {
	case "vsftpd": // in /usr/sbin, not on a normal user's PATH
		return "/usr/sbin/vsftpd", "vsftpd", true
	case "pyftpdlib": // a module of Debian's /usr/bin/python3
		return "/usr/lib/python3/dist-packages/pyftpdlib", "python3-pyftpdlib", true
	}
	return "", "", false
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
