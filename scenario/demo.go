package scenario

import (
	"net"

	"github.com/netxsim/netxsim"
)

// Addresses of the demo (the library's, the same as in TAP mode): device .2/::2, host .1/::1.
var (
	DemoDeviceV4 = netxsim.DeviceIPv4
	DemoDeviceV6 = netxsim.DeviceIPv6
	DemoHostV4   = netxsim.HostIPv4
	DemoHostV6   = netxsim.HostIPv6
)

// Device names of the demo: they name the interfaces in the capture.
const (
	DemoDevice = "dev0"
	DemoHost   = "host0"
)

// Demo user of the device's server.
const (
	DemoUser     = "netx"
	DemoPassword = "netxduo"
)

// DemoOptions vary the built-in demo.
type DemoOptions struct {
	// TAP puts the device on a Linux TAP in a fresh network namespace, with the Linux kernel as the
	// host (needs root). NetNS names that namespace ("" for a random name).
	TAP   bool
	NetNS string
	// TAPName names the TAP ("": the namespace's name).
	TAPName string
	// FileSize is the size of each uploaded file; 0: 256 KiB.
	FileSize int64
}

func str(s string) *string { return &s }

// Demo returns the README's main job as a scenario: the simulated NetX Duo device with a FAT image in
// RAM holding sample files and the netxduo FTP server, a host whose NetX-like client runs the seed's
// write and read sequences in all four ways (IPv4 active PORT, IPv4 passive PASV, IPv6 active EPRT,
// IPv6 passive EPSV), then a session with listing, mkdir, rename, delete and rmdir. Every session must
// pass ftpcheck, every file must come back with the same SHA-256, and the image must check clean.
func Demo(o DemoOptions) *Scenario {
	size := o.FileSize
	if size <= 0 {
		size = 256 << 10
	}
	sc := &Scenario{
		Name:        "demo",
		Description: "NetX Duo device with a FAT image and the netxduo FTP server; the host's client reads and writes in all four ways",
		Devices: []Device{
			{
				Name: DemoDevice, MAC: MAC(net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x00, 0x02}),
				IPv4: Prefix{DemoDeviceV4}, IPv6: Prefix6{DemoDeviceV6}, DAD: true,
				Server: &Server{
					Profile: "netxduo",
					Users:   map[string]string{DemoUser: DemoPassword},
					Image: Image{
						Size: 16 << 20, Label: "NETXSIM",
						Dirs: []string{"logs"},
						Files: []FileSpec{
							{Name: "readme.txt", Content: "This FAT volume lives in the RAM of a simulated NetX Duo device.\r\n"},
							{Name: "data.bin", Size: 100000, Seed: 7},
							{Name: "logs/boot.log", Content: "nx_ip_create ok\r\nnx_ftp_server_start ok\r\n"},
						},
					},
				},
			},
			{
				Name: DemoHost, MAC: MAC(net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x00, 0x01}),
				IPv4: Prefix{DemoHostV4}, IPv6: Prefix6{DemoHostV6}, DAD: true,
			},
		},
		Links: []Link{{Between: []string{DemoDevice, DemoHost}, Seed: 1}},
		Expect: Expect{
			Files: []FileExpect{
				{Device: DemoDevice, Path: "incoming/renamed-v4-active.bin", SHA256: "same"},
				{Device: DemoDevice, Path: "up-v4-active.bin", Absent: true},
				{Device: DemoDevice, Path: "up-v6-passive.bin", Absent: true},
				{Device: DemoDevice, Path: "up-v4-passive.bin", SHA256: "same"},
				{Device: DemoDevice, Path: "up-v6-active.bin", SHA256: "same"},
				{Device: DemoDevice, Path: "tmp", Absent: true},
			},
		},
	}
	if o.TAP {
		sc.Name = "demo-tap"
		ns := o.NetNS
		if ns == "" {
			ns = netxsim.RandomName("nxdemo")
		}
		sc.Links[0] = Link{Between: []string{DemoDevice, DemoHost}, Type: "tap", NetNS: ns, TAP: o.TAPName}
		// The kernel does its own DAD (skipped by the TAP helpers); the device skips it to start at once.
		sc.Devices[0].DAD = false
	}
	ways := []struct{ tag, family, mode, setup string }{
		{"v4-active", "ipv4", "active", "PORT"},
		{"v4-passive", "ipv4", "passive", "PASV"},
		{"v6-active", "ipv6", "active", "EPRT"},
		{"v6-passive", "ipv6", "passive", "EPSV"},
	}
	for i, w := range ways {
		remote := "up-" + w.tag + ".bin"
		base := Step{Client: DemoHost, Server: DemoDevice, Family: w.family, Mode: w.mode, Profile: "netxduo",
			User: DemoUser, Password: DemoPassword}
		wr := base
		wr.Name = "write " + w.family + " " + w.mode + " (" + w.setup + ")"
		wr.Do = []Op{{Put: &Put{Remote: remote, Size: Size(size), Seed: uint64(100 + i)}}}
		rd := base
		rd.Name = "read " + w.family + " " + w.mode + " (" + w.setup + ")"
		rd.Do = []Op{{Get: &Get{Remote: remote, SHA256: "same"}}}
		sc.Steps = append(sc.Steps, wr, rd)
	}
	sc.Steps = append(sc.Steps, Step{
		Name: "list, mkdir, rename, delete (IPv4 passive)", Client: DemoHost, Server: DemoDevice,
		Family: "ipv4", Mode: "passive", Profile: "netxduo", User: DemoUser, Password: DemoPassword,
		Do: []Op{
			{Ls: str("/"), Contains: []string{"readme.txt", "data.bin", "logs", "up-v4-active.bin"}},
			{Get: &Get{Remote: "data.bin", SHA256: "same"}},
			{Mkdir: str("incoming")},
			{Rename: &Rename{From: "up-v4-active.bin", To: "incoming/renamed-v4-active.bin"}},
			{Nlst: str("incoming"), Contains: []string{"renamed-v4-active.bin"}},
			{Mkdir: str("tmp")},
			{Rmdir: str("tmp")},
			{Delete: str("up-v6-passive.bin")},
			{Delete: str("up-v6-passive.bin"), Error: 550},
		},
	}, Step{
		Name: "list and read back (IPv6 active)", Client: DemoHost, Server: DemoDevice,
		Family: "ipv6", Mode: "active", Profile: "netxduo", User: DemoUser, Password: DemoPassword,
		Do: []Op{
			{Nlst: str("/"), Contains: []string{"incoming", "readme.txt"}, Lacks: []string{"up-v6-passive.bin", "tmp"}},
			{Get: &Get{Remote: "incoming/renamed-v4-active.bin", SHA256: "same"}},
			{Get: &Get{Remote: "readme.txt", SHA256: "same"}},
		},
	})
	return sc
}
