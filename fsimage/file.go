package fsimage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"
)

// File is an open file or directory of a volume. It implements fs.File, fs.ReadDirFile,
// io.Reader, io.Writer, io.Seeker, io.ReaderAt, io.WriterAt, io.ReaderFrom and io.WriterTo.
type File struct {
	v      *FS
	n      *node
	name   string
	read   bool
	write  bool
	append bool
	off    int64
	closed bool
	list   []fs.DirEntry // directory listing snapshot for ReadDir(n)
	listed bool
}

func (f *File) lock(op string) error {
	if err := f.v.begin(false); err != nil {
		return pathErr(op, f.name, err)
	}
	if f.closed {
		f.v.mu.Unlock()
		return pathErr(op, f.name, fs.ErrClosed)
	}
	return nil
}

// Stat describes the file.
func (f *File) Stat() (fs.FileInfo, error) {
	if err := f.lock("stat"); err != nil {
		return nil, err
	}
	defer f.v.mu.Unlock()
	return f.v.info(f.n), nil
}

// Read reads from the current offset.
func (f *File) Read(p []byte) (int, error) {
	if err := f.lock("read"); err != nil {
		return 0, err
	}
	defer f.v.mu.Unlock()
	if !f.read || f.n.isDir() {
		return 0, pathErr("read", f.name, readErr(f))
	}
	n, err := f.v.readAt(f.n, p, f.off)
	f.off += int64(n)
	return n, wrapIO("read", f.name, err)
}

func readErr(f *File) error {
	if f.n.isDir() {
		return ErrIsDir
	}
	return fmt.Errorf("file not open for reading: %w", fs.ErrPermission)
}

func wrapIO(op, name string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	return pathErr(op, name, err)
}

// ReadAt reads at off without moving the offset.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if err := f.lock("read"); err != nil {
		return 0, err
	}
	defer f.v.mu.Unlock()
	if !f.read || f.n.isDir() {
		return 0, pathErr("read", f.name, readErr(f))
	}
	if off < 0 {
		return 0, pathErr("read", f.name, fmt.Errorf("negative offset: %w", fs.ErrInvalid))
	}
	n, err := f.v.readAt(f.n, p, off)
	return n, wrapIO("read", f.name, err)
}

// Seek sets the offset for the next Read or Write.
func (f *File) Seek(offset int64, whence int) (int64, error) {
	if err := f.lock("seek"); err != nil {
		return 0, err
	}
	defer f.v.mu.Unlock()
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += f.off
	case io.SeekEnd:
		offset += int64(f.n.size)
	default:
		return 0, pathErr("seek", f.name, fmt.Errorf("bad whence %d: %w", whence, fs.ErrInvalid))
	}
	if offset < 0 {
		return 0, pathErr("seek", f.name, fmt.Errorf("negative position: %w", fs.ErrInvalid))
	}
	f.off = offset
	return offset, nil
}

// Write writes at the current offset (at the end in append mode).
func (f *File) Write(p []byte) (int, error) {
	if err := f.lock("write"); err != nil {
		return 0, err
	}
	defer f.v.mu.Unlock()
	if f.append {
		f.off = int64(f.n.size)
	}
	n, err := f.writeAt(p, f.off)
	f.off += int64(n)
	return n, err
}

// WriteAt writes at off; not allowed in append mode, as with os.File.
func (f *File) WriteAt(p []byte, off int64) (int, error) {
	if err := f.lock("write"); err != nil {
		return 0, err
	}
	defer f.v.mu.Unlock()
	if f.append {
		return 0, pathErr("write", f.name, fmt.Errorf("WriteAt on a file opened for append: %w", fs.ErrInvalid))
	}
	return f.writeAt(p, off)
}

func (f *File) writeAt(p []byte, off int64) (int, error) {
	if !f.write {
		return 0, pathErr("write", f.name, fmt.Errorf("file not open for writing: %w", fs.ErrPermission))
	}
	if off < 0 {
		return 0, pathErr("write", f.name, fmt.Errorf("negative offset: %w", fs.ErrInvalid))
	}
	err := f.v.writeAt(f.n, p, off)
	if err != nil {
		return 0, pathErr("write", f.name, err)
	}
	return len(p), pathErr("write", f.name, f.v.done(nil))
}

