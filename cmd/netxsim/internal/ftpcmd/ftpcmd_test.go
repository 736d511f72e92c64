package ftpcmd

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netxsim/netxsim/cmd/netxsim/internal/cli/clitest"
	"github.com/netxsim/netxsim/fsimage"
	"github.com/netxsim/netxsim/internal/testio"
)

func needPyftpdlib(t *testing.T) {
	t.Helper()
	testio.NeedTools(t, "pyftpdlib")
}

// pyftpdArgs runs the client package's pyftpdlib test server script (user/secret on root) on host.
func pyftpdArgs(host, root string) []string {
	script, _ := filepath.Abs("../../../../ftp/client/testdata/pyftpd.py")
	return []string{"/usr/bin/python3", "-u", script, host, "0", root}
}

// pyftpd starts Debian's pyftpdlib on 127.0.0.1 and returns its port.
func pyftpd(t *testing.T, root string) int {
	t.Helper()
	needPyftpdlib(t)
	args := pyftpdArgs("127.0.0.1", root)
	return startPyftpd(t, exec.Command(args[0], args[1:]...))
}

// startPyftpd starts cmd (pyftpdArgs, on the host or inside a namespace) and returns the port the
// script reports once it listens.
func startPyftpd(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	p := clitest.StartProc(t, cmd, "PORT ")
	var port int
	if _, err := fmt.Sscanf(p.Line, "PORT %d", &port); err != nil {
		t.Fatalf("pyftpdlib %q printed %q: %v", cmd.Args, p.Line, err)
	}
	return port
}

// runTo runs `netxsim ftp args` on the test's context with the given outputs.
func runTo(t *testing.T, stdout, stderr io.Writer, args ...string) int {
	t.Helper()
	return Run(t.Context(), args, stdout, stderr)
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
		code, out, errOut := clitest.Run(t, Run, s.args...)
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
	code, _, errOut := clitest.Run(t, Run, "get", base+"/missing", filepath.Join(local, "missing"))
	if code != 1 || !strings.Contains(errOut, "550") {
		t.Fatalf("get of a missing file = %d, %s", code, errOut)
	}
	if entries, _ := os.ReadDir(local); len(entries) != 2 {
		t.Fatalf("left behind: %v", entries)
	}
	// a wrong password
	code, _, errOut = clitest.Run(t, Run, "nlst", fmt.Sprintf("ftp://user:bad@127.0.0.1:%d/", port))
	if code != 1 || !strings.Contains(errOut, "530") {
		t.Fatalf("wrong password = %d, %s", code, errOut)
	}
}

func TestUsage(t *testing.T) {
	cases := []clitest.Case{{Args: []string{"--help"}, Code: 0, Out: "usage: netxsim ftp"}}
	for _, args := range [][]string{
		{}, {"frobnicate", "ftp://h/"}, {"get"}, {"get", "http://h/x"}, {"mv", "ftp://h/a"},
		{"get", "--profile", "odd", "ftp://h/x"}, {"get", "--mode", "x", "ftp://h/x"}, {"ls", "--nope", "ftp://h/"},
	} {
		cases = append(cases, clitest.Case{Args: args, Code: 2})
	}
	clitest.Exits(t, Run, cases...)
}

// The client on the device's own files (issue 12): `get --image` stores into the FAT image, `put
// --image` reads from it; a real FTP server (pyftpdlib) is the other end, and the image stays clean
// for fsck's view (fsimage.Check).
func TestImageGetPut(t *testing.T) {
	root := t.TempDir()
	fw := bytes.Repeat([]byte("firmware image "), 20000)
	os.WriteFile(filepath.Join(root, "fw.bin"), fw, 0o644)
	port := pyftpd(t, root)
	img := filepath.Join(t.TempDir(), "dev.img")
	f, _ := os.Create(img)
	f.Truncate(8 << 20)
	if err := fsimage.Format(f, 8<<20, fsimage.FormatOptions{}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	base := fmt.Sprintf("ftp://user:secret@127.0.0.1:%d/", port)
	if code, out, errs := clitest.Run(t, Run, "get", "--image", img, base+"fw.bin", "fw/fw.bin"); code != 0 || !strings.Contains(out, "stored") {
		t.Fatalf("get --image: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := clitest.Run(t, Run, "put", "--image", img, "fw/fw.bin", base+"back.bin"); code != 0 {
		t.Fatalf("put --image: exit %d\n%s%s", code, out, errs)
	}
	back, err := os.ReadFile(filepath.Join(root, "back.bin"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := fsimage.OpenFile(img, fsimage.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	onImage, err := fs.ReadFile(v, "fw/fw.bin")
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(onImage) != sha256.Sum256(fw) || sha256.Sum256(back) != sha256.Sum256(fw) {
		t.Fatalf("SHA-256 differ: image %d bytes, back on the server %d bytes, original %d", len(onImage), len(back), len(fw))
	}
	if r, err := v.Check(); err != nil || !r.OK() {
		t.Fatalf("image after get/put: %v %v", err, r)
	}
}

// ftp refuses 192.0.2.0/24 with exit 2, on the host kernel (no packet is sent) and as a device address.
func TestRefuses192_0_2(t *testing.T) {
	clitest.Exits(t, Run,
		clitest.Case{Args: []string{"ls", "ftp://192.0.2.1/"}, Code: 2, Err: "192.0.2.0/24"},
		clitest.Case{Args: []string{"ls", "--tap", "nxg0", "--ipv4", "192.0.2.2/24", "ftp://198.51.100.1/"}, Code: 2, Err: "192.0.2.0/24"},
		clitest.Case{Args: []string{"ls", "--tap", "nxg0", "--ip", "192.0.2.2/24", "ftp://198.51.100.1/"}, Code: 2, Err: "192.0.2.0/24"})
}
