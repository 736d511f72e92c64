// Package scenario is netxsim's scenario engine: a YAML file (or a Go value, as the built-in demo)
// describes devices with IP addresses, FTP servers and FAT images, the links between them (in memory
// with impairments, or a Linux TAP), FTP sessions to run, and what must hold afterwards. Run builds the
// network with one capture, runs the sessions in order, verifies the capture with ftpcheck, writes the
// artifacts and says whether every expectation held.
package scenario

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/stack/vxlan"
)

// Scenario is one complete run. The YAML field names are given in the struct tags; see docs/scenarios.md.
type Scenario struct {
	Name        string        `yaml:"name"`
	Description string        `yaml:"description,omitempty"`
	Timeout     time.Duration `yaml:"timeout,omitempty"` // the whole run; 0: 2 minutes
	Devices     []Device      `yaml:"devices"`
	Links       []Link        `yaml:"links,omitempty"`    // two-device links (a segment each)
	Segments    []Segment     `yaml:"segments,omitempty"` // switches and TAPs with any number of devices
	Steps       []Step        `yaml:"steps"`
	Expect      Expect        `yaml:"expect,omitempty"`

	segs []Segment // links and segments, filled by validate

	// Dir is where relative paths (image and put files) are resolved; Load sets it to the file's directory.
	Dir string `yaml:"-"`
	// File is the scenario's file name, for messages ("" for a built-in scenario).
	File string `yaml:"-"`
}

// Device is one IP instance: the simulated NetX Duo device, or a host.
type Device struct {
	Name string  `yaml:"name"`
	MAC  MAC     `yaml:"mac,omitempty"` // default 02:00:5e:10:00:NN, NN the device's position + 1
	IPv4 Prefix  `yaml:"ipv4,omitempty"`
	IPv6 Prefix6 `yaml:"ipv6,omitempty"` // global addresses; any turns IPv6 on (link-local from the MAC)
	// DAD runs IPv6 duplicate address detection at start-up (as a real device does; costs a second).
	DAD    bool    `yaml:"dad,omitempty"`
	Server *Server `yaml:"server,omitempty"`
	// Image is the file system of a device without a server (a client working on its own files, as
	// NetX's client on FileX); a server's image is under server.
	Image *Image `yaml:"image,omitempty"`
	// Listen opens TCP ports on the device that count the connections they get (see
	// expect.connections): a third host that an FTP bounce would target.
	Listen []uint16 `yaml:"listen,omitempty"`
	// Stack is the TCP/IP signature; by default a device whose server has a NetX-like profile
	// (netxduo, netxduo-6.4), or that has its own image and runs NetX-like client steps, looks like
	// NetX Duo on the wire, every other device like Linux.
	Stack *StackSpec `yaml:"stack,omitempty"`
}

// StackSpec overrides a device's TCP/IP signature (docs/stack.md).
type StackSpec struct {
	Signature *stack.Signature `yaml:"signature,omitempty"` // netx or gvisor
	Windows   stack.Windows    `yaml:"windows,omitempty"`   // "CONTROL,DATA" receive windows, e.g. "400,65535"
}

// image is the device's FAT volume: its server's, or its own.
func (d *Device) image() *Image {
	if d.Server != nil {
		return &d.Server.Image
	}
	return d.Image
}

// Server is an FTP server on a device, serving a FAT image.
type Server struct {
	Profile ftp.Profile       `yaml:"profile,omitempty"` // netxduo (default), netxduo-6.4 or extended
	Port    uint16            `yaml:"port,omitempty"`    // 0: 21
	Users   map[string]string `yaml:"users"`             // name: password, read-write
	// Anonymous lets "anonymous"/"ftp" in with any password: "" or "no", "read", "write".
	Anonymous string `yaml:"anonymous,omitempty"`
	Image     Image  `yaml:"image"`
}

