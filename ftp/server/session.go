package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/netxsim/netxsim/ftp"
)

// session is one control connection.
type session struct {
	srv   *Server
	fs    visibleFS // the back end without upload temporaries
	conn  net.Conn
	prof  ftp.Profile
	peer  netip.AddrPort // control connection's remote end (IPv4 unmapped)
	local netip.AddrPort // control connection's local end
	log   *slog.Logger

	ctx    context.Context // ends when the session ends or is killed
	cancel context.CancelFunc
	lines  chan lineItem

	wmu sync.Mutex // replies come from the session and from its transfer goroutine

	// login state
	user      string
	userGiven bool
	loggedIn  bool
	readOnly  bool
	failures  int

	// command state
	cwd      string // absolute, cleaned: "/" or "/a/b"
	binary   bool   // TYPE I
	block    bool   // MODE B
	rnfr     string // absolute source of a pending rename
	rest     int64  // REST offset for the next transfer
	epsvAll  bool
	active   netip.AddrPort // PORT/EPRT target; persists as in RFC 959
	pasv     net.Listener   // PASV/EPSV listener; one-shot
	pasvEPSV bool           // pasv came from EPSV
	early    *earlyConn     // shipped: the passive connection, accepted early
	// activeAfterPasv: shipped, a PORT/EPRT came after the PASV/EPSV whose connection is still pending
	activeAfterPasv bool
	xfer            *transfer // the running transfer, if any
	quitting        bool
}

type lineItem struct {
	line string
	err  error
}

func newSession(s *Server, conn net.Conn) *session {
	ctx, cancel := context.WithCancel(context.Background())
	ss := &session{
		srv:    s,
		fs:     visibleFS{s.FS},
		conn:   conn,
		prof:   s.profile(),
		peer:   ftp.AddrPortOf(conn.RemoteAddr()),
		local:  ftp.AddrPortOf(conn.LocalAddr()),
		ctx:    ctx,
		cancel: cancel,
		lines:  make(chan lineItem),
		cwd:    "/",
	}
	ss.log = s.logger().With("peer", ss.peer.String())
	return ss
}

// kill ends the session at once: its control and data connections are closed.
func (ss *session) kill() {
	ss.cancel()
	ss.conn.Close()
}

func (ss *session) extended() bool { return ss.prof == ftp.ProfileExtended }

// netx tells whether the session speaks NetX's bytes (netxduo and netxduo-6.4).
func (ss *session) netx() bool { return ss.prof.NetXLike() }

// shipped tells whether the session reproduces the shipped NetX Duo 6.4.2 code's quirks.
func (ss *session) shipped() bool { return ss.prof.Shipped() }

// isV6 tells whether the control connection runs over IPv6 (which decides PORT vs EPRT as in NetX).
func (ss *session) isV6() bool { return !ss.local.Addr().Unmap().Is4() }

// reply sends one reply. NetX puts a space before the CRLF of every reply except 227 and 229 (their
// texts are built by other code in NetX); the NetX-like profiles do the same.
func (ss *session) reply(code int, text string) {
	var msg string
	if ss.netx() && code != 227 && code != 229 && !strings.Contains(text, "\n") {
		msg = ftp.FormatReply(code, text+" ")
	} else {
		msg = ftp.FormatReply(code, text)
	}
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	ss.log.Debug("ftp reply", "code", code, "text", text)
	ss.conn.SetWriteDeadline(time.Now().Add(max(ss.srv.dataTimeout(), 30*time.Second)))
	if _, err := io.WriteString(ss.conn, msg); err != nil {
		ss.log.Debug("ftp: control write failed", "err", err)
		ss.kill()
	}
}

func (ss *session) readLoop() {
	lr := ftp.NewLineReader(ss.conn, ss.srv.maxLineLen())
	for {
		line, err := lr.ReadLine()
		select {
		case ss.lines <- lineItem{line, err}:
		case <-ss.ctx.Done():
			return
		}
		if err != nil && !errors.Is(err, ftp.ErrLineTooLong) {
			return
		}
	}
}

