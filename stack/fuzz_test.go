package stack_test

import (
	"context"
	"encoding/hex"
	"flag"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netxsim/netxsim"
	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/stack/link"
)

// arpFromHost is an ARP request for 198.51.100.2 from 198.51.100.1: the fuzz tests inject it to
// restore the host's MAC after a fuzzed frame may have re-pointed it.
const arpFromHost = `ffffffffffff 020000000001 0806 0001 0800 06 04 0001 020000000001 c6336401 000000000000 c6336402`

// hexFrame decodes a test frame written as hex with spaces.
func hexFrame(s string) []byte {
	b, err := hex.DecodeString(stripSpaces(s))
	if err != nil {
		panic(err)
	}
	return b
}

func stripSpaces(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' && s[i] != '\n' && s[i] != '\t' {
			out = append(out, s[i])
		}
	}
	return string(out)
}

// FuzzInjectFrame throws arbitrary Ethernet frames at a running device from the wire side: the stack
// and the link's frame handling must neither panic nor stop answering.
func FuzzInjectFrame(f *testing.F) {
	f.Add(hexFrame(arpFromHost))
	// IPv4 TCP SYN 198.51.100.1:40000 -> 198.51.100.2:21 (checksums zero: the stack must reject, not crash).
	f.Add(hexFrame(`020000000002 020000000001 0800 45000028 00004000 40060000 c6336401 c6336402
		9c400015 00000001 00000000 5002ffff 00000000`))
	// IPv6 neighbour solicitation header only, truncated.
	f.Add(hexFrame(`3333ff000002 020000000001 86dd 6000000000203aff fe800000000000000000000000000001`))
	f.Add([]byte{})
	f.Add(make([]byte, 14))

	dev, host, p := newPair(f, link.PairConfig{}, true)
	ln, err := dev.Listen(context.Background(), netip.AddrPortFrom(netip.Addr{}, 21))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { ln.Close() })
	// Half the connection requests to port 21 are held (as a NetX server with its slots taken does)
	// and offered again now and then: fuzzed SYNs go through the gate's parsing, holding and
	// redelivery too.
	var n atomic.Int64
	ln.(*stack.Listener).SetAdmit(func(netip.AddrPort) bool { return n.Load()%2 == 0 })
	closeAll(ln)
	fuzzing := flag.Lookup("test.fuzz").Value.String() != ""
	f.Fuzz(func(t *testing.T, frame []byte) {
		p.A().Inject(frame)
		if n.Add(1)%64 == 0 || !fuzzing { // now and then (every time on the seed corpus), the device must still answer
			// A fuzzed ARP frame may legitimately have re-pointed 198.51.100.1 to another MAC (ARP
			// spoofing works on a real device too): restore the truth the way the real host would.
			p.A().Inject(hexFrame(arpFromHost))
			ln.(*stack.Listener).Readmit()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := host.Ping(ctx, devV4); err != nil {
				t.Fatalf("device stopped answering after a fuzzed frame: %v", err)
			}
		}
	})
}

// FuzzInjectFrameNetX throws arbitrary frames at a device with NetX Duo's signature, whose wire
// wrapper parses and rewrites the TCP options of every SYN it receives and answers with rebuilt
// SYN-ACKs: it must neither panic nor stop answering.
func FuzzInjectFrameNetX(f *testing.F) {
	// A Linux-like SYN 198.51.100.1:21777 -> 198.51.100.2:21 with MSS, SACK-permitted, timestamps
	// and window scale, checksums right.
	syn := hexFrame(`020000000002 020000000001 0800 4500003c 00004000 4006e651 c6336401 c6336402
		55110015 72b99775 00000000 a0027200 47f20000 020405b4 0402080a 28a4b1a9 00000000 01030307`)
	f.Add(syn)
	bad := append([]byte(nil), syn...)
	bad[len(bad)-3] = 0x40 // window scale option running past the header
	f.Add(bad)
	short := append([]byte(nil), syn[:len(syn)-8]...) // header length says 40, the frame is shorter
	f.Add(short)
	f.Add([]byte{})

	var n netxsim.Network
	f.Cleanup(func() { n.Close() })
	seg, err := n.Pair("link", link.PairConfig{})
	if err != nil {
		f.Fatal(err)
	}
	dc, hc := devConfig(), hostConfig()
	dc.SkipDAD, hc.SkipDAD = true, true
	ds, err := n.AddDevices(context.Background(), seg, netxsim.DeviceConfig{Config: dc, Profile: ftp.ProfileNetXDuo64}, netxsim.DeviceConfig{Config: hc})
	if err != nil {
		f.Fatal(err)
	}
	dev, host, p := ds[0].IP(), ds[1].IP(), seg.Pair()
	ln, err := dev.Listen(context.Background(), netip.AddrPortFrom(netip.Addr{}, 21))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { ln.Close() })
	closeAll(ln)
	fuzzing := flag.Lookup("test.fuzz").Value.String() != ""
	var count atomic.Int64
	f.Fuzz(func(t *testing.T, frame []byte) {
		p.A().Inject(frame)
		if count.Add(1)%64 == 0 || !fuzzing {
			p.A().Inject(hexFrame(arpFromHost))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := host.Ping(ctx, devV4); err != nil {
				t.Fatalf("device stopped answering after a fuzzed frame: %v", err)
			}
			c, err := host.Dial(ctx, netip.AddrPort{}, netip.AddrPortFrom(devV4, 21))
			if err != nil {
				t.Fatalf("device stopped accepting connections after a fuzzed frame: %v", err)
			}
			c.Close()
		}
	})
}
