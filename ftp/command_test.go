package ftp

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		line     string
		verb     string
		arg      string
		wantCode int // 0: no error
	}{
		{"USER alice", "USER", "alice", 0},
		{"user alice", "USER", "alice", 0},
		{"Mkd /def", "MKD", "/def", 0},
		{"NOOP", "NOOP", "", 0},
		{"QUIT\r", "QUIT", "", 0},
		{"RETR my file.txt", "RETR", "my file.txt", 0},
		{"RETR  two spaces", "RETR", "two spaces", 0},
		{"STOR name ", "STOR", "name ", 0},
		{"PASS ", "PASS", "", 0},
		{"", "", "", 500},
		{" NOOP", "", "", 500},
		{"NO0P", "", "", 500},
		{"ABCDEFGHI x", "", "", 500},
		{"RETR a\x00b", "", "", 501},
		{"RETR a\rb", "", "", 501},
	}
	for _, tt := range tests {
		c, err := ParseCommand(tt.line)
		if tt.wantCode != 0 {
			var fe *Error
			if !errors.As(err, &fe) || fe.Code != tt.wantCode {
				t.Errorf("ParseCommand(%q) = %v, %v; want *Error %d", tt.line, c, err, tt.wantCode)
			}
			continue
		}
		if err != nil || c.Verb != tt.verb || c.Arg != tt.arg {
			t.Errorf("ParseCommand(%q) = %+v, %v; want %s %q", tt.line, c, err, tt.verb, tt.arg)
		}
	}
}

func TestLineReader(t *testing.T) {
	in := "USER a\r\nPASS b\nNOOP\r\n" + strings.Repeat("x", 50) + "\r\nQUIT\r\ntail"
	// one byte at a time: commands split over segments must work
	lr := NewLineReader(iotest.OneByteReader(strings.NewReader(in)), 20)
	want := []struct {
		line string
		err  error
	}{
		{"USER a", nil}, {"PASS b", nil}, {"NOOP", nil}, {"", ErrLineTooLong}, {"QUIT", nil},
		{"tail", io.ErrUnexpectedEOF}, {"", io.EOF},
	}
	for i, w := range want {
		got, err := lr.ReadLine()
		if got != w.line || !errors.Is(err, w.err) {
			t.Fatalf("line %d: got %q, %v; want %q, %v", i, got, err, w.line, w.err)
		}
	}
}

func TestLineReaderExactLimit(t *testing.T) {
	lr := NewLineReader(strings.NewReader("12345\r\n123456\r\n12345\n"), 5)
	for i, w := range []error{nil, ErrLineTooLong, nil, io.EOF} {
		if _, err := lr.ReadLine(); !errors.Is(err, w) {
			t.Fatalf("line %d: err %v, want %v", i, err, w)
		}
	}
}

// A peer that never sends a line end gets ErrLineTooLong after max bytes, not an endless read.
func TestLineReaderNoLineEnd(t *testing.T) {
	r := &endless{}
	lr := NewLineReader(r, 100)
	if _, err := lr.ReadLine(); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("err %v, want ErrLineTooLong", err)
	}
	if r.n > 4096 {
		t.Fatalf("read %d bytes for a 100-byte limit", r.n)
	}
}

type endless struct{ n int }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	e.n += len(p)
	return len(p), nil
}

func TestReadReply(t *testing.T) {
	in := "220 Connection Ready \r\n" +
		"211-Features:\r\n MDTM\r\n SIZE\r\n211 End\r\n" +
		"230-Welcome\r\n230-more\r\n123 not the end\r\n230 done\r\n" +
		"200\r\n" +
		"xyz\r\n"
	lr := NewLineReader(strings.NewReader(in), 0)
	want := []struct {
		code int
		text string
	}{
		{220, "Connection Ready "},
		{211, "Features:\n MDTM\n SIZE\nEnd"},
		{230, "Welcome\n230-more\n123 not the end\ndone"},
		{200, ""},
	}
	for _, w := range want {
		code, text, err := lr.ReadReply()
		if err != nil || code != w.code || text != w.text {
			t.Fatalf("got %d %q %v; want %d %q", code, text, err, w.code, w.text)
		}
	}
	if _, _, err := lr.ReadReply(); !errors.Is(err, ErrBadReply) {
		t.Fatalf("bad reply: err %v, want ErrBadReply", err)
	}
}

