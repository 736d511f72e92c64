package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/netxsim/netxsim/ftp"
)

// Network is what the client needs from an IP stack (ftp.Network): TCP listen for active data
// connections, TCP dial for control and passive ones. *stack.IP, stack.Kernel and netxsim.Device provide it.
type Network = ftp.Network

// Mode is the transfer mode (RFC 959 MODE).
type Mode byte

const (
	// ModeStream is MODE S: the data connection's close marks the end of the file.
	ModeStream Mode = 'S'
	// ModeBlock is MODE B: 3-byte block headers, the end of file marked by descriptor 64.
	ModeBlock Mode = 'B'
)

func (m Mode) String() string {
	switch m {
	case ModeStream:
		return "stream"
	case ModeBlock:
		return "block"
	}
	return fmt.Sprintf("Mode(%d)", byte(m))
}

// Errors a caller can test with errors.Is.
var (
	// ErrNotSupported: the server did not announce the feature (FEAT) a call needs.
	ErrNotSupported = errors.New("not supported by the server")
	// ErrUnexpectedReply: a positive reply of the wrong class (e.g. 3xx where 2xx was due).
	ErrUnexpectedReply = errors.New("unexpected reply")
	// ErrBusy: a call was made while a Download, Upload or Lines of the same client was still open.
	ErrBusy = errors.New("a transfer is still open on this client: close it first")
	// ErrClosed: the client was closed or quit.
	ErrClosed = errors.New("client is closed")
	// ErrShortTransfer: the data ended before the announced or declared size, or before the
	// block-mode end-of-file marker.
	ErrShortTransfer = errors.New("transfer ended early")
)

// Option configures a Client at Dial.
type Option func(*config)

type config struct {
	profile   ftp.Profile
	passive   bool
	mode      Mode
	trustPASV bool
	trace     io.Writer
	logger    *slog.Logger
	idle      time.Duration
}

// WithProfile selects the wire behaviour: ftp.ProfileNetXDuo or "netxduo-6.4" (byte for byte what NetX
// Duo's client sends; the two profiles differ only on the server side) or ftp.ProfileExtended (the
// default: what modern clients send).
func WithProfile(p ftp.Profile) Option { return func(c *config) { c.profile = p } }

// WithPassive turns passive data connections on (PASV/EPSV); the default is active (PORT/EPRT), as in NetX.
func WithPassive(on bool) Option { return func(c *config) { c.passive = on } }

// WithMode sets the transfer mode (stream by default), as nx_ftp_client_transfer_mode_set.
func WithMode(m Mode) Option { return func(c *config) { c.mode = m } }

// WithTrustPASVAddress makes passive IPv4 transfers connect to the address a 227 reply names. By
// default the client connects to the control connection's peer with the 227 reply's port and
// ignores the address (as curl does since CVE-2020-8284): a hostile server could otherwise make the
// client connect to any third host, a port scan or a bounce from the client's position. Trust the
// reply only for a server that really serves data from another address.
func WithTrustPASVAddress(on bool) Option { return func(c *config) { c.trustPASV = on } }

// WithSkipPASVAddress(true) is the default now; WithSkipPASVAddress(false) is WithTrustPASVAddress(true).
//
// Deprecated: use WithTrustPASVAddress.
func WithSkipPASVAddress(on bool) Option { return WithTrustPASVAddress(!on) }

// WithTrace writes the control dialogue to w: "> CMD" for commands (the password masked) and
// "< ddd text" for replies.
func WithTrace(w io.Writer) Option { return func(c *config) { c.trace = w } }

// WithLogger sets a logger for debug events; the default discards them.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithIdleTimeout bounds each wait for a reply or for the server's active data connection when the
// call's context has no earlier deadline, so a silent server cannot hang a call without a deadline.
// The default is 2 minutes; 0 disables it.
func WithIdleTimeout(d time.Duration) Option { return func(c *config) { c.idle = d } }

// maxReply bounds the bytes read from the control connection for one reply (a hostile server could
// otherwise make a multi-line reply grow without end).
const maxReply = 256 << 10

