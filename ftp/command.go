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

// lineBufSize caps LineReader's buffer: a reader with a larger limit (the client's, which allows a
// reply line as long as its whole reply budget) gathers a longer line in pieces, so that many open
// readers do not each hold a buffer of the limit's size.
const lineBufSize = 4096

// NewLineReader returns a reader of lines of at most max bytes (line end excluded); max < 1 means 4096.
func NewLineReader(r io.Reader, max int) *LineReader {
	if max < 1 {
		max = 4096
	}
	return &LineReader{br: bufio.NewReaderSize(r, min(max+2, lineBufSize)), max: max}
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
	var long []byte // the start of a line longer than the buffer
	for {
		b, err := lr.br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// max+2 bytes without an LF: longer than max whether or not a CR follows
			if len(long)+len(b) >= lr.max+2 {
				lr.discarding = true
				return "", ErrLineTooLong
			}
			long = append(long, b...)
			continue
		}
		if long != nil {
			b = append(long, b...)
		}
		switch {
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
}

// Error is an FTP error reply (4xx or 5xx) carried as a Go error.
type Error struct {
	Code int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%03d %s", e.Code, e.Msg) }

// Temporary reports whether the reply is a transient (4xx) failure worth retrying.
func (e *Error) Temporary() bool { return e.Code >= 400 && e.Code < 500 }
