package ftpcheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"
)

// Segment is one captured TCP segment, as it was on the wire (no reassembly): what a replay needs to
// send the client's bytes with their original segment boundaries.
type Segment struct {
	Packet   int64 // 1-based packet number in the capture
	Time     time.Time
	Src, Dst netip.AddrPort
	Seq      uint32
	SYN, ACK bool
	FIN, RST bool
	Payload  []byte // a copy
}

// MaxSegments bounds ReadSegments: a replay holds every segment in memory.
const MaxSegments = 1 << 20

// ReadSegments reads a pcap or pcapng capture and returns its TCP segments in capture order, with
// the same format detection and error messages as Analyze. Frames without TCP are skipped and
// counted in the summary. An empty result is not an error; a truncated capture is.
func ReadSegments(ctx context.Context, r io.Reader) ([]Segment, CaptureSummary, error) {
	cp, err := openCapture(r)
	if err != nil {
		return nil, CaptureSummary{}, err
	}
	sum := CaptureSummary{Format: cp.format}
	var out []Segment
	var d decoded
	var linkErr error
	for n := int64(1); ; n++ {
		if n&4095 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, sum, fmt.Errorf("reading stopped after packet %d: %w", n, err)
			}
		}
		data, ci, err := cp.src.ZeroCopyReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, sum, fmt.Errorf("capture is truncated: packet %d is cut short (was the capture stopped while writing? a complete file is needed): %w", n, err)
			}
			return nil, sum, fmt.Errorf("capture is corrupt at packet %d (not a valid %s record; is the file complete?): %w", n, cp.format, err)
		}
		sum.Packets = n
		sum.Bytes += int64(len(data))
		if n == 1 {
			sum.First = ci.Timestamp
		}
		sum.Last = ci.Timestamp
		if err := d.decode(cp.link(ci), data); err != nil {
			switch {
			case errors.Is(err, errSkip):
				sum.Skipped++
			case strings.HasPrefix(err.Error(), "link type"):
				sum.Skipped++
				if linkErr == nil {
					linkErr = fmt.Errorf("packet %d: %w", n, err)
				}
			default:
				sum.Malformed++
			}
			continue
		}
		if ci.CaptureLength < ci.Length {
			return nil, sum, fmt.Errorf("packet %d was captured cut to %d of %d bytes (snap length): a replay needs whole packets (capture with -s 0)", n, ci.CaptureLength, ci.Length)
		}
		if len(out) >= MaxSegments {
			return nil, sum, fmt.Errorf("capture has more than %d TCP segments: too large to replay", MaxSegments)
		}
		sum.TCPSegments++
		src, dst := d.netFlow.Endpoints()
		t := &d.tcp
		out = append(out, Segment{
			Packet: n, Time: ci.Timestamp,
			Src: addrPort(src, t.SrcPort), Dst: addrPort(dst, t.DstPort),
			Seq: t.Seq, SYN: t.SYN, ACK: t.ACK, FIN: t.FIN, RST: t.RST,
			Payload: append([]byte(nil), t.Payload...),
		})
	}
	if linkErr != nil && sum.TCPSegments == 0 {
		return nil, sum, linkErr
	}
	return out, sum, nil
}
