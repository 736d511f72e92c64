// Package termtext makes text from the network safe to write to a terminal: a server's reply or a
// file name in a listing can carry escape sequences (OSC 52 writes the clipboard, OSC 0 the window
// title, CSI sequences move the cursor and hide text, bidi overrides reorder what is shown), which a
// terminal would obey. Escape writes every such character as a visible escape instead.
package termtext

import (
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// unsafe reports whether r must not reach a terminal raw: C0 controls but tab and newline, DEL, C1
// controls (U+0080-U+009F: 8-bit CSI, OSC...), and the bidirectional overrides and isolates.
func unsafe(r rune) bool {
	switch {
	case r == '\t' || r == '\n':
		return false
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// Escape returns s with every control character, C1 control, bidi override and invalid UTF-8 byte
// written as \xNN or \uNNNN (Go's notation), and a backslash that could be mistaken for one doubled.
// Tabs and newlines stay. Text without such characters is returned unchanged.
func Escape(s string) string {
	if !needs(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x80 && unsafe(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafe(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		case r == '\\' && i+1 < len(s) && (s[i+1] == 'x' || s[i+1] == 'u'):
			b.WriteString(`\\`)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func needs(s string) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || unsafe(r) || (r == '\\' && i+1 < len(s) && (s[i+1] == 'x' || s[i+1] == 'u')) {
			return true
		}
		i += n
	}
	return false
}

// IsTerminal reports whether w is a terminal (a file whose descriptor answers the terminal ioctl;
// /dev/null, also a character device, is not one).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// Writer escapes what is written to W with Escape. A UTF-8 sequence split across two Writes is
// held back until its end arrives (at most 3 bytes), so buffered writers need not write whole lines.
type Writer struct {
	W       io.Writer
	pending []byte
}

func (w *Writer) Write(p []byte) (int, error) {
	b := append(w.pending, p...)
	w.pending = nil
	// hold an incomplete trailing rune (not an invalid byte: that is escaped now)
	for k := 1; k <= 3 && k <= len(b); k++ {
		if c := b[len(b)-k]; c >= 0xc0 { // a lead byte
			if !utf8.FullRune(b[len(b)-k:]) && utf8.RuneStart(c) && k < runeLen(c) {
				w.pending = append([]byte(nil), b[len(b)-k:]...)
				b = b[:len(b)-k]
			}
			break
		} else if c < 0x80 {
			break
		}
	}
	if _, err := io.WriteString(w.W, Escape(string(b))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// runeLen is the length a UTF-8 lead byte announces.
func runeLen(c byte) int {
	switch {
	case c >= 0xf0:
		return 4
	case c >= 0xe0:
		return 3
	}
	return 2
}

// ForTerminal returns w wrapped in a Writer when w is a terminal, w itself otherwise (a pipe or a
// file gets the bytes as the server sent them).
func ForTerminal(w io.Writer) io.Writer {
	if IsTerminal(w) {
		return &Writer{W: w}
	}
	return w
}
