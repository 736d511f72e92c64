//go:build linux

package tapdev

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
)

// SetupConfig is a TAP with its namespace and kernel side, as everything that puts a device on a TAP
// makes it (netxsim.Network.TAP, taptest): one place for the order of making and of removing.
type SetupConfig struct {
	// TAP is the TAP to open or create; its NetNS is set by SetupTAP.
	TAP Config
	// NetNS is the namespace the TAP lives in; "" is the caller's own.
	NetNS string
	// CreateNetNS creates NetNS (it must not exist) and deletes it on Close; without it NetNS must
	// exist (it is opened, and closed again).
	CreateNetNS bool
	// Private says the caller's own namespace was made for this process (netxsim shell, --rootless),
	// so the kernel side is configured there, with NetNS "".
	Private bool
	// HostAddrs are the kernel side's addresses, put on the TAP when the namespace or the TAP is made
	// here (never on the caller's own interfaces), then the link is brought up.
	HostAddrs []netip.Prefix
}

// Setup is what SetupTAP made.
type Setup struct {
	NS   *NetNS // the TAP's namespace; nil: the caller's own
	TAP  *TAP
	Host []netip.Prefix // the kernel side's addresses configured here (none on a user's TAP)
	undo []func() error
}

// SetupTAP makes the namespace (or opens it), the TAP in it and the kernel side's addresses. The
// addresses are checked first (192.0.2.0/24 is refused); on any failure what was made is removed.
func SetupTAP(cfg SetupConfig) (_ *Setup, err error) {
	for _, p := range cfg.HostAddrs {
		if err := CheckPrefix(p); err != nil {
			return nil, fmt.Errorf("kernel side: %w", err)
		}
	}
	if len(cfg.HostAddrs) > 0 && cfg.NetNS == "" && !cfg.CreateNetNS && !cfg.Private {
		return nil, errors.New("kernel-side addresses need a namespace (NetNS or CreateNetNS): netxsim never configures the caller's own interfaces")
	}
	s := &Setup{}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	switch {
	case cfg.CreateNetNS:
		if NetNSExists(cfg.NetNS) {
			return nil, fmt.Errorf("namespace %s exists: a new one is made for the TAP; pick another name or remove it with `ip netns del %s`", cfg.NetNS, cfg.NetNS)
		}
		ns, err := CreateNetNS(cfg.NetNS)
		if err != nil {
			return nil, err
		}
		s.NS = ns
		s.undo = append(s.undo, ns.Delete)
	case cfg.Private && cfg.NetNS == "":
		ns, err := CurrentNetNS()
		if err != nil {
			return nil, err
		}
		s.NS = ns
		s.undo = append(s.undo, ns.Close)
		if err := ns.LinkUp("lo"); err != nil {
			return nil, fmt.Errorf("loopback up: %w", err)
		}
	case cfg.NetNS != "":
		ns, err := OpenNetNS(cfg.NetNS)
		if err != nil {
			return nil, fmt.Errorf("namespace %s: %w", cfg.NetNS, err)
		}
		s.NS = ns
		s.undo = append(s.undo, ns.Close)
	}
	tc := cfg.TAP
	tc.NetNS = s.NS
	tap, err := Open(tc)
	if err != nil {
		return nil, err
	}
	s.TAP = tap
	s.undo = append(s.undo, func() error {
		if err := tap.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			return err
		}
		return nil
	})
	// The kernel side is configured only where it is ours: a namespace made here, or a TAP made here
	// in the given namespace (an existing TAP is the user's, with the user's addresses).
	if s.NS != nil && (cfg.CreateNetNS || cfg.Private || tap.Created()) {
		for _, p := range cfg.HostAddrs {
			if err := s.NS.AddAddr(tap.Name(), p); err != nil {
				return nil, err
			}
		}
		s.Host = cfg.HostAddrs
		if err := s.NS.LinkUp(tap.Name()); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Close removes what SetupTAP made, newest first: the TAP (a TAP made here goes, a user's stays),
// then the namespace (deleted when made here, else closed). Later calls do nothing.
func (s *Setup) Close() error {
	var errs []error
	for i := len(s.undo) - 1; i >= 0; i-- {
		errs = append(errs, s.undo[i]())
	}
	s.undo = nil
	return errors.Join(errs...)
}
