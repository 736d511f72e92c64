package ftpcheck

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/netxsim/netxsim/ftp"
)

// Status is the outcome of one check.
type Status string

const (
	StatusPass Status = "pass" // the check applied and held
	StatusFail Status = "fail" // a violation: `netxsim verify` exits 1
	StatusWarn Status = "warn" // worth a look, not a violation (retransmissions, zero windows, gaps)
	StatusNote Status = "note" // information (credentials in clear text)
	StatusSkip Status = "skip" // the check does not apply to this session
)

// Check is the verdict of one named check. Messages explain failures and warnings; Notes carry
// information that does not change the status (e.g. a NetX deviation the profile allows).
type Check struct {
	Name     string   `json:"name"`
	Status   Status   `json:"status"`
	Messages []string `json:"messages,omitempty"`
	Notes    []string `json:"notes,omitempty"`
}

// Report is everything ftpcheck found in one capture.
type Report struct {
	Capture  CaptureSummary `json:"capture"`
	Sessions []*Session     `json:"sessions"`
	// Other lists TCP connections that are neither a control connection nor matched to a transfer.
	Other []*DataConn `json:"other_connections,omitempty"`
	// Checks holds capture-level checks (e.g. that any FTP was found at all).
	Checks []Check `json:"checks"`
	// Strict is Options.Strict: the seed's sequence checked to the letter (a missing QUIT fails).
	Strict     bool `json:"strict"`
	Violations int  `json:"violations"` // failed checks, capture-level and per session
	Warnings   int  `json:"warnings"`
	// SessionCount and SessionsPassed count every session, also those handed to Options.OnSession.
	SessionCount   int `json:"session_count"`
	SessionsPassed int `json:"sessions_passed"`
}

// CaptureSummary describes the capture file.
type CaptureSummary struct {
	Format      string    `json:"format"` // "pcap" or "pcapng"
	Packets     int64     `json:"packets"`
	TCPSegments int64     `json:"tcp_segments"`
	Skipped     int64     `json:"skipped"`   // frames without TCP (ARP, ICMP, UDP, fragments)
	Malformed   int64     `json:"malformed"` // frames that did not decode
	Bytes       int64     `json:"bytes"`     // captured frame bytes
	First       time.Time `json:"first"`
	Last        time.Time `json:"last"`
	Connections int       `json:"tcp_connections"`
}

// Session is one FTP control connection and everything that belongs to it.
type Session struct {
	ID            int            `json:"id"`
	Client        netip.AddrPort `json:"client"`
	Server        netip.AddrPort `json:"server"`
	IPv6          bool           `json:"ipv6"`
	Profile       ftp.Profile    `json:"profile"`
	ProfileSource string         `json:"profile_source"` // "option", "greeting" or "default"
	Open          Mark           `json:"open"`
	Close         Mark           `json:"close"` // zero if still open at the end of the capture
	User          string         `json:"user,omitempty"`
	Greeting      *Reply         `json:"greeting,omitempty"`
	Exchanges     []*Exchange    `json:"exchanges"`
	Transfers     []*Transfer    `json:"transfers"`
	Events        []Event        `json:"events"`
	Checks        []Check        `json:"checks"`
	Violations    int            `json:"violations"`
	Warnings      int            `json:"warnings"`

	ctl *control
}

// Name is a short label: "session 1 198.51.100.1:40000 -> 198.51.100.2:21".
func (s *Session) Name() string {
	return fmt.Sprintf("session %d %s -> %s", s.ID, s.Client, s.Server)
}

// Passed reports whether no check failed.
func (s *Session) Passed() bool { return s.Violations == 0 }

// Exchange is one command and the replies it got: preliminary (1xx) ones, then the final one.
type Exchange struct {
	Verb    string   `json:"verb"`
	Arg     string   `json:"arg,omitempty"` // PASS arguments are masked
	Raw     string   `json:"raw,omitempty"` // set when the line did not parse as a command
	Error   string   `json:"error,omitempty"`
	At      Mark     `json:"at"`
	Prelim  []*Reply `json:"preliminary,omitempty"`
	Final   *Reply   `json:"final,omitempty"`
	Unknown bool     `json:"unknown,omitempty"` // the line was not a valid command

	arg string // unmasked
}

