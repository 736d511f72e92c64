package server

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/netxsim/netxsim/ftp"
)

// RETR and STOR/APPE: files to and from the file system, uploads under a temporary name.

// tempPrefix marks uploads in progress; such names are hidden from listings and refused as targets.
const tempPrefix = ".netxsim-upload-"

// isTempName tells an upload temporary by its long name, in any case (a case-insensitive host
// directory or FAT may report another spelling).
func isTempName(base string) bool {
	return len(base) >= len(tempPrefix) && strings.EqualFold(base[:len(tempPrefix)], tempPrefix)
}

// transfer is a running data transfer; the control connection keeps being read meanwhile (ABOR).

func (ss *session) needImage() bool {
	if !ss.binary && !ss.extended() {
		ss.reply(504, "Only Image transfer allowed")
		return false
	}
	return true
}

func (ss *session) cmdRETR(arg string) {
	offset := ss.rest
	ss.rest = 0
	if !ss.needImage() {
		return
	}
	p := ss.abs(arg)
	f, err := ss.fs.Open(fsName(p))
	if err == nil {
		var fi fs.FileInfo
		if fi, err = f.Stat(); err == nil && fi.IsDir() {
			err = fmt.Errorf("%s is a directory", p)
		}
		if err == nil && offset > 0 {
			if sk, ok := f.(io.Seeker); !ok {
				err = errors.New("file cannot seek")
			} else {
				_, err = sk.Seek(offset, io.SeekStart)
			}
		}
		if err != nil {
			f.Close()
		}
	}
	if err == nil && (arg == "" || isTempName(path.Base(p))) {
		f.Close()
		err = fs.ErrNotExist // a temporary upload is not there for clients
	}
	if err != nil {
		ss.openFailed("retr", p, err, "File Open Fail")
		return
	}
	plan, ok := ss.takeDataPlan(func() { f.Close() })
	if !ok {
		return
	}
	binaryMode, block := ss.binary, ss.block
	ss.runData(plan, "File Opened", func(ctx context.Context, data io.ReadWriter) (string, error) {
		defer f.Close()
		w := io.Writer(data)
		var bw *blockWriter
		if block {
			bw = &blockWriter{w: w}
			w = bw
		}
		if !binaryMode {
			w = &lineEnds{w: w, toCRLF: true}
		}
		if st, ok := f.(streamer); ok && st.Streaming() && binaryMode && !block {
			if err := sendStream(data, f.(io.WriterTo)); err != nil {
				return "", err
			}
			return "File Sent", nil
		}
		if err := copyData(w, f, true); err != nil {
			return "", err
		}
		if bw != nil {
			if err := bw.finish(); err != nil {
				return "", &ftp.Error{Code: 426, Msg: "Data connection failed; transfer aborted"}
			}
		}
		return "File Sent", nil
	}, nil)
}

