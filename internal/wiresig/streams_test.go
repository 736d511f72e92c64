package wiresig

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var clientCapture = filepath.Join("..", "..", "testdata", "netxduo-6.4.2", "client-services.pcap")

// The real client's capture reads as its README describes it: four sessions, 20 commands each.
func TestStreamsOfTheRealClient(t *testing.T) {
	raw, err := os.ReadFile(clientCapture)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := Streams(bytes.NewReader(raw), 21)
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 4 {
		t.Fatalf("%d control connections, want 4", len(ss))
	}
	for _, s := range ss {
		l := s.Lines()
		if len(l) != 20 || l[0] != "USER netx\r\n" || l[1] != "PASS secret\r\n" || l[len(l)-1] != "QUIT\r\n" {
			t.Errorf("%v: %d lines %q", s.Client, len(l), l)
		}
		if !strings.Contains(strings.Join(l, ""), "NLST \r\n") {
			t.Errorf("%v: no NLST with its trailing space", s.Client)
		}
		if len(s.Sent) != len(l) || len(s.Received) == 0 {
			t.Errorf("%v: %d lines in %d segments, %d reply segments", s.Client, len(l), len(s.Sent), len(s.Received))
		}
		if s.Server.Port() != 21 || !strings.HasPrefix(string(s.Received[0]), "220 ") {
			t.Errorf("%v -> %v: first reply %q", s.Client, s.Server, s.Received[0])
		}
	}
	// Any port: the active session's listing went from the server's port 20 to the client's 49916,
	// the listening side, which Streams calls the server.
	ds, err := Streams(bytes.NewReader(raw), 49916)
	if err != nil || len(ds) != 1 || string(ds[0].SentBytes()) != "data.bin\r\nhello.txt\r\npub\r\n" {
		t.Errorf("data stream to 49916: %v, %+v", err, ds)
	}
}

func TestRebaseAndDataPort(t *testing.T) {
	for _, c := range []struct {
		in       string
		from, to uint16
		out      string
		ok       bool
		port     uint16
	}{
		{"PORT 198,051,100,002,194,252\r\n", 49915, 20696, "PORT 198,051,100,002,080,217\r\n", true, 49916},
		{"PORT 127,0,0,1,4,1\r\n", 1000, 1001, "PORT 127,0,0,1,4,2\r\n", true, 1025},
		{"EPRT |2|2001:0DB8:0000:0000:0000:0000:0000:0002|64524|\r\n", 64523, 100, "EPRT |2|2001:0DB8:0000:0000:0000:0000:0000:0002|101|\r\n", true, 64524},
		{"PORT 1,2,3,4,255,255\r\n", 0, 1, "PORT 1,2,3,4,255,255\r\n", false, 65535},
		{"RETR hello.txt\r\n", 1, 2, "RETR hello.txt\r\n", false, 0},
		{"EPRT |2|::1|x|\r\n", 1, 2, "EPRT |2|::1|x|\r\n", false, 0},
		{"PORT 1,2,3\r\n", 1, 2, "PORT 1,2,3\r\n", false, 0},
	} {
		out, ok := RebaseDataPort(c.in, c.from, c.to)
		if out != c.out || ok != c.ok {
			t.Errorf("RebaseDataPort(%q, %d, %d) = %q, %v; want %q, %v", c.in, c.from, c.to, out, ok, c.out, c.ok)
		}
		p, pok := DataPort(c.in)
		if p != c.port || pok != (c.port != 0) {
			t.Errorf("DataPort(%q) = %d, %v; want %d", c.in, p, pok, c.port)
		}
	}
}

// CompareCommands finds a changed byte, a missing line and two commands in one segment.
func TestCompareCommands(t *testing.T) {
	want := []string{"USER a\r\n", "PORT 001,002,003,004,000,011\r\n", "NLST \r\n"}
	ours := Stream{Sent: [][]byte{[]byte("USER a\r\n"), []byte("PORT 001,002,003,004,000,021\r\n"), []byte("NLST \r\n")}}
	// ours.Client's port is 0: rebasing from 10 turns the reference's 11 into 1; ours says 21
	if d, n := CompareCommands(want, 10, Stream{Sent: [][]byte{[]byte("USER a\r\n"), []byte("PORT 001,002,003,004,000,001\r\n"), []byte("NLST \r\n")}}); len(d) != 0 || n != 1 {
		t.Errorf("equal sessions: %v, %d rebased", d, n)
	}
	if d, _ := CompareCommands(want, 10, ours); len(d) != 1 {
		t.Errorf("a changed port: %v", d)
	}
	if d, _ := CompareCommands(want, 10, Stream{Sent: [][]byte{[]byte("USER a\r\nPORT 001,002,003,004,000,001\r\n"), []byte("NLST\r\n")}}); len(d) != 2 {
		t.Errorf("NLST without its space and two commands in one segment: %v", d)
	}
}

func FuzzStreams(f *testing.F) {
	if raw, err := os.ReadFile(clientCapture); err == nil {
		f.Add(raw[:min(len(raw), 4096)])
	}
	f.Add([]byte{0xd4, 0xc3, 0xb2, 0xa1})
	f.Fuzz(func(t *testing.T, b []byte) {
		ss, err := Streams(bytes.NewReader(b), 21)
		if err != nil {
			return
		}
		for _, s := range ss {
			s.Lines()
		}
	})
}

func FuzzRebaseDataPort(f *testing.F) {
	f.Add("PORT 198,051,100,002,194,252\r\n", uint16(49915), uint16(100))
	f.Add("EPRT |2|2001:db8::2|64524|\r\n", uint16(64523), uint16(7))
	f.Fuzz(func(t *testing.T, line string, from, to uint16) {
		out, ok := RebaseDataPort(line, from, to)
		if !ok {
			if out != line {
				t.Fatalf("not rebased but changed: %q -> %q", line, out)
			}
			return
		}
		p, pok := DataPort(line)
		q, qok := DataPort(out)
		if !pok || !qok || int(q)-int(p) != int(to)-int(from) {
			t.Fatalf("%q -> %q: ports %d -> %d, want a shift of %d", line, out, p, q, int(to)-int(from))
		}
	})
}