// Image is the server's FAT volume: made in RAM (size, type, files) or loaded from a file into RAM.
type Image struct {
	Path  string     `yaml:"path,omitempty"` // an existing image; read into RAM, the file is never changed
	Size  Size       `yaml:"size,omitempty"` // new image size; 0: 8 MiB
	Type  string     `yaml:"type,omitempty"` // fat12, fat16, fat32 or "" (chosen from the size)
	Label string     `yaml:"label,omitempty"`
	Dirs  []string   `yaml:"dirs,omitempty"`  // directories to create
	Files []FileSpec `yaml:"files,omitempty"` // files to create (also into a loaded image)
	Save  bool       `yaml:"save,omitempty"`  // write the final image into the output directory
}

// FileSpec is a file's content: literal text, N seeded pseudo-random bytes, or a host file.
type FileSpec struct {
	Name    string `yaml:"name"`
	Content string `yaml:"content,omitempty"`
	Size    Size   `yaml:"size,omitempty"`
	Seed    uint64 `yaml:"seed,omitempty"`
	From    string `yaml:"from,omitempty"`
}

// Link joins two devices. Type "memory" (default) is an in-memory Ethernet cable with impairments;
// "tap" puts the first device on a Linux TAP inside a network namespace, and the second device is the
// Linux kernel in that namespace (needs root).
type Link struct {
	Between []string `yaml:"between"` // two device names: a, b; the capture is taken at a
	Type    string   `yaml:"type,omitempty"`
	MTU     uint32   `yaml:"mtu,omitempty"`
	Seed    uint64   `yaml:"seed,omitempty"`   // impairment randomness; 0: 1
	Impair  *Impair  `yaml:"impair,omitempty"` // both directions
	AtoB    *Impair  `yaml:"a_to_b,omitempty"` // replaces impair for frames a sends
	BtoA    *Impair  `yaml:"b_to_a,omitempty"` // replaces impair for frames b sends
	NetNS   string   `yaml:"netns,omitempty"`  // tap: the namespace to create (default: a random name)
	TAP     string   `yaml:"tap,omitempty"`    // tap: the TAP's name (default: the namespace's name)
}

// Segment is one Ethernet with any number of devices. Type "switch" (default) is an in-memory
// learning switch, each device on a port of its own, impaired per port; "tap" puts its first device on
// a Linux TAP in a network namespace and makes its second device the kernel there (needs root);
// "vxlan" puts its one device on a VXLAN tunnel (UDP only, no root).
type Segment struct {
	Name    string   `yaml:"name,omitempty"` // default: segN
	Type    string   `yaml:"type,omitempty"`
	Devices []string `yaml:"devices"`
	MTU     uint32   `yaml:"mtu,omitempty"`
	Seed    uint64   `yaml:"seed,omitempty"` // impairment randomness; 0: 1
	// Ports impair a device's port: in is what the cable does to frames from the device to the
	// switch, out to frames from the switch to the device.
	Ports map[string]PortImpair `yaml:"ports,omitempty"`
	NetNS string                `yaml:"netns,omitempty"` // tap: the namespace to create (default: a random name)
	TAP   string                `yaml:"tap,omitempty"`   // tap: the TAP's name (default: the namespace's name)
	// VXLAN is the tunnel of a "vxlan" segment (its one device's frames over UDP to a peer netxsim or a
	// Linux vxlan interface): local=IP:PORT,remote=IP:PORT,vni=N[,mtu=N], as --vxlan.
	VXLAN *vxlan.Config `yaml:"vxlan,omitempty"`

	pair    bool    // made from a links entry: a 2-port cable (link.Pair), captured at the first device
	atob    *Impair // pair: frames the first device sends
	btoa    *Impair
	linkIdx int // pair: index in links, for Net.Pair
}

// PortImpair is what a switch port's cable does in each direction.
type PortImpair struct {
	In  *Impair `yaml:"in,omitempty"`
	Out *Impair `yaml:"out,omitempty"`
}

