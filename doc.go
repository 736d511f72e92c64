// Package netxsim assembles simulated NetX Duo devices and the networks between them, in the spirit of
// tailscale's tsnet.Server: one place that knows how the parts (stack, stack/link, stack/capture,
// tapdev, fsimage, ftp/server, ftp/client) fit together and in which order they stop.
//
// A Network owns segments, devices and the capture. A segment is one Ethernet: an in-memory Switch
// with any number of ports, a Pair (a 2-port segment), a TAP (a segment whose other side is the Linux
// kernel, inside a network namespace), or any link endpoint given to AddSegment (the way further kinds,
// such as a VXLAN tunnel, plug in). A Device is what a NetX application has: an IP instance (NX_IP) on
// a segment, a file system (FileX), an FTP server and FTP clients working on that file system.
//
//	var n netxsim.Network // the zero value is ready; set Capture, Seed, Logger first if wanted
//	defer n.Close()
//	seg, _ := n.Pair("lan", link.PairConfig{})
//	dev, _ := n.AddDevice(ctx, seg, netxsim.DeviceConfig{Config: stack.Config{Name: "dev", IPv4: netxsim.IPv4(2)},
//		Profile: ftp.ProfileNetXDuo}) // a NetX Duo device: NetX's TCP/IP signature on the wire
//
// DeviceConfig.Profile says which NetX Duo device a device stands for: a NetX-like profile gives it
// NetX Duo's stack signature (stack.SignatureNetX: TTL 128, MSS only, windows of 400 and 2,048 bytes,
// IPv4 identification counting up), decided here for every command and the scenario engine;
// DeviceConfig.StackSignature overrides it, and a device without a Profile (a host) is Linux-like.
//
// Close stops the network in the one right order: FTP clients, FTP servers (their sessions end), the
// wait for the links to go quiet, the capture, the IP instances, the segments and namespaces.
//
// The documentation addresses (198.51.100.0/24, 2001:db8::/64) are exported once here; 192.0.2.0/24 is
// refused wherever an address reaches a kernel (see tapdev.CheckAddr).
//
// For tests, package netxsimtest gives a Network that is closed and whose capture is verified on
// t.Cleanup.
package netxsim