// copyData copies with large buffers and maps failures to replies: a read error of the source is the
// file system's when fromFile (550 Read Fail), the network's otherwise (426). Reading and writing
// overlap (a reader goroutine fills the next buffer while this one writes the last), so a transfer
// runs at the speed of the slower side, not of both added: the network and the image copy each
// take about as long per byte. Each write is a full buffer. On a write failure the reader is told to stop; it ends once its read
// returns (at the latest when the caller closes the data connection).
func copyData(dst io.Writer, src io.Reader, fromFile bool) error {
	const size, depth = 128 << 10, 3
	type chunk struct {
		b   []byte
		n   int
		err error
	}
	free := make(chan []byte, depth)
	for range depth {
		free <- make([]byte, size)
	}
	full := make(chan chunk, depth)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			var b []byte
			select {
			case b = <-free:
			case <-stop:
				return
			}
			// Fill the buffer: a network read returns what one segment carried, and the image
			// writes large chunks far faster than many small ones.
			n, err := 0, error(nil)
			for n < len(b) && err == nil {
				var k int
				k, err = src.Read(b[n:])
				n += k
			}
			select {
			case full <- chunk{b, n, err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range full {
		if c.n > 0 {
			if _, werr := dst.Write(c.b[:c.n]); werr != nil {
				if fromFile {
					return &ftp.Error{Code: 426, Msg: "Data connection failed; transfer aborted"}
				}
				return &ftp.Error{Code: 550, Msg: "File Write Failed"}
			}
		}
		if c.err == io.EOF {
			return nil
		}
		if c.err != nil {
			if fromFile {
				return &ftp.Error{Code: 550, Msg: "Read Fail"}
			}
			return &ftp.Error{Code: 426, Msg: "Data connection failed; transfer aborted"}
		}
		free <- c.b
	}
	return nil
}

// streamer is a back end file that moves data between a connection and its storage without a
// buffer in between (fsimage on a RAM disk): its io.WriterTo hands the connection the file's own
// memory, its io.ReaderFrom reads the connection into it. Only binary stream-mode transfers use it.
type streamer interface{ Streaming() bool }

// sideErr remembers the error of one side of a streamed copy, so a failure is told apart: the
// connection's (426) or the file's (550).
type sideErr struct {
	r   io.Reader
	w   io.Writer
	err error
}

func (s *sideErr) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

func (s *sideErr) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	if err != nil {
		s.err = err
	}
	return n, err
}

// sendStream is RETR's copy from a streamer.
func sendStream(conn io.Writer, f io.WriterTo) error {
	side := &sideErr{w: conn}
	_, err := f.WriteTo(side)
	return streamReply(err, side, "Read Fail")
}

// receiveStream is STOR's copy into a streamer.
func receiveStream(f io.ReaderFrom, conn io.Reader) error {
	side := &sideErr{r: conn}
	_, err := f.ReadFrom(side)
	return streamReply(err, side, "File Write Failed")
}

// streamReply turns a streamed copy's error into its reply: 426 when the data connection failed,
// else 550 with the file side's fsFail text.
func streamReply(err error, side *sideErr, fsFail string) error {
	switch {
	case err == nil:
		return nil
	case side.err != nil:
		return &ftp.Error{Code: 426, Msg: "Data connection failed; transfer aborted"}
	}
	return &ftp.Error{Code: 550, Msg: fsFail}
}

// cmdSTOR stores (or appends) through a temporary file in the target's directory, renamed over the
// target only when the whole upload has arrived: an interrupted STOR keeps the old file. APPE
// receives the new data alone, then, under the file's change lock, writes the current content and
// the new data to a second temporary file and renames that over the target: two APPEs (or an APPE
// and a STOR, DELE or RNTO) to one file are applied one after the other, none is lost.
func (ss *session) cmdSTOR(arg string, appendMode bool) {
	offset := ss.rest
	ss.rest = 0
	if !ss.needImage() {
		return
	}
	target := ss.abs(arg)
	fsys := ss.srv.FS // the raw back end: the temporary files are ours
	if arg == "" || target == "/" || ss.fs.hidden(fsName(target)) {
		ss.reply(550, "File Open Failed")
		return
	}
	old, statErr := fsys.Stat(fsName(target))
	if statErr == nil && !old.Mode().IsRegular() { // a directory, a FIFO, a device
		ss.reply(550, "File Open Failed")
		return
	}
	keep := int64(0) // bytes of the old file that stay in front of the new data (REST)
	switch {
	case appendMode && statErr == nil: // the old content is added at the end, under the lock
	case offset > 0:
		if statErr != nil || offset > old.Size() {
			ss.reply(550, "File Open Failed")
			return
		}
		keep = offset
	}
	tmp := tempFor(target)
	w, err := fsys.Create(fsName(tmp))
	if err == nil && keep > 0 {
		err = copyPrefix(fsys, fsName(target), w, keep)
		if err != nil {
			w.Close()
		}
	}
	if err != nil {
		fsys.Remove(fsName(tmp))
		ss.openFailed("stor", target, err, "File Open Failed")
		return
	}
	plan, ok := ss.takeDataPlan(func() {
		w.Close()
		fsys.Remove(fsName(tmp))
	})
	if !ok {
		return
	}
	binaryMode, block := ss.binary, ss.block
	closed := false
	cleanup := func() {
		if !closed {
			w.Close()
		}
		if err := fsys.Remove(fsName(tmp)); err != nil && !isNotExist(err) {
			ss.log.Warn("ftp: removing temporary upload failed", "name", tmp, "err", err)
		}
		ss.sync()
	}
	writeFailed := &ftp.Error{Code: 550, Msg: "File Write Failed"}
	if ss.shipped() && plan.epsv {
		ss.log.Warn("ftp: EPSV upload not stored: NetX Duo 6.4.2's EPSV handler registers no receive notify on the data socket, so the real device never reads an upload over EPSV and the file stays empty (uploads over 2,048 bytes are never answered)",
			"path", target, "defect", "nx_ftp_server EPSV STOR")
		ss.runData(plan, "File Open for Write", func(ctx context.Context, data io.ReadWriter) (string, error) {
			return ss.unreadUpload(ctx, data, w, tmp, target)
		}, cleanup)
		return
	}
	ss.runData(plan, "File Open for Write", func(ctx context.Context, data io.ReadWriter) (string, error) {
		r := io.Reader(data)
		if block {
			r = &blockReader{r: bufio.NewReaderSize(data, 64<<10)}
		}
		dst := io.Writer(w)
		var conv *lineEnds
		if !binaryMode {
			conv = &lineEnds{w: w}
			dst = conv
		}
		var err error
		if st, ok := w.(streamer); ok && st.Streaming() && binaryMode && !block {
			err = receiveStream(w.(io.ReaderFrom), r)
		} else {
			err = copyData(dst, r, false)
		}
		if err != nil {
			return "", err
		}
		if ctx.Err() != nil { // a connection we closed ourselves may read as a clean end
			return "", ctx.Err()
		}
		if conv != nil {
			if err := conv.flush(); err != nil {
				return "", writeFailed
			}
		}
		closed = true
		if err := w.Close(); err != nil { // a full disk shows here
			ss.log.Info("ftp: stor close failed", "path", target, "err", err)
			return "", writeFailed
		}
		unlock, err := ss.lockFiles(ctx, fsName(target))
		if err != nil {
			return "", err
		}
		defer unlock()
		if ss.fs.hidden(fsName(target)) { // the name came to alias another upload meanwhile
			return "", writeFailed
		}
		src := tmp
		if appendMode {
			merged, err := mergeAppend(fsys, target, tmp)
			if err != nil {
				ss.log.Info("ftp: appe merge failed", "path", target, "err", err)
				return "", writeFailed
			}
			fsys.Remove(fsName(tmp))
			src = merged
		}
		if err := fsys.Rename(fsName(src), fsName(target)); err != nil {
			ss.log.Info("ftp: stor rename failed", "path", target, "err", err)
			if src != tmp {
				fsys.Remove(fsName(src))
			}
			return "", writeFailed
		}
		if err := ss.sync(); err != nil {
			return "", &ftp.Error{Code: 451, Msg: "File written but not flushed to the medium"}
		}
		return "File Written", nil
	}, cleanup)
}

// tempFor names a fresh upload temporary next to target.
func tempFor(target string) string {
	return path.Join(path.Dir(target), tempPrefix+randomHex()+".part")
}

// mergeAppend writes target's current content (if it still exists) followed by the new data in
// tmp to another temporary file and returns that file's name; the caller holds target's lock.
func mergeAppend(fsys FileSystem, target, tmp string) (string, error) {
	merged := tempFor(target)
	w, err := fsys.Create(fsName(merged))
	if err != nil {
		return "", err
	}
	if fi, err := fsys.Stat(fsName(target)); err == nil {
		if !fi.Mode().IsRegular() {
			err = fmt.Errorf("%s is no longer a regular file", target)
		} else {
			err = copyPrefix(fsys, fsName(target), w, fi.Size())
		}
		if err != nil {
			w.Close()
			fsys.Remove(fsName(merged))
			return "", err
		}
	}
	err = copyPrefix(fsys, fsName(tmp), w, -1)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fsys.Remove(fsName(merged))
		return "", err
	}
	return merged, nil
}

