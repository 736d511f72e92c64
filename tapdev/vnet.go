//go:build linux

package tapdev

import (
	"encoding/binary"
	"errors"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"

	"github.com/netxsim/netxsim/stack/link"
)

// The virtio-net header the kernel puts before every frame read from, and expects before every
// frame written to, a TAP opened with IFF_VNET_HDR (struct virtio_net_hdr, little-endian).
const (
	vnetHdrLen = 10

	vnetFlagNeedsCsum = 1 // checksum is partial: csum_start/csum_offset say where to finish it
	vnetFlagDataValid = 2 // the kernel has checked the checksums

	vnetGSONone  = 0
	vnetGSOTCPv4 = 1
	vnetGSOTCPv6 = 4
	vnetGSOECN   = 0x80
)

// openVnet opens (or creates) the TAP name with IFF_VNET_HDR, which water cannot ask for, and
// sets its persist flag. It returns the file (close-on-exec, non-blocking, pollable) and the
// kernel's name for the TAP.
func openVnet(name string, persist bool) (*os.File, string, error) {
	fd, err := unix.Open(TunDevice, unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, "", &os.PathError{Op: "open", Path: TunDevice, Err: err}
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, "", err
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, "", os.NewSyscallError("ioctl TUNSETIFF", err)
	}
	p := 0
	if persist {
		p = 1
	}
	if err := unix.IoctlSetInt(fd, unix.TUNSETPERSIST, p); err != nil {
		unix.Close(fd)
		return nil, "", os.NewSyscallError("ioctl TUNSETPERSIST", err)
	}
	// The default header size is 10 bytes; set it anyway, a previous user may have changed it.
	if err := unix.IoctlSetPointerInt(fd, unix.TUNSETVNETHDRSZ, vnetHdrLen); err != nil {
		unix.Close(fd)
		return nil, "", os.NewSyscallError("ioctl TUNSETVNETHDRSZ", err)
	}
	return os.NewFile(uintptr(fd), TunDevice), ifr.Name(), nil
}

// setOffload tells the kernel which offloads the reader takes: partial checksums and TCP
// segmentation for IPv4 and IPv6, so the kernel hands over 64 KiB super-segments unsegmented.
func setOffload(f *os.File, flags int) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ierr error
	if err := rc.Control(func(fd uintptr) {
		_, _, e := unix.Syscall(unix.SYS_IOCTL, fd, unix.TUNSETOFFLOAD, uintptr(flags))
		if e != 0 {
			ierr = os.NewSyscallError("ioctl TUNSETOFFLOAD", e)
		}
	}); err != nil {
		return err
	}
	return ierr
}

// vnetEndpoint is a gVisor link endpoint on a TAP with virtio-net headers: it sends TCP
// super-segments of up to 64 KiB with a partial checksum (the kernel segments and checksums them,
// host GSO) and receives the kernel's super-segments whole with their checksum state (NEEDS_CSUM,
// DATA_VALID). gVisor's fdbased cannot do this on a TAP: it offers GSO only on sockets.
type vnetEndpoint struct {
	link.Ethernet // the Ethernet header
	link.Station  // MTU and MAC

	f    *os.File
	rc   syscall.RawConn // reads and writes park in the runtime poller, not in a thread
	name string
	log  *slog.Logger
	tso  bool // the kernel accepted TSO: send super-segments

	mu         sync.RWMutex
	dispatcher stack.NetworkDispatcher
	onClose    func()
	reading    bool
	wg         sync.WaitGroup
	stopRead   chan struct{}

	checksumDrops atomic.Uint64
}

var _ stack.LinkEndpoint = (*vnetEndpoint)(nil)
var _ stack.GSOEndpoint = (*vnetEndpoint)(nil)

func newVnetEndpoint(f *os.File, name string, mac tcpip.LinkAddress, mtu uint32, log *slog.Logger) (*vnetEndpoint, error) {
	sc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	e := &vnetEndpoint{f: f, rc: sc, name: name, log: log}
	e.SetMTU(mtu)
	e.SetLinkAddress(mac)
	flags := unix.TUN_F_CSUM | unix.TUN_F_TSO4 | unix.TUN_F_TSO6
	if err := setOffload(f, flags); err != nil {
		log.Debug("tap: the kernel refused TSO; trying checksum offload alone", "tap", name, "err", err)
		if err := setOffload(f, unix.TUN_F_CSUM); err != nil {
			log.Debug("tap: the kernel refused checksum offload; frames are MTU-sized both ways", "tap", name, "err", err)
		}
	} else {
		e.tso = true
		log.Debug("tap: virtio-net header, checksum offload and TSO4/6 on", "tap", name)
	}
	return e, nil
}

