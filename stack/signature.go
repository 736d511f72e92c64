package stack

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/netxsim/netxsim/internal/textenc"
)

// Signature is how the instance's TCP/IP looks on the wire: the TTL, TCP options and windows a peer
// (or a fingerprinting tool) sees.
type Signature string

const (
	// SignatureGVisor is gVisor's own behaviour, close to Linux's: TTL and hop limit 64, TCP with MSS,
	// SACK, timestamps and window scaling, receive windows auto-tuned from 4 KiB to 4 MiB. The zero value.
	SignatureGVisor Signature = ""
	// SignatureNetX is NetX Duo 6.4's, as measured on the real device: TTL 128, hop limit 255, TCP
	// with the MSS option only (no SACK, timestamps or window scaling), fixed receive windows (400
	// bytes on the FTP control connection, 2,048 on every other connection, see Windows) and an IPv4
	// identification counting up by one per packet from 1. docs/stack.md says what is exact.
	SignatureNetX Signature = "netx"
)

// ParseSignature accepts "netx", "gvisor" (or "linux", or "") for SignatureGVisor.
func ParseSignature(s string) (Signature, error) {
	switch strings.ToLower(s) {
	case "", "gvisor", "linux":
		return SignatureGVisor, nil
	case "netx", "netxduo":
		return SignatureNetX, nil
	}
	return "", fmt.Errorf("unknown stack signature %q: use netx or gvisor", s)
}

// String returns "netx" or "gvisor".
func (s Signature) String() string {
	if s == SignatureGVisor {
		return "gvisor"
	}
	return string(s)
}

// UnmarshalText implements encoding.TextUnmarshaler (scenario files, flags).
func (s *Signature) UnmarshalText(b []byte) error { return textenc.Unmarshal(s, b, ParseSignature) }

// MarshalText implements encoding.TextMarshaler.
func (s Signature) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// NetX Duo's FTP windows (NX_FTP_CONTROL_WINDOW_SIZE and NX_FTP_DATA_WINDOW_SIZE in nxd_ftp_server.h).
const (
	NetXControlWindow = 400
	NetXDataWindow    = 2048
	// NetXClientWindow is the window of NetX Duo's FTP client in its own demos and tests (the
	// window_size of nx_ftp_client_create, one window for control and data) and in the real client's
	// capture (testdata/netxduo-6.4.2/client-services.pcap): netxsim ftp's device uses it.
	NetXClientWindow = 2000
	// FTPControlPort is the port whose connections get the control window by default.
	FTPControlPort = 21
)

// maxWindow is the largest window a TCP header can carry without window scaling.
const maxWindow = 65535

// Windows fixes the TCP receive windows the instance advertises. A zero field takes the signature's
// default: NetX's 400 and 2,048 bytes and port 21 for SignatureNetX; for SignatureGVisor a zero
// Windows keeps gVisor's auto-tuned buffers, and a non-zero Data or Control fixes them as well.
// Small windows make bulk transfers slow (one window per round trip): raise Data, or use
// SignatureGVisor, where speed matters more than the device's look.
type Windows struct {
	Control     int    // connections whose local port is ControlPort (the FTP server's control connections)
	Data        int    // every other TCP connection (FTP data connections, clients)
	ControlPort uint16 // 0: 21
}

// ParseWindows reads "CONTROL,DATA" (for example "400,2048"); either may be empty for the default.
func ParseWindows(s string) (Windows, error) {
	var w Windows
	c, d, ok := strings.Cut(s, ",")
	if !ok {
		return w, fmt.Errorf("windows %q: want CONTROL,DATA in bytes, for example 400,2048", s)
	}
	for _, f := range []struct {
		s   string
		dst *int
	}{{c, &w.Control}, {d, &w.Data}} {
		if f.s = strings.TrimSpace(f.s); f.s == "" {
			continue
		}
		n, err := strconv.Atoi(f.s)
		if err != nil {
			return Windows{}, fmt.Errorf("windows %q: %q is not a number of bytes", s, f.s)
		}
		*f.dst = n
	}
	return w, w.validate()
}

func (w Windows) validate() error {
	for _, v := range []struct {
		name string
		n    int
	}{{"Control", w.Control}, {"Data", w.Data}} {
		if v.n < 0 || v.n > maxWindow {
			return fmt.Errorf("stack: Windows.%s %d: need 1..%d bytes (0 for the default; no window scaling)", v.name, v.n, maxWindow)
		}
		if v.n != 0 && v.n < 64 {
			return fmt.Errorf("stack: Windows.%s %d is too small for any TCP segment: use at least 64", v.name, v.n)
		}
	}
	return nil
}

// resolved returns the windows in force (0 means auto-tuned) and the control port.
func (w Windows) resolved(sig Signature) Windows {
	if sig == SignatureNetX {
		if w.Control == 0 {
			w.Control = NetXControlWindow
		}
		if w.Data == 0 {
			w.Data = NetXDataWindow
		}
	}
	if w.ControlPort == 0 {
		w.ControlPort = FTPControlPort
	}
	return w
}

// UnmarshalText implements encoding.TextUnmarshaler with ParseWindows' "CONTROL,DATA".
func (w *Windows) UnmarshalText(b []byte) error {
	ctl := w.ControlPort
	v, err := ParseWindows(string(b))
	if err != nil {
		return err
	}
	v.ControlPort = ctl
	*w = v
	return nil
}

// String gives "CONTROL,DATA" (0 for a default).
func (w Windows) String() string { return strconv.Itoa(w.Control) + "," + strconv.Itoa(w.Data) }
