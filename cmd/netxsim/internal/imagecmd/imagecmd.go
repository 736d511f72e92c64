// Package imagecmd implements `netxsim image`: make, inspect and change FAT images with fsimage.
package imagecmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/netxsim/netxsim/fsimage"
	"github.com/netxsim/netxsim/internal/size"
)

const usageText = `usage: netxsim image <command> -i IMAGE [flags] [args]

commands:
  mkfs   -i IMAGE [-size SIZE] [-type 12|16|32] [-cluster BYTES] [-sector BYTES] [-label L] [-root-entries N] [-mbr]
                                  make a new FAT volume (SIZE like 1440K, 64M, 1G; default: the file's size)
  info   -i IMAGE                 type, geometry, free space, label
  ls     -i IMAGE [-l] [-R] [PATH...]
  put    -i IMAGE [-r [-L]] SRC... DEST
                                  copy host files (directories with -r) into the image; links
                                  inside a tree are skipped unless -L, FIFOs and devices always
  get    -i IMAGE SRC [DEST]      copy a file out of the image (DEST "-" is stdout)
  cat    -i IMAGE PATH...         print files
  rm     -i IMAGE PATH...         remove files (and empty directories)
  mkdir  -i IMAGE [-p] PATH...    make directories
  rmdir  -i IMAGE PATH...         remove empty directories
  mv     -i IMAGE OLD NEW         rename or move a file or directory
  check  -i IMAGE                 check consistency (like fsck.fat -n); exit 1 on problems

Paths inside the image are slash-separated; a leading "/" or "::/" is accepted.
The image may be a bare volume or hold one MBR partition.
`

// usageError is a bad command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// Run is the entry point of `netxsim image`.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// Accept -i before the subcommand too: netxsim image -i IMG ls.
	global := flag.NewFlagSet("image", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	gImage := global.String("i", "", "image file")
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usageText)
			return 0
		}
		fmt.Fprintf(stderr, "netxsim image: %v\n\n%s", err, usageText)
		return 2
	}
	rest := global.Args()
	if len(rest) == 0 {
		fmt.Fprint(stderr, usageText)
		return 2
	}
	if rest[0] == "help" {
		fmt.Fprint(stdout, usageText)
		return 0
	}
	c := &cmd{ctx: ctx, stdout: stdout, stderr: stderr, image: *gImage}
	err := c.run(rest[0], rest[1:])
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "netxsim image %s: %v\n(see netxsim image --help)\n", rest[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "netxsim image %s: %v\n", rest[0], err)
		return 1
	}
}

type cmd struct {
	ctx            context.Context
	stdout, stderr io.Writer
	image          string
}

func (c *cmd) flags(name string) *flag.FlagSet {
	fl := flag.NewFlagSet("image "+name, flag.ContinueOnError)
	fl.SetOutput(io.Discard) // Run prints the error; --help prints usageText to stdout
	fl.StringVar(&c.image, "i", c.image, "image file")
	return fl
}

func (c *cmd) parse(fl *flag.FlagSet, args []string) error {
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(c.stdout, usageText)
			return err
		}
		return usagef("%v", err)
	}
	if c.image == "" {
		return usagef("no image: give -i IMAGE")
	}
	return nil
}

func (c *cmd) run(name string, args []string) error {
	commands := map[string]func([]string) error{
		"mkfs": c.mkfs, "info": c.info, "ls": c.ls, "put": c.put, "get": c.get, "cat": c.cat,
		"rm": c.rmFiles, "rmdir": c.rmdir, "mkdir": c.mkdir, "mv": c.mv, "check": c.check,
	}
	if f, ok := commands[name]; ok {
		return f(args)
	}
	return usagef("unknown command %q", name)
}

// open opens the image volume (locked: exclusive to write, shared to read); closeFn writes
// metadata and closes the file.
func (c *cmd) open(write bool) (*fsimage.FS, func() error, error) {
	v, err := fsimage.OpenFile(c.image, fsimage.Options{ReadOnly: !write})
	if err != nil {
		return nil, nil, err
	}
	if rec := v.Recovery(); rec.Dirty {
		fmt.Fprintf(c.stderr, "netxsim image: %s was %s\n", c.image, rec)
	}
	return v, v.Close, nil
}

