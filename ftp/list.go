package ftp

import (
	"fmt"
	"io/fs"
	"strings"
	"time"
)

var months = [...]string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}

// FormatListLine renders one LIST line in NetX's fixed layout, without CRLF:
//
//	-rw-rw-rw-  1 owner group         28 APR 02 08:05 test.txt
//
// "d" for directories, "r--r--r--" when readOnly, the size right-aligned in 10 columns, the month as
// three upper-case letters, no year. The time is printed as stored (FAT has no time zone).
func FormatListLine(fi fs.FileInfo, readOnly bool) string {
	kind := "-"
	if fi.IsDir() {
		kind = "d"
	}
	perm := "rw-rw-rw-"
	if readOnly {
		perm = "r--r--r--"
	}
	t := fi.ModTime()
	return fmt.Sprintf("%s%s  1 owner group %10d %s %02d %02d:%02d %s",
		kind, perm, fi.Size(), months[t.Month()-1], t.Day(), t.Hour(), t.Minute(), fi.Name())
}

// MLSTime formats a time as RFC 3659's time-val YYYYMMDDHHMMSS in UTC (also MDTM's 213 reply).
func MLSTime(t time.Time) string { return t.UTC().Format("20060102150405") }

// FormatMLSFacts renders an RFC 3659 MLSD/MLST entry, without CRLF:
// "type=file;size=28;modify=20240402080500; test.txt" (directories have type=dir and no size).
func FormatMLSFacts(fi fs.FileInfo) string {
	var b strings.Builder
	if fi.IsDir() {
		b.WriteString("type=dir;")
	} else {
		fmt.Fprintf(&b, "type=file;size=%d;", fi.Size())
	}
	fmt.Fprintf(&b, "modify=%s; %s", MLSTime(fi.ModTime()), fi.Name())
	return b.String()
}
