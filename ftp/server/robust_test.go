package server_test

// Clients that break off, reset, race each other or aim at the server's own temporaries: the files
// stay whole and nothing is left behind.

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/netxsim/netxsim/fsimage"
	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/ftp/server"
	"github.com/netxsim/netxsim/internal/testio"
)

// reset closes a connection with RST where the network allows it.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// TestConnectResetCycles: 100 connect-and-reset cycles per session slot leave every slot usable.
func TestConnectResetCycles(t *testing.T) {
	fsys, _ := newHostFS(t)
	srv := baseServer(fsys, ftp.ProfileNetXDuo)
	srv.MaxSessions = 4
	e := startNet(t, srv, v4)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := 0; i < 100*srv.MaxSessions; i++ {
		c, err := e.dial(ctx, e.ctrl)
		if err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		switch i % 3 { // reset at different moments: at once, after the greeting, during login
		case 1:
			c.Read(make([]byte, 64))
		case 2:
			c.Write([]byte("USER u\r\nPA"))
		}
		reset(c)
	}
	waitSessions(t, srv, 0)
	var wg sync.WaitGroup
	for i := 0; i < srv.MaxSessions; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := e.connect(t)
			c.expect(220, "Connection Ready ")
			c.login("u", "p")
			c.do("PWD", 257, `"/" is current Directory `)
		}()
	}
	wg.Wait()
}

// TestInterruptedSTOR: a client that drops during STOR (control connection or data reset) leaves the
// old file intact and no temporary file.
func TestInterruptedSTOR(t *testing.T) {
	old := []byte("the old content")
	for _, nw := range networks {
		for _, how := range []string{"control-drop", "data-reset"} {
			if how == "data-reset" && nw.name == "mem" {
				continue // gonet has no RST-on-close; the kernel run covers it
			}
			for _, prof := range []ftp.Profile{ftp.ProfileNetXDuo, ftp.ProfileExtended} {
				t.Run(nw.name+"/"+how+"/"+string(prof), func(t *testing.T) {
					fsys, dir := newHostFS(t)
					writeFile(t, dir, "keep.bin", old)
					srv := baseServer(fsys, prof)
					e := nw.start(t, srv, v4)
					c := e.connect(t)
					c.read()
					c.login("u", "p")
					c.do("TYPE I", 200, nx(c, "Type Binary"))
					d := c.pasvData()
					c.send("STOR keep.bin")
					c.expect(150, nx(c, "File Open for Write"))
					d.Write(bytes.Repeat([]byte("new!"), 256<<10))
					if how == "control-drop" {
						reset(c.c)
						waitSessions(t, srv, 0)
						reset(d)
					} else {
						reset(d)
						code, _ := c.read()
						if code != 426 {
							t.Fatalf("reset data connection: reply %d, want 426", code)
						}
						c.do("QUIT", 221, nx(c, "Logging Off"))
						waitSessions(t, srv, 0)
					}
					got, err := os.ReadFile(filepath.Join(dir, "keep.bin"))
					if err != nil || !bytes.Equal(got, old) {
						t.Fatalf("old file: %d bytes (want the old %d), %v", len(got), len(old), err)
					}
					if names := dirNames(t, dir); names != "keep.bin" {
						t.Fatalf("debris left: %s", names)
					}
				})
			}
		}
	}
}

// TestTempNamesHidden: an upload in progress is not visible in listings.
func TestTempNamesHidden(t *testing.T) {
	fsys, dir := newHostFS(t)
	writeFile(t, dir, ".netxsim-upload-0123.part", []byte("x"))
	writeFile(t, dir, "a", []byte("x"))
	e := startNet(t, baseServer(fsys, ftp.ProfileExtended), v4)
	c := e.connect(t)
	c.read()
	c.login("u", "p")
	if got := string(c.pasvRead("NLST")); got != "a\r\n" {
		t.Fatalf("NLST: %q", got)
	}
	c.do("RETR .netxsim-upload-0123.part", 550, "File Open Fail")
	c.do("DELE x", 550, "Delete Failed")
	if !strings.Contains(dirNames(t, dir), "a") {
		t.Fatal("lost a")
	}
}

