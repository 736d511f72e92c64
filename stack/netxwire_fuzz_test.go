package stack_test

import (
	"context"
	"flag"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netxsim/netxsim"
	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/stack/link"
)

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
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	arpFromHost := hexFrame(`ffffffffffff 020000000001 0806 0001 0800 06 04 0001 020000000001 c6336401 000000000000 c6336402`)
	fuzzing := flag.Lookup("test.fuzz").Value.String() != ""
	var count atomic.Int64
	f.Fuzz(func(t *testing.T, frame []byte) {
		p.A().Inject(frame)
		if count.Add(1)%64 == 0 || !fuzzing {
			p.A().Inject(arpFromHost)
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