// ReadFrom copies r to the file (io.Copy uses it). On a RAM disk, appending at the end of the
// file, r reads straight into the clusters the file grows into (see receive); otherwise, and for
// what cannot be streamed (a write inside the file, a full volume, the 4 GiB limit), in large
// chunks through a pooled buffer.
func (f *File) ReadFrom(r io.Reader) (int64, error) {
	var total int64
	if f.v.mem != nil {
		n, more, err := f.receive(r)
		total += n
		if !more {
			return total, err
		}
	}
	bp := f.v.copyBufs.Get().(*[]byte)
	defer f.v.copyBufs.Put(bp)
	buf := *bp
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			w, werr := f.Write(buf[:n])
			total += int64(w)
			if werr != nil {
				return total, werr
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// WriteTo copies the file from the current offset to w (io.Copy uses it). On a RAM disk w gets
// the file's clusters themselves, a contiguous run per Write (see send); otherwise large chunks
// through a pooled buffer.
func (f *File) WriteTo(w io.Writer) (int64, error) {
	if f.v.mem != nil {
		return f.send(w)
	}
	bp := f.v.copyBufs.Get().(*[]byte)
	defer f.v.copyBufs.Put(bp)
	var total int64
	for {
		n, err := f.Read(*bp)
		if n > 0 {
			m, werr := w.Write((*bp)[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// Streaming reports whether ReadFrom and WriteTo move the data between the reader or writer and
// the volume's RAM disk directly, without a buffer in between (the volume is on a *RAM).
func (f *File) Streaming() bool { return f.v.mem != nil }

// streamMax bounds one streamed Read or Write: large enough that a connection's reads and writes
// are not the cost, small enough to keep clusters reserved and the lock free for short.
const streamMax = 1 << 20

// send is WriteTo on a RAM disk. Each round takes the lock only to map the offset to a run of
// the RAM disk, then writes that run to w without the lock: a slow peer never holds up the
// volume. Meanwhile the file's data cannot change under w (writeAt and truncate refuse with
// ErrStreaming while sending > 0) and its clusters cannot go (an open file is neither removed nor
// replaced); writes at or after its end remain possible.
func (f *File) send(w io.Writer) (int64, error) {
	v := f.v
	var total int64
	for {
		if err := f.lock("read"); err != nil {
			return total, err
		}
		if !f.read || f.n.isDir() {
			v.mu.Unlock()
			return total, pathErr("read", f.name, readErr(f))
		}
		size := int64(f.n.size)
		if f.off >= size {
			v.mu.Unlock()
			return total, nil
		}
		ext, err := v.extents(f.n)
		var dev, avail int64
		if err == nil {
			dev, avail, err = v.span(ext, f.off)
		}
		k := min(avail, size-f.off, streamMax)
		if err == nil && dev+k > int64(len(v.mem)) {
			err = fmt.Errorf("image ends inside file data: %w", ErrCorrupt)
		}
		if err != nil {
			v.mu.Unlock()
			return total, pathErr("read", f.name, err)
		}
		f.n.sending++
		v.mu.Unlock()
		m, werr := w.Write(v.mem[dev : dev+k])
		v.mu.Lock()
		f.n.sending--
		f.off += int64(m)
		v.mu.Unlock()
		total += int64(m)
		if werr != nil {
			return total, werr
		}
	}
}

// receive is ReadFrom on a RAM disk while the file grows at its end. Each round, under the lock,
// it takes the room left in the file's last cluster and reserves a run of free clusters right
// after it (fatTable.reserve: nobody else allocates them, and they stay free in the FAT), then
// reads from r straight into those bytes of the RAM disk without the lock until they are full or r
// ends, then links as many clusters as that filled and moves the size. What the device's FAT and entries say never
// covers a byte before it is written, as with Write; other readers never see past the size.
// more reports that the rest must go the buffered way.
func (f *File) receive(r io.Reader) (total int64, more bool, err error) {
	v := f.v
	for {
		if err := f.lock("write"); err != nil {
			return total, false, err
		}
		dev, length, run, ok, err := f.receiveTarget()
		if err != nil || !ok {
			v.mu.Unlock()
			return total, err == nil, err
		}
		f.n.filling++
		v.mu.Unlock()
		// Fill the piece whole before committing (a connection's read returns a segment or two):
		// one commit per piece, which is one flush per piece in write-through mode, as Write has.
		k, rerr := io.ReadFull(r, v.mem[dev:dev+length])
		if rerr == io.ErrUnexpectedEOF {
			rerr = io.EOF
		}
		v.mu.Lock()
		f.n.filling--
		if run.n > 0 {
			v.fat.unreserve(run.start)
		}
		var cerr error
		if v.closed || f.closed {
			cerr = pathErr("write", f.name, fs.ErrClosed)
		} else if k > 0 {
			f.receiveCommit(run, int64(k))
			cerr = pathErr("write", f.name, v.done(nil))
		}
		v.mu.Unlock()
		total += int64(k)
		switch {
		case cerr != nil:
			return total, false, cerr
		case rerr == io.EOF:
			return total, false, nil
		case rerr != nil:
			return total, false, rerr
		}
	}
}

// receiveTarget picks where the next streamed read lands: the volume-relative offset and length
// of a contiguous piece of the RAM disk starting at the file's end, and the run of clusters it
// reserved for it. ok is false when streaming cannot go on (a write inside the file, no free
// cluster, the size limit, a chain that is not contiguous at its end).
func (f *File) receiveTarget() (dev, length int64, run extent, ok bool, err error) {
	v, n := f.v, f.n
	if !f.write || n.isDir() || n.filling > 0 || v.opt.ReadOnly {
		return 0, 0, extent{}, false, nil
	}
	size := int64(n.size)
	if f.append {
		f.off = size
	}
	if f.off != size {
		return 0, 0, extent{}, false, nil
	}
	limit := min(int64(streamMax), 0xFFFFFFFF-size)
	cs := v.g.cs
	if need := uint32((limit + cs - 1) / cs); v.fat.free-v.fat.resvN < need && len(v.pending) > 0 {
		// Released chains become free only at a flush (durable.go); flush now, as alloc does when
		// short: a consistent point, nothing of this round has changed an entry yet.
		if err := v.flush(); err != nil {
			return 0, 0, extent{}, false, pathErr("write", f.name, err)
		}
	}
	ext, err := v.extents(n)
	if err != nil {
		return 0, 0, extent{}, false, pathErr("write", f.name, err)
	}
	have := int64(extLen(ext)) * cs
	var next uint32 // the cluster the reserved run must start at, 0: anywhere
	switch {
	case have > size: // room in the chain after the end
		var avail int64
		dev, avail, err = v.span(ext, size)
		if err != nil {
			return 0, 0, extent{}, false, pathErr("write", f.name, err)
		}
		length = min(avail, limit)
		if size+avail != have { // the chain goes on elsewhere: fill this much, no run
			return dev, length, extent{}, length > 0 && dev+length <= int64(len(v.mem)), nil
		}
		next = extLast(ext) + 1
	case len(ext) > 0 && extLast(ext) < v.g.maxCluster() && v.fat.usable(extLast(ext)+1):
		next = extLast(ext) + 1
		dev = v.g.clusterOff(next)
	default:
		next = v.fat.findUsable(v.fat.next)
		dev = v.g.clusterOff(next)
	}
	if want := (limit - length + cs - 1) / cs; want > 0 && next != 0 && next <= v.g.maxCluster() && v.fat.usable(next) {
		want = min(want, int64(v.fat.free-v.fat.resvN))
		run = extent{start: next, n: v.fat.reserve(next, uint32(want))}
		length = min(length+int64(run.n)*cs, limit)
	}
	if length <= 0 || dev+length > int64(len(v.mem)) {
		if run.n > 0 {
			v.fat.unreserve(run.start)
		}
		return 0, 0, extent{}, false, nil
	}
	return dev, length, run, true, nil
}

// receiveCommit makes k streamed bytes part of the file: links the clusters of run they reached
// and moves the size and the offset.
func (f *File) receiveCommit(run extent, k int64) {
	v, n := f.v, f.n
	ext := n.ext
	end := int64(n.size) + k
	need := uint32((end + v.g.cs - 1) / v.g.cs)
	last := extLast(ext)
	for c := run.start; extLen(ext) < need && c < run.start+run.n; c++ {
		if last != 0 {
			v.fat.set(last, c)
		} else {
			n.cluster = c
		}
		v.fat.set(c, clusterEOC)
		v.fat.free--
		ext = extAppend(ext, c)
		last = c
		v.fat.next = c + 1 // the allocation hint moves past what was taken, as alloc leaves it
	}
	n.ext = ext
	n.size = uint32(end)
	f.off = end
	v.stamp(n)
	n.attr |= AttrArchive
	v.store(n)
}

// Truncate changes the file's size; growth reads back as zeros.
func (f *File) Truncate(size int64) error {
	if err := f.lock("truncate"); err != nil {
		return err
	}
	defer f.v.mu.Unlock()
	if !f.write {
		return pathErr("truncate", f.name, fmt.Errorf("file not open for writing: %w", fs.ErrPermission))
	}
	return pathErr("truncate", f.name, f.v.done(f.v.truncate(f.n, size)))
}

// Sync writes the volume's cached metadata.
func (f *File) Sync() error {
	if f.closed {
		return pathErr("sync", f.name, fs.ErrClosed)
	}
	return f.v.Sync()
}

// Close closes the file. Its entry is already up to date in the volume's cache.
func (f *File) Close() error {
	if err := f.lock("close"); err != nil {
		return err
	}
	defer f.v.mu.Unlock()
	f.closed = true
	f.n.open--
	return nil
}

// ReadDir lists a directory (fs.ReadDirFile); n > 0 pages through it.
func (f *File) ReadDir(count int) ([]fs.DirEntry, error) {
	if err := f.lock("readdir"); err != nil {
		return nil, err
	}
	defer f.v.mu.Unlock()
	if !f.n.isDir() {
		return nil, pathErr("readdir", f.name, ErrNotDir)
	}
	if !f.listed {
		l, err := f.v.list(f.n)
		if err != nil {
			return nil, pathErr("readdir", f.name, err)
		}
		f.list, f.listed = l, true
	}
	if count <= 0 {
		out := f.list
		f.list = nil
		return out, nil
	}
	if len(f.list) == 0 {
		return nil, io.EOF
	}
	k := min(count, len(f.list))
	out := f.list[:k:k]
	f.list = f.list[k:]
	return out, nil
}

// --- data path ---

// span maps file offset pos to a device offset and the bytes contiguous from there.
func (v *FS) span(ext []extent, pos int64) (int64, int64, error) {
	ci := uint32(pos / v.g.cs)
	e, ok := extFind(ext, ci)
	if !ok {
		return 0, 0, fmt.Errorf("offset %d beyond the cluster chain: %w", pos, ErrCorrupt)
	}
	within := pos % v.g.cs
	return v.g.clusterOff(e.start+ci-e.idx) + within, int64(e.idx+e.n-ci)*v.g.cs - within, nil
}

func (v *FS) readAt(n *node, p []byte, off int64) (int, error) {
	size := int64(n.size)
	if off >= size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), size-off)
	ext, err := v.extents(n)
	if err != nil {
		return 0, err
	}
	var done int64
	for done < want {
		dev, avail, err := v.span(ext, off+done)
		if err != nil {
			return int(done), err
		}
		k := min(want-done, avail)
		if m, err := v.dev.ReadAt(p[done:done+k], dev); int64(m) < k {
			if err == nil || errors.Is(err, io.EOF) {
				err = fmt.Errorf("image ends inside file data: %w", ErrCorrupt)
			}
			return int(done) + m, err
		}
		done += k
	}
	if want < int64(len(p)) {
		return int(want), io.EOF
	}
	return int(want), nil
}

// writeRaw writes p at file offset off into already allocated clusters; p nil writes zeros.
func (v *FS) writeRaw(ext []extent, p []byte, off, length int64) error {
	var done int64
	for done < length {
		dev, avail, err := v.span(ext, off+done)
		if err != nil {
			return err
		}
		k := min(length-done, avail)
		var chunk []byte
		if p != nil {
			chunk = p[done : done+k]
		} else {
			k = min(k, int64(len(v.zero)))
			chunk = v.zero[:k]
		}
		if _, err := v.dev.WriteAt(chunk, dev); err != nil {
			return err
		}
		done += k
	}
	return nil
}

// reserve makes n's chain hold at least end bytes. It fails without change when space is short.
func (v *FS) reserve(n *node, end int64) error {
	if end > 0xFFFFFFFF {
		return ErrFileTooLarge
	}
	ext, err := v.extents(n)
	if err != nil {
		return err
	}
	need := uint32((end + v.g.cs - 1) / v.g.cs)
	have := extLen(ext)
	if need <= have {
		return nil
	}
	first, err := v.alloc(need-have, extLast(ext), func(c uint32) { ext = extAppend(ext, c) })
	if err != nil {
		return err
	}
	if n.cluster == 0 {
		n.cluster = first
	}
	n.ext = ext
	return nil
}

func (v *FS) writeAt(n *node, p []byte, off int64) error {
	end := off + int64(len(p))
	if len(p) == 0 {
		return nil
	}
	if n.filling > 0 || (n.sending > 0 && off < int64(n.size)) {
		return ErrStreaming
	}
	if err := v.reserve(n, end); err != nil {
		return err
	}
	size := int64(n.size)
	if off > size {
		if err := v.writeRaw(n.ext, nil, size, off-size); err != nil {
			return err
		}
	}
	err := v.writeRaw(n.ext, p, off, int64(len(p)))
	if end > size {
		n.size = uint32(end)
	}
	v.stamp(n)
	n.attr |= AttrArchive
	v.store(n)
	return err
}

func (v *FS) truncate(n *node, size int64) error {
	if size < 0 {
		return fmt.Errorf("negative size: %w", fs.ErrInvalid)
	}
	cur := int64(n.size)
	if size != cur && (n.filling > 0 || (n.sending > 0 && size < cur)) {
		return ErrStreaming
	}
	switch {
	case size > cur:
		if err := v.reserve(n, size); err != nil {
			return err
		}
		if err := v.writeRaw(n.ext, nil, cur, size-cur); err != nil {
			return err
		}
	case size < cur:
		ext, err := v.extents(n)
		if err != nil {
			return err
		}
		need := uint32((size + v.g.cs - 1) / v.g.cs)
		if need == 0 {
			v.release(n.cluster)
			n.cluster, n.ext = 0, nil
		} else if need < extLen(ext) {
			e, _ := extFind(ext, need-1)
			last := e.start + need - 1 - e.idx
			rest := v.fat.get(last)
			v.fat.set(last, clusterEOC)
			v.release(rest)
			k := 0
			for k < len(ext) && ext[k].idx < need {
				k++
			}
			ext = ext[:k]
			ext[k-1].n = need - ext[k-1].idx
			n.ext = ext
		}
	default:
		return nil
	}
	n.size = uint32(size)
	v.stamp(n)
	n.attr |= AttrArchive
	v.store(n)
	return nil
}

// --- FileInfo ---

// EntryInfo is what FileInfo.Sys returns: the FAT-specific facts of an entry.
type EntryInfo struct {
	ShortName string // 8.3 alias as stored
	Attr      byte
	Cluster   uint32 // first cluster, 0 for an empty file
	Created   time.Time
	Accessed  time.Time
}

type fileInfo struct {
	name  string
	size  int64
	mode  fs.FileMode
	mtime time.Time
	sys   *EntryInfo
}

func (fi *fileInfo) Name() string       { return fi.name }
func (fi *fileInfo) Size() int64        { return fi.size }
func (fi *fileInfo) Mode() fs.FileMode  { return fi.mode }
func (fi *fileInfo) ModTime() time.Time { return fi.mtime }
func (fi *fileInfo) IsDir() bool        { return fi.mode.IsDir() }
func (fi *fileInfo) Sys() any           { return fi.sys }

func (v *FS) info(n *node) fs.FileInfo {
	loc := v.loc()
	fi := &fileInfo{name: n.name, size: int64(n.size), mode: 0o644,
		mtime: fromFAT(n.wrtDate, n.wrtTime, 0, loc),
		sys: &EntryInfo{ShortName: shortDisplay(n.sn[:], 0), Attr: n.attr, Cluster: n.cluster,
			Created: fromFAT(n.crtDate, n.crtTime, n.crtTenth, loc), Accessed: fromFAT(n.accDate, 0, 0, loc)}}
	if n.attr&AttrReadOnly != 0 {
		fi.mode = 0o444
	}
	if n.isDir() {
		fi.mode = fs.ModeDir | fi.mode | 0o111
		fi.size = 0
	}
	if n == v.root {
		fi.sys.ShortName = ""
	}
	return fi
}