// The hostile-input classes of issue 10 (protocol side): concurrent APPE, upload temporary files
// reached by other names, non-regular files in a host root.

// TestConcurrentAppend: N sessions APPE to one file at once, every one of them told 226 only after
// the others started: every append is in the file, each one whole, none lost.
func TestConcurrentAppend(t *testing.T) {
	for _, be := range allBackends() {
		for _, size := range []int{1, 1500, 200 << 10} {
			for k, fam := range []family{v4, v6} {
				nw := networks[(k+size)%2] // both families on both networks across the sizes
				t.Run(fmt.Sprintf("%s/%d/%s/%s", be.name, size, fam, nw.name), func(t *testing.T) {
					testConcurrentAppend(t, be, size, fam, nw.start)
				})
			}
		}
	}
}

func testConcurrentAppend(t *testing.T, be backend, size int, fam family, start func(testing.TB, *server.Server, family) *env) {
	fsys := be.make(t)
	const base = "BASE\n"
	testio.CreateFile(t, fsys, "log.txt", []byte(base))
	e := start(t, baseServer(fsys, ftp.ProfileExtended), fam)
	const n = 4
	chunks := make([][]byte, n)
	conns := make([]*ctrl, n)
	datas := make([]net.Conn, n)
	// every session has its APPE open (150) before any sends data: the old server took
	// its copy of the file at that moment, so all but one append were lost
	for i := range n {
		chunks[i] = bytes.Repeat([]byte{byte('a' + i)}, size)
		c := e.connect(t)
		c.read()
		c.login("u", "p")
		c.do("TYPE I", 200, "Type Binary")
		datas[i] = c.pasvData()
		c.send("APPE log.txt")
		if code, text := c.read(); code != 150 {
			t.Fatalf("APPE %d: %d %s", i, code, text)
		}
		conns[i] = c
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			datas[i].Write(chunks[i])
			datas[i].Close()
		})
	}
	wg.Wait()
	for i, c := range conns {
		if code, text := c.read(); code != 226 {
			t.Errorf("APPE %d ended with %d %s", i, code, text)
		}
	}
	got := getFile(t, fsys, "log.txt")
	if want := len(base) + n*size; len(got) != want {
		t.Fatalf("file has %d bytes, want %d (an append was lost)", len(got), want)
	}
	if !bytes.HasPrefix(got, []byte(base)) {
		t.Fatalf("the original content is gone: %q", got[:min(len(got), 16)])
	}
	for i := range n {
		if !bytes.Contains(got, chunks[i]) {
			t.Errorf("append %d (%c) missing or torn", i, 'a'+i)
		}
	}
	assertNoTemp(t, fsys, ".")
}

// assertNoTemp fails if an upload temporary is left in dir.
func assertNoTemp(t testing.TB, fsys server.FileSystem, dir string) {
	t.Helper()
	es, err := fsys.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if strings.HasPrefix(strings.ToLower(e.Name()), ".netxsim-upload-") {
			t.Errorf("temporary %s left in %s", e.Name(), dir)
		}
	}
}

// tempNames returns every name of the one upload temporary in dir: the long name and, on FAT, its
// 8.3 alias in both cases.
func tempNames(t testing.TB, fsys server.FileSystem, dir string) []string {
	t.Helper()
	es, err := fsys.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if !strings.HasPrefix(e.Name(), ".netxsim-upload-") {
			continue
		}
		names := []string{e.Name()}
		fi, err := fsys.Stat(path.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if ei, ok := fi.Sys().(*fsimage.EntryInfo); ok && ei.ShortName != "" {
			names = append(names, ei.ShortName, strings.ToLower(ei.ShortName))
		}
		return names
	}
	t.Fatalf("no upload temporary in %s", dir)
	return nil
}

// TestTempFileUnreachable: while an upload is in progress, its temporary file cannot be seen or
// touched by any command under any of its names, by a read-only or a read-write user, in the root
// and in a subdirectory; the upload then completes intact.
func TestTempFileUnreachable(t *testing.T) {
	for _, be := range allBackends() {
		for _, dir := range []string{"", "sub/"} {
			for _, prof := range allProfiles {
				for _, fam := range []family{v4, v6} {
					t.Run(be.name+"/"+strings.TrimSuffix(dir, "/")+"/"+string(prof)+"/"+string(fam), func(t *testing.T) {
						testTempUnreachable(t, be.make(t), dir, prof, fam)
					})
				}
			}
		}
	}
}

