package link

import (
	"testing"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// FuzzSwitchForward feeds arbitrary frames into a switch port: learning and forwarding must never
// panic, a frame is offered to at most every other port, and runts never leave the switch.
func FuzzSwitchForward(f *testing.F) {
	f.Add(frame(macA, macB, 1, 64))
	f.Add(frame(macA, header.EthernetBroadcastAddress, 2, 4))
	f.Add([]byte{0x33, 0x33, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0xa, 0x86, 0xdd})
	f.Add([]byte{1, 2, 3})
	s, err := NewSwitch(SwitchConfig{Ports: 3})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	for i, mac := range []tcpip.LinkAddress{macA, macB, macC} {
		attach(s.Port(i), mac)
	}
	f.Fuzz(func(t *testing.T, fr []byte) {
		_, before1 := s.Stats(1)
		_, before2 := s.Stats(2)
		s.forward(0, wireFrame{buf: buffer.MakeWithData(fr)})
		_, after1 := s.Stats(1)
		_, after2 := s.Stats(2)
		offered := after1.Frames - before1.Frames + after2.Frames - before2.Frames
		if len(fr) < header.EthernetMinimumSize && offered != 0 {
			t.Fatalf("runt of %d bytes forwarded", len(fr))
		}
		if offered > 2 {
			t.Fatalf("frame offered %d times on a 3-port switch", offered)
		}
	})
}

// FuzzWireFrames: cutting and checksumming arbitrary frames never panics, never produces a frame
// above the MTU from a TCP super-segment it accepted, and its output always passes ChecksumsValid.
func FuzzWireFrames(f *testing.F) {
	f.Add(superSegment(false, 5000), 1448)
	f.Add(superSegment(true, 3000), 1000)
	f.Add([]byte{1, 2, 3}, 0)
	f.Fuzz(func(t *testing.T, fr []byte, mss int) {
		ChecksumsValid(fr)
		out := WireFrames(fr, mss%70000, 1500)
		for _, o := range out {
			if len(out) > 1 && len(o) > 1514 {
				t.Fatalf("cut frame of %d bytes", len(o))
			}
			if len(out) > 1 && !ChecksumsValid(o) {
				t.Fatalf("cut frame with a bad checksum: %x", o)
			}
		}
	})
}