// readSegments is the shipped NetX code's reader: every TCP segment is one command. The command is
// the segment's bytes up to the first CR or LF (all of them when it has none); the rest of the
// segment is dropped, as NetX parses one command per packet and releases the packet.
//
// The segment boundaries are those of the reads: a Read on a gVisor connection returns what the
// segments queued since the previous Read delivered, so while the reader keeps up (it waits in Read
// when a segment arrives) each Read is one segment. Two segments arriving before the reader runs
// again are read as one; docs/ftp-server.md says so.
func (ss *session) readSegments() {
	buf := make([]byte, 64<<10)
	for {
		n, err := ss.conn.Read(buf)
		if n > 0 {
			seg := buf[:n]
			cmd := seg
			if i := bytes.IndexAny(seg, "\r\n"); i >= 0 {
				cmd = seg[:i]
				if rest := bytes.TrimLeft(seg[i:], "\r\n"); len(rest) > 0 {
					ss.log.Debug("ftp: rest of the segment dropped (NetX reads one command per segment)", "bytes", len(rest))
				}
			}
			select {
			case ss.lines <- lineItem{line: string(cmd)}:
			case <-ss.ctx.Done():
				return
			}
		}
		if err != nil {
			select {
			case ss.lines <- lineItem{err: err}:
			case <-ss.ctx.Done():
			}
			return
		}
	}
}

func (ss *session) serve() {
	defer func() {
		if ss.xfer != nil {
			ss.xfer.cancel()
			<-ss.xfer.done
		}
		ss.closePasv()
		ss.logout()
		ss.kill()
	}()
	ss.log.Info("ftp: session start", "local", ss.local.String())
	ss.reply(220, "Connection Ready")
	if ss.shipped() {
		go ss.readSegments()
	} else {
		go ss.readLoop()
	}

	idle := ss.srv.idleTimeout()
	var idleC <-chan time.Time
	var timer *time.Timer
	if idle > 0 {
		timer = time.NewTimer(idle)
		defer timer.Stop()
		idleC = timer.C
	}
	resetIdle := func() {
		if timer != nil {
			timer.Reset(idle)
		}
	}
	// the pre-login phase is bounded apart from the idle timeout: a client that keeps sending
	// commands without logging in would otherwise hold a session slot for ever
	var loginC <-chan time.Time
	if lt := ss.srv.loginTimeout(); lt > 0 {
		lt := time.NewTimer(lt)
		defer lt.Stop()
		loginC = lt.C
	}
	shutdown := (<-chan struct{})(ss.srv.shutdown)
	for {
		var xferDone <-chan struct{}
		if ss.xfer != nil {
			xferDone = ss.xfer.done
		}
		select {
		case it := <-ss.lines:
			resetIdle()
			if it.err != nil {
				if errors.Is(it.err, ftp.ErrLineTooLong) {
					ss.reply(500, "Command line too long")
					continue
				}
				ss.log.Info("ftp: control connection ended", "err", it.err)
				return // the deferred cleanup aborts a running transfer
			}
			ss.handleLine(it.line)
			if ss.quitting || ss.ctx.Err() != nil {
				return
			}
		case <-xferDone:
			ss.xfer = nil
			resetIdle()
			if shutdown == nil { // Shutdown arrived during the transfer
				ss.closeForShutdown()
				return
			}
		case <-loginC:
			loginC = nil
			if ss.loggedIn || ss.xfer != nil {
				continue // logged in once: the slot was earned; IdleTimeout applies from now on
			}
			ss.log.Info("ftp: login timeout", "after", ss.srv.loginTimeout())
			if ss.extended() {
				ss.reply(421, "Login timeout, closing control connection")
			}
			return
		case <-idleC:
			if ss.xfer != nil { // transfers have their own stall timeout
				resetIdle()
				continue
			}
			ss.log.Info("ftp: idle timeout", "after", idle)
			if ss.extended() {
				ss.reply(421, "Idle timeout, closing control connection")
			}
			return
		case <-shutdown:
			shutdown = nil
			if ss.xfer == nil {
				ss.closeForShutdown()
				return
			}
		case <-ss.ctx.Done():
			return
		}
	}
}

