package scenario

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// content is the bytes of a file the scenario writes: text, size seeded pseudo-random bytes, or a host file.
type content struct {
	text []byte
	size int64
	seed uint64
	file string
}

// Generated returns a reader of n pseudo-random bytes from seed: the same bytes for the same seed,
// whatever the platform (ChaCha8 keyed with the seed), as the demo's TCP streams.
func Generated(n int64, seed uint64) io.Reader {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	return io.LimitReader(rand.NewChaCha8(key), n)
}

func (c content) open() (io.ReadCloser, error) {
	switch {
	case c.file != "":
		f, err := os.Open(c.file)
		if err != nil {
			return nil, fmt.Errorf("put source: %w", err)
		}
		return f, nil
	case c.text != nil:
		return io.NopCloser(bytes.NewReader(c.text)), nil
	}
	return io.NopCloser(Generated(c.size, c.seed)), nil
}

// digest returns the content's SHA-256 (hex) and size.
func (c content) digest() (fileState, error) {
	r, err := c.open()
	if err != nil {
		return fileState{}, err
	}
	defer r.Close()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return fileState{}, fmt.Errorf("reading %s: %w", c.file, err)
	}
	return fileState{sha: hex.EncodeToString(h.Sum(nil)), size: n}, nil
}

func (c content) String() string {
	switch {
	case c.file != "":
		return "file " + c.file
	case c.text != nil:
		return fmt.Sprintf("%d bytes of text", len(c.text))
	}
	return fmt.Sprintf("%d bytes, seed %d", c.size, c.seed)
}

func resolve(dir, p string) string {
	if p == "" || filepath.IsAbs(p) || dir == "" {
		return p
	}
	return filepath.Join(dir, p)
}

func putContent(dir string, p *Put) content {
	switch {
	case p.File != "":
		return content{file: resolve(dir, p.File)}
	case p.Content != "":
		return content{text: []byte(p.Content)}
	}
	return content{size: int64(p.Size), seed: p.Seed}
}

func specContent(dir string, f *FileSpec) content {
	switch {
	case f.From != "":
		return content{file: resolve(dir, f.From)}
	case f.Content != "":
		return content{text: []byte(f.Content)}
	}
	return content{size: int64(f.Size), seed: f.Seed}
}

// fileState is what the scenario knows a file holds.
type fileState struct {
	sha  string
	size int64
}

// model tracks what the scenario wrote to one server's image, so that "same" has a meaning and the
// capture's transfers can be checked by content.
type model struct {
	files map[string]fileState
}

func newModel() *model { return &model{files: map[string]fileState{}} }

// key normalises a remote path: the sessions all start at the root.
func key(p string) string { return path.Clean("/" + p) }

func (m *model) set(p string, st fileState) { m.files[key(p)] = st }

func (m *model) get(p string) (fileState, bool) {
	st, ok := m.files[key(p)]
	return st, ok
}

func (m *model) remove(p string) { delete(m.files, key(p)) }

// rename moves a file, or a directory with everything known below it.
func (m *model) rename(from, to string) {
	f, t := key(from), key(to)
	if st, ok := m.files[f]; ok {
		delete(m.files, f)
		m.files[t] = st
		return
	}
	for k, st := range m.files {
		if strings.HasPrefix(k, f+"/") {
			delete(m.files, k)
			m.files[t+strings.TrimPrefix(k, f)] = st
		}
	}
}

// byBase collects what every file name held at any point, by base name, for ftpcheck's content
// check; names that held different contents are left out (the capture cannot tell which one is meant).
type byBase struct {
	m        map[string]fileState
	conflict map[string]bool
}

func newByBase() *byBase { return &byBase{m: map[string]fileState{}, conflict: map[string]bool{}} }

func (b *byBase) add(p string, st fileState) {
	base := path.Base(key(p))
	if b.conflict[base] {
		return
	}
	if old, ok := b.m[base]; ok && old != st {
		delete(b.m, base)
		b.conflict[base] = true
		return
	}
	b.m[base] = st
}

// hashWriter hashes what passes through it to w.
type hashWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func newHashWriter(w io.Writer) *hashWriter { return &hashWriter{w: w, h: sha256.New()} }

func (hw *hashWriter) Write(p []byte) (int, error) {
	n, err := hw.w.Write(p)
	hw.h.Write(p[:n])
	hw.n += int64(n)
	return n, err
}

// ReadFrom copies r with a large buffer (the image and the FTP data connection like big writes).
func (hw *hashWriter) ReadFrom(r io.Reader) (int64, error) {
	// The anonymous structs hide ReaderFrom/WriterTo, so CopyBuffer uses buf instead of calling back here.
	return io.CopyBuffer(struct{ io.Writer }{hw}, struct{ io.Reader }{r}, make([]byte, 256<<10))
}

func (hw *hashWriter) state() fileState {
	return fileState{sha: hex.EncodeToString(hw.h.Sum(nil)), size: hw.n}
}

// hashReader hashes what is read through it, with a hashWriter that writes nowhere else.
type hashReader struct {
	r  io.Reader
	hw *hashWriter
}

func newHashReader(r io.Reader) *hashReader { return &hashReader{r: r, hw: newHashWriter(io.Discard)} }

func (hr *hashReader) Read(p []byte) (int, error) {
	n, err := hr.r.Read(p)
	hr.hw.Write(p[:n])
	return n, err
}

func (hr *hashReader) state() fileState { return hr.hw.state() }