// netxDataWindow is NetX's data socket window: what a client can send before a server that never
// reads stops it.
const netxDataWindow = 2048

// unreadUpload is the shipped code's EPSV upload: the data is never taken. Up to the 2,048-byte data
// window it is discarded and, when the client closes, the (empty) file is stored and 250 sent; a
// larger upload stalls, as on the real device, until the session ends.
func (ss *session) unreadUpload(ctx context.Context, data io.Reader, w io.WriteCloser, tmp, target string) (string, error) {
	n, err := io.Copy(io.Discard, io.LimitReader(data, netxDataWindow+1))
	switch {
	case n > netxDataWindow:
		<-ctx.Done()
		return "", ctx.Err()
	case err != nil:
		return "", &ftp.Error{Code: 426, Msg: "Data connection failed; transfer aborted"}
	case ctx.Err() != nil:
		return "", ctx.Err()
	}
	fsys := ss.srv.FS
	if err := w.Close(); err != nil {
		return "", &ftp.Error{Code: 550, Msg: "File Write Failed"}
	}
	if err := fsys.Rename(fsName(tmp), fsName(target)); err != nil {
		return "", &ftp.Error{Code: 550, Msg: "File Write Failed"}
	}
	ss.sync()
	return "File Written", nil
}

// copyPrefix copies the first n bytes of name to w; n < 0 copies all of it.
func copyPrefix(fsys FileSystem, name string, w io.Writer, n int64) error {
	f, err := fsys.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	if n < 0 {
		_, err = io.Copy(w, f)
	} else {
		_, err = io.CopyN(w, f, n)
	}
	return err
}

func randomHex() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
