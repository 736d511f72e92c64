package ftpcmd

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pyftpd starts Debian's pyftpdlib on 127.0.0.1 (the client package's test server script) and
// returns its port.
func pyftpd(t *testing.T, root string) int {
	t.Helper()
	if _, err := os.Stat("/usr/lib/python3/dist-packages/pyftpdlib"); err != nil {
		t.Skip("needs python3-pyftpdlib (Debian package)")
	}
	script, _ := filepath.Abs("../../../../ftp/client/testdata/pyftpd.py")
	cmd := exec.Command("/usr/bin/python3", "-u", script, "127.0.0.1", "0", root)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ch := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var p int
			if _, err := fmt.Sscanf(sc.Text(), "PORT %d", &p); err == nil {
				ch <- p
			}
		}
	}()
	select {
	case p := <-ch:
		return p
	case <-time.After(20 * time.Second):
		t.Fatal("pyftpdlib did not start")
	}
	return 0
}

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code = Run(ctx, args, &o, &e)
	return code, o.String(), e.String()
}

func TestCommandsAgainstPyftpdlib(t *testing.T) {
	root := t.TempDir()
	port := pyftpd(t, root)
	base := fmt.Sprintf("ftp://user:secret@127.0.0.1:%d", port)
	local := t.TempDir()
	src := filepath.Join(local, "src.bin")
	data := bytes.Repeat([]byte("netxsim "), 40_000)
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		args []string
		out  string // expected in stdout
	}{
		{[]string{"mkdir", base + "/dir"}, ""},
		{[]string{"put", "--passive", src, base + "/dir/a.bin"}, ""},
		{[]string{"put", "--profile", "netxduo", src, base + "/dir/"}, ""},
		{[]string{"nlst", base + "/dir"}, "a.bin"},
		{[]string{"ls", "-v", base + "/dir"}, "src.bin"},
		{[]string{"mv", base + "/dir/a.bin", "dir/b.bin"}, ""},
		{[]string{"get", base + "/dir/b.bin", filepath.Join(local, "got.bin")}, ""},
		{[]string{"rm", base + "/dir/b.bin"}, ""},
		{[]string{"rm", base + "/dir/src.bin"}, ""},
		{[]string{"rmdir", base + "/dir"}, ""},
	}
	for _, s := range steps {
		code, out, errOut := runCmd(t, s.args...)
		if code != 0 || !strings.Contains(out, s.out) {
			t.Fatalf("netxsim ftp %q = %d\nstdout: %s\nstderr: %s", s.args, code, out, errOut)
		}
		if s.args[1] == "-v" && !strings.Contains(errOut, "> LIST dir") {
			t.Errorf("-v did not print the dialogue: %s", errOut)
		}
	}
	got, err := os.ReadFile(filepath.Join(local, "got.bin"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("downloaded file: %d bytes, %v; want %d", len(got), err, len(data))
	}
	// a failed download leaves no file behind
	code, _, errOut := runCmd(t, "get", base+"/missing", filepath.Join(local, "missing"))
	if code != 1 || !strings.Contains(errOut, "550") {
		t.Fatalf("get of a missing file = %d, %s", code, errOut)
	}
	if entries, _ := os.ReadDir(local); len(entries) != 2 {
		t.Fatalf("left behind: %v", entries)
	}
	// a wrong password
	code, _, errOut = runCmd(t, "nlst", fmt.Sprintf("ftp://user:bad@127.0.0.1:%d/", port))
	if code != 1 || !strings.Contains(errOut, "530") {
		t.Fatalf("wrong password = %d, %s", code, errOut)
	}
}

func TestUsage(t *testing.T) {
	if code, out, _ := runCmd(t, "--help"); code != 0 || !strings.Contains(out, "usage: netxsim ftp") {
		t.Fatalf("--help = %d, %q", code, out)
	}
	for _, args := range [][]string{
		{}, {"frobnicate", "ftp://h/"}, {"get"}, {"get", "http://h/x"}, {"mv", "ftp://h/a"},
		{"get", "--profile", "odd", "ftp://h/x"}, {"get", "--mode", "x", "ftp://h/x"}, {"ls", "--nope", "ftp://h/"},
	} {
		if code, _, _ := runCmd(t, args...); code != 2 {
			t.Errorf("netxsim ftp %q = %d, want 2", args, code)
		}
	}
}
