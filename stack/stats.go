package stack

import "fmt"

// Stats is a snapshot of an IP instance's counters, in the spirit of NetX Duo's nx_ip_info_get,
// nx_tcp_info_get and nx_udp_info_get. Counters are cumulative since New.
type Stats struct {
	// Link (NIC) level.
	FramesIn, FramesOut uint64 // Ethernet frames received / sent
	BytesIn, BytesOut   uint64
	FramesDropped       uint64 // dropped by the stack: unknown protocol, disabled NIC, no buffer space

	// IP (v4 and v6 together).
	IPPacketsIn        uint64 // received by IP
	IPPacketsDelivered uint64 // handed to a transport protocol
	IPPacketsOut       uint64
	IPInvalidDest      uint64 // not for us
	IPMalformed        uint64 // bad header or header checksum
	IPOutErrors        uint64

	// ICMP.
	ICMPEchoRequestsIn, ICMPEchoRepliesOut uint64 // echo requests answered by the stack
	ICMPEchoRequestsOut, ICMPEchoRepliesIn uint64 // from Ping

	// ARP and NDP.
	ARPRequestsIn, ARPRepliesIn, ARPRequestsOut, ARPRepliesOut uint64
	NeighborSolicitsIn, NeighborAdvertsIn                      uint64
	NeighborSolicitsOut, NeighborAdvertsOut                    uint64

	ChecksumErrors uint64 // TCP + UDP + ICMP checksum failures

	// TCP.
	TCPActiveOpens, TCPPassiveOpens uint64 // connections initiated / accepted
	TCPEstablished                  uint64 // connections now in ESTABLISHED or CLOSE-WAIT
	TCPFailedAttempts               uint64
	TCPSegmentsIn, TCPSegmentsOut   uint64
	TCPInvalidSegmentsIn            uint64
	TCPRetransmits                  uint64
	TCPTimeouts                     uint64 // retransmission timer expirations
	TCPResetsIn, TCPResetsOut       uint64

	// UDP.
	UDPPacketsIn, UDPPacketsOut, UDPUnknownPort uint64
}

// Stats returns a snapshot of the instance's counters.
func (ip *IP) Stats() Stats {
	st := ip.s.Stats()
	var out Stats
	if info, ok := ip.s.NICInfo()[nicID]; ok {
		out.FramesIn = info.Stats.Rx.Packets.Value()
		out.BytesIn = info.Stats.Rx.Bytes.Value()
		out.FramesOut = info.Stats.Tx.Packets.Value()
		out.BytesOut = info.Stats.Tx.Bytes.Value()
		out.FramesDropped = info.Stats.TxPacketsDroppedNoBufferSpace.Value() + info.Stats.DisabledRx.Packets.Value() +
			info.Stats.MalformedL4RcvdPackets.Value()
	}
	out.FramesDropped += st.DroppedPackets.Value()

	out.IPPacketsIn = st.IP.PacketsReceived.Value()
	out.IPPacketsDelivered = st.IP.PacketsDelivered.Value()
	out.IPPacketsOut = st.IP.PacketsSent.Value()
	out.IPInvalidDest = st.IP.InvalidDestinationAddressesReceived.Value()
	out.IPMalformed = st.IP.MalformedPacketsReceived.Value()
	out.IPOutErrors = st.IP.OutgoingPacketErrors.Value()

	v4, v6 := st.ICMP.V4, st.ICMP.V6
	out.ICMPEchoRequestsIn = v4.PacketsReceived.EchoRequest.Value() + v6.PacketsReceived.EchoRequest.Value()
	out.ICMPEchoRepliesOut = v4.PacketsSent.EchoReply.Value() + v6.PacketsSent.EchoReply.Value()
	out.ICMPEchoRequestsOut = v4.PacketsSent.EchoRequest.Value() + v6.PacketsSent.EchoRequest.Value()
	out.ICMPEchoRepliesIn = v4.PacketsReceived.EchoReply.Value() + v6.PacketsReceived.EchoReply.Value()
	out.NeighborSolicitsIn = v6.PacketsReceived.NeighborSolicit.Value()
	out.NeighborAdvertsIn = v6.PacketsReceived.NeighborAdvert.Value()
	out.NeighborSolicitsOut = v6.PacketsSent.NeighborSolicit.Value()
	out.NeighborAdvertsOut = v6.PacketsSent.NeighborAdvert.Value()

	out.ARPRequestsIn = st.ARP.RequestsReceived.Value()
	out.ARPRepliesIn = st.ARP.RepliesReceived.Value()
	out.ARPRequestsOut = st.ARP.OutgoingRequestsSent.Value()
	out.ARPRepliesOut = st.ARP.OutgoingRepliesSent.Value()

	out.ChecksumErrors = st.TCP.ChecksumErrors.Value() + st.UDP.ChecksumErrors.Value() +
		v4.PacketsReceived.Invalid.Value() + v6.PacketsReceived.Invalid.Value()

	out.TCPActiveOpens = st.TCP.ActiveConnectionOpenings.Value()
	out.TCPPassiveOpens = st.TCP.PassiveConnectionOpenings.Value()
	out.TCPEstablished = st.TCP.CurrentEstablished.Value()
	out.TCPFailedAttempts = st.TCP.FailedConnectionAttempts.Value()
	out.TCPSegmentsIn = st.TCP.ValidSegmentsReceived.Value()
	out.TCPSegmentsOut = st.TCP.SegmentsSent.Value()
	out.TCPInvalidSegmentsIn = st.TCP.InvalidSegmentsReceived.Value()
	out.TCPRetransmits = st.TCP.Retransmits.Value()
	out.TCPTimeouts = st.TCP.Timeouts.Value()
	out.TCPResetsIn = st.TCP.ResetsReceived.Value()
	out.TCPResetsOut = st.TCP.ResetsSent.Value()

	out.UDPPacketsIn = st.UDP.PacketsReceived.Value()
	out.UDPPacketsOut = st.UDP.PacketsSent.Value()
	out.UDPUnknownPort = st.UDP.UnknownPortErrors.Value()
	return out
}

// String summarises the most telling counters on one line.
func (s Stats) String() string {
	return fmt.Sprintf("frames in/out %d/%d dropped %d; IP in/out %d/%d malformed %d; checksum errors %d; "+
		"TCP opens active/passive %d/%d established %d segs in/out %d/%d retransmits %d; "+
		"pings answered %d of %d received; pings sent %d, replies %d",
		s.FramesIn, s.FramesOut, s.FramesDropped, s.IPPacketsIn, s.IPPacketsOut, s.IPMalformed, s.ChecksumErrors,
		s.TCPActiveOpens, s.TCPPassiveOpens, s.TCPEstablished, s.TCPSegmentsIn, s.TCPSegmentsOut, s.TCPRetransmits,
		s.ICMPEchoRepliesOut, s.ICMPEchoRequestsIn, s.ICMPEchoRequestsOut, s.ICMPEchoRepliesIn)
}