// Client is one FTP session (NX_FTP_CLIENT). It is used by one goroutine at a time.
type Client struct {
	cfg     config
	network Network
	conn    net.Conn
	replies *replyReader
	local   netip.AddrPort // our end of the control connection
	remote  netip.AddrPort // the server's end

	// what the server was last told; 0 = unknown
	typ        byte
	serverMode Mode
	dataPort   uint16 // last active data port in the netxduo profiles; 0: none yet

	feats    map[string]string // nil until FEAT was asked
	greeting string

	open   bool      // a Download, Upload or Lines is open
	cur    *transfer // that transfer
	broken error     // the control connection is unusable (I/O error, timeout, protocol desync)
	closed bool
}

// Dial connects to the FTP server at server over network and reads its greeting (120 lines are
// waited through, extra 220 lines tolerated). The context bounds the connect and the greeting.
func Dial(ctx context.Context, network Network, server netip.AddrPort, opts ...Option) (*Client, error) {
	cfg := config{profile: ftp.ProfileExtended, mode: ModeStream, idle: 2 * time.Minute}
	for _, o := range opts {
		o(&cfg)
	}
	if !cfg.profile.Valid() {
		return nil, fmt.Errorf("ftp dial: unknown profile %q: use %q or %q", cfg.profile, ftp.ProfileNetXDuo, ftp.ProfileExtended)
	}
	if cfg.mode != ModeStream && cfg.mode != ModeBlock {
		return nil, fmt.Errorf("ftp dial: unknown transfer mode %v: use ModeStream or ModeBlock", cfg.mode)
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.DiscardHandler)
	}
	if !server.IsValid() || server.Port() == 0 {
		return nil, fmt.Errorf("ftp dial: invalid server address %v: give an address and a port", server)
	}
	conn, err := network.Dial(ctx, netip.AddrPort{}, server)
	if err != nil {
		return nil, fmt.Errorf("ftp dial %v: %w", server, ctxErr(ctx, err))
	}
	c := &Client{cfg: cfg, network: network, conn: conn, serverMode: ModeStream}
	c.replies = newReplyReader(conn)
	c.local = ftp.AddrPortOf(conn.LocalAddr())
	c.remote = ftp.AddrPortOf(conn.RemoteAddr())
	if !c.remote.IsValid() {
		c.remote = server
	}
	if c.remote.Addr().Zone() == "" && server.Addr().Zone() != "" {
		c.remote = netip.AddrPortFrom(c.remote.Addr().WithZone(server.Addr().Zone()), c.remote.Port())
	}
	if err := c.readGreeting(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("ftp dial %v: %w", server, err)
	}
	cfg.logger.Debug("ftp connected", "server", server, "local", c.local)
	return c, nil
}

func (c *Client) readGreeting(ctx context.Context) error {
	done := c.watch(ctx, c.conn)
	defer done()
	for i := 0; i < 8; i++ {
		code, msg, err := c.readReply(ctx)
		if err != nil {
			return err
		}
		switch {
		case code == 120: // service ready in nnn minutes: wait for the 220
			continue
		case code/100 == 2:
			c.greeting = msg
			return nil
		case code >= 400:
			return &ftp.Error{Code: code, Msg: msg}
		default:
			return fmt.Errorf("greeting: %w: %d %s", ErrUnexpectedReply, code, msg)
		}
	}
	return fmt.Errorf("greeting: %w: too many 120 replies", ErrUnexpectedReply)
}

// Greeting returns the text of the server's 220 reply.
func (c *Client) Greeting() string { return c.greeting }

// netx reports whether the client sends NetX's bytes: both NetX-like profiles do.
func (c *Client) netx() bool { return c.cfg.profile.NetXLike() }

// Profile returns the client's wire profile.
func (c *Client) Profile() ftp.Profile { return c.cfg.profile }

// SetPassive turns passive data connections on or off (nx_ftp_client_passive_mode_set).
func (c *Client) SetPassive(on bool) { c.cfg.passive = on }

// SetMode sets the transfer mode for the next transfers (nx_ftp_client_transfer_mode_set).
func (c *Client) SetMode(m Mode) error {
	if m != ModeStream && m != ModeBlock {
		return fmt.Errorf("set transfer mode: unknown mode %v: use ModeStream or ModeBlock", m)
	}
	c.cfg.mode = m
	return nil
}

// LocalAddr and RemoteAddr return the ends of the control connection.
func (c *Client) LocalAddr() netip.AddrPort  { return c.local }
func (c *Client) RemoteAddr() netip.AddrPort { return c.remote }

