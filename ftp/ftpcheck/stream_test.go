package ftpcheck

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/netxsim/netxsim/ftp/ftpcheck/capgen"
	"github.com/netxsim/netxsim/internal/junit"
)

// interleavedCapture: two sessions whose control connections overlap, a data connection that ends
// after its control connection, a non-FTP connection opened in the middle, a reused 4-tuple.
func interleavedCapture(t testing.TB) []byte {
	return build(t, func(c *capgen.Capture) {
		a := c.FTP(netip4(41001), netip.AddrPortFrom(dev4, 21))
		a.Login("a", "a")
		b := c.FTP(netip4(41002), netip.AddrPortFrom(dev4, 21))
		b.Login("b", "b")
		web := c.Dial(netip4(41003), netip.AddrPortFrom(dev4, 80))
		web.Line(capgen.Client, "GET / HTTP/1.0")
		a.Transfer(capgen.Transfer{Verb: "RETR", Arg: "x", Setup: "PASV", Data: payload(3000)})
		// b's data connection: the reply and QUIT come before the data connection closes
		b.Cmd("PASV")
		b.Reply("227 Entering Passive Mode (198,51,100,2,200,1).")
		d := c.Dial(netip4(41100), netip.AddrPortFrom(dev4, 200<<8|1))
		b.Cmd("RETR y")
		b.Reply("150 File Read Start")
		d.Send(capgen.Server, payload(2000))
		b.Reply("226 File Sent")
		b.Quit()
		web.Line(capgen.Server, "HTTP/1.0 200 OK")
		d.CloseBoth(capgen.Server)
		web.CloseBoth(capgen.Client)
		a.Quit()
		// the first session's 4-tuple again
		again := c.FTP(netip4(41001), netip.AddrPortFrom(dev4, 21))
		again.Login("c", "c")
		again.Quit()
	})
}

// TestWriterMatchesReport: what the streaming Writer writes while Analyze runs (sessions handed out
// and forgotten) says the same as the whole report written at the end: the same JSON sessions,
// other connections and counts, the same JUnit suites and cases, the same text lines.
func TestWriterMatchesReport(t *testing.T) {
	inputs := map[string][]byte{"clean": cleanCapture(t), "interleaved": interleavedCapture(t)}
	for _, p := range []string{"testdata/corpus/clients-extended.pcapng", "testdata/corpus/clients-netxduo.pcapng",
		"../../testdata/netxduo-6.4.2/server-dialogues-ipv4.pcap", "../../testdata/netxduo-6.4.2/server-dialogues-ipv6.pcap"} {
		if b, err := os.ReadFile(p); err == nil {
			inputs[filepath.Base(p)] = b
		}
	}
	for name, data := range inputs {
		t.Run(name, func(t *testing.T) {
			whole := analyze(t, data, Options{})
			var j1, x1, t1 bytes.Buffer
			whole.WriteJSON(&j1)
			whole.WriteJUnit(&x1)
			whole.WriteText(&t1)

			var j2, x2, t2 bytes.Buffer
			w := &Writer{Text: &t2, JSON: &j2, JUnit: &x2, SVGDir: t.TempDir()}
			defer w.Close()
			rep, err := Analyze(context.Background(), bytes.NewReader(data), w.Options(Options{}))
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Sessions) != 0 || len(rep.Other) != 0 {
				t.Fatalf("streamed report kept %d sessions, %d other connections", len(rep.Sessions), len(rep.Other))
			}
			if err := w.Finish(rep); err != nil {
				t.Fatal(err)
			}
			if w.SVGs != whole.SessionCount {
				t.Errorf("%d SVGs for %d sessions", w.SVGs, whole.SessionCount)
			}
			var a, b map[string]any
			if err := json.Unmarshal(j1.Bytes(), &a); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(j2.Bytes(), &b); err != nil {
				t.Fatalf("streamed JSON does not parse: %v\n%s", err, j2.String())
			}
			if b["other_connections"] == nil || len(b["other_connections"].([]any)) == 0 {
				b["other_connections"] = nil // omitempty in the whole report
			}
			for k := range a {
				if !reflect.DeepEqual(a[k], b[k]) {
					t.Errorf("JSON field %q differs:\nwhole:    %.400v\nstreamed: %.400v", k, a[k], b[k])
				}
			}
			var s1, s2 junit.Suites
			if err := xml.Unmarshal(x1.Bytes(), &s1); err != nil {
				t.Fatal(err)
			}
			if err := xml.Unmarshal(x2.Bytes(), &s2); err != nil {
				t.Fatalf("streamed JUnit does not parse: %v\n%s", err, x2.String())
			}
			if !reflect.DeepEqual(s1, s2) {
				for i := range max(len(s1.Suites), len(s2.Suites)) {
					if i >= len(s1.Suites) || i >= len(s2.Suites) || !reflect.DeepEqual(s1.Suites[i], s2.Suites[i]) {
						t.Errorf("JUnit suite %d differs:\nwhole:    %+v\nstreamed: %+v", i, s1.Suites[min(i, len(s1.Suites)-1)], s2.Suites[min(i, len(s2.Suites)-1)])
						break
					}
				}
				s1.Suites, s2.Suites = nil, nil
				if !reflect.DeepEqual(s1, s2) {
					t.Errorf("JUnit root differs: %+v, %+v", s1, s2)
				}
			}
			l1, l2 := strings.Split(t1.String(), "\n"), strings.Split(t2.String(), "\n")
			slices.Sort(l1)
			slices.Sort(l2)
			if !slices.Equal(slices.Compact(l1), slices.Compact(l2)) {
				t.Errorf("text differs:\nwhole:\n%s\nstreamed:\n%s", t1.String(), t2.String())
			}
		})
	}
}

