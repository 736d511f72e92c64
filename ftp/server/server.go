// Package server is netxsim's FTP server, the counterpart of NetX Duo's nx_ftp_server_*: NetX's commands
// and reply texts in the netxduo profile, a modern RFC 959/2428/3659 server in the extended profile,
// over any net.Listener and any FileSystem.
//
// It is shaped like net/http.Server: set the fields (their zero values are useful), call Serve with a
// listener, stop with Shutdown or Close.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/internal/kernel"
)

// FileSystem is what the server needs from a back end; fsimage and hostfs implement it directly.
// Names are io/fs style ("." is the root, no leading "/", no ".."): the server cleans and confines them.
type FileSystem interface {
	Open(name string) (fs.File, error)          // read; the file should also be an io.Seeker (for REST)
	Create(name string) (io.WriteCloser, error) // create or truncate; data complete when Close returns nil
	Append(name string) (io.WriteCloser, error) // create if missing, write at the end
	Stat(name string) (fs.FileInfo, error)
	ReadDir(name string) ([]fs.DirEntry, error) // sorted by name, without "." and ".."
	Remove(name string) error                   // a file or an empty directory
	Rename(oldname, newname string) error       // replaces an existing file newname
	Mkdir(name string) error
}

// unsortedDirReader is the optional listing in the back end's own order: FAT directory order for
// fsimage (creation order, deleted slots reused), the operating system's order for hostfs. NetX lists
// directories in FAT order; back ends without it are listed sorted by name.
type unsortedDirReader interface {
	ReadDirUnsorted(name string) ([]fs.DirEntry, error)
}

// syncer is the optional flush a back end offers; the server calls it after every completed change.
type syncer interface{ Sync() error }

// Network opens data connections (ftp.Network): *stack.IP, stack.Kernel, a netxsim.Device.
type Network = ftp.Network

// Access is a login callback's verdict.
type Access int

const (
	Deny      Access = iota // 530, the session stays logged out
	ReadWrite               // full access
	ReadOnly                // STOR, APPE, RNFR, RNTO, DELE, RMD, MKD get 532 (NetX's extra_info read-only)
)

// LoginFunc decides a PASS: client is the control connection's remote address.
type LoginFunc func(ctx context.Context, client netip.AddrPort, user, password string) Access

// ConnState is a control connection's state, as Server.ConnState reports it.
type ConnState int

const (
	// StateNew: the connection is admitted as a session; the greeting comes next.
	StateNew ConnState = iota
	// StateLoggedIn: a PASS was accepted (again after each new USER and PASS).
	StateLoggedIn
	// StateRefused: the connection was refused with 421 (too many sessions) and closed; it never
	// was a session.
	StateRefused
	// StateClosed: the session ended and no longer counts in Sessions.
	StateClosed
)

func (c ConnState) String() string {
	switch c {
	case StateNew:
		return "new"
	case StateLoggedIn:
		return "logged-in"
	case StateRefused:
		return "refused"
	case StateClosed:
		return "closed"
	}
	return fmt.Sprintf("ConnState(%d)", int(c))
}

func (s *Server) setState(c net.Conn, st ConnState) {
	if s.ConnState != nil {
		s.ConnState(c, st)
	}
}

// LogoutFunc is told when a logged-in session ends (QUIT, a new USER, or the connection dropping).
type LogoutFunc func(client netip.AddrPort, user string)