// The reply reader on what servers send: 1yz and 2yz multi-line replies, middle lines that look like
// reply lines, an end line "ddd" without its space (text, not the end), EOF in the middle of a reply,
// a last line without its line end, an overlong line and a line longer than the reader's buffer.
func TestNextReply(t *testing.T) {
	type want struct {
		code  int
		lines []string
		err   error
	}
	long := strings.Repeat("y", 3*lineBufSize)
	tests := []struct {
		name string
		in   string
		max  int
		want []want
	}{
		{"1yz then 2yz", "150-Opening\r\n150 data connection\r\n226-Done\r\n226-ok\r\n226 end\r\n", 0, []want{
			{150, []string{"Opening", "data connection"}, nil},
			{226, []string{"Done", "226-ok", "end"}, nil},
			{0, nil, io.EOF},
		}},
		{"end line needs its space", "211-a\n211\n211-b\n212 c\n211 d\n", 0, []want{
			{211, []string{"a", "211", "211-b", "212 c", "d"}, nil},
		}},
		{"EOF mid-reply", "220-hello\r\n more\r\n", 0, []want{{0, nil, io.EOF}}},
		{"EOF mid-line mid-reply", "220-hello\r\n more", 0, []want{{0, nil, io.ErrUnexpectedEOF}}},
		{"last line without line end", "220-hello\r\n220 ready", 0, []want{
			{220, []string{"hello", "ready"}, nil},
			{0, nil, io.EOF},
		}},
		{"overlong line", "220 " + strings.Repeat("x", 40) + "\r\n200 ok\r\n", 20, []want{
			{0, nil, ErrLineTooLong},
			{200, []string{"ok"}, nil},
		}},
		{"overlong line mid-reply", "211-a\r\n" + strings.Repeat("x", 40) + "\r\n", 20, []want{{0, nil, ErrLineTooLong}}},
		{"line longer than the buffer", "220 " + long + "\r\n", 4 * lineBufSize, []want{{220, []string{long}, nil}}},
		{"line past a limit above the buffer", "220 " + long + long + "\r\n200 ok\r\n", 4 * lineBufSize, []want{
			{0, nil, ErrLineTooLong},
			{200, []string{"ok"}, nil},
		}},
		{"not a reply", "hello\r\n", 0, []want{{0, nil, ErrBadReply}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lr := NewLineReader(iotest.HalfReader(strings.NewReader(tt.in)), tt.max)
			for i, w := range tt.want {
				r, err := lr.NextReply()
				if !errors.Is(err, w.err) || r.Code != w.code || strings.Join(r.Lines, "|") != strings.Join(w.lines, "|") {
					t.Fatalf("reply %d: %d %q %v; want %d %q %v", i, r.Code, r.Lines, err, w.code, w.lines, w.err)
				}
			}
		})
	}
}

// A reply of more lines than MaxLines keeps the first ones and counts the rest; the stream reader
// refuses one longer than DefaultMaxReplyLines.
func TestReplyParserMaxLines(t *testing.T) {
	p := ReplyParser{MaxLines: 3}
	for _, l := range []string{"211-a", "b", "c", "d"} {
		if _, done, err := p.Line(l); done || err != nil {
			t.Fatalf("line %q: done %v, err %v", l, done, err)
		}
	}
	r, done, err := p.Line("211 e")
	if !done || err != nil || r.Text() != "a\nb\nc" || r.Dropped != 2 {
		t.Fatalf("got %+v %v %v; want lines a, b, c and 2 dropped", r, done, err)
	}
	if _, open := p.Pending(); open {
		t.Fatal("reply still pending after its end line")
	}
	in := "211-start\r\n" + strings.Repeat(" x\r\n", DefaultMaxReplyLines) + "211 end\r\n"
	if _, err := NewLineReader(strings.NewReader(in), 0).NextReply(); !errors.Is(err, ErrBadReply) {
		t.Fatalf("reply of %d lines: err %v, want ErrBadReply", DefaultMaxReplyLines+2, err)
	}
}

func TestFormatReply(t *testing.T) {
	if got := FormatReply(220, "Connection Ready"); got != "220 Connection Ready\r\n" {
		t.Errorf("single: %q", got)
	}
	got := FormatReply(211, "Features:\n MDTM\nSIZE\nEnd")
	if got != "211-Features:\r\n MDTM\r\n SIZE\r\n211 End\r\n" {
		t.Errorf("multi: %q", got)
	}
	code, text, err := NewLineReader(strings.NewReader(got), 0).ReadReply()
	if err != nil || code != 211 || text != "Features:\n MDTM\n SIZE\nEnd" {
		t.Errorf("round trip: %d %q %v", code, text, err)
	}
}

