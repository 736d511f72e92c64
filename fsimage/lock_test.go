package fsimage

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMain lets the test binary act as a second process holding an image open for writing.
func TestMain(m *testing.M) {
	if img := os.Getenv("FSIMAGE_HOLD_WRITER"); img != "" {
		v, err := OpenFile(img, Options{})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		w, _ := v.Create("from child.txt")
		w.Write([]byte("child"))
		w.Close()
		v.Sync()
		fmt.Println("holding")
		bufio.NewReader(os.Stdin).ReadString('\n') // until the parent says so
		if err := v.Close(); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestModelConcurrentWriters extends the model test with writers racing for one image file:
// several handles (as several `netxsim image` commands or servers would) each try to open it for
// writing, do a batch of random operations mirrored in the model, and close it; readers try to
// open it meanwhile. Whoever loses the race gets a *LockError naming this process, and at the end
// the image holds exactly the model: no acknowledged change is lost (without the lock, two
// writers each cache the FAT and overwrite each other's files).
func TestModelConcurrentWriters(t *testing.T) {
	needTool(t, "fsck.fat", "mdir", "mcopy")
	for _, c := range []modelCase{
		{FAT12, 1440 << 10, 512, 6 << 10},
		{FAT16, 5 << 19, 512, 24 << 10},
		{FAT32, 33 << 20, 512, 96 << 10},
	} {
		t.Run(c.typ.String(), func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "m.img")
			f, _ := os.Create(img)
			if err := Format(f, c.size, FormatOptions{Type: c.typ, ClusterSize: c.cluster}); err != nil {
				t.Fatal(err)
			}
			f.Close()
			m := &model{m: map[string]*mEntry{}}
			var mu sync.Mutex // guards m and the winners' count; the image lock guards the image
			var wins, losses, reads, readLosses int
			var wg sync.WaitGroup
			pid := fmt.Sprintf("pid %d", os.Getpid())
			for w := range 4 {
				wg.Add(2)
				go func() { // writer
					defer wg.Done()
					r := rand.New(rand.NewPCG(uint64(c.typ), uint64(w)))
					for range 12 {
						v, err := OpenFile(img, Options{})
						if err != nil {
							var le *LockError
							if !errors.As(err, &le) || !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), pid) {
								t.Errorf("losing writer: %v; want a LockError naming %s", err, pid)
								return
							}
							mu.Lock()
							losses++
							mu.Unlock()
							time.Sleep(time.Millisecond)
							continue
						}
						mu.Lock()
						wins++
						for range 30 {
							modelStep(t, v, m, r, c)
						}
						mu.Unlock()
						if err := v.Close(); err != nil {
							t.Error(err)
							return
						}
					}
				}()
				go func() { // reader: what it sees is always a whole state of the model
					defer wg.Done()
					for range 12 {
						v, err := OpenFile(img, Options{ReadOnly: true})
						if err != nil {
							if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "open for writing") {
								t.Errorf("losing reader: %v", err)
								return
							}
							mu.Lock()
							readLosses++
							mu.Unlock()
							time.Sleep(time.Millisecond)
							continue
						}
						mu.Lock()
						reads++
						if d := diffTrees(m.tree(), fsTree(t, v)); d != "" {
							t.Errorf("a reader beside the writers saw a tree unlike the model:\n%s", d)
						}
						mu.Unlock()
						v.Close()
					}
				}()
			}
			wg.Wait()
			t.Logf("%d writer opens won, %d refused; %d reader opens, %d refused", wins, losses, reads, readLosses)
			if wins == 0 || losses == 0 {
				t.Logf("no contention this run (wins %d, losses %d)", wins, losses)
			}
			v, err := OpenFile(img, Options{})
			if err != nil {
				t.Fatal(err)
			}
			verifyModel(t, v, m, img, wins)
			v.Close()
		})
	}
}

// TestLockAcrossProcesses: a second process holding the image for writing makes this one's
// writers and readers fail with its pid and command line named; once it closes, both work and its
// file is there.
func TestLockAcrossProcesses(t *testing.T) {
	img := filepath.Join(t.TempDir(), "a.img")
	f, _ := os.Create(img)
	if err := Format(f, 1440<<10, FormatOptions{}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "FSIMAGE_HOLD_WRITER="+img)
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "holding" {
		t.Fatalf("child: %q", line)
	}
	for _, ro := range []bool{false, true} {
		_, err := OpenFile(img, Options{ReadOnly: ro})
		var le *LockError
		if !errors.As(err, &le) || le.PID != cmd.Process.Pid || !strings.Contains(err.Error(), fmt.Sprintf("pid %d (%s", cmd.Process.Pid, os.Args[0])) {
			t.Fatalf("ReadOnly=%v beside a writing process: %v; want its pid %d and command", ro, err, cmd.Process.Pid)
		}
	}
	stdin.Write([]byte("\n"))
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	v, err := OpenFile(img, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if b, err := v.ReadFile("from child.txt"); err != nil || string(b) != "child" {
		t.Fatalf("the child's file: %q %v", b, err)
	}
}