// Server is an FTP server. The zero value serves nobody (every login is refused) with NetX's defaults;
// set FS and Login at least. Fields must not change after Serve is called.
type Server struct {
	FS      FileSystem  // required
	Profile ftp.Profile // "" means ftp.ProfileNetXDuo
	Network Network     // data connections; nil: the host kernel (net.ListenConfig / net.Dialer)
	Login   LoginFunc   // nil: every login is refused
	Logout  LogoutFunc  // optional
	// ConnState, when set, is told of each control connection's changes of state (as
	// net/http.Server.ConnState), from the connection's own goroutine: tests wait on it instead of
	// polling Sessions.
	ConnState func(net.Conn, ConnState)

	MaxSessions        int           // 0: 4 (NetX) in netxduo, 64 in extended; < 0: unlimited
	MaxSessionsPerAddr int           // 0 or < 0: unlimited; over it a connection gets 421
	IdleTimeout        time.Duration // 0: 240 s (NetX); < 0: none
	DataTimeout        time.Duration // data connection set-up and stall limit; 0: 10 s
	PassivePortMin     uint16        // passive port range; 0: 49152 (NetX's first port)
	PassivePortMax     uint16        // 0: 65535
	ActivePort         uint16        // source port of active data connections; 0: 20. Falls back to any port if busy
	LoginFailDelay     time.Duration // pause before answering a failed PASS; 0: 1 s; < 0: none
	MaxLoginFailures   int           // failed PASSes before the connection is closed; 0: 3; < 0: unlimited
	MaxLineLen         int           // longest command line; 0: 2048
	// LoginTimeout bounds the time from connecting to a successful login, so that connections that
	// never log in (or trickle a byte a second) cannot hold NetX's 4 session slots for long.
	// 0: 30 s; < 0: none (only IdleTimeout then).
	LoginTimeout time.Duration
	// AddrFailureBudget is how many failed logins one client address (an IPv6 client: its /64) may
	// have, across all its connections, before it is locked out: then every further failure locks
	// it out for AddrLockout, doubled with each failure up to AddrLockoutMax, and a PASS while
	// locked out is refused unchecked. A successful login clears the count. 0: 10, except in the
	// netxduo-6.4 profile (NetX Duo has no such limit), where 0 means off; < 0: off.
	AddrFailureBudget int
	AddrLockout       time.Duration // first lock-out; 0: 5 s
	AddrLockoutMax    time.Duration // longest lock-out, and how long a record is kept; 0: 15 min
	// AllowPrivilegedPorts lets PORT and EPRT name a port below 1024 of the client's address. Off:
	// they are refused in every profile (501), since a data connection to such a port is a bounce
	// to a service (port 25, 22) of a host that trusts this device.
	AllowPrivilegedPorts bool
	// NetXCrash makes a netxduo-6.4 server stop entirely where the real NetX Duo 6.4.2 crashes (RNTO
	// without RNFR); false: only that session is closed, with an error logged.
	NetXCrash bool
	// IPv4 is the device's IPv4 address, which netxduo profiles announce in a 227 reply to PASV on an
	// IPv6 control connection (as NetX does). Unset: the first IPv4 address of Network when it has an
	// Addrs method (as *stack.IP); none: such a PASV gets 501.
	IPv4   netip.Addr
	Logger *slog.Logger // nil: silent

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	sessions  map[*session]struct{}
	perAddr   map[netip.Addr]int
	shutdown  chan struct{}                // closed by Shutdown/Close
	slots     chan struct{}                // netxduo session slots
	gated     map[synGate]struct{}         // netxduo listeners that hold SYNs while the slots are taken
	admitted  map[netip.AddrPort]time.Time // SYNs let through, not yet accepted (by client address)
	closed    bool
	crashed   error // ErrNetXCrash once NetXCrash stopped the server
	wg        sync.WaitGroup
	pasvNext  atomic.Uint32
	locks     fileLocks      // per-file change locks (APPE against STOR, DELE, RNTO, APPE)
	reclaim   sync.Once      // stale upload temporaries are removed before the first session
	budget    *failureBudget // per-address failed logins; nil: off
}

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("ftp server: closed")

// ErrNetXCrash is why a server with NetXCrash stopped itself: a client sent a command on which the
// shipped NetX Duo 6.4.2 server crashes the device.
var ErrNetXCrash = errors.New("ftp server: stopped as the real NetX Duo 6.4.2 device would crash: RNTO without a pending RNFR dereferences a NULL rename pointer in nx_ftp_server")

func (s *Server) profile() ftp.Profile {
	switch s.Profile {
	case ftp.ProfileExtended, ftp.ProfileNetXDuo64:
		return s.Profile
	}
	return ftp.ProfileNetXDuo
}

// setting reads a limit field: a positive value as it is, a negative one as off (0), zero as def.
func setting[T int | time.Duration](v, def T) T {
	switch {
	case v > 0:
		return v
	case v < 0:
		return 0
	}
	return def
}

func (s *Server) maxSessions() int {
	if s.MaxSessions == 0 && s.profile() == ftp.ProfileExtended {
		return 64
	}
	return setting(s.MaxSessions, 4)
}

func (s *Server) idleTimeout() time.Duration { return setting(s.IdleTimeout, 240*time.Second) }

// dataTimeout has no "off": a negative value means the default too.
func (s *Server) dataTimeout() time.Duration {
	if s.DataTimeout > 0 {
		return s.DataTimeout
	}
	return 10 * time.Second
}

func (s *Server) loginFailDelay() time.Duration { return setting(s.LoginFailDelay, time.Second) }

func (s *Server) maxLoginFailures() int { return setting(s.MaxLoginFailures, 3) }

func (s *Server) loginTimeout() time.Duration { return setting(s.LoginTimeout, 30*time.Second) }

// newBudget makes the per-address failure table, or nil when the budget is off.
func (s *Server) newBudget() *failureBudget {
	n := s.AddrFailureBudget
	if n < 0 || (n == 0 && s.profile().Shipped()) {
		return nil
	}
	if n == 0 {
		n = 10
	}
	b := &failureBudget{budget: n, lockBase: s.AddrLockout, lockMax: s.AddrLockoutMax, now: time.Now}
	if b.lockBase <= 0 {
		b.lockBase = 5 * time.Second
	}
	if b.lockMax <= 0 {
		b.lockMax = 15 * time.Minute
	}
	b.lockMax = max(b.lockMax, b.lockBase)
	return b
}