func TestErrorTemporary(t *testing.T) {
	if !(&Error{Code: 425}).Temporary() || (&Error{Code: 550}).Temporary() {
		t.Fatal("Temporary must be true for 4xx only")
	}
	if s := (&Error{Code: 530, Msg: "Not logged in"}).Error(); s != "530 Not logged in" {
		t.Fatalf("Error() = %q", s)
	}
}

func TestParseProfile(t *testing.T) {
	for s, want := range map[string]Profile{"": ProfileNetXDuo, "netxduo": ProfileNetXDuo, "extended": ProfileExtended} {
		if p, err := ParseProfile(s); err != nil || p != want {
			t.Errorf("ParseProfile(%q) = %q, %v", s, p, err)
		}
	}
	if _, err := ParseProfile("vsftpd"); err == nil {
		t.Error("unknown profile accepted")
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"USER alice", "retr a b", "", " x", "PORT 1,2,3,4,5,6", "ABCDEFGHIJ", "A\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		c, err := ParseCommand(line)
		if err != nil {
			var fe *Error
			if !errors.As(err, &fe) || fe.Code < 500 || fe.Code > 501 {
				t.Fatalf("error is not a 500/501 *Error: %v", err)
			}
			return
		}
		if c.Verb == "" || len(c.Verb) > MaxVerbLen || c.Verb != strings.ToUpper(c.Verb) {
			t.Fatalf("bad verb %q", c.Verb)
		}
		c2, err := ParseCommand(c.String())
		if err != nil || c2 != c {
			t.Fatalf("round trip %+v -> %q -> %+v, %v", c, c.String(), c2, err)
		}
	})
}

func FuzzLineReader(f *testing.F) {
	f.Add([]byte("USER a\r\nPASS b\n"), 8)
	f.Add([]byte("xxxxxxxxxxxxxxxxxxxxxxxx\r\nNOOP\r\n"), 4)
	f.Fuzz(func(t *testing.T, data []byte, max int) {
		max = max%64 + 1
		if max < 1 {
			max += 64
		}
		lr := NewLineReader(iotest.HalfReader(strings.NewReader(string(data))), max)
		for i := 0; i <= len(data); i++ {
			line, err := lr.ReadLine()
			if len(line) > max {
				t.Fatalf("line of %d bytes past limit %d", len(line), max)
			}
			if strings.ContainsRune(line, '\n') {
				t.Fatalf("line contains LF: %q", line)
			}
			if err != nil && !errors.Is(err, ErrLineTooLong) {
				return
			}
		}
		t.Fatalf("reader did not end after %d lines", len(data)+1)
	})
}

// FuzzReadReply checks the stream reader against the line-at-a-time parser that ftpcheck feeds: the
// same input gives the same replies either way, every code 100..599.
func FuzzReadReply(f *testing.F) {
	f.Add("220 ok\r\n")
	f.Add("211-a\r\n b\r\n211 c\r\n")
	f.Add("211-a\r\n")
	f.Add("150-x\n150-y\n150 z\n226 done")
	f.Fuzz(func(t *testing.T, in string) {
		lr := NewLineReader(strings.NewReader(in), 512)
		var got []Reply
		for i := 0; i < 1000; i++ {
			r, err := lr.NextReply()
			if err != nil {
				break
			}
			if r.Code < 100 || r.Code > 599 {
				t.Fatalf("code %d", r.Code)
			}
			got = append(got, r)
		}
		if len(in) > 100000 || strings.ContainsRune(in, '\r') || len(got) == 1000 {
			return // the line splitting below is plain LF without limits
		}
		var p ReplyParser
		var want []Reply
		for _, l := range strings.SplitAfter(in, "\n") {
			if l == "" || len(strings.TrimSuffix(l, "\n")) > 512 {
				break
			}
			r, done, err := p.Line(strings.TrimSuffix(l, "\n"))
			if err != nil {
				break
			}
			if done {
				want = append(want, r)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("stream reader: %d replies, parser: %d", len(got), len(want))
		}
		for i := range got {
			if got[i].Code != want[i].Code || got[i].Text() != want[i].Text() {
				t.Fatalf("reply %d: stream %d %q, parser %d %q", i, got[i].Code, got[i].Text(), want[i].Code, want[i].Text())
			}
		}
	})
}
