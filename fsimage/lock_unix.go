//go:build unix

package fsimage

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

func lockFile(f *os.File, name string, write bool) error {
	how := syscall.LOCK_SH
	if write {
		how = syscall.LOCK_EX
	}
	var le *LockError
	for tries := 0; ; tries++ {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("fsimage: lock %s: %w", name, err)
		}
		le = &LockError{Path: name, Write: write, HolderMax: !write}
		if st, ok := statOf(f); ok {
			le.PID, le.HolderMax = lockHolder(st, write)
			le.Command = cmdline(le.PID)
		}
		// No holder in /proc/locks: it let go between our attempt and the look-up; try again.
		if le.PID != 0 || tries >= 4 {
			return le
		}
	}
}

func statOf(f *os.File) (*syscall.Stat_t, bool) {
	fi, err := f.Stat()
	if err != nil {
		return nil, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return st, ok
}

// lockHolder finds the process holding a conflicting flock on the file in /proc/locks (Linux):
// lines like "3: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF".
func lockHolder(st *syscall.Stat_t, write bool) (pid int, exclusive bool) {
	f, err := os.Open("/proc/locks")
	if err != nil {
		return 0, !write
	}
	defer f.Close()
	dev := uint64(st.Dev)
	major := (dev>>8)&0xfff | (dev>>32)&^0xfff
	minor := dev&0xff | (dev>>12)&^0xff
	want := fmt.Sprintf("%02x:%02x:%d", major, minor, st.Ino)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) < 6 || fl[1] == "->" || fl[1] != "FLOCK" || fl[5] != want {
			continue
		}
		ex := fl[3] == "WRITE"
		if !write && !ex {
			continue // a reader does not conflict with readers
		}
		p, _ := strconv.Atoi(fl[4])
		return p, ex
	}
	return 0, !write
}

func cmdline(pid int) string {
	if pid <= 0 {
		return ""
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(b) == 0 {
		return ""
	}
	s := strings.TrimRight(strings.ReplaceAll(string(b), "\x00", " "), " ")
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}
