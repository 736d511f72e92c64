package fsimage

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netxsim/netxsim/internal/testio"
)

// cutDevice is a RAM disk that stops storing writes after a number of them, like a process
// killed at that moment: the code carries on unaware, nothing more reaches the medium.
type cutDevice struct {
	*RAM
	left int // writes still stored; < 0: never cut
	dead bool
	n    int // writes seen
}

func (c *cutDevice) WriteAt(p []byte, off int64) (int, error) {
	c.n++
	if c.left == 0 {
		c.dead = true
	}
	if c.dead {
		return len(p), nil
	}
	if c.left > 0 {
		c.left--
	}
	return c.RAM.WriteAt(p, off)
}

// The server's operations as the FTP server does them: STOR through a temporary file renamed over
// the target, APPE as temporary + merge, RNTO (also into another directory), MKD, DELE; each
// followed by Sync (the server syncs after every change), which is when a reply is sent.
type crashStep struct {
	name string
	do   func(v *FS) error
	// after: the files (path -> content) this step leaves, once acknowledged
	want map[string]string
	gone []string
}

func put(v *FS, name, data string) error {
	w, err := v.Create(name)
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(data)); err != nil {
		return err
	}
	return w.Close()
}

func stor(tmp, target, data string) func(v *FS) error {
	return func(v *FS) error {
		if err := put(v, tmp, data); err != nil {
			return err
		}
		return v.Rename(tmp, target)
	}
}

func crashSteps(big string) []crashStep {
	return []crashStep{
		{"STOR over old", stor(".netxsim-upload-0000000000000001.part", "old.txt", "new version "+big), map[string]string{"old.txt": "new version " + big}, nil},
		{"STOR new", stor("dir/.netxsim-upload-0000000000000002.part", "dir/new file with a long name.txt", big), map[string]string{"dir/new file with a long name.txt": big}, nil},
		{"APPE", func(v *FS) error {
			if err := put(v, ".netxsim-upload-0000000000000003.part", "old.txt content plus"); err != nil {
				return err
			}
			b, err := v.ReadFile("keep.txt")
			if err != nil {
				return err
			}
			if err := put(v, ".netxsim-upload-0000000000000004.part", string(b)+" appended"); err != nil {
				return err
			}
			if err := v.Remove(".netxsim-upload-0000000000000003.part"); err != nil {
				return err
			}
			return v.Rename(".netxsim-upload-0000000000000004.part", "keep.txt")
		}, map[string]string{"keep.txt": "keep me appended"}, nil},
		{"RNTO across", func(v *FS) error { return v.Rename("move me.txt", "dir/moved.txt") }, map[string]string{"dir/moved.txt": "moving"}, []string{"move me.txt"}},
		{"RNTO same dir", func(v *FS) error { return v.Rename("dir/moved.txt", "dir/moved again with a longer name.txt") }, map[string]string{"dir/moved again with a longer name.txt": "moving"}, []string{"dir/moved.txt"}},
		{"MKD", func(v *FS) error { return v.Mkdir("dir/made") }, nil, nil},
		{"DELE", func(v *FS) error { return v.Remove("delete me.bin") }, nil, []string{"delete me.bin"}},
		{"STOR in new dir", stor("dir/made/.netxsim-upload-0000000000000005.part", "dir/made/f.txt", "in made"), map[string]string{"dir/made/f.txt": "in made"}, nil},
	}
}

