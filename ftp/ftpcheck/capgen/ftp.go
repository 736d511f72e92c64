package capgen

import (
	"fmt"
	"io"
	"net/netip"
	"time"
)

// FTP scripts one FTP session over a control connection: the greeting, commands, replies and
// data connections, as the seed's "FTP Communication" sequences describe them.
type FTP struct {
	Cap          *Capture
	Ctl          *Conn
	Client       netip.AddrPort
	Server       netip.AddrPort
	nextData     uint16 // next client data port (active mode)
	nextPassive  uint16 // next server data port (passive mode)
	passiveReply bool
}

// FTP opens a control connection from client to server (no greeting yet).
func (c *Capture) FTP(client, server netip.AddrPort) *FTP {
	return &FTP{Cap: c, Ctl: c.Dial(client, server), Client: client, Server: server,
		nextData: client.Port() + 1000, nextPassive: 49152}
}

// Cmd sends a command line from the client.
func (f *FTP) Cmd(line string) { f.Ctl.Line(Client, line) }

// Reply sends a reply line (or several joined by "\r\n") from the server.
func (f *FTP) Reply(line string) { f.Ctl.Line(Server, line) }

// Exchange sends each command followed by its reply: Exchange(cmd1, reply1, cmd2, reply2, ...);
// a last command without a reply is sent unanswered.
func (f *FTP) Exchange(cmdReply ...string) {
	for i, line := range cmdReply {
		if i%2 == 0 {
			f.Cmd(line)
		} else {
			f.Reply(line)
		}
	}
}

// Login plays the seed's opening: 220, USER/331, PASS/230, TYPE I/200 with NetX's reply texts.
func (f *FTP) Login(user, pass string) {
	f.Reply("220 Connection Ready")
	f.Cmd("USER " + user)
	f.Reply("331 Enter password")
	f.Cmd("PASS " + pass)
	f.Reply("230 Logged in")
	f.Cmd("TYPE I")
	f.Reply("200 Type Binary")
}

// Quit plays QUIT, 221 and the server's close.
func (f *FTP) Quit() {
	f.Cmd("QUIT")
	f.Reply("221 Logging Off")
	f.Ctl.CloseBoth(Server)
}

// Transfer describes one data transfer and, for tests, the faults to plant in it.
type Transfer struct {
	Verb   string // RETR, STOR, LIST, NLST, APPE
	Arg    string
	Setup  string // PORT, EPRT, PASV or EPSV
	Data   []byte
	Reader io.Reader // if set, the data is streamed from it (for captures too large for memory)
	Prelim string    // the 1xx reply line; "" = the netxduo profile's (125 active, 150 passive)
	Final  string    // the 2xx reply line; "" = the netxduo profile's (250 active, 226 passive)

	AnnounceAddr  netip.Addr    // PORT/EPRT/PASV address to announce instead of the peer's own (bounce)
	DataFrom      netip.Addr    // address that opens the data connection instead of the right peer
	ResetAfter    int           // >0: the sender resets the data connection after this many bytes
	Retransmit    bool          // retransmit one data segment
	ZeroWindow    bool          // the receiver advertises a zero window for 500 ms (a stall)
	ZeroWindowFor time.Duration // the receiver advertises a zero window for this long (brief: flow control)
	NoDataConn    bool          // announce and reply but never open a data connection
}

// Transfer plays a PORT/EPRT/PASV/EPSV setup, the transfer command, its data connection and replies.
func (f *FTP) Transfer(t Transfer) {
	active := t.Setup == "PORT" || t.Setup == "EPRT"
	var dataEP netip.AddrPort
	if active {
		a := f.Client.Addr()
		if t.AnnounceAddr.IsValid() {
			a = t.AnnounceAddr
		}
		dataEP = netip.AddrPortFrom(a, f.nextData)
		f.nextData++
		if t.Setup == "PORT" {
			b := a.As4()
			f.Cmd(fmt.Sprintf("PORT %d,%d,%d,%d,%d,%d", b[0], b[1], b[2], b[3], dataEP.Port()>>8, dataEP.Port()&0xff))
			f.Reply("200 Port set")
		} else {
			proto := 1
			if a.Is6() {
				proto = 2
			}
			f.Cmd(fmt.Sprintf("EPRT |%d|%s|%d|", proto, a, dataEP.Port()))
			f.Reply("200 EPRT command set")
		}
	} else {
		a := f.Server.Addr()
		if t.AnnounceAddr.IsValid() {
			a = t.AnnounceAddr
		}
		dataEP = netip.AddrPortFrom(a, f.nextPassive)
		f.nextPassive++
		f.Cmd(t.Setup)
		if t.Setup == "PASV" {
			b := a.As4()
			f.Reply(fmt.Sprintf("227 Entering Passive Mode (%d,%d,%d,%d,%d,%d).", b[0], b[1], b[2], b[3], dataEP.Port()>>8, dataEP.Port()&0xff))
		} else {
			f.Reply(fmt.Sprintf("229 Entering Extended Passive Mode (|||%d|)", dataEP.Port()))
		}
	}
	prelim, final := t.Prelim, t.Final
	if prelim == "" {
		prelim = map[bool]string{true: "125 File Read Start", false: "150 File Read Start"}[active]
	}
	if final == "" {
		final = map[bool]string{true: "250 File Sent", false: "226 File Sent"}[active]
	}
	var data *Conn
	opener := f.Client.Addr() // passive: the client connects
	if active {
		opener = f.Server.Addr()
	}
	if t.DataFrom.IsValid() {
		opener = t.DataFrom
	}
	if !active && !t.NoDataConn {
		data = f.Cap.Dial(netip.AddrPortFrom(opener, f.Client.Port()+2000+f.nextPassive%1000), dataEP)
	}
	f.Cmd(t.Verb + " " + t.Arg)
	if active && !t.NoDataConn {
		port := uint16(20)
		data = f.Cap.Dial(netip.AddrPortFrom(opener, port), dataEP)
	}
	f.Reply(prelim)
	if data == nil {
		f.Reply(final)
		return
	}
	download := t.Verb == "RETR" || t.Verb == "LIST" || t.Verb == "NLST"
	// who sends the bytes, in data-connection terms
	var snd Side
	switch {
	case active && download, !active && !download:
		snd = Client // the opener of the data connection sends
	default:
		snd = Server
	}
	if t.Reader != nil {
		buf := make([]byte, 64*MSS)
		for {
			n, err := io.ReadFull(t.Reader, buf)
			data.Send(snd, buf[:n])
			if err != nil {
				break
			}
		}
		data.CloseBoth(snd)
		f.Reply(final)
		return
	}
	body := t.Data
	if t.ResetAfter > 0 && t.ResetAfter < len(body) {
		body = body[:t.ResetAfter]
	}
	half := len(body) / 2
	data.Send(snd, body[:half])
	if t.Retransmit {
		data.Retransmit(snd)
	}
	switch {
	case t.ZeroWindowFor > 0:
		data.ZeroWindowFor(1-snd, t.ZeroWindowFor)
	case t.ZeroWindow:
		data.ZeroWindow(1 - snd)
	}
	data.Send(snd, body[half:])
	if t.ResetAfter > 0 {
		data.Reset(snd)
	} else {
		data.CloseBoth(snd)
	}
	f.Reply(final)
}
