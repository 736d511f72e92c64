package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/netxsim/netxsim/ftp"
)

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n - n%8; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// put uploads data to name and checks the upload's completion.
func put(t *testing.T, ctx context.Context, c *Client, name string, data []byte) {
	t.Helper()
	u, err := c.Stor(ctx, name)
	if err != nil {
		t.Fatalf("stor %s: %v", name, err)
	}
	if _, err := io.Copy(u, bytes.NewReader(data)); err != nil {
		u.Close()
		t.Fatalf("stor %s: write: %v", name, err)
	}
	if err := u.Close(); err != nil {
		t.Fatalf("stor %s: close: %v", name, err)
	}
}

// get downloads name whole.
func get(ctx context.Context, c *Client, name string) ([]byte, error) {
	d, err := c.Retr(ctx, name)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(d)
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return b, err
}

// roundTrip uploads and downloads data of size n streaming (no full copy in memory for the hash) and
// compares SHA-256.
func roundTrip(t *testing.T, ctx context.Context, c *Client, name string, n int64, seed uint64) {
	t.Helper()
	src := &patternReader{left: n, r: rand.New(rand.NewPCG(seed, 1))}
	hin := sha256.New()
	u, err := c.Stor(ctx, name)
	if err != nil {
		t.Fatalf("stor %s: %v", name, err)
	}
	if _, err := io.Copy(u, io.TeeReader(src, hin)); err != nil {
		u.Close()
		t.Fatalf("stor %s (%d bytes): write: %v", name, n, err)
	}
	if err := u.Close(); err != nil {
		t.Fatalf("stor %s (%d bytes): close: %v", name, n, err)
	}
	d, err := c.Retr(ctx, name)
	if err != nil {
		t.Fatalf("retr %s: %v", name, err)
	}
	hout := sha256.New()
	got, err := io.Copy(hout, d)
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("retr %s: %v", name, err)
	}
	if got != n || !bytes.Equal(hin.Sum(nil), hout.Sum(nil)) {
		t.Fatalf("retr %s: got %d bytes sha256 %x, sent %d bytes sha256 %x", name, got, hout.Sum(nil), n, hin.Sum(nil))
	}
}

// patternReader yields n pseudo-random bytes.
type patternReader struct {
	left int64
	r    *rand.Rand
}

func (p *patternReader) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	for i := range b {
		if i%8 == 0 {
			v := p.r.Uint64()
			for j := 0; j < 8 && i+j < len(b); j++ {
				b[i+j] = byte(v >> (8 * j))
			}
		}
	}
	p.left -= int64(len(b))
	return len(b), nil
}

// names lists dir with NLST through the iterator and returns base names (servers differ on whether
// NLST of a directory gives "dir/name" or "name").
func names(t *testing.T, ctx context.Context, c *Client, dir string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for n, err := range c.Names(ctx, dir) {
		if err != nil {
			t.Fatalf("nlst %s: %v", dir, err)
		}
		out[path.Base(n)] = true
	}
	return out
}

// exercise runs every client service against a server whose root is writable, under dir (created).
// feats: expect SIZE, MDTM and REST STREAM to be announced.
func exercise(t *testing.T, ctx context.Context, c *Client, dir string, feats bool) {
	exerciseOpts(t, ctx, c, dir, feats, false)
}