// Login sends USER and, when asked for, PASS (nx_ftp_client_connect's login). A refused login is an
// error wrapping *ftp.Error with code 530.
func (c *Client) Login(ctx context.Context, user, pass string) error {
	if err := c.usable(); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	done := c.watch(ctx, c.conn)
	defer done()
	if err := c.send(ctx, "USER "+user); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	// NetX skips extra 22x lines (a greeting sent in several replies) before USER's answer.
	var code int
	var msg string
	for i := 0; ; i++ {
		var err error
		code, msg, err = c.readReply(ctx)
		if err != nil {
			return fmt.Errorf("login: %w", err)
		}
		if code/10 != 22 || i >= 16 {
			break
		}
	}
	switch {
	case code == 230 || code == 202:
		c.afterLogin()
		return nil
	case code == 331 || code == 332:
	case code >= 400:
		return fmt.Errorf("login as %q: %w", user, &ftp.Error{Code: code, Msg: msg})
	default:
		return fmt.Errorf("login as %q: USER: %w: %d %s", user, ErrUnexpectedReply, code, msg)
	}
	code, msg, err := c.cmd(ctx, "PASS "+pass)
	if err != nil {
		return fmt.Errorf("login as %q: %w", user, err)
	}
	switch {
	case code/100 == 2:
		c.afterLogin()
		return nil
	case code >= 400:
		return fmt.Errorf("login as %q: %w", user, &ftp.Error{Code: code, Msg: msg})
	default: // 332 (ACCT) is not supported, as in NetX
		return fmt.Errorf("login as %q: PASS: %w: %d %s", user, ErrUnexpectedReply, code, msg)
	}
}

func (c *Client) afterLogin() {
	// A (re)login resets the session's type on NetX; be safe with every server.
	c.typ = 0
}

// Quit sends QUIT, reads its reply and closes the connection (nx_ftp_client_disconnect).
func (c *Client) Quit(ctx context.Context) error {
	if c.closed {
		return ErrClosed
	}
	if err := c.usable(); err != nil {
		c.Close()
		return fmt.Errorf("quit: %w", err)
	}
	done := c.watch(ctx, c.conn)
	_, err := c.expect(ctx, 2, "QUIT")
	done()
	cerr := c.Close()
	if err != nil {
		return fmt.Errorf("quit: %w", err)
	}
	return cerr
}

// Close closes the control connection without QUIT.
func (c *Client) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	if c.cur != nil {
		c.cur.data.Close()
	}
	err := c.conn.Close()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Noop sends NOOP, e.g. to check that the session is alive.
func (c *Client) Noop(ctx context.Context) error { return c.simple(ctx, "noop", 2, "NOOP") }

// Mkdir creates a directory (nx_ftp_client_directory_create). NetX's server answers 200, others 257:
// any 2xx is success.
func (c *Client) Mkdir(ctx context.Context, path string) error {
	return c.simple(ctx, "mkdir "+path, 2, "MKD "+path)
}

// Rmdir removes an empty directory (nx_ftp_client_directory_delete).
func (c *Client) Rmdir(ctx context.Context, path string) error {
	return c.simple(ctx, "rmdir "+path, 2, "RMD "+path)
}

// Chdir sets the working directory (nx_ftp_client_directory_default_set).
func (c *Client) Chdir(ctx context.Context, path string) error {
	return c.simple(ctx, "chdir "+path, 2, "CWD "+path)
}

// Delete removes a file (nx_ftp_client_file_delete).
func (c *Client) Delete(ctx context.Context, path string) error {
	return c.simple(ctx, "delete "+path, 2, "DELE "+path)
}

