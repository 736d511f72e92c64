package ftpcheck

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/netxsim/netxsim/ftp/ftpcheck/capgen"
)

// smallSession is a short session with a bit of everything: multi-line reply, PASV and EPRT transfers.
func smallSession(c *capgen.Capture) {
	f := c.FTP(netip.MustParseAddrPort("198.51.100.1:40000"), netip.MustParseAddrPort("198.51.100.2:21"))
	f.Reply("220-hi\r\n220 Connection Ready")
	f.Cmd("USER u")
	f.Reply("331 Enter password")
	f.Cmd("PASS p")
	f.Reply("230 Logged in")
	f.Cmd("TYPE I")
	f.Reply("200 Type Binary")
	f.Transfer(capgen.Transfer{Verb: "RETR", Arg: "a", Setup: "PASV", Data: []byte("0123456789abcdef"), Retransmit: true})
	f.Transfer(capgen.Transfer{Verb: "STOR", Arg: "b", Setup: "PORT", Data: []byte("xyz"), ResetAfter: 2})
	f.Quit()
}

// TestPcapFormat: classic pcap reads the same as pcapng.
func TestPcapFormat(t *testing.T) {
	var ng, pc bytes.Buffer
	for buf, mk := range map[*bytes.Buffer]func(io.Writer) (*capgen.Capture, error){&ng: capgen.New, &pc: capgen.NewPcap} {
		c, err := mk(buf)
		if err != nil {
			t.Fatal(err)
		}
		smallSession(c)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	a, b := analyze(t, ng.Bytes(), Options{}), analyze(t, pc.Bytes(), Options{})
	if a.Capture.Format != "pcapng" || b.Capture.Format != "pcap" {
		t.Fatalf("formats %s %s", a.Capture.Format, b.Capture.Format)
	}
	var ta, tb bytes.Buffer
	a.WriteJSON(&ta)
	b.WriteJSON(&tb)
	ja := bytes.Replace(ta.Bytes(), []byte(`"pcapng"`), []byte(`"pcap"`), 1)
	if !bytes.Equal(ja, tb.Bytes()) {
		t.Errorf("pcap and pcapng reports differ")
	}
	if a.Violations != 1 || len(a.Sessions) != 1 { // the planted reset in the STOR
		t.Errorf("violations %d sessions %d", a.Violations, len(a.Sessions))
	}
}

// FuzzAnalyze runs the whole pipeline (reader, decoders, reassembly, FTP parsing, checks, every
// report writer) on arbitrary bytes: it must return a report or an error, never panic or hang.
func FuzzAnalyze(f *testing.F) {
	for _, mk := range []func(io.Writer) (*capgen.Capture, error){capgen.New, capgen.NewPcap} {
		var buf bytes.Buffer
		c, err := mk(&buf)
		if err != nil {
			f.Fatal(err)
		}
		smallSession(c)
		c.Close()
		f.Add(buf.Bytes())
		f.Add(buf.Bytes()[:buf.Len()*2/3])
	}
	f.Add([]byte{0x0a, 0x0d, 0x0d, 0x0a})
	f.Add([]byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := Analyze(context.Background(), bytes.NewReader(data), Options{})
		if err != nil {
			if rep != nil {
				t.Fatal("report and error both set")
			}
			return
		}
		if err := rep.WriteText(io.Discard); err != nil {
			t.Fatal(err)
		}
		if err := rep.WriteJSON(io.Discard); err != nil {
			t.Fatal(err)
		}
		if err := rep.WriteJUnit(io.Discard); err != nil {
			t.Fatal(err)
		}
		for _, s := range rep.Sessions {
			if err := WriteSVG(io.Discard, s); err != nil {
				t.Fatal(err)
			}
		}
		// the streaming path hands out the same sessions and writes valid JSON
		var js bytes.Buffer
		w := &Writer{Text: io.Discard, JSON: &js, JUnit: io.Discard}
		defer w.Close()
		srep, err := Analyze(context.Background(), bytes.NewReader(data), w.Options(Options{}))
		if err != nil {
			t.Fatalf("streamed: %v (the whole analysis succeeded)", err)
		}
		if err := w.Finish(srep); err != nil {
			t.Fatal(err)
		}
		if !json.Valid(js.Bytes()) {
			t.Fatalf("streamed JSON is not valid:\n%s", js.String())
		}
		if srep.SessionCount != rep.SessionCount || srep.Violations != rep.Violations || srep.SessionCount != len(rep.Sessions) {
			t.Fatalf("streamed %d sessions, %d violations; whole %d (%d kept), %d", srep.SessionCount, srep.Violations, rep.SessionCount, len(rep.Sessions), rep.Violations)
		}
	})
}

// relink rewrites an Ethernet pcapng as a pcap of another link type.
func relink(t *testing.T, ng []byte, lt layers.LinkType) []byte {
	t.Helper()
	r, err := pcapgo.NewNgReader(bytes.NewReader(ng), pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w := pcapgo.NewWriterNanos(&out)
	w.WriteFileHeader(65536, lt)
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		var frame []byte
		switch lt {
		case layers.LinkTypeRaw:
			frame = data[14:]
		case layers.LinkTypeLinuxSLL:
			hdr := make([]byte, 16)
			binary.BigEndian.PutUint16(hdr[2:], 1) // ARPHRD_ETHER
			binary.BigEndian.PutUint16(hdr[4:], 6)
			copy(hdr[6:], data[6:12])
			copy(hdr[14:], data[12:14]) // EtherType
			frame = append(hdr, data[14:]...)
		}
		ci.CaptureLength, ci.Length = len(frame), len(frame)
		if err := w.WritePacket(ci, frame); err != nil {
			t.Fatal(err)
		}
	}
	return out.Bytes()
}

func TestOtherLinkTypes(t *testing.T) {
	ng := build(t, func(c *capgen.Capture) {
		cleanSession(c, c4, s4, "PASV")
		cleanSession(c, netip6(40002), netip6s(21), "EPRT")
	})
	for _, lt := range []layers.LinkType{layers.LinkTypeRaw, layers.LinkTypeLinuxSLL} {
		rep := analyze(t, relink(t, ng, lt), Options{})
		if len(rep.Sessions) != 2 || rep.Violations != 0 || rep.Sessions[1].Transfers[0].Bytes != 5000 {
			var b bytes.Buffer
			rep.WriteText(&b)
			t.Errorf("link type %v: %d sessions, %d violations\n%s", lt, len(rep.Sessions), rep.Violations, b.String())
		}
	}
}