// Reply is one complete (possibly multi-line) server reply.
type Reply struct {
	Code  int    `json:"code"`
	Text  string `json:"text"`
	Lines int    `json:"lines"`
	At    Mark   `json:"at"`
}

// Transfer is one RETR/STOR/STOU/APPE/LIST/NLST/MLSD and its data connection.
type Transfer struct {
	Verb      string         `json:"verb"`
	Arg       string         `json:"arg,omitempty"`
	Mode      string         `json:"mode"`            // "active", "passive" or "" when no setup preceded it
	Setup     string         `json:"setup,omitempty"` // PORT, EPRT, PASV or EPSV
	Announced netip.AddrPort `json:"announced,omitzero"`
	Download  bool           `json:"download"` // data flows server -> client (RETR, LIST, NLST, MLSD)
	Data      *DataConn      `json:"data,omitempty"`
	Bytes     int64          `json:"bytes"`
	SHA256    string         `json:"sha256,omitempty"`
	// ExpectedSize is the file's size when the capture or the options tell it: -1 if unknown.
	ExpectedSize int64  `json:"expected_size"`
	SizeFrom     string `json:"size_from,omitempty"` // where ExpectedSize came from
	Prelim       int    `json:"preliminary_code,omitempty"`
	Final        int    `json:"final_code,omitempty"`
	// Offset is the byte offset of a REST the server accepted (350) right before a RETR/STOR/APPE:
	// a resumed transfer carries the file from there on.
	Offset int64 `json:"rest_offset,omitempty"`
	// ASCII: the transfer ran in TYPE A, so line ends may be converted and byte counts differ from the file.
	ASCII bool `json:"ascii,omitempty"`

	ex    *Exchange
	setup *Exchange
}

// DataConn summarises one TCP connection used (or not) for data.
type DataConn struct {
	ID         int            `json:"id"`
	Initiator  netip.AddrPort `json:"initiator"` // the SYN's sender (the first sender if no SYN was captured)
	Responder  netip.AddrPort `json:"responder"`
	Open       Mark           `json:"open"`
	FirstData  Mark           `json:"first_data,omitzero"`
	LastData   Mark           `json:"last_data,omitzero"`
	End        string         `json:"end"` // "fin", "rst" or "open"
	EndAt      Mark           `json:"end_at,omitzero"`
	ResetBy    string         `json:"reset_by,omitempty"`
	FromPort20 bool           `json:"from_port_20"`
	// Bytes sent by the initiator and by the responder, and their SHA-256.
	InitiatorBytes  int64  `json:"initiator_bytes"`
	ResponderBytes  int64  `json:"responder_bytes"`
	InitiatorSHA256 string `json:"initiator_sha256,omitempty"`
	ResponderSHA256 string `json:"responder_sha256,omitempty"`
	Retransmissions int    `json:"retransmissions"`
	ZeroWindows     int    `json:"zero_windows"`
	Lost            int64  `json:"lost_bytes"`

	c *conn
}

// Event is one rung of the ladder diagram.
type Event struct {
	At   Mark   `json:"at"`
	Kind string `json:"kind"` // connect, command, reply, data-open, data, data-close, data-reset, close, reset
	From string `json:"from"` // "client" or "server"
	Text string `json:"text"`
	Fail bool   `json:"fail,omitempty"` // drawn in red: part of a violation
}

// Dialogue is the session's control dialogue in packet order, the way a dissector sees it: "C:VERB" for
// each command and "R:code" for each reply. Other tools' readings of the same capture (tshark's
// ftp.request.command and ftp.response.code) can be compared with it.
func (s *Session) Dialogue() []string {
	var seq []string
	for _, e := range s.Events {
		switch e.Kind {
		case "command":
			v, _, _ := strings.Cut(e.Text, " ")
			seq = append(seq, "C:"+strings.ToUpper(v))
		case "reply":
			if c, _, ok := strings.Cut(e.Text, " "); ok && len(c) == 3 {
				seq = append(seq, "R:"+c)
			}
		}
	}
	return seq
}
