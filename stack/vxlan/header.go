// Package vxlan is a link endpoint that carries the device's Ethernet frames over UDP with the VXLAN
// header of RFC 7348, to a peer netxsim process or to a Linux vxlan interface (or any VTEP: Open
// vSwitch, a Kubernetes CNI). It needs no privileges: one UDP socket is all it uses.
//
// The endpoint is point to point: frames go to one remote VTEP, and only datagrams from the remote's
// IP address with the configured VNI are accepted (from any source port, because Linux picks the UDP
// source port from a hash of the inner flow). Multicast underlays and learning of several remotes
// (what Linux does with `group` or an FDB) are not implemented.
package vxlan

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// HeaderLen is the size of the VXLAN header.
const HeaderLen = 8

// DefaultPort is the IANA port for VXLAN (RFC 7348 section 5). Linux's vxlan driver uses 8472 unless
// told `dstport 4789`.
const DefaultPort = 4789

// MaxVNI is the largest VXLAN network identifier (24 bits).
const MaxVNI = 1<<24 - 1

// flagI is the "I" flag: the VNI is valid. RFC 7348: it MUST be set; the other flag bits and the
// reserved fields are sent as zero and ignored on receipt.
const flagI = 0x08

// ErrNotVXLAN reports a datagram that is too short or lacks the I flag.
var ErrNotVXLAN = errors.New("vxlan: not a VXLAN datagram (too short or I flag clear)")

// PutHeader writes the VXLAN header for vni into b[:HeaderLen].
func PutHeader(b []byte, vni uint32) {
	binary.BigEndian.PutUint32(b[0:4], flagI<<24)
	binary.BigEndian.PutUint32(b[4:8], vni<<8)
}

// ParseHeader returns the VNI of a VXLAN datagram and the inner Ethernet frame (a sub-slice of b).
func ParseHeader(b []byte) (vni uint32, frame []byte, err error) {
	if len(b) < HeaderLen || b[0]&flagI == 0 {
		return 0, nil, ErrNotVXLAN
	}
	return binary.BigEndian.Uint32(b[4:8]) >> 8, b[HeaderLen:], nil
}

func checkVNI(vni uint32) error {
	if vni > MaxVNI {
		return fmt.Errorf("vxlan: VNI %d out of range 0..%d (24 bits)", vni, MaxVNI)
	}
	return nil
}