// FailureRecords is how many client addresses the failed-login table holds now (bounded by 4096).
func (s *Server) FailureRecords() int {
	s.mu.Lock()
	b := s.budget
	s.mu.Unlock()
	return b.records()
}

func (s *Server) maxLineLen() int {
	if s.MaxLineLen > 0 {
		return s.MaxLineLen
	}
	return 2048
}

func (s *Server) activePort() uint16 {
	if s.ActivePort != 0 {
		return s.ActivePort
	}
	return 20
}

func (s *Server) passiveRange() (lo, hi uint16) {
	lo, hi = s.PassivePortMin, s.PassivePortMax
	if lo == 0 {
		lo = 49152
	}
	if hi == 0 {
		hi = 65535
	}
	if hi < lo {
		hi = lo
	}
	return lo, hi
}

// ipv4 is the device's IPv4 address for PASV on IPv6 (see the IPv4 field).
func (s *Server) ipv4() netip.Addr {
	if s.IPv4.IsValid() {
		return s.IPv4
	}
	if a, ok := s.network().(interface{ Addrs() []netip.Prefix }); ok {
		for _, p := range a.Addrs() {
			if p.Addr().Is4() {
				return p.Addr()
			}
		}
	}
	return netip.Addr{}
}

func (s *Server) network() Network {
	if s.Network != nil {
		return s.Network
	}
	return kernel.Kernel{} // the project's one kernel dialer
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (s *Server) init() {
	if s.shutdown == nil {
		s.shutdown = make(chan struct{})
		s.listeners = make(map[net.Listener]struct{})
		s.sessions = make(map[*session]struct{})
		s.perAddr = make(map[netip.Addr]int)
		s.budget = s.newBudget()
		if limit := s.maxSessions(); limit > 0 && s.profile().NetXLike() {
			s.slots = make(chan struct{}, limit)
		}
	}
}

// Serve accepts control connections on ln until Shutdown or Close, and returns ErrServerClosed then.
// In the netxduo profile a connection over MaxSessions waits in the listen backlog, as on NetX; in the
// extended profile it is accepted and told 421.
func (s *Server) Serve(ln net.Listener) error {
	if s.FS == nil {
		return errors.New("ftp server: FS is nil: give the server a FileSystem (fsimage or hostfs)")
	}
	s.mu.Lock()
	s.init()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	s.reclaim.Do(func() {
		if _, err := ReclaimTempFiles(s.FS, s.logger()); err != nil {
			s.logger().Warn("ftp: reclaiming stale upload temporary files", "err", err)
		}
	})
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		ln.Close()
	}()

	limit := s.maxSessions()
	slots := s.slots // netxduo: accept only with a free slot (shared by every listener)
	if g, ok := ln.(synGate); ok && slots != nil {
		return s.serveGated(ln, g, limit)
	}
	var backoff time.Duration
	for {
		if slots != nil {
			select {
			case slots <- struct{}{}:
			case <-s.shutdown:
				return ErrServerClosed
			}
		}
		conn, err := ln.Accept()
		if err != nil {
			if slots != nil {
				<-slots
			}
			if err := s.acceptFailed(err, &backoff); err != nil {
				return err
			}
			continue
		}
		backoff = 0
		release := func() {
			if slots != nil {
				<-slots
			}
		}
		s.startSession(conn, limit, release)
	}
}

// acceptFailed decides what a failed Accept means: nil to try again after a pause that doubles up to
// 1 s (a temporary error, as net/http does), ErrServerClosed after Shutdown or Close, else the error.
func (s *Server) acceptFailed(err error, backoff *time.Duration) error {
	select {
	case <-s.shutdown:
		return ErrServerClosed
	default:
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		*backoff = min(max(*backoff*2, 5*time.Millisecond), time.Second)
		time.Sleep(*backoff)
		return nil
	}
	return fmt.Errorf("ftp server: accept: %w", err)
}

// synGate is a listener that can leave connection requests unanswered (*stack.Listener).
type synGate interface {
	SetAdmit(admit func(remote netip.AddrPort) bool)
	SetHoldLimit(n int)
	Readmit()
}

// admitExpiry is how long a connection request let through may take to reach Accept before its
// slot counts as free again (a handshake that never completes).
const admitExpiry = 30 * time.Second

