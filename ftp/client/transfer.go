package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"strings"
	"time"
)

// transfer is the part shared by Download, Upload and Lines: the data connection, the context watch
// over both connections, and the completion reply.
type transfer struct {
	c         *Client
	ctx       context.Context
	what      string
	data      net.Conn
	unwatch   func()
	closed    bool
	err       error     // the transfer's outcome once finished
	idle      bool      // no context deadline: keep an idle deadline on the data connection
	refreshed time.Time // when the idle deadline was last pushed back
}

// keepAlive pushes the data connection's idle deadline back (when the context has no deadline), so a
// server that stalls mid-transfer ends the call instead of hanging it. It reports a cancellation that
// came before the new deadline was set.
func (t *transfer) keepAlive(write bool) error {
	if !t.idle {
		return nil
	}
	idle := t.c.cfg.idle
	now := time.Now()
	if now.Sub(t.refreshed) < idle/8 {
		return nil
	}
	t.refreshed = now
	if write {
		t.data.SetWriteDeadline(now.Add(idle))
	} else {
		t.data.SetReadDeadline(now.Add(idle))
	}
	return t.ctx.Err()
}

// begin starts a data transfer: checks, watches ctx over the control connection while the command
// sequence runs, then over both connections for the transfer itself.
func (c *Client) beginTransfer(ctx context.Context, what string, r request) (*transfer, opened, error) {
	if err := c.begin(); err != nil {
		return nil, opened{}, fmt.Errorf("%s: %w", what, err)
	}
	done := c.watch(ctx, c.conn)
	op, err := c.start(ctx, r)
	done()
	if err != nil {
		return nil, op, fmt.Errorf("%s: %w", what, err)
	}
	t := &transfer{c: c, ctx: ctx, what: what, data: op.data}
	if op.done {
		t.closed = true
		return t, op, nil
	}
	t.unwatch = c.watch(ctx, c.conn, op.data)
	if _, ok := ctx.Deadline(); !ok && c.cfg.idle > 0 {
		t.idle = true
	}
	c.open = true
	c.cur = t
	return t, op, nil
}

// finish closes the data connection and reads the completion reply; cause is the data-side error
// (nil for a complete transfer). The result is remembered: later calls return the same.
func (t *transfer) finish(cause error) error {
	if t.closed {
		return t.err
	}
	code, msg, err := t.end()
	switch {
	case err != nil && cause != nil:
		t.err = fmt.Errorf("%s: %w (and no completion reply: %v)", t.what, cause, err)
	case err != nil:
		t.err = fmt.Errorf("%s: no completion reply (%w): the transfer may be incomplete", t.what, err)
	case cause != nil:
		if code >= 400 {
			t.err = fmt.Errorf("%s: %w: %w", t.what, cause, checkClass("", code, msg, 2))
		} else {
			t.err = fmt.Errorf("%s: %w", t.what, cause)
		}
	default:
		if cerr := checkClass("", code, msg, 2); cerr != nil {
			t.err = fmt.Errorf("%s: %w", t.what, cerr)
		}
	}
	return t.err
}

// end closes the data connection and reads the server's reply to the transfer; the session is free
// for the next command afterwards, whatever the reply.
func (t *transfer) end() (int, string, error) {
	t.closed = true
	c := t.c
	defer func() {
		c.open = false
		c.cur = nil
		if t.unwatch != nil {
			t.unwatch()
		}
	}()
	t.data.Close()
	return c.readReply(t.ctx)
}

// abort ends a transfer the caller gave up on: the data connection is closed and the server's reply
// (226, or 426/451 for the interrupted transfer) is read to keep the session in step; it is not an
// error of the caller's.
func (t *transfer) abort() error {
	if t.closed {
		return t.err
	}
	if _, _, err := t.end(); err != nil {
		t.err = fmt.Errorf("%s: closing early: %w", t.what, err)
	}
	return t.err
}

