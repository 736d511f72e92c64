package server

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"strings"

	"github.com/netxsim/netxsim/ftp"
)

// LIST and NLST: directory listings in NetX's and the extended profile's formats.

type listKind int

const (
	listLIST listKind = iota
	listNLST
	listMLSD
)

// stripListOptions drops ls-style switches ("-la") that clients put before the path; NetX has none,
// so only the extended profile strips them.
func stripListOptions(arg string) string {
	for strings.HasPrefix(arg, "-") {
		_, rest, _ := strings.Cut(arg, " ")
		arg = strings.TrimLeft(rest, " ")
	}
	return arg
}

func (ss *session) cmdList(arg string, kind listKind) {
	if ss.extended() {
		arg = stripListOptions(arg)
	}
	body, notDir, err := ss.listing(arg, kind)
	if err != nil || (kind == listMLSD && notDir) || (kind == listNLST && notDir && ss.shipped()) {
		ss.log.Info("ftp: list failed", "arg", arg, "err", err)
		switch kind {
		case listNLST:
			ss.reply(550, "List bad Directory")
		case listMLSD:
			ss.reply(550, "Not a directory")
		default:
			ss.reply(550, "Bad Directory")
		}
		return
	}
	plan, ok := ss.takeDataPlan(nil)
	if !ok {
		return
	}
	block := ss.block
	ss.runData(plan, "Sending List", func(ctx context.Context, data io.ReadWriter) (string, error) {
		// RFC 959 applies the transfer mode to every data transfer, listings included, and NetX's
		// client reads listings in block mode with block headers.
		w := io.Writer(data)
		var bw *blockWriter
		if block {
			bw = &blockWriter{w: w}
			w = bw
		}
		_, err := w.Write(body)
		if err == nil && bw != nil {
			err = bw.finish()
		}
		if err != nil {
			return "", &ftp.Error{Code: 426, Msg: "Data connection failed; transfer aborted"}
		}
		return "List End", nil
	}, nil)
}

// renamed gives a FileInfo another name (for the "." and ".." entries NetX passes through from FAT).
type renamed struct {
	fs.FileInfo
	name string
}

func (r renamed) Name() string { return r.name }

// listing renders a LIST/NLST/MLSD body. notDir reports that arg named a file.
func (ss *session) listing(arg string, kind listKind) (body []byte, notDir bool, err error) {
	p := ss.cwd
	if arg != "" {
		p = ss.abs(arg)
	}
	fsys := ss.fs
	fi, err := fsys.Stat(fsName(p))
	if err != nil {
		return nil, false, err
	}
	var b bytes.Buffer
	line := func(fi fs.FileInfo, name string) {
		switch kind {
		case listNLST:
			b.WriteString(name)
		case listMLSD:
			b.WriteString(ftp.FormatMLSFacts(renamed{fi, name}))
		default:
			b.WriteString(ftp.FormatListLine(renamed{fi, name}, fi.Mode().Perm()&0o222 == 0))
		}
		b.WriteString("\r\n")
	}
	if !fi.IsDir() {
		name := fi.Name()
		if kind == listNLST {
			name = arg
		}
		line(fi, name)
		return b.Bytes(), true, nil
	}
	var entries []fs.DirEntry
	if _, ok := ss.srv.FS.(unsortedDirReader); ok && ss.netx() {
		entries, err = fsys.ReadDirUnsorted(fsName(p)) // NetX lists in FAT directory order
	} else {
		entries, err = fsys.ReadDir(fsName(p))
	}
	if err != nil {
		return nil, false, err
	}
	if !ss.extended() && p != "/" && kind != listMLSD {
		// FAT subdirectories hold "." and ".." and NetX lists them; mkdir gives both the new
		// directory's own date, so ".." carries it too, not the parent's.
		line(fi, ".")
		line(fi, "..")
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		line(info, e.Name())
	}
	return b.Bytes(), false, nil
}
