package democmd

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"time"

	"github.com/netxsim/netxsim/ftp"
)

// PingPhase pings the device from the host over IPv4, IPv6 link-local (zoned with the host's NIC)
// and IPv6 global; the first pings also resolve neighbours (ARP, NDP). In TAP mode the host is the
// kernel, so the device pings the kernel's IPv4 and IPv6 addresses instead.
func PingPhase(ctx context.Context, env *Env) error {
	type target struct {
		what string
		dst  netip.Addr
	}
	from := env.Host
	targets := []target{
		{"IPv4", DeviceV4.Addr()},
		{"IPv6 link-local", env.Device.LinkLocal().WithZone(HostName)},
		{"IPv6 global", DeviceV6.Addr()},
	}
	if from == nil {
		from = env.Device
		targets = []target{{"IPv4 dev->kernel", HostV4.Addr()}, {"IPv6 dev->kernel", HostV6.Addr()}}
	}
	for _, t := range targets {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		rtt, err := from.Ping(pctx, t.dst)
		cancel()
		if err != nil {
			return fmt.Errorf("%s: %w", t.what, err)
		}
		env.Reportf("%-16s %-28s reply in %s", t.what, t.dst, rtt.Round(time.Microsecond))
	}
	return nil
}

// Peer is the Listen/Dial shape shared by stack.IP and stack.Kernel.
type Peer = ftp.Network

// TCPPhase sends a stream of Options.StreamSize bytes each way over IPv4 and IPv6 and compares SHA-256.
// A size of 0 skips it.
func TCPPhase(ctx context.Context, env *Env) error {
	if env.Opts.StreamSize == 0 {
		env.Reportf("streams skipped (--size 0)")
		return nil
	}
	for i, t := range []struct {
		what     string
		from, to Peer
		dst      netip.Addr
	}{
		{"IPv4 dev->host", env.Device, env.HostNet, HostV4.Addr()},
		{"IPv4 host->dev", env.HostNet, env.Device, DeviceV4.Addr()},
		{"IPv6 dev->host", env.Device, env.HostNet, HostV6.Addr()},
		{"IPv6 host->dev", env.HostNet, env.Device, DeviceV6.Addr()},
	} {
		res, err := Stream(ctx, t.from, t.to, t.dst, env.Opts.StreamSize, env.Opts.Seed+uint64(i))
		if err != nil {
			return fmt.Errorf("%s: %w", t.what, err)
		}
		env.Reportf("%-16s %d MiB in %s = %.0f Mbit/s, sha256 %x.. match", t.what, res.Bytes>>20,
			res.Elapsed.Round(time.Millisecond), res.Mbps(), res.Sum[:6])
	}
	return nil
}

// StreamResult describes one verified transfer.
type StreamResult struct {
	Bytes   int64
	Elapsed time.Duration
	Sum     [32]byte
}

// Mbps is the goodput in megabits per second.
func (r StreamResult) Mbps() float64 {
	return float64(r.Bytes) * 8 / r.Elapsed.Seconds() / 1e6
}

// Stream sends n seeded pseudo-random bytes from `from` to a listener on `to` at dst and checks that
// the receiver got exactly those bytes (length and SHA-256).
func Stream(ctx context.Context, from, to Peer, dst netip.Addr, n int64, seed uint64) (StreamResult, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	ln, err := to.Listen(ctx, netip.AddrPortFrom(dst, 0))
	if err != nil {
		return StreamResult{}, err
	}
	defer ln.Close()
	type recv struct {
		n   int64
		sum [32]byte
		err error
	}
	got := make(chan recv, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- recv{err: fmt.Errorf("accept: %w", err)}
			return
		}
		defer c.Close()
		h := sha256.New()
		m, err := io.Copy(h, c)
		var r recv
		r.n, r.err = m, err
		copy(r.sum[:], h.Sum(nil))
		got <- r
	}()
	start := time.Now()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	c, err := from.Dial(ctx, netip.AddrPort{}, netip.AddrPortFrom(dst, port))
	if err != nil {
		return StreamResult{}, err
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	h := sha256.New()
	var seedBytes [32]byte
	binary.LittleEndian.PutUint64(seedBytes[:], seed)
	src := io.TeeReader(io.LimitReader(rand.NewChaCha8(seedBytes), n), h)
	if _, err := io.Copy(c, src); err != nil {
		c.Close()
		return StreamResult{}, fmt.Errorf("send: %w", err)
	}
	if err := c.Close(); err != nil {
		return StreamResult{}, fmt.Errorf("close: %w", err)
	}
	var r recv
	select {
	case r = <-got:
	case <-ctx.Done():
		ln.Close()
		return StreamResult{}, fmt.Errorf("receive: %w", ctx.Err())
	}
	if r.err != nil {
		return StreamResult{}, fmt.Errorf("receive: %w", r.err)
	}
	res := StreamResult{Bytes: r.n, Elapsed: time.Since(start)}
	copy(res.Sum[:], h.Sum(nil))
	if r.n != n || r.sum != res.Sum {
		return res, fmt.Errorf("data differ: sent %d bytes sha256 %x, received %d bytes sha256 %x", n, res.Sum, r.n, r.sum)
	}
	return res, nil
}