// serveGated is Serve's NetX slot behaviour on a listener that can hold SYNs: while MaxSessions
// sessions are open, a new connection's SYN is not answered at all (NetX has no listening socket
// left and queues the SYN), and it is answered as soon as a session ends, so the client's connect
// simply takes longer, as on the real device. A kernel listener cannot do this: there the
// connection completes and waits in the listen backlog unanswered by the FTP server.
func (s *Server) serveGated(ln net.Listener, g synGate, limit int) error {
	s.mu.Lock()
	if s.gated == nil {
		s.gated = map[synGate]struct{}{}
		s.admitted = map[netip.AddrPort]time.Time{}
	}
	s.gated[g] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.gated, g)
		s.mu.Unlock()
	}()
	g.SetHoldLimit(limit) // NetX's listen queue: NX_FTP_MAX_CLIENTS requests, the oldest dropped past it
	g.SetAdmit(func(remote netip.AddrPort) bool { return s.admitSYN(remote, limit) })
	var backoff time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if err := s.acceptFailed(err, &backoff); err != nil {
				return err
			}
			continue
		}
		backoff = 0
		s.startSession(conn, limit, s.readmit)
	}
}

// admitSYN decides a connection request from remote on a gated listener: answered while a slot is
// free (open sessions plus requests let through but not yet accepted stay within limit).
func (s *Server) admitSYN(remote netip.AddrPort, limit int) bool {
	remote = netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port())
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return true // the listener is closing: let gVisor answer (a RST) rather than hold
	}
	now := time.Now()
	for r, t := range s.admitted {
		if now.Sub(t) > admitExpiry {
			delete(s.admitted, r)
		}
	}
	if _, ok := s.admitted[remote]; ok {
		return true // a retransmitted SYN of a request let through
	}
	if len(s.sessions)+len(s.admitted) >= limit {
		return false
	}
	s.admitted[remote] = now
	return true
}

// readmit offers the SYNs held by every gated listener again: a slot has freed.
func (s *Server) readmit() {
	s.mu.Lock()
	gs := make([]synGate, 0, len(s.gated))
	for g := range s.gated {
		gs = append(gs, g)
	}
	s.mu.Unlock()
	for _, g := range gs {
		g.Readmit()
	}
}

// startSession admits conn (or refuses it with 421) and serves it in its own goroutine.
func (s *Server) startSession(conn net.Conn, limit int, release func()) {
	peer := ftp.AddrPortOf(conn.RemoteAddr())
	s.mu.Lock()
	delete(s.admitted, peer) // accepted: its slot is the session's from now on
	refuse := ""
	switch {
	case s.closed:
		refuse = "Service closing"
	case s.profile() == ftp.ProfileExtended && limit > 0 && len(s.sessions) >= limit:
		refuse = "Too many sessions, try later"
	case s.MaxSessionsPerAddr > 0 && s.perAddr[peer.Addr()] >= s.MaxSessionsPerAddr:
		refuse = "Too many sessions from your address, try later"
	}
	if refuse != "" {
		s.mu.Unlock()
		release()
		s.logger().Info("ftp: refused connection", "peer", peer, "reason", refuse)
		go func() { // a slow peer must not hold up Accept
			conn.SetWriteDeadline(time.Now().Add(time.Second))
			io.WriteString(conn, ftp.FormatReply(421, refuse))
			conn.Close()
			s.setState(conn, StateRefused)
		}()
		return
	}
	ss := newSession(s, conn)
	s.sessions[ss] = struct{}{}
	s.perAddr[peer.Addr()]++
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer release()
		s.setState(conn, StateNew)
		ss.serve()
		s.mu.Lock()
		delete(s.sessions, ss)
		if s.perAddr[peer.Addr()]--; s.perAddr[peer.Addr()] <= 0 {
			delete(s.perAddr, peer.Addr())
		}
		s.mu.Unlock()
		s.setState(conn, StateClosed)
	}()
}

// Shutdown stops accepting, lets every session finish its current transfer and closes it at its next
// command boundary (extended: with 421), then returns; when ctx ends first it closes everything and
// returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stop()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.closeSessions()
		<-done
		return ctx.Err()
	}
}

// Close closes the listeners and every session at once, transfers included.
func (s *Server) Close() error {
	s.stop()
	s.closeSessions()
	s.wg.Wait()
	return nil
}

func (s *Server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	if !s.closed {
		s.closed = true
		close(s.shutdown)
	}
	for ln := range s.listeners {
		ln.Close()
	}
}

func (s *Server) closeSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ss := range s.sessions {
		ss.kill()
	}
}

// Done is closed once the server stops: Shutdown, Close, or NetXCrash (then Err says so).
func (s *Server) Done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	return s.shutdown
}

// Err is ErrNetXCrash once the server stopped itself where NetX Duo 6.4.2 crashes (NetXCrash), else nil.
func (s *Server) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.crashed
}

// Sessions returns the number of open control sessions.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}