// Download is a file being read from the server (RETR). Read it to io.EOF: io.EOF is returned only
// after the server's completion reply confirmed the whole file; anything else is an error.
type Download struct {
	t         *transfer
	r         io.Reader
	n         int64
	announced int64
	offset    int64
	err       error
}

// Retr opens path for reading (nx_ftp_client_file_open for read). ctx covers the whole download
// until Close.
func (c *Client) Retr(ctx context.Context, path string) (*Download, error) {
	return c.retr(ctx, path, 0)
}

// RetrFrom downloads path from byte offset on (REST then RETR), for resuming; the server must announce
// REST STREAM, and the transfer must be in stream mode.
func (c *Client) RetrFrom(ctx context.Context, path string, offset int64) (*Download, error) {
	if err := c.canResume(ctx, "retr", path, offset); err != nil {
		return nil, err
	}
	return c.retr(ctx, path, offset)
}

// canResume checks that op (retr, stor) of path can start at offset: not negative, and past 0 only
// in stream mode with a server announcing REST STREAM.
func (c *Client) canResume(ctx context.Context, op, path string, offset int64) error {
	if offset < 0 {
		return fmt.Errorf("%s %s: negative offset %d", op, path, offset)
	}
	if offset > 0 {
		if c.cfg.mode != ModeStream {
			return fmt.Errorf("%s %s from %d: resuming needs stream mode (REST STREAM)", op, path, offset)
		}
		if err := c.need(ctx, "REST", "STREAM"); err != nil {
			return fmt.Errorf("%s %s from %d: %w", op, path, offset, err)
		}
	}
	return nil
}

func (c *Client) retr(ctx context.Context, path string, offset int64) (*Download, error) {
	t, op, err := c.beginTransfer(ctx, "retr "+path, request{verb: "RETR", arg: path, file: true, offset: offset})
	if err != nil {
		return nil, err
	}
	d := &Download{t: t, announced: op.announced, offset: offset}
	if op.done {
		d.err = io.EOF
		return d, nil
	}
	if op.mode == ModeBlock {
		d.r = newBlockReader(op.data)
	} else {
		d.r = op.data
	}
	return d, nil
}

// Read reads file data.
func (d *Download) Read(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	n, err := 0, d.t.keepAlive(false)
	if err == nil {
		n, err = d.r.Read(p)
	}
	d.n += int64(n)
	if err == nil {
		return n, nil
	}
	if errors.Is(err, io.EOF) {
		err = nil
		// vsftpd and others announce the size in the 150 reply: hold them to it.
		if d.announced >= 0 && d.offset == 0 && d.n != d.announced {
			err = fmt.Errorf("%w: got %d of the %d bytes the server announced", ErrShortTransfer, d.n, d.announced)
		}
	} else {
		err = ctxErr(d.t.ctx, err)
	}
	if ferr := d.t.finish(err); ferr != nil {
		d.err = ferr
	} else {
		d.err = io.EOF
	}
	return n, d.err
}

// copyBuf is the buffer size WriteTo and ReadFrom use: large reads and writes cost far fewer trips
// through a user-space TCP stack than io.Copy's default 32 KiB (or io.Discard's 8 KiB).
const copyBuf = 256 << 10

// WriteTo copies the rest of the file to w (io.Copy uses it), with a buffer sized for bulk transfers.
func (d *Download) WriteTo(w io.Writer) (int64, error) {
	// The anonymous structs hide ReaderFrom/WriterTo, so CopyBuffer uses buf instead of calling back here.
	return io.CopyBuffer(struct{ io.Writer }{w}, struct{ io.Reader }{d}, make([]byte, copyBuf))
}

// N returns the number of bytes read so far.
func (d *Download) N() int64 { return d.n }

// Close ends the download (nx_ftp_client_file_close). After io.EOF it returns nil; after an error
// that error; before the end it abandons the transfer (the server's 426 is expected and not reported).
func (d *Download) Close() error {
	if d.err == nil {
		d.err = errors.New("download closed before the end")
		if err := d.t.abort(); err != nil {
			return err
		}
		return nil
	}
	if d.err == io.EOF {
		return nil
	}
	return d.err
}