// Impair is what one direction of a memory link does to frames (see stack/link.Impairment).
type Impair struct {
	Loss         Prob          `yaml:"loss,omitempty"`
	Duplicate    Prob          `yaml:"duplicate,omitempty"`
	Reorder      Prob          `yaml:"reorder,omitempty"`
	Corrupt      Prob          `yaml:"corrupt,omitempty"`
	ReorderDelay time.Duration `yaml:"reorder_delay,omitempty"`
	Delay        time.Duration `yaml:"delay,omitempty"`
	Jitter       time.Duration `yaml:"jitter,omitempty"`
	Rate         Rate          `yaml:"rate,omitempty"`
	MTU          uint32        `yaml:"mtu,omitempty"`
	Queue        int           `yaml:"queue,omitempty"`
}

// Step is one FTP session: the client on one device logs in to the server on another and does the ops.
type Step struct {
	Name     string      `yaml:"name,omitempty"`
	Client   string      `yaml:"client"`
	Server   string      `yaml:"server"`
	Family   string      `yaml:"family,omitempty"`  // ipv4 (default) or ipv6
	Mode     string      `yaml:"mode,omitempty"`    // active (default, PORT/EPRT) or passive (PASV/EPSV)
	Profile  ftp.Profile `yaml:"profile,omitempty"` // client profile: netxduo (default), netxduo-6.4 or extended
	User     string      `yaml:"user,omitempty"`    // default: the server's only user
	Password string      `yaml:"password,omitempty"`
	// LoginError expects the login to be refused with this code (e.g. 530); the session then quits.
	LoginError int           `yaml:"login_error,omitempty"`
	Timeout    time.Duration `yaml:"timeout,omitempty"` // the session; 0: 60 s
	Do         []Op          `yaml:"do,omitempty"`
}

// Op is one action of a session: exactly one of the action fields is set.
type Op struct {
	Put    *Put    `yaml:"put,omitempty"`
	Get    *Get    `yaml:"get,omitempty"`
	Ls     *string `yaml:"ls,omitempty"`
	Nlst   *string `yaml:"nlst,omitempty"`
	Mkdir  *string `yaml:"mkdir,omitempty"`
	Rmdir  *string `yaml:"rmdir,omitempty"`
	Delete *string `yaml:"delete,omitempty"`
	Rename *Rename `yaml:"rename,omitempty"`
	// Contains (ls, nlst): names the listing must show.
	Contains []string `yaml:"contains,omitempty"`
	// Lacks (ls, nlst): names the listing must not show.
	Lacks []string `yaml:"lacks,omitempty"`
	// Error expects the action to fail with this FTP reply code.
	Error int `yaml:"error,omitempty"`
	// Quote sends a raw command line (PORT to a third host, say); Reply is the code it must get
	// (0: any).
	Quote *string `yaml:"quote,omitempty"`
	Reply int     `yaml:"reply,omitempty"`
}

// Put uploads (STOR) generated bytes, literal text or a host file.
type Put struct {
	Remote  string `yaml:"remote"`
	Size    Size   `yaml:"size,omitempty"`
	Seed    uint64 `yaml:"seed,omitempty"`
	Content string `yaml:"content,omitempty"`
	File    string `yaml:"file,omitempty"`
	// Local uploads a file of the client device's own image (the device as NetX's client).
	Local string `yaml:"local,omitempty"`
}

// Get downloads (RETR) a file and checks its SHA-256: a hex digest, "same" (what the scenario put
// there or created in the image), or "" (not checked).
type Get struct {
	Remote string `yaml:"remote"`
	SHA256 string `yaml:"sha256,omitempty"`
	Size   *Size  `yaml:"size,omitempty"`
	Save   string `yaml:"save,omitempty"` // file name inside the output directory
	// Local stores the file into the client device's own image under this path.
	Local string `yaml:"local,omitempty"`
}

// Rename is RNFR from, RNTO to.
type Rename struct {
	From string `yaml:"from"`
	To   string `yaml:"to"`
}

