package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/netxsim/netxsim/ftp"
)

// tempPrefix marks uploads in progress; such names are hidden from listings and refused as targets.
const tempPrefix = ".netxsim-upload-"

// isTempName tells an upload temporary by its long name, in any case (a case-insensitive host
// directory or FAT may report another spelling).
func isTempName(base string) bool {
	return len(base) >= len(tempPrefix) && strings.EqualFold(base[:len(tempPrefix)], tempPrefix)
}

// transfer is a running data transfer; the control connection keeps being read meanwhile (ABOR).
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
			from := addrPortOf(c.RemoteAddr())
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

func (ss *session) takeDataPlan() (dataPlan, bool) {
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
	return dataPlan{}, false
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
			from := addrPortOf(c.RemoteAddr())
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

// deadlineConn refreshes the data timeout before every read and write, so a stalled peer is dropped.
type deadlineConn struct {
	net.Conn
	d time.Duration
}

func (c deadlineConn) Read(p []byte) (int, error) {
	c.Conn.SetReadDeadline(time.Now().Add(c.d))
	return c.Conn.Read(p)
}

func (c deadlineConn) Write(p []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(c.d))
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
		text, err := move(ctx, deadlineConn{conn, ss.srv.dataTimeout()})
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

func (ss *session) cmdPORT(arg string) {
	if ss.isV6() {
		ss.reply(502, "PORT illegal in IPv6")
		return
	}
	if ss.epsvAll {
		ss.reply(501, "PORT not allowed after EPSV ALL")
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
	if ss.epsvAll {
		ss.reply(501, "EPRT not allowed after EPSV ALL")
		return
	}
	ap, err := ftp.ParseEPRT(arg)
	if err != nil {
		ss.reply(501, "EPRT command failed")
		return
	}
	if ap.Addr().Is4() == ss.isV6() {
		if ss.extended() {
			ss.reply(522, fmt.Sprintf("Network protocol not supported, use (%d)", map[bool]int{false: 1, true: 2}[ss.isV6()]))
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
	if ss.epsvAll {
		ss.reply(501, "PASV not allowed after EPSV ALL")
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
			ss.reply(522, fmt.Sprintf("Network protocol not supported, use (%d)", map[bool]int{false: 1, true: 2}[ss.isV6()]))
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
func (ss *session) needImage() bool {
	if !ss.binary && !ss.extended() {
		ss.reply(504, "Only Image transfer allowed")
		return false
	}
	return true
}

func (ss *session) cmdRETR(arg string) {
	offset := ss.rest
	ss.rest = 0
	if !ss.needImage() {
		return
	}
	p := ss.abs(arg)
	f, err := ss.fs.Open(fsName(p))
	if err == nil {
		var fi fs.FileInfo
		if fi, err = f.Stat(); err == nil && fi.IsDir() {
			err = fmt.Errorf("%s is a directory", p)
		}
		if err == nil && offset > 0 {
			if sk, ok := f.(io.Seeker); !ok {
				err = errors.New("file cannot seek")
			} else {
				_, err = sk.Seek(offset, io.SeekStart)
			}
		}
		if err != nil {
			f.Close()
		}
	}
	if arg == "" || err != nil || isTempName(path.Base(p)) {
		ss.log.Info("ftp: retr open failed", "path", p, "err", err)
		ss.reply(550, "File Open Fail")
		return
	}
	plan, ok := ss.takeDataPlan()
	if !ok {
		f.Close()
		return
	}
	binaryMode, block := ss.binary, ss.block
	ss.runData(plan, "File Opened", func(ctx context.Context, data io.ReadWriter) (string, error) {
		defer f.Close()
		w := io.Writer(data)
		var bw *blockWriter
		if block {
			bw = &blockWriter{w: w}
			w = bw
		}
		if !binaryMode {
			w = &toCRLF{w: w}
		}
		if err := copyData(w, f, true); err != nil {
			return "", err
		}
		if bw != nil {
			if err := bw.finish(); err != nil {
				return "", &ftp.Error{Code: 426, Msg: "Data connection failed; transfer aborted"}
			}
		}
		return "File Sent", nil
	}, nil)
}

// copyData copies with large buffers and maps failures to replies: a read error of the source is the
// file system's when fromFile (550 Read Fail), the network's otherwise (426). Reading and writing
// overlap (a reader goroutine fills the next buffer while this one writes the last), so a transfer
// runs at the speed of the slower side, not of both added: the network and the image copy each
// take about as long per byte. Each write is a full buffer. On a write failure the reader is told to stop; it ends once its read
// returns (at the latest when the caller closes the data connection).
func copyData(dst io.Writer, src io.Reader, fromFile bool) error {
	const size, depth = 128 << 10, 3
	type chunk struct {
		b   []byte
		n   int
		err error
	}
	free := make(chan []byte, depth)
	for range depth {
		free <- make([]byte, size)
	}
	full := make(chan chunk, depth)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			var b []byte
			select {
			case b = <-free:
			case <-stop:
				return
			}
			// Fill the buffer: a network read returns what one segment carried, and the image
			// writes large chunks far faster than many small ones.
			n, err := 0, error(nil)
			for n < len(b) && err == nil {
				var k int
				k, err = src.Read(b[n:])
				n += k
			}
			select {
			case full <- chunk{b, n, err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range full {
		if c.n > 0 {
			if _, werr := dst.Write(c.b[:c.n]); werr != nil {
				if fromFile {
					return &ftp.Error{Code: 426, Msg: "Data connection failed; transfer aborted"}
				}
				return &ftp.Error{Code: 550, Msg: "File Write Failed"}
			}
		}
		if c.err == io.EOF {
			return nil
		}
		if c.err != nil {
			if fromFile {
				return &ftp.Error{Code: 550, Msg: "Read Fail"}
			}
			return &ftp.Error{Code: 426, Msg: "Data connection failed; transfer aborted"}
		}
		free <- c.b
	}
	return nil
}

// cmdSTOR stores (or appends) through a temporary file in the target's directory, renamed over the
// target only when the whole upload has arrived: an interrupted STOR keeps the old file. APPE
// receives the new data alone, then, under the file's change lock, writes the current content and
// the new data to a second temporary file and renames that over the target: two APPEs (or an APPE
// and a STOR, DELE or RNTO) to one file are applied one after the other, none is lost.
func (ss *session) cmdSTOR(arg string, appendMode bool) {
	offset := ss.rest
	ss.rest = 0
	if !ss.needImage() {
		return
	}
	target := ss.abs(arg)
	fsys := ss.srv.FS // the raw back end: the temporary files are ours
	if arg == "" || target == "/" || ss.fs.hidden(fsName(target)) {
		ss.reply(550, "File Open Failed")
		return
	}
	old, statErr := fsys.Stat(fsName(target))
	if statErr == nil && !old.Mode().IsRegular() { // a directory, a FIFO, a device
		ss.reply(550, "File Open Failed")
		return
	}
	keep := int64(0) // bytes of the old file that stay in front of the new data (REST)
	switch {
	case appendMode && statErr == nil: // the old content is added at the end, under the lock
	case offset > 0:
		if statErr != nil || offset > old.Size() {
			ss.reply(550, "File Open Failed")
			return
		}
		keep = offset
	}
	tmp := tempFor(target)
	w, err := fsys.Create(fsName(tmp))
	if err == nil && keep > 0 {
		err = copyPrefix(fsys, fsName(target), w, keep)
		if err != nil {
			w.Close()
		}
	}
	if err != nil {
		fsys.Remove(fsName(tmp))
		ss.log.Info("ftp: stor open failed", "path", target, "err", err)
		ss.reply(550, "File Open Failed")
		return
	}
	plan, ok := ss.takeDataPlan()
	if !ok {
		w.Close()
		fsys.Remove(fsName(tmp))
		return
	}
	binaryMode, block := ss.binary, ss.block
	closed := false
	cleanup := func() {
		if !closed {
			w.Close()
		}
		if err := fsys.Remove(fsName(tmp)); err != nil && !isNotExist(err) {
			ss.log.Warn("ftp: removing temporary upload failed", "name", tmp, "err", err)
		}
		ss.sync()
	}
	writeFailed := &ftp.Error{Code: 550, Msg: "File Write Failed"}
	if ss.shipped() && plan.epsv {
		ss.log.Warn("ftp: EPSV upload not stored: NetX Duo 6.4.2's EPSV handler registers no receive notify on the data socket, so the real device never reads an upload over EPSV and the file stays empty (uploads over 2,048 bytes are never answered)",
			"path", target, "defect", "nx_ftp_server EPSV STOR")
		ss.runData(plan, "File Open for Write", func(ctx context.Context, data io.ReadWriter) (string, error) {
			return ss.unreadUpload(ctx, data, w, tmp, target)
		}, cleanup)
		return
	}
	ss.runData(plan, "File Open for Write", func(ctx context.Context, data io.ReadWriter) (string, error) {
		r := io.Reader(data)
		if block {
			r = &blockReader{r: bufio.NewReaderSize(data, 64<<10)}
		}
		dst := io.Writer(w)
		var conv *fromCRLF
		if !binaryMode {
			conv = &fromCRLF{w: w}
			dst = conv
		}
		if err := copyData(dst, r, false); err != nil {
			return "", err
		}
		if ctx.Err() != nil { // a connection we closed ourselves may read as a clean end
			return "", ctx.Err()
		}
		if conv != nil {
			if err := conv.flush(); err != nil {
				return "", writeFailed
			}
		}
		closed = true
		if err := w.Close(); err != nil { // a full disk shows here
			ss.log.Info("ftp: stor close failed", "path", target, "err", err)
			return "", writeFailed
		}
		unlock, err := ss.lockFiles(ctx, fsName(target))
		if err != nil {
			return "", err
		}
		defer unlock()
		if ss.fs.hidden(fsName(target)) { // the name came to alias another upload meanwhile
			return "", writeFailed
		}
		src := tmp
		if appendMode {
			merged, err := mergeAppend(fsys, target, tmp)
			if err != nil {
				ss.log.Info("ftp: appe merge failed", "path", target, "err", err)
				return "", writeFailed
			}
			fsys.Remove(fsName(tmp))
			src = merged
		}
		if err := fsys.Rename(fsName(src), fsName(target)); err != nil {
			ss.log.Info("ftp: stor rename failed", "path", target, "err", err)
			if src != tmp {
				fsys.Remove(fsName(src))
			}
			return "", writeFailed
		}
		if err := ss.sync(); err != nil {
			return "", &ftp.Error{Code: 451, Msg: "File written but not flushed to the medium"}
		}
		return "File Written", nil
	}, cleanup)
}

// tempFor names a fresh upload temporary next to target.
func tempFor(target string) string {
	return path.Join(path.Dir(target), tempPrefix+randomHex()+".part")
}

// mergeAppend writes target's current content (if it still exists) followed by the new data in
// tmp to another temporary file and returns that file's name; the caller holds target's lock.
func mergeAppend(fsys FileSystem, target, tmp string) (string, error) {
	merged := tempFor(target)
	w, err := fsys.Create(fsName(merged))
	if err != nil {
		return "", err
	}
	if fi, err := fsys.Stat(fsName(target)); err == nil {
		if !fi.Mode().IsRegular() {
			err = fmt.Errorf("%s is no longer a regular file", target)
		} else {
			err = copyPrefix(fsys, fsName(target), w, fi.Size())
		}
		if err != nil {
			w.Close()
			fsys.Remove(fsName(merged))
			return "", err
		}
	}
	err = copyPrefix(fsys, fsName(tmp), w, -1)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fsys.Remove(fsName(merged))
		return "", err
	}
	return merged, nil
}

// netxDataWindow is NetX's data socket window: what a client can send before a server that never
// reads stops it.
const netxDataWindow = 2048

// unreadUpload is the shipped code's EPSV upload: the data is never taken. Up to the 2,048-byte data
// window it is discarded and, when the client closes, the (empty) file is stored and 250 sent; a
// larger upload stalls, as on the real device, until the session ends.
func (ss *session) unreadUpload(ctx context.Context, data io.Reader, w io.WriteCloser, tmp, target string) (string, error) {
	n, err := io.Copy(io.Discard, io.LimitReader(data, netxDataWindow+1))
	switch {
	case n > netxDataWindow:
		<-ctx.Done()
		return "", ctx.Err()
	case err != nil:
		return "", &ftp.Error{Code: 426, Msg: "Data connection failed; transfer aborted"}
	case ctx.Err() != nil:
		return "", ctx.Err()
	}
	fsys := ss.srv.FS
	if err := w.Close(); err != nil {
		return "", &ftp.Error{Code: 550, Msg: "File Write Failed"}
	}
	if err := fsys.Rename(fsName(tmp), fsName(target)); err != nil {
		return "", &ftp.Error{Code: 550, Msg: "File Write Failed"}
	}
	ss.sync()
	return "File Written", nil
}

// copyPrefix copies the first n bytes of name to w; n < 0 copies all of it.
func copyPrefix(fsys FileSystem, name string, w io.Writer, n int64) error {
	f, err := fsys.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	if n < 0 {
		_, err = io.Copy(w, f)
	} else {
		_, err = io.CopyN(w, f, n)
	}
	return err
}

func randomHex() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

type listKind int

const (
	listLIST listKind = iota
	listNLST
	listMLSD
)

// stripListOptions drops ls-style switches ("-la") that clients put before the path; NetX has none,
// so only the extended profile strips them.
func stripListOptions(arg string) string {
	for strings.HasPrefix(arg, "-") {
		_, rest, _ := strings.Cut(arg, " ")
		arg = strings.TrimLeft(rest, " ")
	}
	return arg
}

func (ss *session) cmdList(arg string, kind listKind) {
	if ss.extended() {
		arg = stripListOptions(arg)
	}
	body, notDir, err := ss.listing(arg, kind)
	if err != nil || (kind == listMLSD && notDir) || (kind == listNLST && notDir && ss.shipped()) {
		ss.log.Info("ftp: list failed", "arg", arg, "err", err)
		switch kind {
		case listNLST:
			ss.reply(550, "List bad Directory")
		case listMLSD:
			ss.reply(550, "Not a directory")
		default:
			ss.reply(550, "Bad Directory")
		}
		return
	}
	plan, ok := ss.takeDataPlan()
	if !ok {
		return
	}
	block := ss.block
	ss.runData(plan, "Sending List", func(ctx context.Context, data io.ReadWriter) (string, error) {
		// RFC 959 applies the transfer mode to every data transfer, listings included, and NetX's
		// client reads listings in block mode with block headers.
		w := io.Writer(data)
		var bw *blockWriter
		if block {
			bw = &blockWriter{w: w}
			w = bw
		}
		_, err := w.Write(body)
		if err == nil && bw != nil {
			err = bw.finish()
		}
		if err != nil {
			return "", &ftp.Error{Code: 426, Msg: "Data connection failed; transfer aborted"}
		}
		return "List End", nil
	}, nil)
}

// renamed gives a FileInfo another name (for the "." and ".." entries NetX passes through from FAT).
type renamed struct {
	fs.FileInfo
	name string
}

func (r renamed) Name() string { return r.name }

// listing renders a LIST/NLST/MLSD body. notDir reports that arg named a file.
func (ss *session) listing(arg string, kind listKind) (body []byte, notDir bool, err error) {
	p := ss.cwd
	if arg != "" {
		p = ss.abs(arg)
	}
	fsys := ss.fs
	fi, err := fsys.Stat(fsName(p))
	if err != nil {
		return nil, false, err
	}
	var b bytes.Buffer
	line := func(fi fs.FileInfo, name string) {
		switch kind {
		case listNLST:
			b.WriteString(name)
		case listMLSD:
			b.WriteString(ftp.FormatMLSFacts(renamed{fi, name}))
		default:
			b.WriteString(ftp.FormatListLine(renamed{fi, name}, fi.Mode().Perm()&0o222 == 0))
		}
		b.WriteString("\r\n")
	}
	if !fi.IsDir() {
		name := fi.Name()
		if kind == listNLST {
			name = arg
		}
		line(fi, name)
		return b.Bytes(), true, nil
	}
	var entries []fs.DirEntry
	if _, ok := ss.srv.FS.(unsortedDirReader); ok && ss.netx() {
		entries, err = fsys.ReadDirUnsorted(fsName(p)) // NetX lists in FAT directory order
	} else {
		entries, err = fsys.ReadDir(fsName(p))
	}
	if err != nil {
		return nil, false, err
	}
	if !ss.extended() && p != "/" && kind != listMLSD {
		// FAT subdirectories hold "." and ".." and NetX lists them; mkdir gives both the new
		// directory's own date, so ".." carries it too, not the parent's.
		line(fi, ".")
		line(fi, "..")
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		line(info, e.Name())
	}
	return b.Bytes(), false, nil
}

// toCRLF turns LF into CRLF for TYPE A downloads (a CR already before the LF is kept as is).
type toCRLF struct {
	w      io.Writer
	lastCR bool
	buf    []byte
}

func (c *toCRLF) Write(p []byte) (int, error) {
	c.buf = c.buf[:0]
	for _, ch := range p {
		if ch == '\n' && !c.lastCR {
			c.buf = append(c.buf, '\r')
		}
		c.buf = append(c.buf, ch)
		c.lastCR = ch == '\r'
	}
	if _, err := c.w.Write(c.buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

// fromCRLF turns CRLF into LF for TYPE A uploads; a CR at a chunk end waits for the next byte.
type fromCRLF struct {
	w         io.Writer
	pendingCR bool
	buf       []byte
}

func (c *fromCRLF) Write(p []byte) (int, error) {
	c.buf = c.buf[:0]
	for _, ch := range p {
		if c.pendingCR {
			c.pendingCR = false
			if ch != '\n' {
				c.buf = append(c.buf, '\r')
			}
		}
		if ch == '\r' {
			c.pendingCR = true
			continue
		}
		c.buf = append(c.buf, ch)
	}
	if _, err := c.w.Write(c.buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *fromCRLF) flush() error {
	if c.pendingCR {
		c.pendingCR = false
		_, err := c.w.Write([]byte{'\r'})
		return err
	}
	return nil
}

// blockWriter and blockReader are the server's handles on the one MODE B codec (ftp.BlockWriter,
// ftp.BlockReader): each undeclared block goes out as one write, header and data together.
type blockWriter struct {
	w  io.Writer
	bw *ftp.BlockWriter
}

func (b *blockWriter) Write(p []byte) (int, error) {
	if b.bw == nil {
		b.bw = ftp.NewBlockWriter(b.w)
	}
	return b.bw.Write(p)
}

// finish writes the EOF block.
func (b *blockWriter) finish() error {
	if b.bw == nil {
		b.bw = ftp.NewBlockWriter(b.w)
	}
	return b.bw.Close()
}

type blockReader struct {
	r  *bufio.Reader
	br *ftp.BlockReader
}

// errNoEOFBlock: the upload's data ended before its end-of-file block (the file is incomplete).
var errNoEOFBlock = ftp.ErrNoEOFBlock

func (b *blockReader) Read(p []byte) (int, error) {
	if b.br == nil {
		b.br = ftp.NewBlockReader(b.r)
	}
	return b.br.Read(p)
}