// withFS runs fn on the open volume and closes it, keeping fn's error first.
func (c *cmd) withFS(write bool, fn func(v *fsimage.FS) error) error {
	v, closeFn, err := c.open(write)
	if err != nil {
		return err
	}
	err = fn(v)
	if cerr := closeFn(); err == nil && cerr != nil {
		err = fmt.Errorf("close image: %w", cerr)
	}
	return err
}

// imagePath turns a user path into an io/fs path inside the image.
func imagePath(p string) (string, error) {
	p = strings.TrimPrefix(p, "::")
	p = strings.Trim(p, "/")
	if p == "" {
		return ".", nil
	}
	for _, e := range strings.Split(p, "/") {
		if e == ".." {
			return "", usagef("path %q: \"..\" is not allowed", p)
		}
	}
	return path.Clean(p), nil
}

// maxImageSize is FAT's largest volume: 2^32 sectors of 4096 bytes (image files are sparse).
const maxImageSize = 1 << 44

func (c *cmd) mkfs(args []string) error {
	fl := c.flags("mkfs")
	sizeFlag := fl.String("size", "", "volume size, e.g. 1440K, 64M, 1G (default: the existing file's size)")
	typ := fl.Int("type", 0, "FAT type 12, 16 or 32 (default: by size)")
	cluster := fl.Int("cluster", 0, "cluster size in bytes (default: by size)")
	sector := fl.Int("sector", 0, "sector size in bytes (default 512)")
	label := fl.String("label", "", "volume label")
	rootEnt := fl.Int("root-entries", 0, "FAT12/16 root directory entries")
	mbr := fl.Bool("mbr", false, "write an MBR with one partition, as on an SD card")
	if err := c.parse(fl, args); err != nil {
		return err
	}
	if fl.NArg() > 0 {
		return usagef("unexpected arguments %q", fl.Args())
	}
	if fi, err := os.Stat(c.image); err == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is %s, not a regular file: mkfs writes image files only", c.image, fsimage.FileKind(fi.Mode()))
	}
	var n int64
	if *sizeFlag != "" {
		var err error
		if n, err = size.Parse(*sizeFlag, 1, maxImageSize); err != nil {
			return usagef("-size: %v", err)
		}
	} else if fi, err := os.Stat(c.image); err == nil && fi.Mode().IsRegular() && fi.Size() > 0 {
		n = fi.Size()
	} else {
		return usagef("give -size for a new image")
	}
	// Every option is checked before the file is touched: a typo must not damage an image.
	fo := fsimage.FormatOptions{Type: fsimage.FATType(*typ), ClusterSize: *cluster,
		SectorSize: *sector, Label: *label, RootEntries: *rootEnt, MBR: *mbr}
	if err := fsimage.CheckFormat(n, fo); err != nil {
		return usagef("%v", err)
	}
	if _, err := os.Lstat(c.image); errors.Is(err, fs.ErrNotExist) {
		nf, err := os.OpenFile(c.image, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		nf.Close()
	}
	f, err := fsimage.OpenImageFile(c.image, true)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(n); err != nil {
		return fmt.Errorf("size image: %w", err)
	}
	if err := fsimage.Format(f, n, fo); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
}

func (c *cmd) info(args []string) error {
	fl := c.flags("info")
	if err := c.parse(fl, args); err != nil {
		return err
	}
	return c.withFS(false, func(v *fsimage.FS) error {
		in := v.Info()
		w := c.stdout
		fmt.Fprintf(w, "type:             %s\n", in.Type)
		fmt.Fprintf(w, "sector size:      %d\n", in.SectorSize)
		fmt.Fprintf(w, "cluster size:     %d\n", in.ClusterSize)
		fmt.Fprintf(w, "clusters:         %d\n", in.Clusters)
		fmt.Fprintf(w, "free clusters:    %d\n", in.FreeClusters)
		fmt.Fprintf(w, "data bytes:       %d\n", in.TotalBytes)
		fmt.Fprintf(w, "free bytes:       %d\n", in.FreeBytes)
		fmt.Fprintf(w, "FATs:             %d\n", in.FATs)
		if in.Type != fsimage.FAT32 {
			fmt.Fprintf(w, "root entries:     %d\n", in.RootEntries)
		}
		fmt.Fprintf(w, "label:            %s\n", in.Label)
		fmt.Fprintf(w, "volume ID:        %04X-%04X\n", in.VolumeID>>16, in.VolumeID&0xFFFF)
		if in.PartitionOffset > 0 {
			fmt.Fprintf(w, "partition offset: %d\n", in.PartitionOffset)
		}
		return nil
	})
}

