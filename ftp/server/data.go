package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/netxsim/netxsim/ftp"
)

// Data connections: the plan a PORT, EPRT, PASV or EPSV leaves, opening it, and running a transfer
// beside the control connection.

type transfer struct {
	cancel  context.CancelFunc
	done    chan struct{}
	aborted atomic.Bool // ABOR asked for it: reply 426
}

func (ss *session) abortTransfer() {
	if x := ss.xfer; x != nil {
		x.aborted.Store(true)
		x.cancel()
		<-x.done
		ss.xfer = nil
	}
}

// dataPlan is how the next transfer gets its data connection, taken from the session when the
// transfer command arrives (passive is one-shot).
type dataPlan struct {
	pasv   net.Listener
	early  *earlyConn // shipped: the passive connection accepted when the client made it
	epsv   bool       // the passive listener came from EPSV
	active netip.AddrPort
}

// earlyConn is a passive data connection as the shipped NetX code has it: accepted as soon as the
// client connects, whatever command follows, and kept until a transfer uses it or a new PASV/EPSV
// drops it (so a failed RETR leaves it for the next transfer, even after a PORT).
type earlyConn struct {
	ln   net.Listener
	done chan struct{}
	conn *watchedConn // valid once done is closed; nil when the accept failed
}

// watchedConn is an early passive connection read ahead by a goroutine, so that the client closing
// it before any transfer takes it is seen: NetX's disconnect processing then closes the data socket
// too. At most one data window (2,048 bytes) is read ahead, as NetX's socket would hold.
type watchedConn struct {
	net.Conn
	mu       sync.Mutex
	cond     *sync.Cond
	buf      []byte
	err      error // the read error (io.EOF: the client's FIN)
	taken    bool
	deadline time.Time
}

func newWatchedConn(c net.Conn) *watchedConn {
	w := &watchedConn{Conn: c}
	w.cond = sync.NewCond(&w.mu)
	go w.run()
	return w
}