// Rename renames a file or directory with RNFR then RNTO (nx_ftp_client_file_rename).
func (c *Client) Rename(ctx context.Context, from, to string) error {
	what := "rename " + from + " to " + to
	if err := c.begin(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	done := c.watch(ctx, c.conn)
	defer done()
	if _, err := c.expect(ctx, 3, "RNFR "+from); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if _, err := c.expect(ctx, 2, "RNTO "+to); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// Pwd returns the working directory from PWD's 257 reply (the quoted path, doubled quotes undone).
func (c *Client) Pwd(ctx context.Context) (string, error) {
	if err := c.begin(); err != nil {
		return "", fmt.Errorf("pwd: %w", err)
	}
	done := c.watch(ctx, c.conn)
	defer done()
	msg, err := c.expect(ctx, 2, "PWD")
	if err != nil {
		return "", fmt.Errorf("pwd: %w", err)
	}
	p, err := parseQuotedPath(msg)
	if err != nil {
		return "", fmt.Errorf("pwd: %w", err)
	}
	return p, nil
}

// parseQuotedPath extracts the path of a 257 reply: `"/a ""b"" c" is current directory` -> `/a "b" c`.
func parseQuotedPath(msg string) (string, error) {
	i := strings.IndexByte(msg, '"')
	if i < 0 {
		return "", fmt.Errorf("%w: no quoted path in %q", ErrUnexpectedReply, msg)
	}
	var b strings.Builder
	for j := i + 1; j < len(msg); j++ {
		if msg[j] != '"' {
			b.WriteByte(msg[j])
			continue
		}
		if j+1 < len(msg) && msg[j+1] == '"' {
			b.WriteByte('"')
			j++
			continue
		}
		return b.String(), nil
	}
	return "", fmt.Errorf("%w: unterminated quoted path in %q", ErrUnexpectedReply, msg)
}

// Features returns the server's FEAT list, upper-cased feature names mapped to their parameters
// (e.g. "REST" -> "STREAM"). A server without FEAT (such as NetX) gives an empty map. The answer is
// asked once per session.
func (c *Client) Features(ctx context.Context) (map[string]string, error) {
	if c.feats != nil {
		return c.feats, nil
	}
	if err := c.begin(); err != nil {
		return nil, fmt.Errorf("feat: %w", err)
	}
	done := c.watch(ctx, c.conn)
	defer done()
	code, msg, err := c.cmd(ctx, "FEAT")
	if err != nil {
		return nil, fmt.Errorf("feat: %w", err)
	}
	feats := map[string]string{}
	if code/100 == 2 {
		lines := strings.Split(msg, "\n")
		if len(lines) > 2 { // first and last lines are free text
			for _, l := range lines[1 : len(lines)-1] {
				l = strings.TrimSpace(l)
				if l == "" {
					continue
				}
				name, param, _ := strings.Cut(l, " ")
				feats[strings.ToUpper(name)] = strings.TrimSpace(param)
			}
		}
	}
	c.feats = feats
	return feats, nil
}

// HasFeature reports whether FEAT announced name (and, if param is not empty, a parameter starting
// with it, case-insensitively: HasFeature(ctx, "REST", "STREAM")).
func (c *Client) HasFeature(ctx context.Context, name, param string) (bool, error) {
	f, err := c.Features(ctx)
	if err != nil {
		return false, err
	}
	v, ok := f[strings.ToUpper(name)]
	if !ok {
		return false, nil
	}
	return param == "" || strings.HasPrefix(strings.ToUpper(v), strings.ToUpper(param)), nil
}

func (c *Client) need(ctx context.Context, name, param string) error {
	ok, err := c.HasFeature(ctx, name, param)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s %s: %w (not in its FEAT reply)", name, param, ErrNotSupported)
	}
	return nil
}

// Size returns a file's size with SIZE (RFC 3659), after TYPE I; the server must announce SIZE.
func (c *Client) Size(ctx context.Context, path string) (int64, error) {
	if err := c.need(ctx, "SIZE", ""); err != nil {
		return 0, fmt.Errorf("size %s: %w", path, err)
	}
	if err := c.begin(); err != nil {
		return 0, fmt.Errorf("size %s: %w", path, err)
	}
	done := c.watch(ctx, c.conn)
	defer done()
	if err := c.setType(ctx, 'I', false); err != nil {
		return 0, fmt.Errorf("size %s: %w", path, err)
	}
	msg, err := c.expect(ctx, 2, "SIZE "+path)
	if err != nil {
		return 0, fmt.Errorf("size %s: %w", path, err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(msg), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("size %s: %w: %q is not a size", path, ErrUnexpectedReply, msg)
	}
	return n, nil
}

// ModTime returns a file's modification time with MDTM (RFC 3659), in UTC; the server must announce MDTM.
func (c *Client) ModTime(ctx context.Context, path string) (time.Time, error) {
	if err := c.need(ctx, "MDTM", ""); err != nil {
		return time.Time{}, fmt.Errorf("mdtm %s: %w", path, err)
	}
	if err := c.begin(); err != nil {
		return time.Time{}, fmt.Errorf("mdtm %s: %w", path, err)
	}
	done := c.watch(ctx, c.conn)
	defer done()
	msg, err := c.expect(ctx, 2, "MDTM "+path)
	if err != nil {
		return time.Time{}, fmt.Errorf("mdtm %s: %w", path, err)
	}
	t, err := ParseMDTM(msg)
	if err != nil {
		return time.Time{}, fmt.Errorf("mdtm %s: %w", path, err)
	}
	return t, nil
}

// ParseMDTM parses an MDTM reply text "YYYYMMDDHHMMSS[.sss]" (RFC 3659 time-val, UTC).
func ParseMDTM(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	main, frac, hasFrac := strings.Cut(s, ".")
	if len(main) != 14 || strings.Trim(main, "0123456789") != "" ||
		(hasFrac && (frac == "" || len(frac) > 9 || strings.Trim(frac, "0123456789") != "")) {
		return time.Time{}, fmt.Errorf("%w: %q is not a time YYYYMMDDHHMMSS[.sss]", ErrUnexpectedReply, s)
	}
	t, err := time.Parse("20060102150405", main)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %q is not a time: %v", ErrUnexpectedReply, s, err)
	}
	if hasFrac {
		ns, _ := strconv.Atoi((frac + "000000000")[:9])
		t = t.Add(time.Duration(ns))
	}
	return t.UTC(), nil
}

// ---- control connection plumbing ----

// usable reports why the control connection cannot take a command, if it cannot.
func (c *Client) usable() error {
	switch {
	case c.closed:
		return ErrClosed
	case c.broken != nil:
		return fmt.Errorf("the control connection failed earlier (%w): dial again", c.broken)
	}
	return nil
}

// begin checks the client can start a call now.
func (c *Client) begin() error {
	if err := c.usable(); err != nil {
		return err
	}
	if c.open {
		return ErrBusy
	}
	return nil
}

// simple runs one command expecting a reply of class want.
func (c *Client) simple(ctx context.Context, what string, want int, line string) error {
	if err := c.begin(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	done := c.watch(ctx, c.conn)
	defer done()
	if _, err := c.expect(ctx, want, line); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// expect sends line and checks the reply's class: an error reply becomes *ftp.Error, another class
// ErrUnexpectedReply.
func (c *Client) expect(ctx context.Context, want int, line string) (string, error) {
	code, msg, err := c.cmd(ctx, line)
	if err != nil {
		return "", err
	}
	return msg, checkClass(verbOf(line), code, msg, want)
}

func checkClass(verb string, code int, msg string, want int) error {
	if code/100 == want {
		return nil
	}
	if code >= 400 {
		return &ftp.Error{Code: code, Msg: msg}
	}
	return fmt.Errorf("%s: %w: %d %s (wanted %dxx)", verb, ErrUnexpectedReply, code, msg, want)
}

func verbOf(line string) string {
	v, _, _ := strings.Cut(line, " ")
	return v
}

// cmd sends one command line and reads one reply.
func (c *Client) cmd(ctx context.Context, line string) (int, string, error) {
	if err := c.send(ctx, line); err != nil {
		return 0, "", err
	}
	return c.readReply(ctx)
}

// send writes one command with CRLF in a single write (one TCP segment, as NetX's server wants).
func (c *Client) send(ctx context.Context, line string) error {
	if strings.ContainsAny(line, "\r\n") {
		return fmt.Errorf("%s: argument contains CR or LF: refusing to send it", verbOf(line))
	}
	if c.cfg.trace != nil {
		shown := line
		if strings.HasPrefix(strings.ToUpper(line), "PASS ") {
			shown = "PASS ****"
		}
		fmt.Fprintf(c.cfg.trace, "> %s\n", shown)
	}
	if _, err := c.conn.Write([]byte(line + "\r\n")); err != nil {
		return c.fail(ctx, fmt.Errorf("send %s: %w", verbOf(line), err))
	}
	return nil
}

// readReply reads one reply, multi-line or not, with the idle timeout and the trace.
func (c *Client) readReply(ctx context.Context) (int, string, error) {
	if c.cfg.idle > 0 {
		dl := time.Now().Add(c.cfg.idle)
		if cdl, ok := ctx.Deadline(); !ok || dl.Before(cdl) {
			c.conn.SetReadDeadline(dl)
		}
	}
	// After setting the deadline: a cancellation that came before is seen here, one that comes later
	// sets its own past deadline over ours.
	if err := ctx.Err(); err != nil {
		return 0, "", c.fail(ctx, err)
	}
	code, msg, err := c.replies.read()
	if err != nil {
		return 0, "", c.fail(ctx, err)
	}
	if c.cfg.trace != nil {
		for i, l := range strings.Split(msg, "\n") {
			sep := "-"
			if i == strings.Count(msg, "\n") {
				sep = " "
			}
			fmt.Fprintf(c.cfg.trace, "< %03d%s%s\n", code, sep, l)
		}
	}
	return code, msg, nil
}

// replyReader reads replies with package ftp's reply reader, at most maxReply bytes for one reply.
type replyReader struct {
	budget *budgetReader
	lr     *ftp.LineReader
}

func newReplyReader(r io.Reader) *replyReader {
	b := &budgetReader{r: r}
	// a line may take the whole budget, as with the net/textproto reader this replaces
	return &replyReader{budget: b, lr: ftp.NewLineReader(b, maxReply)}
}

// read returns the code and the lines joined with "\n". A middle line that repeats the code
// ("ddd-text") loses that prefix, as net/textproto rendered it and callers have seen it.
func (rr *replyReader) read() (int, string, error) {
	rr.budget.left = maxReply
	r, err := rr.lr.NextReply()
	if err != nil {
		if errors.Is(err, ftp.ErrBadReply) {
			return 0, "", fmt.Errorf("reading reply: malformed reply from server: %w", err)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("server closed the control connection: %w", io.ErrUnexpectedEOF)
		}
		return 0, "", fmt.Errorf("reading reply: %w", err)
	}
	prefix := fmt.Sprintf("%03d-", r.Code)
	for i := 1; i < len(r.Lines)-1; i++ {
		r.Lines[i] = strings.TrimPrefix(r.Lines[i], prefix)
	}
	return r.Code, r.Text(), nil
}

// fail marks the control connection unusable after an I/O or protocol error and closes it, so the
// session never continues out of step with the server.
func (c *Client) fail(ctx context.Context, err error) error {
	err = ctxErr(ctx, err)
	if c.broken == nil {
		c.broken = err
		c.conn.Close()
	}
	return err
}

// ctxErr puts the context's error in front when the context ended, so errors.Is(err,
// context.DeadlineExceeded) holds for a call that ran out of time.
func ctxErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	cerr := ctx.Err()
	if cerr == nil && errors.Is(err, os.ErrDeadlineExceeded) {
		// The connection's deadline is the context's: it may fire a moment before the context's timer.
		if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
			cerr = context.DeadlineExceeded
		}
	}
	if cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %w", cerr, err)
	}
	return err
}

var longAgo = time.Unix(1, 0)

// watch applies ctx to conns: its deadline now, its cancellation whenever it comes. The returned
// function undoes both and must be called before the next watch.
func (c *Client) watch(ctx context.Context, conns ...net.Conn) func() {
	dl, _ := ctx.Deadline() // zero: none
	for _, cn := range conns {
		cn.SetDeadline(dl)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	stop := context.AfterFunc(ctx, func() {
		defer wg.Done()
		for _, cn := range conns {
			cn.SetDeadline(longAgo)
		}
	})
	return func() {
		if stop() {
			wg.Done()
		}
		wg.Wait() // a cancellation in flight finishes before we clear the deadlines
		for _, cn := range conns {
			cn.SetDeadline(time.Time{})
		}
	}
}

// budgetReader limits how much one reply may read (reset before each reply).
type budgetReader struct {
	r    io.Reader
	left int
}

var errReplyTooLong = fmt.Errorf("reply longer than %d bytes: the server is not speaking FTP", maxReply)

func (b *budgetReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errReplyTooLong
	}
	if len(p) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= n
	return n, err
}