func attrString(a byte) string {
	b := []byte("-----")
	for i, f := range []struct {
		bit byte
		c   byte
	}{{fsimage.AttrDirectory, 'd'}, {fsimage.AttrReadOnly, 'r'}, {fsimage.AttrHidden, 'h'}, {fsimage.AttrSystem, 's'}, {fsimage.AttrArchive, 'a'}} {
		if a&f.bit != 0 {
			b[i] = f.c
		}
	}
	return string(b)
}

func (c *cmd) ls(args []string) error {
	fl := c.flags("ls")
	long := fl.Bool("l", false, "long listing: attributes, size, time, 8.3 alias")
	rec := fl.Bool("R", false, "list subdirectories recursively")
	if err := c.parse(fl, args); err != nil {
		return err
	}
	paths := fl.Args()
	if len(paths) == 0 {
		paths = []string{"/"}
	}
	return c.withFS(false, func(v *fsimage.FS) error {
		for i, p := range paths {
			ip, err := imagePath(p)
			if err != nil {
				return err
			}
			fi, err := v.Stat(ip)
			if err != nil {
				return err
			}
			if !fi.IsDir() {
				c.lsLine(fi, ip, *long)
				continue
			}
			if err := c.lsDir(v, ip, *long, *rec, len(paths) > 1 || *rec, i > 0); err != nil {
				return err
			}
		}
		return nil
	})
}

func (c *cmd) lsLine(fi fs.FileInfo, name string, long bool) {
	if fi.IsDir() {
		name += "/"
	}
	if !long {
		fmt.Fprintln(c.stdout, name)
		return
	}
	ei, _ := fi.Sys().(*fsimage.EntryInfo)
	var attr byte
	short := ""
	if ei != nil {
		attr, short = ei.Attr, ei.ShortName
	}
	fmt.Fprintf(c.stdout, "%s %10d %s %-12s %s\n", attrString(attr), fi.Size(), fi.ModTime().Format("2006-01-02 15:04:05"), short, name)
}

