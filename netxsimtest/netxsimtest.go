// Package netxsimtest is httptest for netxsim: New gives a test a Network with a device and a host
// on an in-memory link (optionally impaired), closed on t.Cleanup, whose capture is then verified with
// ftpcheck (every FTP session in it must pass); ServeFTP and Login put an FTP server on the device
// and a logged-in client on the host in one line each.
package netxsimtest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netxsim/netxsim"
	"github.com/netxsim/netxsim/fsimage"
	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/ftp/client"
	"github.com/netxsim/netxsim/ftp/ftpcheck"
	"github.com/netxsim/netxsim/ftp/server"
	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/stack/link"
)

// TB is the part of testing.TB that New needs (testing.T, testing.B and testing.F have it).
type TB interface {
	Helper()
	Cleanup(func())
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	TempDir() string
}

var _ TB = testing.TB(nil)

// User and Password are the account ServeFTP creates and Login uses.
const (
	User     = "netx"
	Password = "netx"
)

// Env is a running test network: Device (198.51.100.2, 2001:db8::2) and Host (198.51.100.1,
// 2001:db8::1) on the segment Link.
type Env struct {
	*netxsim.Network
	Link         *netxsim.Segment
	Device, Host *netxsim.Device
	Server       *server.Server // set by ServeFTP
	// CapturePath is the capture file, in the test's temporary directory.
	CapturePath string

	opt options
}

type options struct {
	atob, btoa link.Impairment
	noVerify   bool
	noCapture  bool
	profile    ftp.Profile
	expect     map[string]ftpcheck.FileExpect
	signature  *stack.Signature
	windows    stack.Windows
}

// Option tunes New.
type Option func(*options)

// Loss drops each frame with probability p, both directions.
func Loss(p float64) Option {
	return func(o *options) { o.atob.Loss, o.btoa.Loss = p, p }
}

// Impair sets the impairments of both directions (device to host, host to device).
func Impair(toHost, toDevice link.Impairment) Option {
	return func(o *options) { o.atob, o.btoa = toHost, toDevice }
}

// NoVerify leaves the capture unchecked at cleanup (for tests that make violations on purpose).
func NoVerify() Option { return func(o *options) { o.noVerify = true } }

// NoCapture records nothing (and so verifies nothing): for tests of one component that only need two
// connected stacks.
func NoCapture() Option { return func(o *options) { o.noCapture, o.noVerify = true, true } }

// Profile is the profile the capture is verified against (default: auto-detected) and, when it is an
// FTP profile, the one the device stands for: extended gives it gVisor's Linux-like signature.
func Profile(p ftp.Profile) Option { return func(o *options) { o.profile = p } }

// Signature sets the device's stack signature (default: NetX Duo's, as the device stands for one
// with a NetX-like profile; stack.SignatureGVisor for fast bulk transfers).
func Signature(s stack.Signature) Option { return func(o *options) { o.signature = &s } }

// Windows sets the device's receive windows (zero fields: the signature's defaults).
func Windows(w stack.Windows) Option { return func(o *options) { o.windows = w } }

// New starts the network and registers its Close and the capture's verification on t.Cleanup. The
// stacks skip DAD, so New returns in milliseconds. The device looks like NetX Duo on the wire
// (stack.SignatureNetX: its windows of 400 and 2,048 bytes make bulk uploads to it slower; see
// Signature), the host like Linux.
func New(t TB, opts ...Option) *Env {
	t.Helper()
	var o options
	for _, f := range opts {
		f(&o)
	}
	e := &Env{opt: o}
	if !o.noCapture {
		e.CapturePath = filepath.Join(t.TempDir(), "capture.pcapng")
	}
	e.Network = &netxsim.Network{Capture: e.CapturePath}
	t.Cleanup(func() { e.finish(t) })
	seg, err := e.Pair("link", link.PairConfig{AtoB: o.atob, BtoA: o.btoa})
	if err != nil {
		t.Fatalf("netxsimtest: %v", err)
	}
	e.Link = seg
	// The device stands for a NetX Duo device: the Profile option's, else netxduo. So it looks like
	// NetX on the wire unless that profile is extended or Signature says otherwise; the host is Linux-like.
	prof := ftp.ProfileNetXDuo
	if o.profile != "" && o.profile.Valid() {
		prof = o.profile
	}
	devs, err := e.AddDevices(context.Background(), seg,
		netxsim.DeviceConfig{Config: stack.Config{Name: "dev", MAC: netxsim.MAC(2), IPv4: netxsim.DeviceIPv4,
			IPv6: true, IPv6Global: []netip.Prefix{netxsim.DeviceIPv6}, SkipDAD: true, Windows: o.windows},
			Profile: prof, StackSignature: o.signature},
		netxsim.DeviceConfig{Config: stack.Config{Name: "host", MAC: netxsim.MAC(1), IPv4: netxsim.HostIPv4,
			IPv6: true, IPv6Global: []netip.Prefix{netxsim.HostIPv6}, SkipDAD: true}})
	if err != nil {
		t.Fatalf("netxsimtest: %v", err)
	}
	e.Device, e.Host = devs[0], devs[1]
	return e
}

