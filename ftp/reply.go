package ftp

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrBadReply marks a reply line that is not "ddd text" or "ddd-text".
var ErrBadReply = errors.New("ftp: malformed reply")

// SplitReplyLine splits one reply line, "ddd text", "ddd-text" (a multi-line reply goes on) or
// "ddd", into its code (100..599), separator (' ' or '-') and text; anything else is an error
// wrapping ErrBadReply. The one reply-line parser of ReplyParser and so of every reply reader.
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

// Reply is one complete reply.
type Reply struct {
	Code int
	// Lines holds the text of each line: after "ddd-" on the first line and "ddd " on the last, the
	// lines between as they were sent (they may or may not repeat the code).
	Lines []string
	// Dropped counts the lines past ReplyParser.MaxLines, which are not kept.
	Dropped int
}

// Text is the reply's lines joined with "\n".
func (r Reply) Text() string { return strings.Join(r.Lines, "\n") }

// DefaultMaxReplyLines is ReplyParser's bound on the lines kept of one reply when MaxLines is 0.
const DefaultMaxReplyLines = 10000

// ReplyParser assembles replies from lines fed one at a time (RFC 959 4.2: a multi-line reply
// starts "ddd-" and ends with the first line "ddd " of the same code; every line between is text).
// It is the one multi-line reply reader: LineReader.ReadReply (the server's tests, the client,
// replay) runs it over a stream, ftpcheck over lines of a reassembled capture. The zero value is
// ready to use.
type ReplyParser struct {
	// MaxLines bounds the lines kept of one reply, so a peer cannot make it grow without end; later
	// lines are counted in Reply.Dropped. 0 means DefaultMaxReplyLines.
	MaxLines int
	cur      Reply
	open     bool
}

// Line takes the next line, without its line end. It returns done and the reply when the line
// completes one: a single-line reply or the end line of a multi-line one. Outside a multi-line reply
// a line that is not a reply line is an error wrapping ErrBadReply, and the parser stays ready for
// the next reply.
func (p *ReplyParser) Line(line string) (r Reply, done bool, err error) {
	if !p.open {
		code, sep, rest, err := SplitReplyLine(line)
		if err != nil {
			return Reply{}, false, err
		}
		if sep == ' ' {
			return Reply{Code: code, Lines: []string{rest}}, true, nil
		}
		p.cur, p.open = Reply{Code: code, Lines: []string{rest}}, true
		return Reply{}, false, nil
	}
	end := len(line) >= 4 && line[3] == ' ' && line[:3] == fmt.Sprintf("%03d", p.cur.Code)
	text := line
	if end {
		text = line[4:]
	}
	max := p.MaxLines
	if max <= 0 {
		max = DefaultMaxReplyLines
	}
	if len(p.cur.Lines) < max {
		p.cur.Lines = append(p.cur.Lines, text)
	} else {
		p.cur.Dropped++
	}
	if !end {
		return Reply{}, false, nil
	}
	r = p.cur
	p.cur, p.open = Reply{}, false
	return r, true, nil
}

// Pending returns the multi-line reply in progress, if any: what a connection that ends in the
// middle of a reply leaves.
func (p *ReplyParser) Pending() (Reply, bool) { return p.cur, p.open }

// Reset forgets a reply in progress.
func (p *ReplyParser) Reset() { p.cur, p.open = Reply{}, false }

// NextReply reads one reply, single- or multi-line, with a ReplyParser. A final line without its
// line end still counts (the peer closed after it). A malformed reply is an error wrapping
// ErrBadReply; a reply that needs more lines than DefaultMaxReplyLines is an error too.
func (lr *LineReader) NextReply() (Reply, error) {
	var p ReplyParser
	for {
		line, err := lr.ReadLine()
		last := errors.Is(err, io.ErrUnexpectedEOF)
		if err != nil && !last {
			if r, open := p.Pending(); open {
				return Reply{}, fmt.Errorf("reading multi-line %d reply: %w", r.Code, err)
			}
			return Reply{}, err
		}
		r, done, err := p.Line(line)
		switch {
		case err != nil:
			return Reply{}, err
		case done:
			return r, nil
		}
		r, _ = p.Pending()
		switch {
		case last:
			return Reply{}, fmt.Errorf("reading multi-line %d reply: %w", r.Code, io.ErrUnexpectedEOF)
		case r.Dropped > 0:
			return Reply{}, fmt.Errorf("%w: multi-line %d reply longer than %d lines", ErrBadReply, r.Code, DefaultMaxReplyLines)
		}
	}
}

// ReadReply is NextReply giving the code and the text (lines joined with "\n").
func (lr *LineReader) ReadReply() (code int, text string, err error) {
	r, err := lr.NextReply()
	if err != nil {
		return 0, "", err
	}
	return r.Code, r.Text(), nil
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