// Expect is what must hold after the run.
type Expect struct {
	// Profile is the profile ftpcheck verifies against: auto, netxduo, extended or rfc959. Default: the
	// servers' profile when they all share one, else auto.
	Profile string `yaml:"profile,omitempty"`
	// Violations are ftpcheck checks that must fail (in at least one session); any other failing check
	// breaks the expectations. Empty: every session must pass.
	Violations []string `yaml:"violations,omitempty"`
	// Sessions is the number of FTP sessions the capture must show; 0: one per step.
	Sessions int `yaml:"sessions,omitempty"`
	// Files are files that must (or must not) be on a server's image at the end.
	Files []FileExpect `yaml:"files,omitempty"`
	// Fsck checks every image for consistency at the end; default true.
	Fsck *bool `yaml:"fsck,omitempty"`
	// Connections are the numbers of TCP connections a device's listen ports must have had.
	Connections []ConnExpect `yaml:"connections,omitempty"`
}

// ConnExpect is the number of connections one listen port of a device got during the run.
type ConnExpect struct {
	Device string `yaml:"device"`
	Port   uint16 `yaml:"port"`
	Count  int    `yaml:"count"`
}

// FileExpect is a file on a device's image at the end of the run.
type FileExpect struct {
	Device string `yaml:"device"`
	Path   string `yaml:"path"`
	SHA256 string `yaml:"sha256,omitempty"` // hex or "same" (the last content the scenario wrote there)
	Size   *Size  `yaml:"size,omitempty"`
	Absent bool   `yaml:"absent,omitempty"`
	// SameAs is another file, "device:path", whose content this one must equal at the end.
	SameAs string `yaml:"same_as,omitempty"`
}

// defaults used by the engine and the demo.
const (
	defaultTimeout     = 2 * time.Minute
	defaultStepTimeout = 60 * time.Second
	defaultImageSize   = 8 << 20
)

// addrOf returns the device's address of the family.
func (d *Device) addrOf(family string) (netip.Addr, bool) {
	if family == "ipv6" {
		if len(d.IPv6) == 0 {
			return netip.Addr{}, false
		}
		return d.IPv6[0].Addr(), true
	}
	if !d.IPv4.IsValid() {
		return netip.Addr{}, false
	}
	return d.IPv4.Addr(), true
}

// port returns the server's control port.
func (s *Server) port() uint16 {
	if s.Port == 0 {
		return 21
	}
	return s.Port
}

// timeout returns the run's time limit.
func (sc *Scenario) timeout() time.Duration {
	if sc.Timeout > 0 {
		return sc.Timeout
	}
	return defaultTimeout
}

func (sc *Scenario) device(name string) *Device {
	for i := range sc.Devices {
		if sc.Devices[i].Name == name {
			return &sc.Devices[i]
		}
	}
	return nil
}

// label names a step for tables and JUnit.
func (st *Step) label(i int) string {
	if st.Name != "" {
		return st.Name
	}
	return fmt.Sprintf("%s -> %s %s %s", st.Client, st.Server, st.family(), st.mode())
}

func (st *Step) family() string {
	if st.Family == "" {
		return "ipv4"
	}
	return st.Family
}

func (st *Step) mode() string {
	if st.Mode == "" {
		return "active"
	}
	return st.Mode
}

// describe is a short text of an op, as "put up.bin (65536 B)".
func (op *Op) describe() string {
	switch {
	case op.Put != nil:
		return "put " + op.Put.Remote
	case op.Get != nil:
		return "get " + op.Get.Remote
	case op.Ls != nil:
		return "ls " + *op.Ls
	case op.Nlst != nil:
		return "nlst " + *op.Nlst
	case op.Mkdir != nil:
		return "mkdir " + *op.Mkdir
	case op.Rmdir != nil:
		return "rmdir " + *op.Rmdir
	case op.Delete != nil:
		return "delete " + *op.Delete
	case op.Rename != nil:
		return "rename " + op.Rename.From + " " + op.Rename.To
	case op.Quote != nil:
		return "quote " + *op.Quote
	}
	return "(nothing)"
}

// actions counts the action fields set.
func (op *Op) actions() int {
	n := 0
	for _, set := range []bool{op.Put != nil, op.Get != nil, op.Ls != nil, op.Nlst != nil, op.Mkdir != nil,
		op.Rmdir != nil, op.Delete != nil, op.Rename != nil, op.Quote != nil} {
		if set {
			n++
		}
	}
	return n
}
