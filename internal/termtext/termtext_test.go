package termtext

import (
	"os"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEscape(t *testing.T) {
	cases := []struct{ in, want string }{
		{"plain name.txt", "plain name.txt"},
		{"tab\tand\nnewline", "tab\tand\nnewline"},
		{"a\x1b]0;owned\x07b", `a\x1b]0;owned\x07b`}, // OSC 0: window title
		{"\x1b]52;c;aGk=\x07", `\x1b]52;c;aGk=\x07`}, // OSC 52: clipboard
		{"x\x1b[2Jy\rz", `x\x1b[2Jy\x0dz`},           // clear screen, carriage return
		{"c1 \u009b31m csi", `c1 \u009b31m csi`},     // 8-bit CSI as UTF-8
		{"raw \x9b byte", `raw \x9b byte`},           // 8-bit CSI as a lone byte
		{"del\x7f", `del\x7f`},                       //
		{"bidi \u202etxt.exe", `bidi \u202etxt.exe`}, // right-to-left override
		{`back\x1b`, `back\\x1b`},                    // an escape look-alike stays distinct
		{`C:\dir\file`, `C:\dir\file`},               // other backslashes stay
		{"Grüße, 日本", "Grüße, 日本"},                   // printable UTF-8 stays
		{"\x00nul", `\x00nul`},
	}
	for _, c := range cases {
		got := Escape(c.in)
		if got != c.want {
			t.Errorf("Escape(%q) = %q, want %q", c.in, got, c.want)
		}
		for _, r := range got {
			if unsafe(r) {
				t.Errorf("Escape(%q) = %q still holds %U", c.in, got, r)
			}
		}
		if !utf8.ValidString(got) {
			t.Errorf("Escape(%q) = %q is not valid UTF-8", c.in, got)
		}
	}
}

func FuzzEscape(f *testing.F) {
	f.Add("a\x1b]0;x\x07")
	f.Add("\xff\xfe\u009b")
	f.Fuzz(func(t *testing.T, s string) {
		got := Escape(s)
		if !utf8.ValidString(got) {
			t.Fatalf("Escape(%q) = %q: invalid UTF-8", s, got)
		}
		for _, r := range got {
			if unsafe(r) {
				t.Fatalf("Escape(%q) = %q holds %U", s, got, r)
			}
		}
		if !strings.ContainsAny(s, "\\") && needs(s) == (got == s) {
			t.Fatalf("Escape(%q) = %q: changed %v, needed %v", s, got, got != s, needs(s))
		}
	})
}

func TestIsTerminal(t *testing.T) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	if IsTerminal(null) {
		t.Error("/dev/null is taken for a terminal")
	}
	r, w, _ := os.Pipe()
	defer r.Close()
	defer w.Close()
	if IsTerminal(w) {
		t.Error("a pipe is taken for a terminal")
	}
}

// TestWriterSplitRunes: text written in pieces of every size, splitting UTF-8 sequences and escape
// sequences anywhere, comes out as Escape of the whole.
func TestWriterSplitRunes(t *testing.T) {
	in := "Grüße \x1b]0;t\x07 日本 \u009b31m \xff end"
	want := Escape(in)
	for size := 1; size <= len(in); size++ {
		var b strings.Builder
		w := &Writer{W: &b}
		for i := 0; i < len(in); i += size {
			if _, err := w.Write([]byte(in[i:min(i+size, len(in))])); err != nil {
				t.Fatal(err)
			}
		}
		if b.String() != want {
			t.Errorf("pieces of %d: %q, want %q", size, b.String(), want)
		}
	}
}