// TestCrashAtEveryWrite cuts the medium after every single write of a sequence of server
// operations, on every FAT type, and checks what a kill at that moment leaves after the next
// open: fsck.fat -n clean, every acknowledged file intact, the old version of a file being
// replaced intact, and nothing acknowledged lost.
func TestCrashAtEveryWrite(t *testing.T) {
	testio.NeedTools(t, "fsck.fat")
	for _, tc := range []struct {
		typ  FATType
		size int64
		root int
	}{{FAT12, 1440 << 10, 0}, {FAT16, 16 << 20, 0}, {FAT32, 40 << 20, 0}} {
		t.Run(tc.typ.String(), func(t *testing.T) {
			big := strings.Repeat("0123456789", 700) // several clusters
			base := NewRAM(tc.size)
			if err := Format(base, tc.size, FormatOptions{Type: tc.typ, ClusterSize: 512}); err != nil {
				t.Fatal(err)
			}
			v, err := Open(base, Options{})
			if err != nil {
				t.Fatal(err)
			}
			initial := map[string]string{"old.txt": "old version " + big, "keep.txt": "keep me", "move me.txt": "moving", "delete me.bin": big}
			v.Mkdir("dir")
			for name, data := range initial {
				if err := put(v, name, data); err != nil {
					t.Fatal(err)
				}
			}
			if err := v.Close(); err != nil {
				t.Fatal(err)
			}
			steps := crashSteps(big)
			// A full run counts the writes.
			full := &cutDevice{RAM: RAMFrom(bytes.Clone(base.Bytes())), left: -1}
			runSteps(t, full, steps)
			total := full.n
			t.Logf("%d writes in the sequence; cutting after each", total)
			dirtySeen, cleanAtOnce := 0, 0
			img := filepath.Join(t.TempDir(), "cut.img")
			for cut := 0; cut <= total; cut++ {
				dev := &cutDevice{RAM: RAMFrom(bytes.Clone(base.Bytes())), left: cut}
				acked := runSteps(t, dev, steps)
				os.WriteFile(img, dev.Bytes(), 0o644)
				if _, bad := fsckComplaints(img); bad {
					dirtySeen++
				} else {
					cleanAtOnce++
				}
				// The next open repairs what the cut left.
				after := RAMFrom(bytes.Clone(dev.Bytes()))
				v, err := Open(after, Options{})
				if err != nil {
					t.Fatalf("cut %d: reopen: %v", cut, err)
				}
				rec := v.Recovery()
				if len(rec.Problems) > 0 {
					t.Fatalf("cut %d: recovery left problems: %v", cut, rec)
				}
				want := map[string]string{}
				for k, d := range initial {
					want[k] = d
				}
				var gone []string
				for _, s := range steps[:acked] {
					for k, d := range s.want {
						want[k] = d
					}
					for _, g := range s.gone {
						delete(want, g)
						gone = append(gone, g)
					}
				}
				for name, data := range want {
					b, err := v.ReadFile(name)
					if string(b) == data {
						continue
					}
					// The step in flight may or may not have happened; either state is whole.
					if acked < len(steps) {
						if alt, ok := steps[acked].want[name]; ok && string(b) == alt {
							continue
						}
					}
					// A file renamed by the step in flight may be under its new name already.
					if acked < len(steps) && err != nil && len(steps[acked].gone) > 0 && steps[acked].gone[0] == name {
						continue
					}
					t.Fatalf("cut %d (after %d acknowledged steps, in %q): %s = %.40q, %v; want %.40q", cut, acked, stepName(steps, acked), name, b, err, data)
				}
				for _, g := range gone {
					if _, err := v.Stat(g); err == nil {
						t.Fatalf("cut %d: %s is back", cut, g)
					}
				}
				// The server's reclaim: temporary files go.
				ents, _ := v.ReadDir(".")
				sub, _ := v.ReadDir("dir")
				for _, e := range append(ents, sub...) {
					if strings.HasPrefix(e.Name(), ".netxsim-upload-") {
						v.Remove(e.Name())
						v.Remove("dir/" + e.Name())
					}
				}
				if err := v.Close(); err != nil {
					t.Fatal(err)
				}
				os.WriteFile(img, after.Bytes(), 0o644)
				if out, bad := fsckComplaints(img); bad {
					t.Fatalf("cut %d (in %q): fsck.fat after the next open:\n%s\nrecovery: %v", cut, stepName(steps, acked), out, rec)
				}
			}
			t.Logf("%d cuts: %d images fsck-clean at once, %d marked dirty or needing the next open's repair", total+1, cleanAtOnce, dirtySeen)
		})
	}
}

func stepName(steps []crashStep, i int) string {
	if i < len(steps) {
		return steps[i].name
	}
	return "done"
}

// runSteps runs the steps on dev and returns how many were acknowledged (synced while the
// medium was still storing writes).
func runSteps(t *testing.T, dev *cutDevice, steps []crashStep) int {
	t.Helper()
	v, err := Open(dev, Options{})
	if err != nil {
		t.Fatal(err)
	}
	acked := 0
	for _, s := range steps {
		if err := s.do(v); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if err := v.Sync(); err != nil {
			t.Fatal(err)
		}
		if dev.dead {
			break
		}
		acked++
	}
	v.Close()
	return acked
}