// Capabilities implements stack.LinkEndpoint: receive checksum offload (the kernel's DATA_VALID
// and NEEDS_CSUM frames are trusted, the rest is checked here, see deliver).
func (*vnetEndpoint) Capabilities() stack.LinkEndpointCapabilities {
	return stack.CapabilityResolutionRequired | stack.CapabilityRXChecksumOffload
}

// GSOMaxSize implements stack.GSOEndpoint.
func (e *vnetEndpoint) GSOMaxSize() uint32 {
	if !e.tso {
		return 0
	}
	return link.GSOMaxSize
}

// SupportedGSO implements stack.GSOEndpoint.
func (e *vnetEndpoint) SupportedGSO() stack.SupportedGSO {
	if !e.tso {
		return stack.GSONotSupported
	}
	return stack.HostGSOSupported
}

func (e *vnetEndpoint) SetOnCloseAction(f func()) {
	e.mu.Lock()
	e.onClose = f
	e.mu.Unlock()
}

// Attach starts the reader with d, or stops it and waits for it with nil.
func (e *vnetEndpoint) Attach(d stack.NetworkDispatcher) {
	e.mu.Lock()
	e.dispatcher = d
	if d != nil && !e.reading {
		e.reading = true
		e.stopRead = make(chan struct{})
		e.f.SetReadDeadline(time.Time{})
		e.wg.Add(1)
		go e.readLoop(e.stopRead)
		e.mu.Unlock()
		return
	}
	if d == nil && e.reading {
		e.reading = false
		close(e.stopRead)
		e.f.SetReadDeadline(time.Unix(1, 0)) // wakes the reader parked in the poller
		e.mu.Unlock()
		e.wg.Wait()
		return
	}
	e.mu.Unlock()
}

func (e *vnetEndpoint) IsAttached() bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.dispatcher != nil
}

// Wait implements stack.LinkEndpoint.
func (e *vnetEndpoint) Wait() { e.wg.Wait() }

// Close implements stack.LinkEndpoint; the TAP file is closed by the owning Endpoint.
func (e *vnetEndpoint) Close() {
	e.Attach(nil)
	e.mu.Lock()
	f := e.onClose
	e.onClose = nil
	e.mu.Unlock()
	if f != nil {
		f()
	}
}

// WritePackets implements stack.LinkEndpoint: one write per packet, virtio-net header first.
func (e *vnetEndpoint) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	n := 0
	var hdr [vnetHdrLen]byte
	iovs := make([][]byte, 0, 8)
	for _, pkt := range pkts.AsSlice() {
		hdr = [vnetHdrLen]byte{}
		if gso := pkt.GSOOptions; gso.NeedsCsum {
			hdr[0] = vnetFlagNeedsCsum
			binary.LittleEndian.PutUint16(hdr[6:], uint16(header.EthernetMinimumSize+gso.L3HdrLen))
			binary.LittleEndian.PutUint16(hdr[8:], gso.CsumOffset)
			if gso.Type != stack.GSONone && pkt.Data().Size() > int(gso.MSS) {
				switch gso.Type {
				case stack.GSOTCPv4:
					hdr[1] = vnetGSOTCPv4
				case stack.GSOTCPv6:
					hdr[1] = vnetGSOTCPv6
				}
				binary.LittleEndian.PutUint16(hdr[2:], uint16(pkt.HeaderSize()))
				binary.LittleEndian.PutUint16(hdr[4:], gso.MSS)
			}
		}
		iovs = append(iovs[:0], hdr[:])
		iovs = append(iovs, pkt.AsSlices()...)
		var werr error
		if err := e.rc.Write(func(fd uintptr) bool {
			_, werr = unix.Writev(int(fd), iovs)
			return werr != unix.EAGAIN
		}); err != nil {
			werr = err
		}
		if werr != nil {
			if n == 0 {
				if errors.Is(werr, os.ErrClosed) || errors.Is(werr, unix.EBADF) {
					return 0, &tcpip.ErrClosedForSend{}
				}
				e.log.Debug("tap write", "tap", e.name, "err", werr)
				return 0, &tcpip.ErrAborted{}
			}
			break
		}
		n++
	}
	return n, nil
}