func (w *watchedConn) run() {
	b := make([]byte, netxDataWindow)
	for {
		w.mu.Lock()
		for len(w.buf) >= netxDataWindow && w.err == nil {
			w.cond.Wait()
		}
		room := netxDataWindow - len(w.buf)
		w.mu.Unlock()
		n, err := w.Conn.Read(b[:room])
		w.mu.Lock()
		w.buf = append(w.buf, b[:n]...)
		if err != nil {
			w.err = err
			if !w.taken { // the client closed before a transfer took it: NetX closes it too
				w.Conn.Close()
			}
		}
		w.cond.Broadcast()
		w.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// take hands the connection to a transfer; false when the client has closed it meanwhile.
func (w *watchedConn) take() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil && len(w.buf) == 0 {
		return false
	}
	w.taken = true
	return true
}

func (w *watchedConn) SetReadDeadline(t time.Time) error {
	w.mu.Lock()
	w.deadline = t
	w.mu.Unlock()
	return nil
}

func (w *watchedConn) SetDeadline(t time.Time) error {
	w.SetReadDeadline(t)
	return w.Conn.SetWriteDeadline(t)
}

func (w *watchedConn) Read(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var timer *time.Timer
	for len(w.buf) == 0 && w.err == nil {
		if !w.deadline.IsZero() {
			d := time.Until(w.deadline)
			if d <= 0 {
				return 0, os.ErrDeadlineExceeded
			}
			if timer == nil {
				timer = time.AfterFunc(d, func() { w.mu.Lock(); w.cond.Broadcast(); w.mu.Unlock() })
				defer timer.Stop()
			}
		}
		w.cond.Wait()
	}
	if len(w.buf) > 0 {
		n := copy(p, w.buf)
		w.buf = w.buf[n:]
		w.cond.Broadcast()
		return n, nil
	}
	return 0, w.err
}

func (w *watchedConn) Close() error {
	err := w.Conn.Close()
	w.mu.Lock()
	w.cond.Broadcast()
	w.mu.Unlock()
	return err
}

// acceptEarly starts accepting the one passive connection of ln from the control peer.
func (ss *session) acceptEarly(ln net.Listener) {
	e := &earlyConn{ln: ln, done: make(chan struct{})}
	ss.early = e
	go func() {
		defer close(e.done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			// PASV on IPv6 listens on IPv4: the client's IPv4 address cannot be checked
			from := ftp.AddrPortOf(c.RemoteAddr())
			if sameHost(from.Addr(), ss.peer.Addr()) || from.Addr().Is4() != ss.peer.Addr().Is4() {
				e.conn = newWatchedConn(c)
				ln.Close()
				return
			}
			ss.log.Warn("ftp: refused passive data connection from a foreign address", "from", c.RemoteAddr())
			c.Close()
		}
	}()
}

// connected reports whether the client has made the connection already.
func (e *earlyConn) connected() bool {
	select {
	case <-e.done:
		return e.conn != nil
	default:
		return false
	}
}

// closedByClient reports whether the client made the connection and closed it again.
func (e *earlyConn) closedByClient() bool {
	if !e.connected() {
		return false
	}
	e.conn.mu.Lock()
	defer e.conn.mu.Unlock()
	return e.conn.err != nil && len(e.conn.buf) == 0 && !e.conn.taken
}

// drop closes the listener and, once the accept has ended, the connection.
func (e *earlyConn) drop() {
	e.ln.Close()
	go func() {
		<-e.done
		if e.conn != nil {
			e.conn.Close()
		}
	}()
}

// takeDataPlan takes the data connection the client set up for this transfer. Without one it
// replies 425 and calls release (if not nil) to free what the command opened for the transfer.
func (ss *session) takeDataPlan(release func()) (dataPlan, bool) {
	if e := ss.early; e != nil && e.closedByClient() {
		ss.closePasv() // the client closed it: nothing left for this transfer
	}
	if e := ss.early; e != nil && (e.connected() || !ss.activeAfterPasv) {
		p := dataPlan{early: e, epsv: ss.pasvEPSV}
		ss.early, ss.pasv, ss.pasvEPSV = nil, nil, false
		return p, true
	}
	if ss.pasv != nil && ss.early == nil {
		p := dataPlan{pasv: ss.pasv, epsv: ss.pasvEPSV}
		ss.pasv, ss.pasvEPSV = nil, false
		return p, true
	}
	if ss.active.IsValid() {
		return dataPlan{active: ss.active}, true
	}
	ss.reply(425, "Use PORT, EPRT, PASV or EPSV first")
	if release != nil {
		release()
	}
	return dataPlan{}, false
}

// openFailed refuses a transfer whose file (or temporary file) would not open, and logs why.
func (ss *session) openFailed(verb, path string, err error, text string) {
	ss.log.Info("ftp: "+verb+" open failed", "path", path, "err", err)
	ss.reply(550, text)
}

func (p dataPlan) release() {
	if p.pasv != nil {
		p.pasv.Close()
	}
	if p.early != nil {
		p.early.ln.Close()
	}
}

func (p dataPlan) passive() bool { return p.pasv != nil || p.early != nil }

// codes returns the preliminary and completion codes: NetX's seed says 125/250 for active and
// 150/226 for passive transfers; the extended profile uses 150/226 always.
func (ss *session) codes(p dataPlan) (int, int) {
	if ss.shipped() || (!p.passive() && !ss.extended()) { // the shipped code: 125/250 always
		return 125, 250
	}
	if !p.passive() && !ss.extended() {
		return 125, 250
	}
	return 150, 226
}

// startTransfer runs fn in its own goroutine with a context that ABOR, a dropped control connection
// or Close cancel.
func (ss *session) startTransfer(fn func(ctx context.Context, x *transfer)) {
	ctx, cancel := context.WithCancel(ss.ctx)
	x := &transfer{cancel: cancel, done: make(chan struct{})}
	ss.xfer = x
	go func() {
		defer close(x.done)
		defer cancel()
		fn(ctx, x)
	}()
}

// openData establishes the data connection of plan and sends the preliminary reply. Passive: 1xx
// first, then wait for the client (only the control peer's address is accepted). Active: connect
// from the active port (falling back to any port if it is busy), then 1xx.
func (ss *session) openData(ctx context.Context, p dataPlan, prelim int, text string) (net.Conn, error) {
	timeout := ss.srv.dataTimeout()
	if e := p.early; e != nil {
		ss.reply(prelim, text)
		t := time.NewTimer(timeout)
		defer t.Stop()
		select {
		case <-e.done:
		case <-t.C:
			e.drop()
			return nil, fmt.Errorf("passive data connection not made within %v", timeout)
		case <-ctx.Done():
			e.drop()
			return nil, ctx.Err()
		}
		if e.conn == nil || !e.conn.take() {
			return nil, errors.New("passive data connection closed before the transfer")
		}
		return e.conn, nil
	}
	if p.pasv != nil {
		ss.reply(prelim, text)
		actx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		stop := context.AfterFunc(actx, func() { p.pasv.Close() })
		defer stop()
		for {
			c, err := p.pasv.Accept()
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				return nil, fmt.Errorf("passive data connection not made within %v: %w", timeout, err)
			}
			from := ftp.AddrPortOf(c.RemoteAddr())
			if sameHost(from.Addr(), ss.peer.Addr()) {
				p.pasv.Close() // one connection per PASV
				return c, nil
			}
			ss.log.Warn("ftp: refused passive data connection from a foreign address", "from", from)
			c.Close()
		}
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	local := netip.AddrPortFrom(ss.local.Addr(), ss.srv.activePort())
	c, err := ss.srv.network().Dial(dctx, local, p.active)
	if err != nil && dctx.Err() == nil && !errors.Is(err, syscall.ECONNREFUSED) {
		ss.log.Debug("ftp: active data port busy, using any port", "port", local.Port(), "err", err)
		c, err = ss.srv.network().Dial(dctx, netip.AddrPortFrom(ss.local.Addr(), 0), p.active)
	}
	if err != nil {
		return nil, fmt.Errorf("active data connection to %v: %w", p.active, err)
	}
	ss.reply(prelim, text)
	return c, nil
}

func sameHost(a, b netip.Addr) bool { return a.Unmap().WithZone("") == b.Unmap().WithZone("") }

// deadlineConn keeps the data timeout ahead of every read and write, so a stalled peer is dropped.
// A deadline is moved only once an eighth of the timeout has passed since it was set (setting one
// costs a timer on gVisor's connections; a transfer makes thousands of reads a second), so a stall
// is noticed after 7/8 of the timeout at the earliest and after all of it at the latest.
type deadlineConn struct {
	net.Conn
	d      time.Duration
	rd, wd time.Time // the deadlines last set
}

// due reports whether a deadline last set at *last should move to now+d, and records it.
func (c *deadlineConn) due(last *time.Time) (time.Time, bool) {
	t := time.Now().Add(c.d)
	if !last.IsZero() && t.Sub(*last) <= c.d/8 {
		return t, false
	}
	*last = t
	return t, true
}

func (c *deadlineConn) Read(p []byte) (int, error) {
	if t, ok := c.due(&c.rd); ok {
		c.Conn.SetReadDeadline(t)
	}
	return c.Conn.Read(p)
}

func (c *deadlineConn) Write(p []byte) (int, error) {
	if t, ok := c.due(&c.wd); ok {
		c.Conn.SetWriteDeadline(t)
	}
	return c.Conn.Write(p)
}

// runData is the common frame of every transfer: connect, move the data with move, close, reply.
// move returns the completion reply text or an *ftp.Error.
func (ss *session) runData(p dataPlan, prelimText string, move func(ctx context.Context, data io.ReadWriter) (string, error), cleanup func()) {
	prelim, final := ss.codes(p)
	ss.startTransfer(func(ctx context.Context, x *transfer) {
		defer p.release()
		conn, err := ss.openData(ctx, p, prelim, prelimText)
		if err != nil {
			if cleanup != nil {
				cleanup()
			}
			ss.log.Info("ftp: data connection failed", "err", err)
			if ctx.Err() == nil || x.aborted.Load() {
				ss.reply(425, "Can't open data connection")
			}
			return
		}
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		text, err := move(ctx, &deadlineConn{Conn: conn, d: ss.srv.dataTimeout()})
		stop()
		cerr := conn.Close()
		if err == nil && cerr != nil && !errors.Is(cerr, net.ErrClosed) {
			err = &ftp.Error{Code: 426, Msg: "Data connection failed; transfer aborted"}
		}
		if err != nil && cleanup != nil {
			cleanup()
		}
		switch {
		case x.aborted.Load():
			ss.reply(426, "Transfer aborted")
		case ctx.Err() != nil: // the session is ending: nobody to tell
		case err != nil:
			var fe *ftp.Error
			if !errors.As(err, &fe) {
				fe = &ftp.Error{Code: 426, Msg: "Data connection failed; transfer aborted"}
			}
			ss.log.Info("ftp: transfer failed", "err", err)
			ss.reply(fe.Code, fe.Msg)
		default:
			ss.reply(final, text)
		}
	})
}

// refusedAfterEPSVAll answers 501 to cmd (PORT, EPRT, PASV) once the client has sent EPSV ALL,
// which RFC 2428 says rules them out for the rest of the session.
func (ss *session) refusedAfterEPSVAll(cmd string) bool {
	if ss.epsvAll {
		ss.reply(501, cmd+" not allowed after EPSV ALL")
	}
	return ss.epsvAll
}

// replyOtherProtocol answers an EPRT or EPSV for the other address family with RFC 2428's 522 and
// the network protocol the control connection uses.
func (ss *session) replyOtherProtocol() {
	proto := 1
	if ss.isV6() {
		proto = 2
	}
	ss.reply(522, fmt.Sprintf("Network protocol not supported, use (%d)", proto))
}

func (ss *session) cmdPORT(arg string) {
	if ss.isV6() {
		ss.reply(502, "PORT illegal in IPv6")
		return
	}
	if ss.refusedAfterEPSVAll("PORT") {
		return
	}
	ap, err := ftp.ParsePORT(arg)
	if err != nil || !ap.Addr().IsValid() || ap.Addr().IsUnspecified() || (ap.Port() == 0 && !ss.shipped()) ||
		!sameHost(ap.Addr(), ss.peer.Addr()) || ss.privilegedPort(ap.Port()) {
		ss.log.Info("ftp: PORT refused", "arg", arg, "peer", ss.peer)
		ss.reply(501, "Port Fail")
		return
	}
	ss.setActive(ap)
	ss.reply(200, "Port set")
}

// privilegedPort tells whether a PORT/EPRT port is refused as a bounce to a service: 1-1023,
// unless AllowPrivilegedPorts. Port 0 is left to the callers: refused, except in the shipped
// profile, which answers it with NetX's 200 (no connection to port 0 can be made).
func (ss *session) privilegedPort(port uint16) bool {
	return port > 0 && port < 1024 && !ss.srv.AllowPrivilegedPorts
}

func (ss *session) cmdEPRT(arg string) {
	if !ss.isV6() && !ss.extended() {
		ss.reply(502, "EPRT illegal in IPv4")
		return
	}
	if ss.refusedAfterEPSVAll("EPRT") {
		return
	}
	ap, err := ftp.ParseEPRT(arg)
	if err != nil {
		ss.reply(501, "EPRT command failed")
		return
	}
	if ap.Addr().Is4() == ss.isV6() {
		if ss.extended() {
			ss.replyOtherProtocol()
		} else {
			ss.reply(501, "Bad IPv6 address")
		}
		return
	}
	if ss.extended() && (!sameHost(ap.Addr(), ss.peer.Addr()) || ss.privilegedPort(ap.Port())) {
		ss.log.Info("ftp: EPRT refused", "arg", arg, "peer", ss.peer)
		ss.reply(501, "EPRT command failed: only to your own address and a port >= 1024")
		return
	}
	if ss.privilegedPort(ap.Port()) {
		ss.log.Info("ftp: EPRT to a privileged port refused", "arg", arg, "peer", ss.peer)
		ss.reply(501, "EPRT command failed")
		return
	}
	// NetX connects back to the control peer whatever address was announced: no bounce possible.
	ss.setActive(netip.AddrPortFrom(ss.peer.Addr(), ap.Port()))
	ss.reply(200, "EPRT command set")
}

// setActive records a PORT/EPRT target. It drops a pending passive listener, except in the shipped
// code, where a passive connection the client has made stays and carries the next transfer.
func (ss *session) setActive(ap netip.AddrPort) {
	if ss.shipped() && ss.early != nil {
		ss.activeAfterPasv = true
	} else {
		ss.closePasv()
	}
	ss.active = ap
}

func (ss *session) closePasv() {
	if ss.early != nil {
		ss.early.drop()
		ss.early = nil
	}
	if ss.pasv != nil {
		ss.pasv.Close()
		ss.pasv = nil
	}
	ss.pasvEPSV, ss.activeAfterPasv = false, false
}

// listenPassive opens a passive listener on the control connection's local address, on the next free
// port of the range (NetX: upward from 49152). A previous passive listener is dropped.
func (ss *session) listenPassive(addr netip.Addr) (uint16, error) {
	ss.closePasv()
	lo, hi := ss.srv.passiveRange()
	n := uint32(hi) - uint32(lo) + 1
	start := ss.srv.pasvNext.Add(1) - 1 // the first PASV of a server gets lo (NetX: 49152)
	var lastErr error
	for i := uint32(0); i < min(n, 256); i++ {
		port := uint16(uint32(lo) + (start+i)%n)
		ln, err := ss.srv.network().Listen(ss.ctx, netip.AddrPortFrom(addr, port))
		if err == nil {
			ss.pasv = ln
			if i > 0 {
				ss.srv.pasvNext.Store(start + i + 1)
			}
			if ss.shipped() {
				ss.acceptEarly(ln)
			}
			return port, nil
		}
		lastErr = err
	}
	return 0, fmt.Errorf("no free passive port in %d-%d: %w", lo, hi, lastErr)
}

func (ss *session) cmdPASV() {
	if ss.refusedAfterEPSVAll("PASV") {
		return
	}
	addr := ss.local.Addr()
	if ss.isV6() {
		// NetX answers PASV on IPv6 with the device's IPv4 address, and the transfer runs over IPv4.
		if addr = ss.srv.ipv4(); !ss.netx() || !addr.IsValid() {
			ss.reply(501, "PASV Fail")
			return
		}
	}
	listenOn := addr
	if ss.isV6() {
		// NetX binds ports, not addresses: the client may come back over IPv6 to the control
		// address or over IPv4 to the announced one
		listenOn = netip.Addr{}
	}
	port, err := ss.listenPassive(listenOn)
	if err != nil {
		ss.log.Warn("ftp: PASV", "err", err)
		ss.reply(501, "PASV Fail")
		return
	}
	ss.reply(227, ftp.Format227(netip.AddrPortFrom(addr, port)))
}

func (ss *session) cmdEPSV(arg string) {
	if ss.extended() {
		switch a := strings.ToUpper(strings.TrimSpace(arg)); {
		case a == "ALL":
			ss.epsvAll = true
			ss.active = netip.AddrPort{}
			ss.reply(200, "EPSV ALL ok")
			return
		case a == "":
		case (a == "1" && !ss.isV6()) || (a == "2" && ss.isV6()):
		default:
			ss.replyOtherProtocol()
			return
		}
	}
	port, err := ss.listenPassive(ss.local.Addr())
	if err == nil {
		ss.pasvEPSV = true
	}
	if err != nil {
		ss.log.Warn("ftp: EPSV", "err", err)
		ss.reply(501, "EPSV Fail")
		return
	}
	ss.reply(229, ftp.Format229(port))
}

// needImage applies NetX's rule that file transfers need TYPE I (the extended profile converts ASCII).