// TestInterleavedSessions: overlapping sessions keep their own data connections, the data
// connection that outlives its control connection is still matched and counted whole, the web
// connection is listed as other, and a reused 4-tuple is a new session.
func TestInterleavedSessions(t *testing.T) {
	rep := analyze(t, interleavedCapture(t), Options{})
	if rep.SessionCount != 3 || len(rep.Sessions) != 3 {
		t.Fatalf("%d sessions, want 3", rep.SessionCount)
	}
	for i, want := range []struct {
		user  string
		bytes int64
	}{{"a", 3000}, {"b", 2000}, {"c", -1}} {
		s := rep.Sessions[i]
		if s.User != want.user || s.ID != i+1 {
			t.Errorf("session %d: id %d user %q, want %q", i, s.ID, s.User, want.user)
		}
		if want.bytes >= 0 && (len(s.Transfers) != 1 || s.Transfers[0].Data == nil || s.Transfers[0].Bytes != want.bytes) {
			t.Errorf("session %s: transfers %+v", s.User, s.Transfers)
		}
	}
	if len(rep.Other) != 1 || rep.Other[0].Responder.Port() != 80 {
		t.Errorf("other connections: %+v, want the web connection", rep.Other)
	}
	if rep.Capture.Connections != 6 {
		t.Errorf("%d TCP connections, want 6", rep.Capture.Connections)
	}
}

// TestJUnitCounts parses the JUnit XML back and checks every count against the test cases.
func TestJUnitCounts(t *testing.T) {
	data := build(t, func(c *capgen.Capture) {
		for _, f := range faults()[:3] {
			f.script(c)
		}
		cleanSession(c, c4, s4, "EPSV")
	})
	rep := analyze(t, data, Options{})
	var buf bytes.Buffer
	if err := rep.WriteJUnit(&buf); err != nil {
		t.Fatal(err)
	}
	type tc struct {
		Name    string    `xml:"name,attr"`
		Failure *struct{} `xml:"failure"`
		Skipped *struct{} `xml:"skipped"`
	}
	type suite struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Skipped  int    `xml:"skipped,attr"`
		Cases    []tc   `xml:"testcase"`
	}
	var root struct {
		XMLName  xml.Name `xml:"testsuites"`
		Tests    int      `xml:"tests,attr"`
		Failures int      `xml:"failures,attr"`
		Skipped  int      `xml:"skipped,attr"`
		Suites   []suite  `xml:"testsuite"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &root); err != nil {
		t.Fatalf("JUnit is not well-formed XML: %v\n%s", err, buf.String())
	}
	if len(root.Suites) != 2+len(rep.Sessions) {
		t.Fatalf("%d suites for %d sessions", len(root.Suites), len(rep.Sessions))
	}
	tests, fails, skips := 0, 0, 0
	for _, s := range root.Suites {
		f, k := 0, 0
		for _, c := range s.Cases {
			if c.Failure != nil {
				f++
			}
			if c.Skipped != nil {
				k++
			}
		}
		if s.Tests != len(s.Cases) || s.Failures != f || s.Skipped != k {
			t.Errorf("suite %q: tests=%d failures=%d skipped=%d, cases say %d/%d/%d", s.Name, s.Tests, s.Failures, s.Skipped, len(s.Cases), f, k)
		}
		tests, fails, skips = tests+s.Tests, fails+s.Failures, skips+s.Skipped
	}
	if root.Tests != tests || root.Failures != fails || root.Skipped != skips {
		t.Errorf("root counts %d/%d/%d, suites sum to %d/%d/%d", root.Tests, root.Failures, root.Skipped, tests, fails, skips)
	}
	// one failing session case per faulty session, one failing check case per fault
	sessions := root.Suites[1]
	if sessions.Tests != 4 || sessions.Failures != 3 {
		t.Errorf("sessions suite: %d tests, %d failures; want 4 and 3", sessions.Tests, sessions.Failures)
	}
	if fails != 3+rep.Violations {
		t.Errorf("failures %d, want 3 session cases + %d violations", fails, rep.Violations)
	}
	if rep.Violations != 3 {
		t.Errorf("violations %d, want 3", rep.Violations)
	}
	for i, s := range root.Suites[2:] {
		if s.Tests != len(Checks) {
			t.Errorf("session suite %d: %d cases, want one per check (%d)", i, s.Tests, len(Checks))
		}
	}
}
