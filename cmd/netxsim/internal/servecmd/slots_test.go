package servecmd

import (
	"bufio"
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netxsim/netxsim/ftp/ftpcheck"
	"github.com/netxsim/netxsim/tapdev"
)

// TestServeSlotsOverTAP: a `serve --tap` NetX device with its 4 sessions taken by kernel clients in
// the namespace does not answer a 5th client's SYN at all (the kernel retransmits it, as against
// the real device); once one of the 4 quits, the SYN is answered and the 5th gets its 220. The
// device's own capture shows it: no SYN-ACK to the 5th before the 221 that freed the slot.
func TestServeSlotsOverTAP(t *testing.T) {
	pcap := filepath.Join(t.TempDir(), "slots.pcapng")
	s := startServeTAP(t, "--ram", "1M", "--user", "u:p", "--profile", "netxduo-6.4", "--skip-dad", "--pcap", pcap)
	ns, err := tapdev.OpenNetNS(s.ns)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	k := ns.Kernel()
	dev := netip.MustParseAddrPort("198.51.100.2:21")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	greet := func(c net.Conn) *bufio.Reader {
		t.Helper()
		r := bufio.NewReader(c)
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		if l, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(l, "220") {
			t.Fatalf("greeting %q %v", l, err)
		}
		return r
	}
	var open []net.Conn
	var readers []*bufio.Reader
	for range 4 {
		c, err := k.Dial(ctx, netip.AddrPort{}, dev)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		open, readers = append(open, c), append(readers, greet(c))
	}
	type dialed struct {
		c   net.Conn
		err error
	}
	fifth := make(chan dialed, 1)
	go func() {
		c, err := k.Dial(ctx, netip.AddrPort{}, dev)
		fifth <- dialed{c, err}
	}()
	// the kernel retransmits an unanswered SYN after 1 s: wait past it, the 5th must still wait
	time.Sleep(1500 * time.Millisecond)
	select {
	case d := <-fifth:
		t.Fatalf("the 5th connection completed while 4 sessions are open (%v)", d.err)
	default:
	}
	for _, x := range [][2]string{{"USER u", "331"}, {"PASS p", "230"}, {"QUIT", "221"}} { // QUIT before login is 530 on NetX
		open[0].Write([]byte(x[0] + "\r\n"))
		if l, err := readers[0].ReadString('\n'); err != nil || !strings.HasPrefix(l, x[1]) {
			t.Fatalf("%s: %q %v", x[0], l, err)
		}
	}
	d := <-fifth
	if d.err != nil {
		t.Fatalf("the 5th connection after a slot freed: %v", d.err)
	}
	defer d.c.Close()
	greet(d.c)
	fifthPort := d.c.LocalAddr().(*net.TCPAddr).Port
	if code := s.stop(); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	f, err := os.Open(pcap)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	segs, _, err := ftpcheck.ReadSegments(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	var quit221, synAck, syns int64 = -1, -1, 0
	for _, sg := range segs {
		switch {
		case sg.Src == dev && strings.HasPrefix(string(sg.Payload), "221") && quit221 < 0:
			quit221 = sg.Packet
		case sg.Src == dev && sg.SYN && sg.ACK && int(sg.Dst.Port()) == fifthPort && synAck < 0:
			synAck = sg.Packet
		case sg.Dst == dev && sg.SYN && !sg.ACK && int(sg.Src.Port()) == fifthPort:
			syns++
		}
	}
	if quit221 < 0 || synAck < 0 || synAck < quit221 {
		t.Errorf("the device's SYN-ACK to the 5th client is packet %d, the 221 that freed a slot packet %d: want the SYN-ACK after", synAck, quit221)
	}
	if syns < 2 {
		t.Errorf("the 5th client sent %d SYNs: the first should have gone unanswered and been retransmitted", syns)
	}
}
