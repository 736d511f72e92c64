package netxsim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"path"
	"strings"

	"github.com/netxsim/netxsim/fsimage"
	"github.com/netxsim/netxsim/ftp/client"
	"github.com/netxsim/netxsim/ftp/server"
)

var errClosedFS = fs.ErrClosed

// FormatRAM gives the device a fresh FAT volume of size bytes in RAM (opt as for fsimage.Format; a
// zero opt picks the FAT type from the size) and returns it.
func (d *Device) FormatRAM(size int64, opt fsimage.FormatOptions) (*fsimage.FS, error) {
	ram := fsimage.NewRAM(size)
	if err := fsimage.Format(ram, size, opt); err != nil {
		return nil, fmt.Errorf("device %s: format: %w", d.name, err)
	}
	return d.UseRAM(ram)
}

// UseRAM gives the device the FAT volume on a RAM disk (fsimage.RAMFrom an image's bytes, say).
func (d *Device) UseRAM(ram *fsimage.RAM) (*fsimage.FS, error) {
	v, err := fsimage.Open(ram, fsimage.Options{})
	if err != nil {
		return nil, fmt.Errorf("device %s: image: %w", d.name, err)
	}
	if err := d.UseImage(v, nil); err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.ram = ram
	d.mu.Unlock()
	return v, nil
}

// UseImage gives the device an open FAT volume; release (optional) is called by Network.Close after
// the device's stack is closed (to close the image file, say).
func (d *Device) UseImage(v *fsimage.FS, release func() error) error {
	if err := d.UseFS(v, release); err != nil {
		return err
	}
	d.mu.Lock()
	d.img = v
	d.mu.Unlock()
	return nil
}

// UseFS gives the device any file system the FTP server can serve (a host directory from
// ftp/server/hostfs, say); release as for UseImage.
func (d *Device) UseFS(fsys server.FileSystem, release func() error) error {
	if fsys == nil {
		return fmt.Errorf("device %s: UseFS: nil file system", d.name)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fs != nil {
		return fmt.Errorf("device %s already has a file system", d.name)
	}
	d.fs, d.fsClose = fsys, release
	return nil
}

// FS is the device's file system, nil until it has one.
func (d *Device) FS() server.FileSystem {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.fs
}

// Image is the device's FAT volume, nil when it has none (or serves a host directory).
func (d *Device) Image() *fsimage.FS {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.img
}

// RAM is the RAM disk under the device's FAT volume, nil when it is not on one.
func (d *Device) RAM() *fsimage.RAM {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ram
}

// ServeFTP starts srv on the device: FS, Network and Logger are filled in where unset (the device's
// file system, the device itself, the Network's logger). It listens on every given address, or on
// port 21 of every address when none is given. Network.Close shuts it down first.
func (d *Device) ServeFTP(ctx context.Context, srv *server.Server, addrs ...netip.AddrPort) error {
	if srv.FS == nil {
		srv.FS = d.FS()
		if srv.FS == nil {
			return fmt.Errorf("device %s: FTP server: %w", d.name, errNoFS)
		}
	}
	if srv.Network == nil {
		srv.Network = d
	}
	if srv.Logger == nil {
		srv.Logger = d.net.log().With("ftp-server", d.name)
	}
	if len(addrs) == 0 {
		addrs = []netip.AddrPort{netip.AddrPortFrom(netip.Addr{}, 21)}
	}
	var lns []net.Listener
	for _, a := range addrs {
		ln, err := d.Listen(ctx, a)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return fmt.Errorf("device %s: FTP server: %w", d.name, err)
		}
		lns = append(lns, ln)
	}
	for i, ln := range lns {
		if err := d.ServeListener(srv, ln); err != nil {
			for _, l := range lns[i:] {
				l.Close()
			}
			return err
		}
	}
	return nil
}

// ServeListener serves srv on a listener the caller opened on the device (with Listen, to know the
// port it got); srv must be filled in as for ServeFTP. Network.Close shuts it down first.
func (d *Device) ServeListener(srv *server.Server, ln net.Listener) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		ln.Close()
		return ErrClosed
	}
	r := &running{srv: srv, done: make(chan error, 1)}
	go func() { r.done <- srv.Serve(ln) }()
	d.servers = append(d.servers, r)
	return nil
}