func testTempUnreachable(t *testing.T, fsys server.FileSystem, dir string, prof ftp.Profile, fam family) {
	if dir != "" {
		if err := fsys.Mkdir(strings.TrimSuffix(dir, "/")); err != nil {
			t.Fatal(err)
		}
	}
	testio.CreateFile(t, fsys, dir+"other.txt", []byte("other"))
	e := startKernel(t, baseServer(fsys, prof), fam)
	up := e.connect(t)
	up.read()
	up.login("u", "p")
	up.do("TYPE I", 200, nx(up, "Type Binary"))
	var d net.Conn
	if prof == ftp.ProfileNetXDuo64 && fam == v6 {
		// NetX Duo 6.4.2 never reads an upload over EPSV (reproduced): upload over EPRT
		ln := up.activeData()
		up.send("STOR /" + dir + "up.bin")
		d = accept(t, ln)
	} else {
		d = up.pasvData()
		up.send("STOR /" + dir + "up.bin")
	}
	up.read()
	first := bytes.Repeat([]byte("partial!"), 4096)
	if _, err := d.Write(first); err != nil {
		t.Fatal(err)
	}
	// the server has the temporary once it has read the first bytes; wait until it shows
	fsDir := strings.TrimSuffix(dir, "/")
	if fsDir == "" {
		fsDir = "."
	}
	var names []string
	for i := 0; i < 1000; i++ {
		if es, _ := fsys.ReadDir(fsDir); len(es) > 0 && hasTemp(es) {
			names = tempNames(t, fsys, fsDir)
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if names == nil {
		t.Fatal("no temporary appeared")
	}
	snapshot := getFile(t, fsys, path.Join(fsDir, names[0]))

	for _, user := range []string{"ro", "u"} {
		c := e.connect(t)
		c.read()
		c.login(user, map[string]string{"ro": "ro", "u": "p"}[user])
		c.do("TYPE I", 200, nx(c, "Type Binary"))
		for _, n := range names {
			for _, p := range []string{"/" + dir + n, dir + n, strings.ReplaceAll("/"+dir+n, "/", `\`)} {
				checkRefused(t, c, prof, user, "/"+dir+"other.txt", p)
			}
		}
		// listings never show it
		lists := []string{"NLST", "LIST"}
		if prof == ftp.ProfileExtended {
			lists = append(lists, "MLSD")
		}
		for _, cmd := range lists {
			dd := c.pasvData()
			c.send(cmd + " /" + dir)
			if code, _ := c.read(); code >= 400 {
				t.Fatalf("%s: %d", cmd, code)
			}
			body := string(readAll(t, dd))
			c.read()
			for _, n := range names[:1] {
				if strings.Contains(body, n) || strings.Contains(strings.ToUpper(body), "NETXSI~") {
					t.Errorf("%s shows the temporary %s: %q", cmd, n, body)
				}
			}
		}
	}
	// the upload is untouched and completes
	if now := getFile(t, fsys, path.Join(fsDir, names[0])); !bytes.HasPrefix(now, snapshot) {
		t.Fatal("the temporary was changed by another session")
	}
	rest := bytes.Repeat([]byte("-rest-"), 1000)
	d.Write(rest)
	d.Close()
	if code, text := up.read(); code >= 300 {
		t.Fatalf("STOR ended with %d %s", code, text)
	}
	if got := getFile(t, fsys, dir+"up.bin"); !bytes.Equal(got, append(first, rest...)) {
		t.Fatalf("upload damaged: %d bytes", len(got))
	}
	if got := getFile(t, fsys, dir+"other.txt"); string(got) != "other" {
		t.Fatalf("other.txt became %q", got)
	}
	assertNoTemp(t, fsys, fsDir)
}

func hasTemp(es []fs.DirEntry) bool {
	for _, e := range es {
		if strings.HasPrefix(e.Name(), ".netxsim-upload-") {
			return true
		}
	}
	return false
}

// checkRefused runs every path command on p, a name of the temporary, and wants a refusal.
func checkRefused(t *testing.T, c *ctrl, prof ftp.Profile, user, other, p string) {
	t.Helper()
	ext := prof == ftp.ProfileExtended
	want := func(cmd string, ok func(code int) bool) {
		t.Helper()
		c.send(cmd)
		code, text := c.read()
		if !ok(code) {
			t.Errorf("%s %s: %q answered %d %q", user, prof, cmd, code, text)
		}
	}
	fail := func(code int) bool { return code >= 500 }
	want("CWD "+p, fail)
	want("RNFR "+p, fail)
	want("DELE "+p, fail)
	want("RMD "+p, fail)
	want("MKD "+p, fail)
	if ext {
		want("SIZE "+p, fail)
		want("MDTM "+p, fail)
		want("MLST "+p, fail)
		want("STAT "+p, fail)
	}
	// commands with a data connection: refused before the connection is used
	for _, cmd := range []string{"RETR", "STOR", "LIST", "NLST"} {
		if (cmd == "STOR") && user == "ro" {
			continue // 532 for the read-only user says nothing about the file
		}
		dd := c.pasvData()
		c.send(cmd + " " + p)
		code, text := c.read()
		if code < 400 {
			var body []byte
			if cmd == "STOR" {
				dd.Close()
			} else {
				body = readAll(t, dd)
			}
			c.read()
			t.Errorf("%s %s: %s %s answered %d %q and sent %d bytes", user, prof, cmd, p, code, text, len(body))
			continue
		}
		dd.Close()
	}
	if ext && user == "u" {
		dd := c.pasvData()
		c.send("APPE " + p)
		code, text := c.read()
		if code < 400 {
			dd.Close()
			c.read()
			t.Errorf("%s: APPE %s answered %d %q", user, p, code, text)
		} else {
			dd.Close()
		}
	}
	// RNTO onto the temporary's name
	if user == "u" {
		c.do("RNFR "+other, 350, nx(c, "Rename File From"))
		want("RNTO "+p, fail)
	}
}

// TestNonRegularFiles: a FIFO (and a device node, as root) in a host root are refused by every
// command at once, nothing blocks, and Close returns.
func TestNonRegularFiles(t *testing.T) {
	for _, prof := range []ftp.Profile{ftp.ProfileNetXDuo, ftp.ProfileExtended} {
		t.Run(string(prof), func(t *testing.T) {
			fsys, dir := newHostFS(t)
			if err := syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644); err != nil {
				t.Skipf("no FIFOs here: %v", err)
			}
			specials := []string{"pipe"}
			if err := syscall.Mknod(filepath.Join(dir, "zero"), syscall.S_IFCHR|0o644, 1<<8|5); err == nil {
				specials = append(specials, "zero") // /dev/zero: would never end
			} else {
				t.Logf("no device node (needs root): %v", err)
			}
			os.Symlink("pipe", filepath.Join(dir, "link-to-pipe"))
			specials = append(specials, "link-to-pipe")
			writeFile(t, dir, "ok.txt", []byte("ok"))
			srv := baseServer(fsys, prof)
			e := startKernel(t, srv, v4)
			c := e.connect(t)
			c.read()
			c.login("u", "p")
			c.do("TYPE I", 200, nx(c, "Type Binary"))
			cmds := []string{"RETR", "STOR"}
			if prof == ftp.ProfileExtended {
				cmds = append(cmds, "APPE")
			}
			for _, name := range specials {
				for _, cmd := range cmds {
					dd := c.pasvData()
					c.send(cmd + " " + name)
					code, text := c.read()
					if code < 400 {
						dd.Close()
						c.read()
						t.Errorf("%s %s: %d %q", cmd, name, code, text)
						continue
					}
					dd.Close()
				}
			}
			// a listing still works and the server still serves regular files
			if body := string(c.pasvRead("NLST")); !strings.Contains(body, "ok.txt") {
				t.Errorf("NLST: %q", body)
			}
			if got := string(c.pasvRead("RETR ok.txt")); got != "ok" {
				t.Errorf("RETR ok.txt: %q", got)
			}
			fi, err := os.Lstat(filepath.Join(dir, "pipe"))
			if err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
				t.Errorf("the FIFO was replaced: %v %v", fi, err)
			}
		})
	}
}
