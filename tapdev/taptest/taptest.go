//go:build linux

// Package taptest is the shared harness for tests that put the simulated
// device on a Linux TAP and talk to it from the real kernel.
//
// New creates a network namespace of its own with a TAP inside, addresses
// the kernel side (198.51.100.1/24, 2001:db8::1/64), starts a device
// *stack.IP (198.51.100.2/24, 2001:db8::2/64) on the TAP and waits until
// it answers. Everything it made, and every process started through Env, is
// removed by t.Cleanup, also when the test fails midway. Names are random,
// so packages using taptest can run in parallel.
package taptest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/stack/capture"
	"github.com/netxsim/netxsim/tapdev"
	gstack "gvisor.dev/gvisor/pkg/tcpip/stack"
)

// Default addresses: device and kernel (host) side.
var (
	DevPrefix4  = netip.MustParsePrefix("198.51.100.2/24")
	HostPrefix4 = netip.MustParsePrefix("198.51.100.1/24")
	DevPrefix6  = netip.MustParsePrefix("2001:db8::2/64")
	HostPrefix6 = netip.MustParsePrefix("2001:db8::1/64")
	// DevMAC is the device's Ethernet address (locally administered).
	DevMAC = net.HardwareAddr{0x02, 0x4e, 0x58, 0x00, 0x00, 0x02}
)

// Options tune New.
type Options struct {
	// Pcap, when set, is a pcapng file that receives every frame the
	// device sends and receives on the TAP, Ethernet headers included.
	Pcap string
	// NoIPv6 leaves IPv6 off on the device (the kernel side still has
	// 2001:db8::1, which then goes unanswered).
	NoIPv6 bool
	// NoOffload opens the TAP without virtio-net headers (see
	// tapdev.Config.NoOffload).
	NoOffload bool
}

// Env is one device on one TAP in one namespace.
type Env struct {
	Device *stack.IP
	NS     string // network namespace name (ip netns exec NS ...)
	TAP    string // TAP name, inside NS

	HostV4, HostV6, DevV4, DevV6 netip.Addr

	// NetNS is the namespace, for Go code that needs to act inside it.
	NetNS *tapdev.NetNS

	tap   *tapdev.TAP
	setup *tapdev.Setup
	pcap  *capture.Writer

	mu    sync.Mutex
	procs []*exec.Cmd
	done  bool
}

// Skip reports why TAP tests cannot run here, or "" if they can.
func Skip() string {
	if why := tapdev.Supported(); why != "" {
		return "taptest " + why
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "needs ip from iproute2"
	}
	return ""
}

// Name returns prefix plus a random hex suffix, at most 15 bytes so it
// fits an interface name.
func Name(prefix string) string {
	if (15-len(prefix))/2 < 2 {
		panic("taptest: name prefix too long: " + prefix)
	}
	return tapdev.RandomName(prefix)
}