func (c *cmd) lsDir(v *fsimage.FS, dir string, long, rec, header, gap bool) error {
	ents, err := v.ReadDir(dir)
	if err != nil {
		return err
	}
	if header {
		if gap {
			fmt.Fprintln(c.stdout)
		}
		fmt.Fprintf(c.stdout, "/%s:\n", strings.TrimPrefix(dir, "."))
	}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			return err
		}
		c.lsLine(fi, e.Name(), long)
	}
	if rec {
		for _, e := range ents {
			if e.IsDir() {
				if err := c.lsDir(v, path.Join(dir, e.Name()), long, rec, true, true); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (c *cmd) put(args []string) error {
	fl := c.flags("put")
	rec := fl.Bool("r", false, "copy directories recursively")
	follow := fl.Bool("L", false, "with -r: follow symbolic links inside the tree (cycles are refused)")
	if err := c.parse(fl, args); err != nil {
		return err
	}
	if fl.NArg() < 2 {
		return usagef("put needs SRC... DEST")
	}
	srcs, dst := fl.Args()[:fl.NArg()-1], fl.Arg(fl.NArg()-1)
	ip, err := imagePath(dst)
	if err != nil {
		return err
	}
	return c.withFS(true, func(v *fsimage.FS) error {
		intoDir := len(srcs) > 1 || strings.HasSuffix(dst, "/")
		if fi, err := v.Stat(ip); err == nil && fi.IsDir() {
			intoDir = true
		} else if intoDir {
			return fmt.Errorf("%s: not a directory in the image (make it with mkdir)", dst)
		}
		for _, s := range srcs {
			if err := c.ctx.Err(); err != nil {
				return err
			}
			target := ip
			if intoDir {
				target = path.Join(ip, filepath.Base(s))
			}
			p := &putter{ctx: c.ctx, v: v, rec: *rec, follow: *follow, warn: c.stderr}
			if err := p.put(s, target, nil); err != nil {
				return err
			}
		}
		return nil
	})
}

// PutFile copies one host file into the volume (the code path of `netxsim image put`). Only a
// regular file is copied: a FIFO or device would block or never end.
func PutFile(v *fsimage.FS, src, dst string) error {
	if fi, err := os.Stat(src); err != nil {
		return err
	} else if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is %s, not a regular file: not copied", src, fsimage.FileKind(fi.Mode()))
	}
	// O_NONBLOCK: should src have become a FIFO since the Stat, opening it must not wait for a writer.
	in, err := os.OpenFile(src, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	if fi, err := in.Stat(); err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file: not copied", src)
	}
	w, err := v.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, in); err != nil {
		w.Close()
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return w.Close()
}

// putter copies host files and trees into the volume.
type putter struct {
	ctx    context.Context
	v      *fsimage.FS
	rec    bool
	follow bool // follow symbolic links inside a tree (-L)
	warn   io.Writer
}

// dirID identifies a host directory, to find cycles when following links.
type dirID struct{ dev, ino uint64 }

// put copies src to dst. A source named on the command line is followed if it is a link; inside a
// tree, links are skipped (with a warning) unless -L, and non-regular files are always skipped.
// ancestors holds the directories being copied above src.
func (p *putter) put(src, dst string, ancestors []dirID) error {
	if err := p.ctx.Err(); err != nil {
		return err
	}
	top := ancestors == nil
	fi, err := os.Lstat(src)
	if err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		if !top && !p.follow {
			fmt.Fprintf(p.warn, "netxsim image put: skipping symbolic link %s (give -L to follow links)\n", src)
			return nil
		}
		if fi, err = os.Stat(src); err != nil {
			return err
		}
	}
	switch {
	case fi.Mode().IsRegular():
		return PutFile(p.v, src, dst)
	case !fi.IsDir():
		if top {
			return fmt.Errorf("%s is %s, not a regular file: not copied", src, fsimage.FileKind(fi.Mode()))
		}
		fmt.Fprintf(p.warn, "netxsim image put: skipping %s: %s, not a regular file\n", src, fsimage.FileKind(fi.Mode()))
		return nil
	}
	if !p.rec {
		return fmt.Errorf("%s is a directory: use -r", src)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id := dirID{uint64(st.Dev), uint64(st.Ino)}
		for _, a := range ancestors {
			if a == id {
				return fmt.Errorf("%s: a symbolic link loops back to a directory being copied; nothing below it copied", src)
			}
		}
		ancestors = append(ancestors, id)
	} else if ancestors == nil {
		ancestors = []dirID{}
	}
	if st, err := p.v.Stat(dst); err != nil || !st.IsDir() {
		if err := p.v.Mkdir(dst); err != nil {
			return err
		}
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := p.put(filepath.Join(src, e.Name()), path.Join(dst, e.Name()), ancestors); err != nil {
			return err
		}
	}
	return nil
}

func (c *cmd) get(args []string) error {
	fl := c.flags("get")
	if err := c.parse(fl, args); err != nil {
		return err
	}
	if fl.NArg() < 1 || fl.NArg() > 2 {
		return usagef("get needs SRC [DEST]")
	}
	ip, err := imagePath(fl.Arg(0))
	if err != nil {
		return err
	}
	dst := path.Base(ip)
	if fl.NArg() == 2 {
		dst = fl.Arg(1)
	}
	if st, err := os.Stat(dst); err == nil && st.IsDir() {
		dst = filepath.Join(dst, path.Base(ip))
	}
	return c.withFS(false, func(v *fsimage.FS) error {
		f, err := v.Open(ip)
		if err != nil {
			return err
		}
		defer f.Close()
		if st, _ := f.Stat(); st != nil && st.IsDir() {
			return fmt.Errorf("%s is a directory", fl.Arg(0))
		}
		if dst == "-" {
			_, err = io.Copy(c.stdout, f)
			return err
		}
		out, err := os.Create(dst)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, f); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}

// eachPath parses the command's flags, wants at least one PATH and runs fn on the image (opened for
// writing when write) for each, with its path inside the image.
func (c *cmd) eachPath(fl *flag.FlagSet, args []string, write bool, fn func(v *fsimage.FS, arg, ip string) error) error {
	if err := c.parse(fl, args); err != nil {
		return err
	}
	if fl.NArg() == 0 {
		return usagef("%s needs PATH...", strings.TrimPrefix(fl.Name(), "image "))
	}
	return c.withFS(write, func(v *fsimage.FS) error {
		for _, p := range fl.Args() {
			ip, err := imagePath(p)
			if err != nil {
				return err
			}
			if err := fn(v, p, ip); err != nil {
				return err
			}
		}
		return nil
	})
}

func (c *cmd) cat(args []string) error {
	return c.eachPath(c.flags("cat"), args, false, func(v *fsimage.FS, _, ip string) error {
		f, err := v.Open(ip)
		if err != nil {
			return err
		}
		_, err = io.Copy(c.stdout, f)
		f.Close()
		return err
	})
}

func (c *cmd) rmFiles(args []string) error { return c.rm("rm", args) }
func (c *cmd) rmdir(args []string) error   { return c.rm("rmdir", args) }

func (c *cmd) rm(name string, args []string) error {
	return c.eachPath(c.flags(name), args, true, func(v *fsimage.FS, p, ip string) error {
		fi, err := v.Stat(ip)
		if err != nil {
			return err
		}
		if name == "rmdir" && !fi.IsDir() {
			return fmt.Errorf("%s is not a directory (use rm)", p)
		}
		if name == "rm" && fi.IsDir() {
			return fmt.Errorf("%s is a directory (use rmdir)", p)
		}
		return v.Remove(ip)
	})
}

func (c *cmd) mkdir(args []string) error {
	fl := c.flags("mkdir")
	parents := fl.Bool("p", false, "make parent directories as needed, no error if existing")
	return c.eachPath(fl, args, true, func(v *fsimage.FS, _, ip string) error {
		if *parents {
			return fsimage.MkdirAll(v, ip)
		}
		return v.Mkdir(ip)
	})
}

func (c *cmd) mv(args []string) error {
	fl := c.flags("mv")
	if err := c.parse(fl, args); err != nil {
		return err
	}
	if fl.NArg() != 2 {
		return usagef("mv needs OLD NEW")
	}
	oldp, err := imagePath(fl.Arg(0))
	if err != nil {
		return err
	}
	newp, err := imagePath(fl.Arg(1))
	if err != nil {
		return err
	}
	return c.withFS(true, func(v *fsimage.FS) error {
		if fi, err := v.Stat(newp); err == nil && fi.IsDir() {
			newp = path.Join(newp, path.Base(oldp))
		}
		return v.Rename(oldp, newp)
	})
}

func (c *cmd) check(args []string) error {
	fl := c.flags("check")
	if err := c.parse(fl, args); err != nil {
		return err
	}
	f, err := fsimage.OpenImageFile(c.image, false)
	if err != nil {
		return err
	}
	defer f.Close()
	rep, err := fsimage.CheckDevice(f)
	if err != nil {
		return err
	}
	probs := append([]string(nil), rep.Problems...)
	sort.Strings(probs)
	for _, p := range probs {
		fmt.Fprintln(c.stdout, p)
	}
	fmt.Fprintf(c.stdout, "%s: %d files, %d directories, %d clusters used, %d free\n", c.image, rep.Files, rep.Dirs, rep.UsedClusters, rep.FreeClusters)
	if len(probs) > 0 {
		return fmt.Errorf("%d problems found", len(probs))
	}
	return nil
}
