//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/netxsim/netxsim/cmd/netxsim/internal/cli/clitest"
)

// TestShellRootless runs `netxsim shell` as the unprivileged user nobody: the namespace, the TAP, the
// FTP server on a RAM disk, curl and ping inside; then nothing of it may remain.
func TestShellRootless(t *testing.T) {
	needRootAndTools(t, "to drop to nobody (and to open /dev/net/tun to all for the test)", "curl", "ping", "sh")
	fi, err := os.Stat("/dev/net/tun")
	if err != nil {
		t.Skipf("no /dev/net/tun: %v", err)
	}
	bin := buildNetxsim(t)
	mode := fi.Mode().Perm()
	if mode&0o006 != 0o006 {
		// The machine as it is: the error must say what to change, before any namespace is made.
		cmd := exec.Command(bin, "shell", "--ram", "8M", "--user", "u:p", "--", "true")
		cmd.Dir = filepath.Dir(bin)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "chmod 0666 /dev/net/tun") {
			t.Fatalf("with /dev/net/tun mode %v: %v\n%s", mode, err, out)
		}
	}
	// A rootless TAP needs /dev/net/tun open to its user (the usual 0666; CI machines ship 0600).
	if err := os.Chmod("/dev/net/tun", 0o666); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.Chmod("/dev/net/tun", mode); err != nil {
			t.Errorf("restore /dev/net/tun mode %v: %v", mode, err)
		}
	})
	linksBefore := linkNames(t)

	script := `readlink /proc/self/ns/net; curl -sS ftp://u:p@198.51.100.2/ && ping -c1 198.51.100.2`
	cmd := exec.Command(bin, "shell", "--ram", "8M", "--user", "u:p", "--", "sh", "-c", script)
	cmd.Dir = filepath.Dir(bin)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/nonexistent"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	p := clitest.StartProc(t, cmd, "")
	select {
	case <-p.Ended():
		err = p.Wait()
	case <-time.After(2 * time.Minute):
		p.Cmd.Process.Kill()
		p.Wait()
		t.Fatalf("netxsim shell did not finish\nstdout:\n%s\nstderr:\n%s", p.Stdout(), p.Stderr())
	}
	if err != nil {
		if strings.Contains(p.Stderr(), "cannot create a user namespace") {
			t.Skipf("this machine forbids user namespaces: %s", p.Stderr())
		}
		t.Fatalf("netxsim shell: %v\nstdout:\n%s\nstderr:\n%s", err, p.Stdout(), p.Stderr())
	}
	out := p.Stdout()
	if !strings.Contains(out, "1 received") {
		t.Fatalf("ping did not answer:\n%s\nstderr:\n%s", out, p.Stderr())
	}
	ns := regexp.MustCompile(`net:\[\d+\]`).FindString(out)
	if ns == "" {
		t.Fatalf("no namespace printed:\n%s", out)
	}
	if own, _ := os.Readlink("/proc/self/ns/net"); own == ns {
		t.Fatalf("the command ran in the test's own namespace %s", ns)
	}
	// Nothing left: no process in that namespace nor running the binary, no new link here.
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := processesLeft(bin, ns)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes left behind: %v", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if after := linkNames(t); strings.Join(after, " ") != strings.Join(linksBefore, " ") {
		t.Fatalf("links changed in the root namespace: before %v, after %v", linksBefore, after)
	}
}

func linkNames(t *testing.T) []string {
	t.Helper()
	ls, err := netlink.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range ls {
		names = append(names, l.Attrs().Name)
	}
	return names
}

// processesLeft lists live processes in namespace ns or running bin.
func processesLeft(bin, ns string) []string {
	ents, _ := os.ReadDir("/proc")
	var left []string
	for _, e := range ents {
		p := "/proc/" + e.Name()
		if st, err := os.ReadFile(p + "/stat"); err != nil || strings.Contains(string(st), ") Z ") {
			continue // gone, not a process, or a zombie about to be reaped
		}
		n, _ := os.Readlink(p + "/ns/net")
		exe, _ := os.Readlink(p + "/exe")
		if n == ns || exe == bin {
			left = append(left, e.Name()+" "+exe)
		}
	}
	return left
}