// Upload is a file being written to the server (STOR). Close must be called, and its error checked:
// only a nil error from Close means the server confirmed the whole file.
type Upload struct {
	t     *transfer
	w     io.Writer // the data connection, or a block writer over it
	bw    *blockWriter
	size  int64 // declared size, -1 if none
	n     int64
	err   error
	ended bool
}

// Stor opens path for writing (nx_ftp_client_file_open for write). ctx covers the whole upload until Close.
func (c *Client) Stor(ctx context.Context, path string) (*Upload, error) {
	return c.stor(ctx, "STOR", path, 0)
}

// StorFrom resumes an upload at byte offset (REST then STOR); the server must announce REST STREAM,
// and the transfer must be in stream mode.
func (c *Client) StorFrom(ctx context.Context, path string, offset int64) (*Upload, error) {
	if err := c.canResume(ctx, "stor", path, offset); err != nil {
		return nil, err
	}
	return c.stor(ctx, "STOR", path, offset)
}

func (c *Client) stor(ctx context.Context, verb, path string, offset int64) (*Upload, error) {
	what := strings.ToLower(verb) + " " + path
	t, op, err := c.beginTransfer(ctx, what, request{verb: verb, arg: path, file: true, offset: offset})
	if err != nil {
		return nil, err
	}
	u := &Upload{t: t, size: -1}
	if op.done {
		// A completion without a data connection for an upload means nothing was stored.
		u.err = fmt.Errorf("%s: %w: the server completed before any data was sent", what, ErrUnexpectedReply)
		return u, nil
	}
	if op.mode == ModeBlock {
		u.bw = newBlockWriter(op.data)
		u.w = u.bw
	} else {
		u.w = op.data
	}
	return u, nil
}

// SetSize declares the file's size before the first Write (nx_ftp_client_file_size_set). In block
// mode the data then goes in blocks of that size (one block for up to 65535 bytes, exactly as NetX),
// and the end-of-file block follows the last byte; in either mode Write refuses more than size bytes
// and Close fails for fewer.
func (u *Upload) SetSize(size int64) error {
	if u.err != nil {
		return u.err
	}
	if u.n > 0 || u.size >= 0 {
		return errors.New("set size: must be called once, before the first write")
	}
	if size < 0 {
		return fmt.Errorf("set size: negative size %d", size)
	}
	u.size = size
	if u.bw != nil {
		if err := u.bw.declare(size); err != nil {
			return u.fail(err)
		}
	}
	return nil
}

// Write sends file data.
func (u *Upload) Write(p []byte) (int, error) {
	if u.err != nil {
		return 0, u.err
	}
	if u.size >= 0 && u.n+int64(len(p)) > u.size {
		return 0, fmt.Errorf("write: %d bytes would pass the declared size %d", u.n+int64(len(p)), u.size)
	}
	if err := u.t.keepAlive(true); err != nil {
		return 0, u.fail(err)
	}
	n, err := u.w.Write(p)
	u.n += int64(n)
	if err != nil {
		return n, u.fail(ctxErr(u.t.ctx, err))
	}
	return n, nil
}

func (u *Upload) fail(err error) error {
	u.err = u.t.finish(err)
	return u.err
}

// ReadFrom copies r to the file until r's EOF (io.Copy uses it), with a buffer sized for bulk transfers.
func (u *Upload) ReadFrom(r io.Reader) (int64, error) {
	// The anonymous structs hide ReaderFrom/WriterTo, so CopyBuffer uses buf instead of calling back here.
	return io.CopyBuffer(struct{ io.Writer }{u}, struct{ io.Reader }{r}, make([]byte, copyBuf))
}

// N returns the number of bytes written so far.
func (u *Upload) N() int64 { return u.n }

