package ftp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// MaxVerbLen bounds the command word; RFC 959 verbs have 3 or 4 letters, extensions a few more.
const MaxVerbLen = 8

// Command is one parsed command line.
type Command struct {
	Verb string // upper-cased command word, e.g. "RETR"
	Arg  string // everything after the separating space(s); may be empty
}

// String renders the command as it is sent, without CRLF.
func (c Command) String() string {
	if c.Arg == "" {
		return c.Verb
	}
	return c.Verb + " " + c.Arg
}

// ParseCommand parses one command line given without its line end (a trailing CR is tolerated).
// The verb is matched case-insensitively and returned upper-cased; the argument keeps its case and
// inner spaces. A syntax error is returned as an *Error with code 500 or 501, ready to send.
func ParseCommand(line string) (Command, error) {
	line = strings.TrimSuffix(line, "\r")
	if strings.ContainsAny(line, "\r\n\x00") {
		return Command{}, &Error{Code: 501, Msg: "Control characters not allowed in command"}
	}
	verb, arg, _ := strings.Cut(line, " ")
	if verb == "" {
		return Command{}, &Error{Code: 500, Msg: "Empty command"}
	}
	if len(verb) > MaxVerbLen {
		return Command{}, &Error{Code: 500, Msg: "Command word too long"}
	}
	for i := 0; i < len(verb); i++ {
		c := verb[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return Command{}, &Error{Code: 500, Msg: "Command word must be letters only"}
		}
	}
	return Command{Verb: strings.ToUpper(verb), Arg: strings.TrimLeft(arg, " ")}, nil
}

// ErrLineTooLong is returned by LineReader.ReadLine for a line longer than its limit.
var ErrLineTooLong = errors.New("ftp: line too long")

// LineReader reads CRLF- or LF-terminated lines with a bounded buffer, so a peer that never sends a
// line end cannot make it buffer without limit.
type LineReader struct {
	br         *bufio.Reader
	max        int
	discarding bool // the previous line was too long; skip to its LF first
}

// NewLineReader returns a reader of lines of at most max bytes (line end excluded); max < 1 means 4096.
func NewLineReader(r io.Reader, max int) *LineReader {
	if max < 1 {
		max = 4096
	}
	return &LineReader{br: bufio.NewReaderSize(r, max+2), max: max}
}

// ReadLine returns the next line without its CRLF or LF. As soon as a line passes the limit it returns
// ErrLineTooLong, so the caller can answer at once; the rest of that line is discarded by the next call.
// A final line without a line end is returned with io.ErrUnexpectedEOF.
func (lr *LineReader) ReadLine() (string, error) {
	for lr.discarding {
		_, err := lr.br.ReadSlice('\n')
		switch {
		case err == nil:
			lr.discarding = false
		case errors.Is(err, bufio.ErrBufferFull):
		default:
			return "", err
		}
	}
	b, err := lr.br.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		lr.discarding = true
		return "", ErrLineTooLong
	case err == io.EOF && len(b) > 0:
		if len(b) > lr.max {
			return "", ErrLineTooLong
		}
		return string(b), io.ErrUnexpectedEOF
	case err != nil:
		return "", err
	}
	b = b[:len(b)-1]
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	if len(b) > lr.max {
		return "", ErrLineTooLong
	}
	return string(b), nil
}

// ReadReply reads one reply, single- or multi-line (RFC 959 4.2: "ddd-" first line, "ddd " last line).
// Lines of a multi-line reply are joined with "\n", the code prefixes removed from the first and last.
// A malformed reply is an error wrapping ErrBadReply.
func (lr *LineReader) ReadReply() (code int, text string, err error) {
	line, err := lr.ReadLine()
	if err != nil {
		return 0, "", err
	}
	code, sep, rest, err := SplitReplyLine(line)
	if err != nil {
		return 0, "", err
	}
	if sep != '-' {
		return code, rest, nil
	}
	lines := []string{rest}
	for n := 0; ; n++ {
		if n >= maxReplyLines {
			return 0, "", fmt.Errorf("%w: multi-line %d reply longer than %d lines", ErrBadReply, code, maxReplyLines)
		}
		line, err := lr.ReadLine()
		if err != nil {
			return 0, "", fmt.Errorf("reading multi-line %d reply: %w", code, err)
		}
		if c, s, r, e := SplitReplyLine(line); e == nil && c == code && s == ' ' {
			lines = append(lines, r)
			return code, strings.Join(lines, "\n"), nil
		}
		lines = append(lines, line)
	}
}

const maxReplyLines = 10000

// ErrBadReply marks a reply line that is not "ddd text" or "ddd-text".
var ErrBadReply = errors.New("ftp: malformed reply")

// SplitReplyLine splits one reply line, "ddd text", "ddd-text" (a multi-line reply goes on) or
// "ddd", into its code (100..599), separator (' ' or '-') and text; anything else is an error
// wrapping ErrBadReply. The one reply-line parser of the reply reader and ftpcheck.
func SplitReplyLine(line string) (code int, sep byte, rest string, err error) {
	if len(line) < 3 {
		return 0, 0, "", fmt.Errorf("%w: %q", ErrBadReply, line)
	}
	for i := 0; i < 3; i++ {
		if line[i] < '0' || line[i] > '9' {
			return 0, 0, "", fmt.Errorf("%w: %q", ErrBadReply, line)
		}
	}
	if line[0] < '1' || line[0] > '5' {
		return 0, 0, "", fmt.Errorf("%w: code out of range: %q", ErrBadReply, line)
	}
	code = int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
	if len(line) == 3 {
		return code, ' ', "", nil
	}
	if line[3] != ' ' && line[3] != '-' {
		return 0, 0, "", fmt.Errorf("%w: %q", ErrBadReply, line)
	}
	return code, line[3], line[4:], nil
}

// FormatReply renders a reply with its CRLF. Text with "\n" becomes a multi-line reply: "ddd-" on the
// first line, the middle lines starting with a space (so none can look like an end line), "ddd " last.
func FormatReply(code int, text string) string {
	lines := strings.Split(strings.ReplaceAll(text, "\r", ""), "\n")
	if len(lines) == 1 {
		return fmt.Sprintf("%03d %s\r\n", code, text)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%03d-%s\r\n", code, lines[0])
	for _, l := range lines[1 : len(lines)-1] {
		if !strings.HasPrefix(l, " ") {
			l = " " + l
		}
		b.WriteString(l + "\r\n")
	}
	fmt.Fprintf(&b, "%03d %s\r\n", code, lines[len(lines)-1])
	return b.String()
}

// Error is an FTP error reply (4xx or 5xx) carried as a Go error.
type Error struct {
	Code int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%03d %s", e.Code, e.Msg) }

// Temporary reports whether the reply is a transient (4xx) failure worth retrying.
func (e *Error) Temporary() bool { return e.Code >= 400 && e.Code < 500 }
