package replay

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/netxsim/netxsim/ftp/ftpcheck"
	"github.com/netxsim/netxsim/ftp/ftpcheck/capgen"
)

const captures = "../../testdata/netxduo-6.4.2/"

func load(b []byte) (*Script, error) {
	segs, sum, err := ftpcheck.ReadSegments(context.Background(), bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return Load(segs, sum)
}

// pcapRecords splits a classic little-endian pcap file into its header and records.
func pcapRecords(t testing.TB, b []byte) (hdr []byte, recs [][]byte) {
	t.Helper()
	if len(b) < 24 || binary.LittleEndian.Uint32(b) != 0xa1b2c3d4 {
		t.Fatal("not a little-endian pcap")
	}
	hdr, b = b[:24], b[24:]
	for len(b) > 0 {
		n := 16 + int(binary.LittleEndian.Uint32(b[8:12]))
		recs, b = append(recs, b[:n]), b[n:]
	}
	return hdr, recs
}

func join(hdr []byte, recs [][]byte) []byte {
	out := bytes.Clone(hdr)
	for _, r := range recs {
		out = append(out, r...)
	}
	return out
}

// TestLoadErrors: a capture that cannot be replayed faithfully is refused with an error saying why
// and where: cut short, foreign, without FTP, begun mid-connection, or with bytes lost.
func TestLoadErrors(t *testing.T) {
	full, err := os.ReadFile(captures + "server-dialogues-ipv4.pcap")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := load(full)
	if err != nil || len(sc.Sessions) < 5 {
		t.Fatalf("the whole capture: %v", err)
	}
	hdr, recs := pcapRecords(t, full)
	// the first record with control-connection payload from the client after the greeting
	payload := -1
	for i, r := range recs {
		if i > 5 && len(r) > 16+14+20+20+4 && bytes.Contains(r, []byte("USER ")) {
			payload = i
			break
		}
	}
	greeting := -1
	for i, r := range recs {
		if bytes.Contains(r, []byte("220 ")) {
			greeting = i
			break
		}
	}
	if payload < 0 || greeting < 0 {
		t.Fatal("no USER or greeting in the capture")
	}
	ng := userCapture(t, "198.51.100.1:40000", "198.51.100.2:21", nil)
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"pcap cut mid-packet", full[:len(full)/2+7], "truncated"},
		{"pcapng cut mid-block", ng[:len(ng)-9], "truncated"},
		{"foreign", []byte("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"), "pcap"},
		{"empty file", nil, "pcap"},
		{"header only", full[:24], "no TCP segment"},
		{"begun mid-connection", join(hdr, recs[greeting:]), "starts without its SYN"},
		{"bytes lost", join(hdr, append(append([][]byte{}, recs[:payload]...), recs[payload+1:]...)), "missing from the capture"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := load(tc.b)
			if err == nil || sc != nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v (script %v), want an error about %q", err, sc != nil, tc.want)
			}
			if tc.want == "no TCP segment" && !errors.Is(err, ErrNoSessions) {
				t.Errorf("%v is not ErrNoSessions", err)
			}
		})
	}
}

// userCapture is a pcapng capture of one session from client to server that gets as far as USER,
// then does more (if not nil) and quits.
func userCapture(t testing.TB, client, server string, more func(s *capgen.FTP)) []byte {
	t.Helper()
	var ng bytes.Buffer
	c, err := capgen.New(&ng)
	if err != nil {
		t.Fatal(err)
	}
	s := c.FTP(netip.MustParseAddrPort(client), netip.MustParseAddrPort(server))
	s.Reply("220 Connection Ready ")
	s.Cmd("USER u")
	s.Reply("331 Enter password ")
	if more != nil {
		more(s)
	}
	s.Quit()
	c.Close()
	return ng.Bytes()
}

// FuzzLoad feeds arbitrary bytes through the capture reader, the session loader and the step
// builder replay runs on: a script or an error, never a panic or a hang.
func FuzzLoad(f *testing.F) {
	for _, name := range []string{"server-dialogues-ipv4.pcap", "client-services.pcap"} {
		b, err := os.ReadFile(captures + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/3])
	}
	f.Add(userCapture(f, "[2001:db8::1]:40000", "[2001:db8::2]:21", func(s *capgen.FTP) {
		s.Transfer(capgen.Transfer{Verb: "RETR", Arg: "a", Setup: "EPSV", Data: []byte("0123456789"), Retransmit: true})
	}))
	f.Add([]byte{0x0a, 0x0d, 0x0d, 0x0a})
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := load(data)
		if err != nil {
			if sc != nil {
				t.Fatal("script and error both set")
			}
			return
		}
		if len(sc.Sessions) == 0 {
			t.Fatal("a script without sessions and no error")
		}
		for _, s := range sc.Sessions {
			buildSteps(s)
		}
	})
}
