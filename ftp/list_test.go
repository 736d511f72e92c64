package ftp

import (
	"io/fs"
	"testing"
	"testing/fstest"
	"time"
)

func fileInfo(t *testing.T, name string, f *fstest.MapFile) fs.FileInfo {
	t.Helper()
	fi, err := fs.Stat(fstest.MapFS{name: f}, name)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

func TestFormatListLine(t *testing.T) {
	mt := time.Date(2024, time.April, 2, 8, 5, 33, 0, time.UTC)
	f := fileInfo(t, "test.txt", &fstest.MapFile{Data: make([]byte, 28), ModTime: mt})
	if got, want := FormatListLine(f, false), "-rw-rw-rw-  1 owner group         28 APR 02 08:05 test.txt"; got != want {
		t.Errorf("file:\n got %q\nwant %q", got, want)
	}
	if got, want := FormatListLine(f, true), "-r--r--r--  1 owner group         28 APR 02 08:05 test.txt"; got != want {
		t.Errorf("read-only:\n got %q\nwant %q", got, want)
	}
	d := fileInfo(t, "abc", &fstest.MapFile{Mode: fs.ModeDir, ModTime: time.Date(2025, time.December, 31, 23, 59, 0, 0, time.UTC)})
	if got, want := FormatListLine(d, false), "drw-rw-rw-  1 owner group          0 DEC 31 23:59 abc"; got != want {
		t.Errorf("dir:\n got %q\nwant %q", got, want)
	}
	big := fileInfo(t, "big", &fstest.MapFile{Data: make([]byte, 12345678901%1000), ModTime: mt})
	if got := FormatListLine(big, false); len(got) != len("-rw-rw-rw-  1 owner group          0 APR 02 08:05 big") {
		t.Errorf("layout width changed: %q", got)
	}
}

func TestFormatMLSFacts(t *testing.T) {
	mt := time.Date(2024, time.April, 2, 8, 5, 33, 0, time.UTC)
	f := fileInfo(t, "test.txt", &fstest.MapFile{Data: make([]byte, 28), ModTime: mt})
	if got, want := FormatMLSFacts(f), "type=file;size=28;modify=20240402080533; test.txt"; got != want {
		t.Errorf("got %q want %q", got, want)
	}
	d := fileInfo(t, "dir", &fstest.MapFile{Mode: fs.ModeDir, ModTime: mt})
	if got, want := FormatMLSFacts(d), "type=dir;modify=20240402080533; dir"; got != want {
		t.Errorf("got %q want %q", got, want)
	}
}

func TestReplyCodeAllowed(t *testing.T) {
	tests := []struct {
		verb string
		code int
		want bool
	}{
		{"", 220, true}, {"USER", 331, true}, {"PASS", 230, true}, {"PASS", 331, false},
		{"RETR", 125, true}, {"RETR", 250, true}, {"RETR", 150, true}, {"RETR", 226, true}, {"RETR", 200, false},
		{"MKD", 257, true}, {"MKD", 200, false}, {"xmkd", 257, true}, {"CDUP", 250, true},
		{"PASV", 227, true}, {"PASV", 229, false}, {"EPSV", 229, true}, {"PORT", 502, true},
		{"QUIT", 221, true}, {"QUIT", 530, false}, {"DELE", 532, false}, {"STOR", 532, true},
		{"FOO", 502, true}, {"FOO", 200, false}, {"NOOP", 421, true},
	}
	for _, tt := range tests {
		if got := ReplyCodeAllowed(tt.verb, tt.code); got != tt.want {
			t.Errorf("ReplyCodeAllowed(%q, %d) = %v, want %v", tt.verb, tt.code, got, tt.want)
		}
	}
}
