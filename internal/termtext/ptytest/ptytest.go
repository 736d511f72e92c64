// Package ptytest gives tests a real pseudo-terminal to write to, to check what a terminal would be
// shown.
package ptytest

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// Open returns the slave side of a new pseudo-terminal (what a command writing to a terminal gets,
// in raw output mode) and a function that closes it and returns everything written to it. The test
// is skipped where pseudo-terminals cannot be opened.
func Open(t testing.TB) (slave *os.File, shown func() []byte) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		t.Skipf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		t.Skipf("ptsname: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Skipf("open the slave: %v", err)
	}
	if tio, err := unix.IoctlGetTermios(int(s.Fd()), unix.TCGETS); err == nil {
		tio.Oflag &^= unix.OPOST // the bytes as written: no \n to \r\n
		unix.IoctlSetTermios(int(s.Fd()), unix.TCSETS, tio)
	}
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf.ReadFrom(m) // ends with EIO once the slave is closed and the buffer drained
	}()
	t.Cleanup(func() { s.Close(); <-done; m.Close() })
	return s, func() []byte {
		s.Close()
		<-done
		return buf.Bytes()
	}
}

// Raw reports the first character in b that a terminal would obey ("" if none): a C0 control but
// tab and newline, DEL, a C1 control, a bidi override, or an invalid UTF-8 byte.
func Raw(b []byte) string {
	for _, r := range string(b) {
		switch {
		case r == '\n' || r == '\t':
		case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0xfffd:
			return fmt.Sprintf("%U", r)
		}
	}
	return ""
}