// exerciseOpts is exercise; listStream does the listings in stream mode whatever the client's mode.
func exerciseOpts(t *testing.T, ctx context.Context, c *Client, dir string, feats, listStream bool) {
	t.Helper()
	home, err := c.Pwd(ctx)
	if err != nil {
		t.Fatalf("pwd: %v", err)
	}
	if err := c.Mkdir(ctx, dir); err != nil {
		t.Fatalf("mkdir: %v", err)
	}
	if err := c.Chdir(ctx, dir); err != nil {
		t.Fatalf("chdir: %v", err)
	}
	wd, err := c.Pwd(ctx)
	if err != nil || path.Base(wd) != path.Base(dir) {
		t.Fatalf("pwd = %q, %v; want .../%s", wd, err, path.Base(dir))
	}
	if err := c.Chdir(ctx, home); err != nil {
		t.Fatalf("chdir %s: %v", home, err)
	}
	small := randomBytes(70_000, 1) // more than one 65535-byte block
	files := map[string][]byte{"empty": {}, "one": {0x5a}, "small.bin": small}
	for name, data := range files {
		put(t, ctx, c, dir+"/"+name, data)
	}
	for name, data := range files {
		got, err := get(ctx, c, dir+"/"+name)
		if err != nil {
			t.Fatalf("retr %s: %v", name, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("retr %s: got %d bytes, want %d (equal: false)", name, len(got), len(data))
		}
	}
	if mode := c.cfg.mode; listStream && mode != ModeStream {
		c.SetMode(ModeStream)
		defer c.SetMode(mode)
	}
	ls := names(t, ctx, c, dir)
	for name := range files {
		if !ls[name] {
			t.Fatalf("nlst %s = %v: %s missing", dir, ls, name)
		}
	}
	// leaving the iterator early closes the listing and keeps the session in step
	for _, err := range c.Names(ctx, dir) {
		if err != nil {
			t.Fatalf("nlst: %v", err)
		}
		break
	}
	if err := c.Noop(ctx); err != nil {
		t.Fatalf("noop after an abandoned listing: %v", err)
	}
	// the stream form
	l, err := c.NameList(ctx, dir)
	if err != nil {
		t.Fatalf("nlst stream: %v", err)
	}
	all, err := l.ReadAll()
	if err != nil || len(all) < len(files) {
		t.Fatalf("nlst stream = %q, %v", all, err)
	}
	ll, err := c.List(ctx, dir)
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	lines, err := ll.ReadAll()
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if !strings.Contains(strings.Join(lines, "\n"), "small.bin") {
		t.Fatalf("list %s = %q: small.bin missing", dir, lines)
	}

	if feats {
		n, err := c.Size(ctx, dir+"/small.bin")
		if err != nil || n != int64(len(small)) {
			t.Fatalf("size = %d, %v; want %d", n, err, len(small))
		}
		mt, err := c.ModTime(ctx, dir+"/small.bin")
		if err != nil || time.Since(mt) > time.Hour || time.Since(mt) < -time.Hour {
			t.Fatalf("mdtm = %v, %v; want about now", mt, err)
		}
		// resume a download
		d, err := c.RetrFrom(ctx, dir+"/small.bin", 60_000)
		if err != nil {
			t.Fatalf("retr from: %v", err)
		}
		tail, err := io.ReadAll(d)
		d.Close()
		if err != nil || !bytes.Equal(tail, small[60_000:]) {
			t.Fatalf("retr from 60000: %d bytes, %v", len(tail), err)
		}
		// resume an upload
		put(t, ctx, c, dir+"/resumed", small[:30_000])
		u, err := c.StorFrom(ctx, dir+"/resumed", 30_000)
		if err != nil {
			t.Fatalf("stor from: %v", err)
		}
		u.Write(small[30_000:])
		if err := u.Close(); err != nil {
			t.Fatalf("stor from: %v", err)
		}
		got, err := get(ctx, c, dir+"/resumed")
		if err != nil || !bytes.Equal(got, small) {
			t.Fatalf("resumed upload: %d bytes, %v", len(got), err)
		}
		if err := c.Delete(ctx, dir+"/resumed"); err != nil {
			t.Fatal(err)
		}
	}

	if err := c.Rename(ctx, dir+"/small.bin", dir+"/renamed.bin"); err != nil {
		t.Fatalf("rename: %v", err)
	}
	if _, err := get(ctx, c, dir+"/small.bin"); !isCode(err, 550) {
		t.Fatalf("retr of the old name after rename: %v, want a 550 error", err)
	}
	for _, name := range []string{"empty", "one", "renamed.bin"} {
		if err := c.Delete(ctx, dir+"/"+name); err != nil {
			t.Fatalf("delete %s: %v", name, err)
		}
	}
	if err := c.Rmdir(ctx, dir); err != nil {
		t.Fatalf("rmdir: %v", err)
	}
	if err := c.Noop(ctx); err != nil {
		t.Fatalf("noop: %v", err)
	}
}

func isCode(err error, code int) bool {
	var fe *ftp.Error
	return errors.As(err, &fe) && fe.Code == code
}

// variants are the client configurations every server is tried with.
type variant struct {
	name    string
	profile ftp.Profile
	passive bool
	opts    []Option
}

func (v variant) netxActive() bool { return v.profile == ftp.ProfileNetXDuo && !v.passive }

func variants() []variant {
	var vs []variant
	for _, p := range []ftp.Profile{ftp.ProfileNetXDuo, ftp.ProfileExtended} {
		for _, passive := range []bool{false, true} {
			mode := "active"
			if passive {
				mode = "passive"
			}
			vs = append(vs, variant{fmt.Sprintf("%s/%s", p, mode), p, passive, []Option{WithProfile(p), WithPassive(passive)}})
		}
	}
	return vs
}
