package fsimage

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