// Close ends the upload (nx_ftp_client_file_close): in block mode the end-of-file block is sent, the
// data connection closed and the server's completion reply read. nil means the server confirmed the file.
func (u *Upload) Close() error {
	if u.ended {
		return u.err
	}
	u.ended = true
	if u.err != nil {
		return u.err
	}
	var cause error
	if u.size >= 0 && u.n != u.size {
		cause = fmt.Errorf("%w: %d of the declared %d bytes written", ErrShortTransfer, u.n, u.size)
	} else if u.bw != nil {
		cause = ctxErr(u.t.ctx, u.bw.end())
	}
	if cause != nil {
		u.t.data.Close() // without the end-of-file marker the server sees an incomplete file
	}
	u.err = u.t.finish(cause)
	return u.err
}

// Lines is a listing being read (NLST or LIST), one entry per line
// (nx_ftp_client_directory_listing_get/continue).
type Lines struct {
	t   *transfer
	sc  *bufio.Scanner
	err error
}

// NameList starts an NLST of path ("" for the working directory) and returns its lines as a stream.
func (c *Client) NameList(ctx context.Context, path string) (*Lines, error) {
	return c.listing(ctx, "NLST", path)
}

// List starts a LIST of path ("" for the working directory); each line is in the server's own format.
func (c *Client) List(ctx context.Context, path string) (*Lines, error) {
	return c.listing(ctx, "LIST", path)
}

// Names is NameList as an iterator: each name, or one final error.
func (c *Client) Names(ctx context.Context, path string) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		l, err := c.NameList(ctx, path)
		if err != nil {
			yield("", err)
			return
		}
		for name, err := range l.All() {
			if !yield(name, err) {
				break
			}
		}
	}
}

// maxListLine bounds one listing line.
const maxListLine = 64 << 10

func (c *Client) listing(ctx context.Context, verb, path string) (*Lines, error) {
	what := strings.ToLower(verb)
	if path != "" {
		what += " " + path
	}
	t, op, err := c.beginTransfer(ctx, what, request{verb: verb, arg: path})
	if err != nil {
		return nil, err
	}
	l := &Lines{t: t}
	if op.done {
		l.err = io.EOF
		return l, nil
	}
	var r io.Reader = op.data
	if op.mode == ModeBlock {
		r = newBlockReader(op.data)
	}
	l.sc = bufio.NewScanner(r)
	l.sc.Buffer(make([]byte, 4096), maxListLine)
	return l, nil
}

// Next returns the next line without its line end; io.EOF after the last one once the server
// confirmed the listing complete; any other error means the listing is incomplete. Empty lines are skipped.
func (l *Lines) Next() (string, error) {
	for l.err == nil {
		if err := l.t.keepAlive(false); err != nil {
			l.err = l.t.finish(err)
			break
		}
		if l.sc.Scan() {
			line := strings.TrimSuffix(l.sc.Text(), "\r")
			if line == "" {
				continue
			}
			return line, nil
		}
		err := l.sc.Err()
		if err != nil {
			err = ctxErr(l.t.ctx, err)
		}
		if ferr := l.t.finish(err); ferr != nil {
			l.err = ferr
		} else {
			l.err = io.EOF
		}
	}
	return "", l.err
}

// All returns the remaining lines as an iterator (each line, or one final error) and closes the
// listing at the end or when the loop stops early.
func (l *Lines) All() iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		defer l.Close()
		for {
			line, err := l.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				yield("", err)
				return
			}
			if !yield(line, nil) {
				return
			}
		}
	}
}

// Close ends the listing; before the end it abandons it.
func (l *Lines) Close() error {
	if l.err == nil {
		l.err = errors.New("listing closed before the end")
		return l.t.abort()
	}
	if l.err == io.EOF {
		return nil
	}
	return l.err
}

// ReadAll reads the remaining lines into a slice and closes the listing.
func (l *Lines) ReadAll() ([]string, error) {
	var out []string
	for line, err := range l.All() {
		if err != nil {
			return out, err
		}
		out = append(out, line)
	}
	return out, nil
}
