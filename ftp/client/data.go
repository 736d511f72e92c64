package client

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/netxsim/netxsim/ftp"
)

// request describes one data-connection command.
type request struct {
	verb   string // RETR, STOR, APPE, NLST, LIST
	arg    string
	file   bool  // a file transfer (TYPE I) rather than a listing
	offset int64 // REST offset, 0 for none
}

// line is the command line; netx renders it as NetX's client does, which always writes the space
// after the verb ("NLST " for the working directory).
func (r request) line(netx bool) string {
	if r.arg == "" && !netx {
		return r.verb
	}
	return r.verb + " " + r.arg
}

// opened is the result of a successful data-command start: the data connection and what the
// server's preliminary reply said.
type opened struct {
	data      net.Conn
	announced int64 // size announced in the 1xx reply "(N bytes)", -1 if none
	mode      Mode
	// done: the server already sent its completion reply instead of 1xx (an empty transfer without
	// a data connection, as some servers do for an empty listing).
	done bool
}

// setType sends TYPE when the profile wants it: NetX sends "TYPE I" before every file open and none
// before listings (always is then set by the caller); the extended profile sends it when it changes.
func (c *Client) setType(ctx context.Context, t byte, always bool) error {
	if !always && c.typ == t {
		return nil
	}
	if _, err := c.expect(ctx, 2, "TYPE "+string(t)); err != nil {
		c.typ = 0
		return err
	}
	c.typ = t
	return nil
}

// setMode tells the server the transfer mode when needed.
func (c *Client) setMode(ctx context.Context) error {
	want := c.cfg.mode
	if c.netx() && want == ModeBlock {
		// NetX sends MODE B on every transfer in block mode.
	} else if c.serverMode == want {
		return nil
	}
	if _, err := c.expect(ctx, 2, "MODE "+string(want)); err != nil {
		return err
	}
	c.serverMode = want
	return nil
}

// start runs the command sequence of a data transfer up to the server's 1xx reply and returns the
// data connection. It follows NetX's order in the netxduo profile (TYPE I, PORT/PASV, MODE B, verb)
// and the usual modern order otherwise (TYPE, MODE, EPSV/PASV/PORT/EPRT, REST, verb). On error no
// data connection or listener is left open.
func (c *Client) start(ctx context.Context, r request) (op opened, err error) {
	netx := c.netx()
	switch {
	case netx && r.file:
		err = c.setType(ctx, 'I', true)
	case !netx && r.file:
		err = c.setType(ctx, 'I', false)
	case !netx:
		err = c.setType(ctx, 'A', false)
	}
	if err != nil {
		return op, err
	}
	if !netx {
		if err := c.setMode(ctx); err != nil {
			return op, err
		}
	}

	var ln net.Listener
	var data net.Conn
	defer func() {
		if err != nil {
			if ln != nil {
				ln.Close()
			}
			if data != nil {
				data.Close()
			}
		}
	}()
	if c.cfg.passive {
		data, err = c.passive(ctx)
	} else {
		ln, err = c.active(ctx)
	}
	if err != nil {
		return op, err
	}
	if netx {
		if err := c.setMode(ctx); err != nil {
			return op, err
		}
	}
	if r.offset > 0 {
		if _, err := c.expect(ctx, 3, "REST "+strconv.FormatInt(r.offset, 10)); err != nil {
			return op, err
		}
	}
	code, msg, err := c.cmd(ctx, r.line(netx))
	if err != nil {
		return op, err
	}
	op = opened{announced: -1, mode: c.serverMode}
	switch {
	case code/100 == 1:
		op.announced = announcedSize(msg)
	case code/100 == 2:
		// completed without a data transfer; close our side
		op.done = true
		err = nil
		if data != nil {
			data.Close()
			data = nil
		}
		if ln != nil {
			ln.Close()
			ln = nil
		}
		return op, nil
	default:
		return op, checkClass(r.verb, code, msg, 1)
	}
	if ln != nil {
		data, err = c.accept(ctx, ln)
		ln.Close()
		ln = nil
		if err != nil {
			// The server will report the failed connection; read that so the session stays in step.
			c.drainAfterFailedData(ctx)
			return op, fmt.Errorf("waiting for the server's data connection: %w", err)
		}
	}
	op.data = data
	return op, nil
}

// drainAfterFailedData reads the reply the server sends after a data connection could not be made
// (usually 425). If none comes in a short while the session is marked unusable.
func (c *Client) drainAfterFailedData(ctx context.Context) {
	if c.broken != nil {
		return
	}
	if ctx.Err() != nil {
		c.fail(ctx, ctx.Err())
		return
	}
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := c.readReply(context.WithoutCancel(ctx)); err != nil {
		c.fail(ctx, err)
	}
}