func (ss *session) closeForShutdown() {
	if ss.extended() {
		ss.reply(421, "Service closing")
	}
}

func (ss *session) logout() {
	if ss.loggedIn {
		ss.loggedIn = false
		if ss.srv.Logout != nil {
			ss.srv.Logout(ss.peer, ss.user)
		}
		ss.log.Info("ftp: logout", "user", ss.user)
	}
}

// handleLine parses and runs one command line; during a transfer only ABOR runs at once, anything
// else waits for the transfer to end (RFC 959 allows queueing).
func (ss *session) handleLine(line string) {
	// Clients send ABOR after Telnet IP/Synch (IAC IP IAC DM); drop those bytes.
	line = strings.TrimLeft(line, "\xff\xf4\xf2\xfd\xfb\xfe\xfc")
	cmd, err := ss.parse(line)
	if err != nil {
		var fe *ftp.Error
		if errors.As(err, &fe) {
			ss.reply(fe.Code, fe.Msg)
		} else {
			ss.reply(500, "Syntax error")
		}
		return
	}
	ss.log.Debug("ftp command", "verb", cmd.Verb, "arg", redact(cmd))
	if ss.xfer != nil {
		if spec, _ := ftp.LookupCommand(cmd.Verb); spec.DuringTransfer && ss.extended() { // ABOR
			ss.abortTransfer()
			ss.reply(226, "Abort successful")
			return
		}
		select {
		case <-ss.xfer.done:
			ss.xfer = nil
		case <-ss.ctx.Done():
			return
		}
	}
	ss.dispatch(cmd)
}

// parse splits a command line. NetX knows no syntax error: a line whose command word is empty or not
// a word is an unknown command (502 Not Implemented, 530 before login), as the empty line is on the
// real device. The shipped code takes the argument as it follows the first space (spaces and all)
// and ends it at a NUL; netxduo drops leading spaces and refuses control characters.
func (ss *session) parse(line string) (ftp.Command, error) {
	if !ss.netx() {
		return ftp.ParseCommand(line)
	}
	if ss.shipped() {
		line, _, _ = strings.Cut(line, "\x00")
	} else if strings.ContainsAny(line, "\r\n\x00") {
		return ftp.Command{}, &ftp.Error{Code: 501, Msg: "Control characters not allowed in command"}
	}
	verb, arg, _ := strings.Cut(line, " ")
	if !ss.shipped() {
		arg = strings.TrimLeft(arg, " ")
	}
	return ftp.Command{Verb: strings.ToUpper(verb), Arg: arg}, nil
}

func redact(c ftp.Command) string {
	if c.Verb == "PASS" {
		return "***"
	}
	return c.Arg
}

// abs resolves a client path against the working directory; the result never leaves the root:
// "/.." is "/", and "\" is a separator as on NetX's FAT.
func (ss *session) abs(arg string) string {
	arg = strings.ReplaceAll(arg, "\\", "/")
	if !strings.HasPrefix(arg, "/") {
		arg = ss.cwd + "/" + arg
	}
	return path.Clean("/" + arg)
}

// fsName turns an absolute session path into the back end's io/fs name.
func fsName(abs string) string {
	if abs == "/" {
		return "."
	}
	return strings.TrimPrefix(abs, "/")
}

// quote renders a path for a reply as NetX does: leading "/", embedded quotes doubled.
func quote(p string) string {
	return `"` + strings.ReplaceAll(p, `"`, `""`) + `"`
}