// ServeFTP formats a FAT RAM image of size bytes on the device and serves it on port 21 with the
// profile, user User/Password read-write; it returns the image.
func (e *Env) ServeFTP(t TB, size int64, profile ftp.Profile) *fsimage.FS {
	t.Helper()
	img, err := e.Device.FormatRAM(size, fsimage.FormatOptions{Label: "NETXSIM"})
	if err != nil {
		t.Fatalf("netxsimtest: %v", err)
	}
	e.Server = &server.Server{Profile: profile, Login: server.Users(map[string]string{User: Password}, server.Deny)}
	if err := e.Device.ServeFTP(context.Background(), e.Server); err != nil {
		t.Fatalf("netxsimtest: %v", err)
	}
	return img
}

// Login connects the host's FTP client to the device's server over IPv4 and logs in as User.
func (e *Env) Login(t TB, opts ...client.Option) *client.Client {
	t.Helper()
	dev, _ := e.Device.Addr(false)
	c, err := e.Host.Login(context.Background(), netip.AddrPortFrom(dev, 21), User, Password, opts...)
	if err != nil {
		t.Fatalf("netxsimtest: %v", err)
	}
	return c
}

// Expect makes the verification check a transferred file by its base name.
func (e *Env) Expect(name string, size int64, sha256 string) {
	if e.opt.expect == nil {
		e.opt.expect = map[string]ftpcheck.FileExpect{}
	}
	e.opt.expect[name] = ftpcheck.FileExpect{Size: size, SHA256: sha256}
}

// finish closes the network and verifies the capture: every check of every FTP session must pass.
func (e *Env) finish(t TB) {
	t.Helper()
	if err := e.Close(); err != nil {
		t.Errorf("netxsimtest: close: %v", err)
	}
	if e.opt.noVerify {
		return
	}
	if _, err := Verify(e.CapturePath, ftpcheck.Options{Profile: e.opt.profile, Files: e.opt.expect}); err != nil {
		t.Errorf("netxsimtest: %v", err)
	}
}

// Verify analyses a capture file and returns the report with an error naming every failed check.
func Verify(path string, opt ftpcheck.Options) (*ftpcheck.Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("verify capture: %w", err)
	}
	defer f.Close()
	rep, err := ftpcheck.Analyze(context.Background(), f, opt)
	if err != nil {
		return nil, fmt.Errorf("verify capture %s: %w", path, err)
	}
	var fails []string
	for _, s := range rep.Sessions {
		for _, c := range s.Checks {
			if c.Status == ftpcheck.StatusFail {
				fails = append(fails, fmt.Sprintf("session %d: %s: %s", s.ID, c.Name, strings.Join(c.Messages, "; ")))
			}
		}
	}
	if len(rep.Sessions) > 0 {
		for _, c := range rep.Checks {
			if c.Status == ftpcheck.StatusFail {
				fails = append(fails, fmt.Sprintf("capture: %s: %s", c.Name, strings.Join(c.Messages, "; ")))
			}
		}
	}
	if len(fails) > 0 {
		return rep, errors.New("capture verification failed: " + strings.Join(fails, " | "))
	}
	return rep, nil
}
