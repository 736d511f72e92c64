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