// DialFTP connects the device's FTP client to an FTP server and reads the greeting; Network.Close
// closes the client if the caller has not.
func (d *Device) DialFTP(ctx context.Context, srv netip.AddrPort, opts ...client.Option) (*client.Client, error) {
	c, err := client.Dial(ctx, d, srv, opts...)
	if err != nil {
		return nil, fmt.Errorf("device %s: %w", d.name, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		c.Close()
		return nil, ErrClosed
	}
	d.clients = append(d.clients, c)
	return c, nil
}

// Login dials the FTP server and logs in as user (DialFTP and Client.Login).
func (d *Device) Login(ctx context.Context, srv netip.AddrPort, user, pass string, opts ...client.Option) (*client.Client, error) {
	c, err := d.DialFTP(ctx, srv, opts...)
	if err != nil {
		return nil, err
	}
	if err := c.Login(ctx, user, pass); err != nil {
		c.Close()
		return nil, fmt.Errorf("device %s: login as %s: %w", d.name, user, err)
	}
	return c, nil
}

// fsName turns a device path ("/logs/a.txt", "logs/a.txt") into the file system's form.
func fsName(p string) string {
	n := strings.TrimPrefix(path.Clean("/"+p), "/")
	if n == "" {
		return "."
	}
	return n
}

// Fetch downloads remote over c into the device's own file system as local (NetX's client writing a
// FileX file), creating its directories. The file is written under a temporary name and renamed once
// the server confirmed the whole transfer, so a failed download leaves no file that looks complete.
// It returns the number of bytes stored.
func (d *Device) Fetch(ctx context.Context, c *client.Client, remote, local string) (int64, error) {
	fsys := d.FS()
	if fsys == nil {
		return 0, fmt.Errorf("device %s: fetch %s: %w", d.name, remote, errNoFS)
	}
	name := fsName(local)
	if err := mkdirAll(fsys, path.Dir(name)); err != nil {
		return 0, fmt.Errorf("device %s: fetch %s: %w", d.name, remote, err)
	}
	tmp := path.Join(path.Dir(name), "~"+path.Base(name)+".part")
	rd, err := c.Retr(ctx, remote)
	if err != nil {
		return 0, fmt.Errorf("device %s: fetch %s: %w", d.name, remote, err)
	}
	defer rd.Close()
	w, err := fsys.Create(tmp)
	if err != nil {
		return 0, fmt.Errorf("device %s: fetch %s: %w", d.name, remote, err)
	}
	n, err := io.Copy(w, rd)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = rd.Close()
	}
	if err == nil {
		err = fsys.Rename(tmp, name)
	}
	if err != nil {
		fsys.Remove(tmp)
		return n, fmt.Errorf("device %s: fetch %s into %s: %w", d.name, remote, local, err)
	}
	return n, nil
}

// Send uploads the device's own file local over c as remote (NetX's client reading a FileX file),
// declaring its size first, which frames block mode and catches a file that changes while it is
// sent. It returns the number of bytes sent.
func (d *Device) Send(ctx context.Context, c *client.Client, local, remote string) (int64, error) {
	fsys := d.FS()
	if fsys == nil {
		return 0, fmt.Errorf("device %s: send %s: %w", d.name, local, errNoFS)
	}
	f, err := fsys.Open(fsName(local))
	if err != nil {
		return 0, fmt.Errorf("device %s: send %s: %w", d.name, local, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("device %s: send %s: %w", d.name, local, err)
	}
	if fi.IsDir() {
		return 0, fmt.Errorf("device %s: send %s: is a directory", d.name, local)
	}
	up, err := c.Stor(ctx, remote)
	if err != nil {
		return 0, fmt.Errorf("device %s: send %s: %w", d.name, local, err)
	}
	if err := up.SetSize(fi.Size()); err != nil {
		up.Close()
		return 0, fmt.Errorf("device %s: send %s: %w", d.name, local, err)
	}
	n, err := io.Copy(up, f)
	if cerr := up.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, fmt.Errorf("device %s: send %s as %s: %w", d.name, local, remote, err)
	}
	return n, nil
}

// mkdirAll makes dir and its parents on any server file system.
func mkdirAll(fsys server.FileSystem, dir string) error {
	dir = fsName(dir)
	if dir == "." {
		return nil
	}
	if fi, err := fsys.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("mkdir %s: a file of that name exists", dir)
		}
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := mkdirAll(fsys, path.Dir(dir)); err != nil {
		return err
	}
	return fsys.Mkdir(dir)
}
