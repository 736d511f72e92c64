package servecmd

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/netxsim/netxsim/cmd/netxsim/internal/cli/clitest"
	"github.com/netxsim/netxsim/fsimage"
	nxftp "github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/ftp/server"
)

// TestMain lets the test binary be `netxsim serve` as a child process, so that a test can kill -9 it
// or send it SIGTERM; the child handles signals as cmd/netxsim's main does.
func TestMain(m *testing.M) {
	if args := os.Getenv("NETXSIM_SERVE_CHILD"); args != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
		code := Run(ctx, strings.Split(args, "\x1f"), os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// child starts `netxsim serve` over img in a child process and returns it with its address.
func child(t *testing.T, img string) (*clitest.Proc, string) {
	t.Helper()
	return childArgs(t, "--listen", "127.0.0.1:0", "--user", "u:p", "--profile", "extended", "--image", img)
}

// childArgs starts `netxsim serve ARGS...` in a child process and returns it with the address it
// listens on.
func childArgs(t *testing.T, args ...string) (*clitest.Proc, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "NETXSIM_SERVE_CHILD="+strings.Join(args, "\x1f"))
	p := clitest.StartProc(t, cmd, "listening on ")
	_, addr, _ := strings.Cut(p.Line, "listening on ")
	return p, strings.TrimSpace(addr)
}

// TestKillDuringWrites kills -9 a `netxsim serve` at random moments while a client runs STOR
// (new files and overwrites, large enough to be killed mid-transfer), APPE, RNTO, MKD and DELE on
// a FAT image, 8 rounds on each FAT type. After each kill, the next open of the image must leave
// it fsck.fat-clean, with every acknowledged file intact, the old version of a file being
// overwritten intact, and no upload temporary file.
func TestKillDuringWrites(t *testing.T) {
	if _, err := exec.LookPath("fsck.fat"); err != nil {
		t.Skip("needs fsck.fat (dosfstools)")
	}
	if testing.Short() {
		t.Skip("kills 24 server processes")
	}
	rng := rand.New(rand.NewPCG(10, 5))
	rounds, ops, dirtyAfterKill := 0, 0, 0
	for _, ft := range []struct {
		typ  fsimage.FATType
		size int64
	}{{fsimage.FAT12, 1440 << 10}, {fsimage.FAT16, 16 << 20}, {fsimage.FAT32, 40 << 20}} {
		img := newImage(t, ft.size, fsimage.FormatOptions{Type: ft.typ, ClusterSize: 512})
		model := map[string]string{} // acknowledged files
		dirs := map[string]bool{}
		gen := 0
		content := func(n int) string {
			gen++
			return strings.Repeat(fmt.Sprintf("<%d>", gen), n/4+1)
		}
		for round := 0; round < 8; round++ {
			rounds++
			srv, addr := child(t, img)
			var inflight func(get func(string) (string, bool)) error // the op cut by the kill: what may be
			killAt := time.Duration(rng.IntN(400)+20) * time.Millisecond
			killed := make(chan struct{})
			go func() {
				time.Sleep(killAt)
				srv.Cmd.Process.Signal(syscall.SIGKILL)
				close(killed)
			}()
			c, err := ftp.Dial(addr, ftp.DialWithTimeout(5*time.Second))
			if err == nil {
				err = c.Login("u", "p")
			}
			for err == nil {
				ops++
				names := []string{"a.txt", "b.bin", "long name number one.txt", "d/c.txt", "d/e/long name two.dat"}
				name := names[rng.IntN(len(names))]
				if strings.Contains(name, "/") && !dirs[filepathDir(name)] {
					dir := filepathDir(name)
					if strings.Contains(dir, "/") && !dirs[filepathDir(dir)] {
						dir = filepathDir(dir)
					}
					if err = c.MakeDir(dir); err == nil {
						dirs[dir] = true
					}
					continue
				}
				old, had := model[name]
				switch op := rng.IntN(10); {
				case op < 4: // STOR, sometimes large (killed mid-transfer)
					data := content(rng.IntN(200_000) + 1)
					if ft.typ == fsimage.FAT12 {
						data = data[:min(len(data), 60_000)]
					}
					inflight = either(name, old, had, data)
					if err = c.Stor(name, strings.NewReader(data)); err == nil {
						model[name] = data
					}
				case op < 6: // APPE
					data := content(rng.IntN(3000) + 1)
					inflight = either(name, old, had, old+data)
					if err = c.Append(name, strings.NewReader(data)); err == nil {
						model[name] = old + data
					}
				case op < 8 && had: // RNTO
					to := names[rng.IntN(len(names))]
					if to == name || strings.Contains(to, "/") && !dirs[filepathDir(to)] {
						continue
					}
					prevTo, hadTo := model[to]
					inflight = func(get func(string) (string, bool)) error {
						a, okA := get(name)
						b, okB := get(to)
						if okA && a == old && (!hadTo && !okB || okB && b == prevTo) || !okA && okB && b == old {
							return nil
						}
						return fmt.Errorf("RNTO %s -> %s in flight: %q %v / %q %v", name, to, a, okA, b, okB)
					}
					if err = c.Rename(name, to); err == nil {
						model[to] = old
						delete(model, name)
					}
				case had: // DELE
					inflight = either(name, old, had, "\x00deleted")
					if err = c.Delete(name); err == nil {
						delete(model, name)
					}
				}
			}
			<-killed
			srv.Wait()
			if out, err := exec.Command("fsck.fat", "-n", img).CombinedOutput(); err != nil {
				dirtyAfterKill++
				t.Logf("%s round %d: right after the kill fsck.fat says: %s", ft.typ, round, bytes.TrimSpace(out))
			}
			// The next open: repair, reclaim, then judge.
			v, err := fsimage.OpenFile(img, fsimage.Options{})
			if err != nil {
				t.Fatalf("%s round %d: reopen after kill -9: %v", ft.typ, round, err)
			}
			if rec := v.Recovery(); len(rec.Problems) > 0 {
				t.Fatalf("%s round %d: %v", ft.typ, round, rec)
			}
			if _, err := server.ReclaimTempFiles(v, nil); err != nil {
				t.Fatal(err)
			}
			get := func(n string) (string, bool) {
				b, err := v.ReadFile(n)
				return string(b), err == nil
			}
			// The op in flight decides its own file(s); every other acknowledged file is exact.
			var inflightNames []string
			if inflight != nil {
				if err := inflight(get); err != nil {
					t.Fatalf("%s round %d: %v", ft.typ, round, err)
				}
			}
			for name, want := range model {
				got, ok := get(name)
				if ok && got == want {
					continue
				}
				if inflight != nil && inflight(get) == nil {
					// the in-flight op explains a change of this file (rename, overwrite, delete)
					inflightNames = append(inflightNames, name)
					continue
				}
				t.Fatalf("%s round %d: acknowledged %s: got %d bytes (%v), want %d", ft.typ, round, name, len(got), ok, len(want))
			}
			// Re-read the truth for the next round from the image (the in-flight op may or may not have happened).
			for _, n := range []string{"a.txt", "b.bin", "long name number one.txt", "d/c.txt", "d/e/long name two.dat"} {
				if got, ok := get(n); ok {
					model[n] = got
				} else {
					delete(model, n)
				}
			}
			walkNoTemp(t, v, ".")
			if err := v.Close(); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command("fsck.fat", "-n", img).CombinedOutput(); err != nil || strings.Count(strings.TrimSpace(string(out)), "\n") > 1 {
				t.Fatalf("%s round %d (killed after %v): fsck.fat -n after the next open: %v\n%s", ft.typ, round, killAt, err, out)
			}
		}
	}
	t.Logf("%d rounds of kill -9, %d operations started, %d images not fsck-clean right after the kill (all clean after the next open)", rounds, ops, dirtyAfterKill)
}

func filepathDir(p string) string { return filepath.Dir(p) }

// either accepts the old content (or absence) or the new one for name; "\x00deleted" means absent.
func either(name, old string, had bool, next string) func(get func(string) (string, bool)) error {
	return func(get func(string) (string, bool)) error {
		got, ok := get(name)
		switch {
		case ok && had && got == old, !ok && !had:
			return nil
		case next == "\x00deleted" && !ok, next != "\x00deleted" && ok && got == next:
			return nil
		}
		return fmt.Errorf("%s after a kill in flight: %d bytes (exists %v); want the old %d bytes (exists %v) or the new %d", name, len(got), ok, len(old), had, len(next))
	}
}

func walkNoTemp(t *testing.T, v *fsimage.FS, dir string) {
	ents, err := v.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if strings.HasPrefix(strings.ToLower(e.Name()), ".netxsim-upload-") {
			t.Fatalf("temporary file %s left after the next open", p)
		}
		if e.IsDir() {
			walkNoTemp(t, v, p)
		}
	}
}

