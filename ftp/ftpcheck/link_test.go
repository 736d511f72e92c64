package ftpcheck

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/netxsim/netxsim/ftp/ftpcheck/capgen"
)

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
