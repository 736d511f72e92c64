package replaycmd

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/netxsim/netxsim/cmd/netxsim/internal/cli/clitest"
	"github.com/netxsim/netxsim/cmd/netxsim/internal/servecmd"
	"github.com/netxsim/netxsim/tapdev"
	"github.com/netxsim/netxsim/tapdev/taptest"
)

// TestReplayAgainstServeTAP is the acceptance over a real TAP: `netxsim serve --tap --netns` with an
// 8 MiB FAT16 image seeded like the real device (the captures' README: hello.txt, data.bin,
// pub/readme.txt), and `netxsim replay --against ftp://… --netns` of both server-dialogues captures
// from the kernel side. netxduo-6.4 gives no difference; netxduo gives exactly the documented seed
// differences. A fresh device for every capture, as the real one was.
func TestReplayAgainstServeTAP(t *testing.T) {
	if why := taptest.Skip(); why != "" {
		t.Skip(why)
	}
	seedImage := capturedImage(t)
	want := seedDifferences()
	for _, prof := range []string{"netxduo-6.4", "netxduo"} {
		for _, c := range []string{"ipv4", "ipv6"} {
			t.Run(prof+"/"+c, func(t *testing.T) {
				img := filepath.Join(t.TempDir(), "device.img")
				if err := os.WriteFile(img, seedImage, 0o644); err != nil {
					t.Fatal(err)
				}
				args := []string{"--image", img, "--user", "netx:secret", "--profile", prof}
				if prof == "netxduo" {
					args = append(args, "--login-delay", "-1s") // as TestReplayNetXDuoSeedDifferences
				}
				ns := startServeTAP(t, args...)
				target := "ftp://198.51.100.2"
				if c == "ipv6" {
					target = "ftp://[2001:db8::2]"
				}
				capture := filepath.Join(captures, "server-dialogues-"+c+".pcap")
				rargs := []string{"--against", target, "--netns", ns, "--profile", prof, capture}
				if prof == "netxduo" {
					rargs = append(rargs, "--wait", "1s")
				}
				code, rep := replayJSON(t, options{}, rargs...)
				got := diffList(rep)
				if prof == "netxduo-6.4" {
					if code != 0 || rep.Real != 0 {
						t.Errorf("exit %d, %d differences:\n%s", code, rep.Real, strings.Join(got, "\n"))
					}
					if rep.Replies < 130 || rep.DataConns < 17 {
						t.Errorf("compared only %d reply lines and %d data connections", rep.Replies, rep.DataConns)
					}
					return
				}
				if code != 1 {
					t.Errorf("exit %d, want 1 (differences)", code)
				}
				w := slices.Clone(want[c])
				slices.Sort(got)
				slices.Sort(w)
				if !slices.Equal(got, w) {
					t.Errorf("differences:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(w, "\n"))
				}
			})
		}
	}
}

// startServeTAP runs `netxsim serve --tap NS --netns NS args...` in this process until it serves and
// returns the namespace; cleanup stops it and fails the test if the namespace survives.
func startServeTAP(t *testing.T, args ...string) string {
	t.Helper()
	ns := taptest.Name("nxr")
	srv := clitest.Start(t, servecmd.Run, "running;", append([]string{"--tap", ns, "--netns", ns, "--skip-dad"}, args...)...)
	t.Cleanup(func() {
		if code := srv.Stop(); code != 0 {
			t.Errorf("serve exited %d: %s", code, srv.Stderr())
		}
		if tapdev.NetNSExists(ns) {
			t.Errorf("namespace %s left behind", ns)
			if n, err := tapdev.OpenNetNS(ns); err == nil {
				n.Delete()
			}
		}
	})
	return ns
}

// capturedImage is an 8 MiB FAT16 image holding the captured device's disk (SeedCaptured).
func capturedImage(t *testing.T) []byte {
	t.Helper()
	ram, v, err := ramDisk()
	if err != nil {
		t.Fatal(err)
	}
	if err := SeedCaptured(v); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	return ram.Bytes()
}

// TestReplayAgainstKernelServe: --against any server, without root: `netxsim serve --listen` on
// loopback in netxduo-6.4 over an image seeded like the real device answers the real IPv4 dialogues
// with no difference; only its 227 replies name another address (127.0.0.1, the server's own), each
// normalised and counted.
func TestReplayAgainstKernelServe(t *testing.T) {
	img := filepath.Join(t.TempDir(), "device.img")
	if err := os.WriteFile(img, capturedImage(t), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := clitest.Start(t, servecmd.Run, "listening on ", "--listen", "127.0.0.1:0", "--image", img, "--user", "netx:secret", "--profile", "netxduo-6.4")
	defer func() {
		if code := srv.Stop(); code != 0 {
			t.Errorf("serve exited %d: %s", code, srv.Stderr())
		}
	}()
	_, addr, _ := strings.Cut(srv.Line, "listening on ")
	addr = strings.TrimSpace(addr)
	code, rep := replayJSON(t, options{}, "--against", "ftp://"+addr, filepath.Join(captures, "server-dialogues-ipv4.pcap"))
	if code != 0 || rep.Real != 0 {
		t.Errorf("exit %d, %d differences:\n%s", code, rep.Real, strings.Join(diffList(rep), "\n"))
	}
	if n := rep.Normalised["227-address"]; n != 14 {
		t.Errorf("227-address normalised %d times, want every PASV reply (14)", n)
	}
	// the ports are not checked here: on the shared host kernel another program may hold one of
	// 49152 and up, and the server then takes the next (a 227-port normalisation, named and counted)
}