// The reader scatters each frame: the headers land in a small view and the payload in pooled
// 32 KiB views, as gVisor's fdbased does, because gVisor copies a whole view when it takes a
// private copy of a header (PullUp of a shared chunk), and 64 KiB views are not pooled.
const (
	headView = 256
	bodyView = 32 << 10
	bodies   = 2 // 256 + 64 KiB holds the largest super-segment (64 KiB of IP) and its Ethernet header
)

func (e *vnetEndpoint) readLoop(stop chan struct{}) {
	defer e.wg.Done()
	var hdr [vnetHdrLen]byte
	views := make([]*buffer.View, 1+bodies)
	sizes := [1 + bodies]int{headView, bodyView, bodyView}
	defer func() {
		for _, v := range views {
			if v != nil {
				v.Release()
			}
		}
	}()
	iovs := make([][]byte, 1+len(views))
	iovs[0] = hdr[:]
	for {
		for i := range views {
			if views[i] == nil {
				views[i] = buffer.NewViewSize(sizes[i])
			}
			iovs[1+i] = views[i].AsSlice()
		}
		var n int
		var rerr error
		err := e.rc.Read(func(fd uintptr) bool {
			n, rerr = unix.Readv(int(fd), iovs)
			return rerr != unix.EAGAIN
		})
		select {
		case <-stop:
			return
		default:
		}
		if err == nil {
			err = rerr
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, unix.EINTR) {
				continue
			}
			e.log.Debug("tap reader stopped", "tap", e.name, "err", err)
			return
		}
		n -= vnetHdrLen
		if n < header.EthernetMinimumSize {
			continue
		}
		var buf buffer.Buffer
		for i := range views {
			if n <= 0 {
				break
			}
			v := views[i]
			views[i] = nil
			if n < v.Size() {
				v.CapLength(n)
			}
			n -= v.Size()
			buf.Append(v)
		}
		e.deliver(hdr, buf)
	}
}

// deliver hands one frame with its virtio-net header to the stack; it consumes buf.
func (e *vnetEndpoint) deliver(vh [vnetHdrLen]byte, buf buffer.Buffer) {
	flags, gsoType := vh[0], vh[1]&^vnetGSOECN
	gsoSize := binary.LittleEndian.Uint16(vh[4:])
	csumStart, csumOff := binary.LittleEndian.Uint16(vh[6:]), binary.LittleEndian.Uint16(vh[8:])
	e.mu.RLock()
	d, mac := e.dispatcher, e.LinkAddress()
	e.mu.RUnlock()
	hv, ok := buf.PullUp(0, header.EthernetMinimumSize)
	if d == nil || !ok {
		buf.Release()
		return
	}
	eth := header.Ethernet(hv.AsSlice())
	typ, ok := link.PacketTypeFor(eth.DestinationAddress(), mac)
	if !ok {
		buf.Release()
		return
	}
	proto := eth.Type()
	var gso stack.GSO
	switch {
	case flags&vnetFlagNeedsCsum != 0:
		gso.NeedsCsum = true
		gso.CsumOffset = csumOff
		if int(csumStart) >= header.EthernetMinimumSize {
			gso.L3HdrLen = csumStart - header.EthernetMinimumSize
		}
	case flags&vnetFlagDataValid == 0:
		// Neither partial nor checked: check it here, as the stack trusts the endpoint.
		if !link.ChecksumsValid(buf.Flatten()) {
			e.checksumDrops.Add(1)
			buf.Release()
			return
		}
	}
	switch gsoType {
	case vnetGSOTCPv4:
		gso.Type, gso.MSS = stack.GSOTCPv4, gsoSize
	case vnetGSOTCPv6:
		gso.Type, gso.MSS = stack.GSOTCPv6, gsoSize
	case vnetGSONone:
	default:
		buf.Release() // UDP segmentation was not offered
		return
	}
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buf})
	defer pkt.DecRef()
	if !e.ParseHeader(pkt) {
		return
	}
	pkt.PktType = typ
	pkt.GSOOptions = gso
	d.DeliverNetworkPacket(proto, pkt)
}