// announcedSize finds "(N bytes)" in a 150 reply (vsftpd and others), or returns -1.
func announcedSize(msg string) int64 {
	i := strings.LastIndex(msg, " bytes)")
	if i < 0 {
		return -1
	}
	j := strings.LastIndexByte(msg[:i], '(')
	if j < 0 {
		return -1
	}
	n, err := strconv.ParseInt(msg[j+1:i], 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// passive sends PASV (IPv4 control connection) or EPSV (IPv6) and connects to the announced port.
// A refusal leaves the session usable.
func (c *Client) passive(ctx context.Context) (net.Conn, error) {
	var target netip.AddrPort
	if c.remote.Addr().Is4() {
		ap, err := askPassive(ctx, c, "PASV", "passive mode", ftp.Parse227)
		if err != nil {
			return nil, err
		}
		target = netip.AddrPortFrom(c.remote.Addr(), ap.Port())
		if a := ap.Addr(); c.cfg.trustPASV && a.IsValid() && !a.IsUnspecified() {
			target = ap
		} else if a != c.remote.Addr() {
			c.cfg.logger.Debug("ftp client: 227 names another address: connecting to the control peer instead (WithTrustPASVAddress to follow it)",
				"announced", ap, "using", target)
		}
	} else {
		port, err := askPassive(ctx, c, "EPSV", "extended passive mode", ftp.Parse229)
		if err != nil {
			return nil, err
		}
		target = netip.AddrPortFrom(c.remote.Addr(), port)
	}
	conn, err := c.network.Dial(ctx, netip.AddrPort{}, target)
	if err != nil {
		// The server keeps waiting on its passive port; its next command drops that (NetX, vsftpd and
		// pyftpdlib all do), so the session stays usable.
		return nil, fmt.Errorf("passive data connection to %v: %w", target, ctxErr(ctx, err))
	}
	return conn, nil
}

// askPassive sends PASV or EPSV (cmd), wants a 2xx and parses the reply text with parse; what
// names the mode in a refusal.
func askPassive[T any](ctx context.Context, c *Client, cmd, what string, parse func(string) (T, error)) (T, error) {
	var zero T
	msg, err := c.expect(ctx, 2, cmd)
	if err != nil {
		return zero, fmt.Errorf("%s refused: %w", what, err)
	}
	v, err := parse(msg)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", cmd, err)
	}
	return v, nil
}

// active listens on the control connection's local address and announces it with PORT (IPv4) or EPRT
// (IPv6).
func (c *Client) active(ctx context.Context) (net.Listener, error) {
	ln, err := c.listenData(ctx)
	if err != nil {
		return nil, fmt.Errorf("active mode: listen on %v: %w", c.local.Addr(), err)
	}
	ap := ftp.AddrPortOf(ln.Addr())
	ap = netip.AddrPortFrom(c.local.Addr(), ap.Port())
	var line string
	if ap.Addr().Is4() {
		line = "PORT " + ftp.FormatPORT(ap, c.netx())
	} else if c.netx() {
		line = "EPRT " + netxEPRT(ap)
	} else {
		line = "EPRT " + ftp.FormatEPRT(ap)
	}
	if _, err := c.expect(ctx, 2, line); err != nil {
		ln.Close()
		return nil, fmt.Errorf("active mode refused: %w", err)
	}
	return ln, nil
}

// maxPortTries bounds the search for a free data port above the last one.
const maxPortTries = 64

// listenData opens the active-mode data listener. NetX's client binds the next free port above the
// previous data port, starting at the control connection's local port + 1 (nx_tcp_free_port_find from
// nx_ftp_client_data_port + 1), so its PORT/EPRT numbers count up by one per transfer; the netxduo
// profiles do the same. Other profiles take an ephemeral port. When no port above is free (or the
// numbers run past 65535) the netxduo profiles fall back to an ephemeral port too.
func (c *Client) listenData(ctx context.Context) (net.Listener, error) {
	if c.netx() {
		if c.dataPort == 0 {
			c.dataPort = c.local.Port()
		}
		for p, tries := int(c.dataPort)+1, 0; p <= 65535 && tries < maxPortTries; p, tries = p+1, tries+1 {
			ln, err := c.network.Listen(ctx, netip.AddrPortFrom(c.local.Addr(), uint16(p)))
			if err == nil {
				c.dataPort = uint16(p)
				return ln, nil
			}
			if ctx.Err() != nil {
				return nil, err
			}
		}
	}
	return c.network.Listen(ctx, netip.AddrPortFrom(c.local.Addr(), 0))
}

// netxEPRT renders EPRT as NetX's client does: the IPv6 address in full, upper-case, zero-padded
// groups ("|2|2001:0DB8:0000:0000:0000:0000:0000:0002|49153|").
func netxEPRT(ap netip.AddrPort) string {
	b := ap.Addr().As16()
	var s strings.Builder
	s.WriteString("|2|")
	for i := 0; i < 16; i += 2 {
		if i > 0 {
			s.WriteByte(':')
		}
		fmt.Fprintf(&s, "%02X%02X", b[i], b[i+1])
	}
	fmt.Fprintf(&s, "|%d|", ap.Port())
	return s.String()
}

// accept waits for the server's active data connection, honouring ctx (and the idle timeout when ctx
// has no deadline). Connections from another address than the server's are refused, so no third
// party can slip data into the transfer.
func (c *Client) accept(ctx context.Context, ln net.Listener) (net.Conn, error) {
	actx := ctx
	if _, ok := ctx.Deadline(); !ok && c.cfg.idle > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, c.cfg.idle)
		defer cancel()
	}
	stop := context.AfterFunc(actx, func() { ln.Close() })
	defer stop()
	for {
		conn, err := ln.Accept()
		if err != nil {
			return nil, ctxErr(actx, err)
		}
		peer := ftp.AddrPortOf(conn.RemoteAddr()).Addr().WithZone("")
		if peer == c.remote.Addr().WithZone("") {
			return conn, nil
		}
		c.cfg.logger.Debug("ftp: refused data connection from a stranger", "from", peer, "server", c.remote)
		conn.Close()
	}
}