// New builds the environment or skips the test with the reason. It fails
// the test (t.Fatal) if something that should work does not.
func New(t testing.TB, opt Options) *Env {
	t.Helper()
	if why := Skip(); why != "" {
		t.Skip(why)
	}
	name := Name("nxs")
	e := &Env{
		NS: name, TAP: name,
		HostV4: HostPrefix4.Addr(), DevV4: DevPrefix4.Addr(),
		HostV6: HostPrefix6.Addr(), DevV6: DevPrefix6.Addr(),
	}
	// One cleanup, registered before anything else is made, tears down in order whatever exists by
	// then. The namespace, the TAP and the kernel side are made as netxsim.Network.TAP makes them
	// (tapdev.SetupTAP; taptest cannot use the root package itself: ftp/client's in-package tests use
	// taptest, and the root package imports ftp/client).
	t.Cleanup(func() {
		if err := e.close(); err != nil {
			t.Errorf("taptest cleanup: %v", err)
		}
	})
	setup, err := tapdev.SetupTAP(tapdev.SetupConfig{
		TAP:   tapdev.Config{Name: name, MAC: DevMAC, NoOffload: opt.NoOffload},
		NetNS: name, CreateNetNS: true, HostAddrs: []netip.Prefix{HostPrefix4, HostPrefix6},
	})
	if err != nil {
		t.Fatalf("taptest: %v", err)
	}
	e.setup, e.NetNS, e.tap = setup, setup.NS, setup.TAP

	var ep gstack.LinkEndpoint = setup.TAP.Endpoint()
	if opt.Pcap != "" {
		w, err := capture.Create(opt.Pcap, capture.PcapNG)
		if err != nil {
			t.Fatalf("taptest: %v", err)
		}
		e.pcap = w
		cep, err := capture.New(ep, w, name)
		if err != nil {
			t.Fatalf("taptest: capture: %v", err)
		}
		ep = cep
	}
	cfg := stack.Config{
		Name:    name,
		MAC:     DevMAC,
		IPv4:    DevPrefix4,
		IPv6:    !opt.NoIPv6,
		SkipDAD: true,
		TxQueue: stack.DefaultTxQueue, // as netxsim.Network gives devices on a TAP
	}
	if !opt.NoIPv6 {
		cfg.IPv6Global = []netip.Prefix{DevPrefix6}
	}
	dev, err := stack.New(context.Background(), cfg, ep)
	if err != nil {
		ep.Close()
		t.Fatalf("taptest: device stack: %v", err)
	}
	e.Device = dev

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	targets := []netip.Addr{e.DevV4}
	if !opt.NoIPv6 {
		targets = append(targets, e.DevV6)
	}
	for _, a := range targets {
		if err := e.waitPing(ctx, a); err != nil {
			t.Fatalf("taptest: device %v does not answer from the kernel side: %v", a, err)
		}
	}
	return e
}

// waitPing pings a from inside the namespace until it answers.
func (e *Env) waitPing(ctx context.Context, a netip.Addr) error {
	var last error
	for ctx.Err() == nil {
		out, err := e.Command(ctx, "ping", "-n", "-c1", "-W1", a.String()).CombinedOutput()
		if err == nil {
			return nil
		}
		last = fmt.Errorf("%w: %s", err, strings.TrimSpace(string(out)))
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	return errors.Join(ctx.Err(), last)
}

// LinkLocalZoned is the device's IPv6 link-local address with the TAP as
// zone, as the kernel side writes it (fe80::...%nxs...).
func (e *Env) LinkLocalZoned() netip.Addr {
	return e.Device.LinkLocal().WithZone(e.TAP)
}

// Command is a command run inside the namespace (ip netns exec).
func (e *Env) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return e.NetNS.Command(ctx, name, args...)
}

// Start starts a long-running peer (a server, a listener) inside the
// namespace and kills it at cleanup if it still runs. Its output is
// discarded; to read it, prepare the command with Command and pipes and
// start it with StartCmd.
func (e *Env) Start(t testing.TB, name string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := e.NetNS.Command(context.Background(), name, args...)
	if err := e.StartCmd(cmd); err != nil {
		t.Fatalf("taptest: %v", err)
	}
	return cmd
}

// StartCmd starts a command the caller prepared (for instance with
// Command, with pipes attached) and kills it at cleanup. Its process group
// is killed, so children it forked go too.
func (e *Env) StartCmd(cmd *exec.Cmd) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.done {
		return errors.New("taptest: environment already closed")
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", strings.Join(cmd.Args, " "), err)
	}
	e.procs = append(e.procs, cmd)
	return nil
}

// KernelDialer listens and dials over the kernel's TCP from inside the
// namespace (Listen/Dial like stack.Kernel), for Go test code that plays
// the host side.
func (e *Env) KernelDialer() tapdev.Kernel { return e.NetNS.Kernel() }

// close tears down in order: processes, device stack, capture, then TAP and namespace (Setup.Close).
func (e *Env) close() error {
	e.mu.Lock()
	e.done = true
	procs := e.procs
	e.procs = nil
	e.mu.Unlock()

	var errs []error
	for _, p := range procs {
		if p.Process == nil {
			continue
		}
		syscall.Kill(-p.Process.Pid, syscall.SIGKILL)
		p.Process.Kill()
		done := make(chan struct{})
		go func() { p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			errs = append(errs, fmt.Errorf("process %d (%s) did not exit after SIGKILL", p.Process.Pid, p.Path))
		}
	}
	if e.Device != nil {
		if err := e.Device.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close device: %w", err))
		}
	}
	if e.pcap != nil {
		if err := e.pcap.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if e.setup != nil {
		if err := e.setup.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