// TestSIGTERMStopsStuckSessions: `netxsim serve --root` over a directory holding a FIFO, with
// sessions in every state that could block: one that asked for the FIFO (refused at once, never
// opened blocking), one whose download the client never reads (the server blocked writing), one
// whose upload never sends a byte (blocked reading), one that trickles its USER line without ever
// logging in. SIGTERM stops the server: the process exits on its own, cleanly, with every session
// closed. Every profile, IPv4 and IPv6 (a wait bounds the test; on failure it is killed).
func TestSIGTERMStopsStuckSessions(t *testing.T) {
	if testing.Short() {
		t.Skip("starts six server processes")
	}
	for _, prof := range []nxftp.Profile{nxftp.ProfileNetXDuo, nxftp.ProfileNetXDuo64, nxftp.ProfileExtended} {
		for _, host := range []string{"127.0.0.1", "::1"} {
			t.Run(string(prof)+"/"+host, func(t *testing.T) {
				testSIGTERM(t, prof, host)
			})
		}
	}
}

func testSIGTERM(t *testing.T, prof nxftp.Profile, host string) {
	if ln, err := net.Listen("tcp", net.JoinHostPort(host, "0")); err != nil {
		t.Skipf("no %s loopback: %v", host, err)
	} else {
		ln.Close()
	}
	root := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(root, "pipe"), 0o644); err != nil {
		t.Skipf("no FIFOs: %v", err)
	}
	if err := os.WriteFile(filepath.Join(root, "big.bin"), make([]byte, 32<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	srv, addr := childArgs(t, "--listen", net.JoinHostPort(host, "0"), "--user", "u:p", "--profile", string(prof), "--root", root)
	six := strings.Contains(host, ":")
	login := func() *rawCtl {
		c := dialRaw(t, addr)
		c.reply()
		c.do("USER u")
		if code := c.do("PASS p"); code != 230 {
			t.Fatalf("login: %d", code)
		}
		c.do("TYPE I")
		return c
	}
	// active data connections from the server to a listener of ours (a port above 1024)
	dataListener := func(c *rawCtl) net.Listener {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		ap := netip.MustParseAddrPort(ln.Addr().String())
		cmd := "PORT " + nxftp.FormatPORT(ap, false)
		if six {
			cmd = "EPRT " + nxftp.FormatEPRT(ap)
		}
		if code := c.do(cmd); code != 200 {
			t.Fatalf("%s: %d", cmd, code)
		}
		return ln
	}
	// 1: the FIFO, refused without blocking; the session stays logged in
	fifo := login()
	dl := dataListener(fifo)
	fmt.Fprintf(fifo.c, "RETR pipe\r\n")
	if code := fifo.reply(); code < 400 {
		t.Fatalf("RETR pipe: %d", code)
	}
	dl.Close()
	// 2: a download nobody reads
	down := login()
	dl = dataListener(down)
	fmt.Fprintf(down.c, "RETR big.bin\r\n")
	dconn, err := dl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer dconn.Close()
	if code := down.reply(); code != 125 && code != 150 {
		t.Fatalf("RETR big.bin: %d", code)
	}
	// 3: an upload that never sends
	up := login()
	ul := dataListener(up)
	fmt.Fprintf(up.c, "STOR new.bin\r\n")
	uconn, err := ul.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer uconn.Close()
	up.reply()
	// 4: a USER line that never ends (the last slot of NetX's four)
	slow := dialRaw(t, addr)
	slow.reply()
	slow.c.Write([]byte("US"))

	if err := srv.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-srv.Ended():
		if err := srv.Wait(); err != nil {
			t.Errorf("serve exited with %v after SIGTERM; stderr:\n%s", err, srv.Stderr())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30 s of SIGTERM with sessions stuck on a FIFO, a stalled download, an idle upload and a trickled login")
	}
	// every session was closed by the server
	for _, c := range []*rawCtl{fifo, down, up, slow} {
		c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			if _, err := c.r.ReadByte(); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Errorf("a control connection is still open after the server exited")
				}
				break
			}
		}
	}
	if _, err := os.Stat(filepath.Join(root, "new.bin")); err == nil {
		t.Errorf("the interrupted upload was stored")
	}
	es, _ := os.ReadDir(root)
	for _, e := range es {
		if strings.HasPrefix(e.Name(), ".netxsim-upload-") {
			t.Errorf("temporary %s left", e.Name())
		}
	}
}
