package scenario

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/netxsim/netxsim/fsimage"
	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/ftp/client"
)

// StepResult is what one FTP session did.
type StepResult struct {
	Index   int           `json:"index"`
	Name    string        `json:"name"`
	Client  string        `json:"client"`
	Server  string        `json:"server"`
	Family  string        `json:"family"`
	Mode    string        `json:"mode"`
	Profile string        `json:"profile"`
	Local   string        `json:"local,omitempty"` // the client's end of the control connection
	OK      bool          `json:"ok"`
	Error   string        `json:"error,omitempty"`
	Ops     []OpResult    `json:"ops"`
	Elapsed time.Duration `json:"elapsed_ns"`
}

// OpResult is one action of a session.
type OpResult struct {
	Op      string        `json:"op"`
	OK      bool          `json:"ok"`
	Error   string        `json:"error,omitempty"`
	Bytes   int64         `json:"bytes,omitempty"`
	SHA256  string        `json:"sha256,omitempty"`
	Lines   []string      `json:"lines,omitempty"` // listings
	Elapsed time.Duration `json:"elapsed_ns"`
}

// runner executes steps against the running world.
type runner struct {
	sc    *Scenario
	w     *world
	out   string
	names *byBase
}

func (r *runner) step(ctx context.Context, i int, st *Step) StepResult {
	res := StepResult{Index: i + 1, Name: st.label(i), Client: st.Client, Server: st.Server,
		Family: st.family(), Mode: st.mode(), Profile: string(st.Profile)}
	if res.Profile == "" {
		res.Profile = string(ftp.ProfileNetXDuo)
	}
	start := time.Now()
	err := r.session(ctx, st, &res)
	res.Elapsed = time.Since(start)
	res.OK = err == nil
	if err != nil {
		res.Error = err.Error()
	}
	return res
}

func (r *runner) session(ctx context.Context, st *Step, res *StepResult) error {
	timeout := st.Timeout
	if timeout == 0 {
		timeout = defaultStepTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cl, sv := r.w.nodes[st.Client], r.w.nodes[st.Server]
	addr, _ := sv.dev.addrOf(st.family())
	prof, _ := ftp.ParseProfile(string(st.Profile))
	c, err := client.Dial(ctx, cl.d, netip.AddrPortFrom(addr, sv.dev.Server.port()),
		client.WithProfile(prof), client.WithPassive(st.mode() == "passive"),
		client.WithLogger(r.w.log.With("ftp-client", st.Client)))
	if err != nil {
		return err
	}
	defer c.Close()
	res.Local = c.LocalAddr().String()
	err = c.Login(ctx, st.User, st.Password)
	if st.LoginError != 0 {
		if code := ftpCode(err); code != st.LoginError {
			return fmt.Errorf("login as %q: want refusal %d, got %s", st.User, st.LoginError, outcome(err))
		}
		res.Ops = append(res.Ops, OpResult{Op: "login " + st.User, OK: true, Error: err.Error()})
		return c.Quit(ctx)
	}
	if err != nil {
		return err
	}
	res.Ops = append(res.Ops, OpResult{Op: "login " + st.User, OK: true})
	for j := range st.Do {
		op := &st.Do[j]
		or := OpResult{Op: op.describe()}
		t0 := time.Now()
		err := r.op(ctx, c, cl, sv, op, &or)
		or.Elapsed = time.Since(t0)
		if op.Error != 0 {
			if code := ftpCode(err); code != op.Error {
				err = fmt.Errorf("want failure %d, got %s", op.Error, outcome(err))
			} else {
				or.Error = err.Error()
				err = nil
			}
		}
		or.OK = err == nil
		if err != nil {
			or.Error = err.Error()
		}
		res.Ops = append(res.Ops, or)
		if err != nil {
			return fmt.Errorf("%s: %w", or.Op, err)
		}
	}
	return c.Quit(ctx)
}

func ftpCode(err error) int {
	var fe *ftp.Error
	if errors.As(err, &fe) {
		return fe.Code
	}
	return 0
}

func outcome(err error) string {
	if err == nil {
		return "success"
	}
	return err.Error()
}

func (r *runner) op(ctx context.Context, c *client.Client, cl, sv *node, op *Op, or *OpResult) error {
	switch {
	case op.Put != nil:
		return r.put(ctx, c, cl, sv, op.Put, or)
	case op.Get != nil:
		return r.get(ctx, c, cl, sv, op.Get, or)
	case op.Quote != nil:
		code, msg, err := c.Quote(ctx, *op.Quote)
		if err != nil {
			return err
		}
		or.Lines = []string{fmt.Sprintf("%d %s", code, msg)}
		if op.Reply != 0 && code != op.Reply {
			return fmt.Errorf("reply %d %s, want %d", code, msg, op.Reply)
		}
		if op.Reply == 0 && code >= 400 {
			return &ftp.Error{Code: code, Msg: msg}
		}
		return nil
	case op.Ls != nil:
		return listing(ctx, c, *op.Ls, false, op, or)
	case op.Nlst != nil:
		return listing(ctx, c, *op.Nlst, true, op, or)
	case op.Mkdir != nil:
		return c.Mkdir(ctx, *op.Mkdir)
	case op.Rmdir != nil:
		return c.Rmdir(ctx, *op.Rmdir)
	case op.Delete != nil:
		if err := c.Delete(ctx, *op.Delete); err != nil {
			return err
		}
		sv.model.remove(*op.Delete)
		return nil
	case op.Rename != nil:
		if err := c.Rename(ctx, op.Rename.From, op.Rename.To); err != nil {
			return err
		}
		sv.model.rename(op.Rename.From, op.Rename.To)
		if st, ok := sv.model.get(op.Rename.To); ok {
			r.names.add(op.Rename.To, st)
		}
		return nil
	}
	return errors.New("no action")
}

func (r *runner) put(ctx context.Context, c *client.Client, cl, sv *node, p *Put, or *OpResult) error {
	var rd io.ReadCloser
	var src fmt.Stringer
	if p.Local != "" {
		// The device as NetX's client: the file comes from its own image.
		if cl.fs == nil {
			return fmt.Errorf("put local %s: device %s has no image", p.Local, cl.dev.Name)
		}
		f, err := cl.fs.Open(strings.TrimPrefix(key(p.Local), "/"))
		if err != nil {
			return err
		}
		rd, src = f, localName{cl.dev.Name, p.Local}
	} else {
		c := putContent(r.sc.Dir, p)
		f, err := c.open()
		if err != nil {
			return err
		}
		rd, src = f, c
	}
	defer rd.Close()
	u, err := c.Stor(ctx, p.Remote)
	if err != nil {
		return err
	}
	hw := newHashWriter(u)
	if _, err := hw.ReadFrom(rd); err != nil {
		u.Close()
		return fmt.Errorf("sending %s: %w", src, err)
	}
	if err := u.Close(); err != nil {
		return err
	}
	st := hw.state()
	or.Bytes, or.SHA256 = st.size, st.sha
	sv.model.set(p.Remote, st)
	r.names.add(p.Remote, st)
	return nil
}

func (r *runner) get(ctx context.Context, c *client.Client, cl, sv *node, g *Get, or *OpResult) error {
	var want fileState
	if g.SHA256 == "same" {
		st, ok := sv.model.get(g.Remote)
		if !ok {
			return fmt.Errorf("sha256 \"same\": the scenario did not write %s on %s, so its content is unknown", g.Remote, sv.dev.Name)
		}
		want = st
	} else if g.SHA256 != "" {
		want.sha = strings.ToLower(g.SHA256)
		want.size = -1
	}
	d, err := c.Retr(ctx, g.Remote)
	if err != nil {
		return err
	}
	var dst io.Writer = io.Discard
	var f *os.File
	if g.Save != "" {
		p := filepath.Join(r.out, g.Save)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			d.Close()
			return err
		}
		if f, err = os.Create(p); err != nil {
			d.Close()
			return err
		}
		defer f.Close()
		dst = f
	}
	var local io.WriteCloser
	if g.Local != "" {
		// The device as NetX's client: the file goes into its own image.
		if cl.fs == nil {
			d.Close()
			return fmt.Errorf("get local %s: device %s has no image", g.Local, cl.dev.Name)
		}
		name := strings.TrimPrefix(key(g.Local), "/")
		if err := fsimage.MkdirAll(cl.fs, path.Dir(name)); err != nil {
			d.Close()
			return err
		}
		if local, err = cl.fs.Create(name); err != nil {
			d.Close()
			return err
		}
		dst = io.MultiWriter(dst, local)
	}
	hw := newHashWriter(dst)
	_, err = d.WriteTo(hw)
	if local != nil {
		if cerr := local.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		d.Close()
		return err
	}
	if err := d.Close(); err != nil {
		return err
	}
	if f != nil {
		if err := f.Close(); err != nil {
			return err
		}
	}
	got := hw.state()
	or.Bytes, or.SHA256 = got.size, got.sha
	if want.sha != "" && got.sha != want.sha {
		return fmt.Errorf("content differs: got %d bytes sha256 %s, want sha256 %s", got.size, got.sha, want.sha)
	}
	if want.size >= 0 && want.sha != "" && got.size != want.size {
		return fmt.Errorf("got %d bytes, want %d", got.size, want.size)
	}
	if g.Size != nil && got.size != int64(*g.Size) {
		return fmt.Errorf("got %d bytes, want %d", got.size, int64(*g.Size))
	}
	if want.sha == "" {
		// Unchecked content still becomes known: a later "same" compares with it.
		sv.model.set(g.Remote, got)
	}
	if g.Local != "" {
		cl.model.set(g.Local, got)
	}
	return nil
}

// localName names a file on a device's image in messages.
type localName struct{ dev, path string }

func (l localName) String() string { return l.dev + ":" + l.path }

func listing(ctx context.Context, c *client.Client, dir string, names bool, op *Op, or *OpResult) error {
	var l *client.Lines
	var err error
	if names {
		l, err = c.NameList(ctx, dir)
	} else {
		l, err = c.List(ctx, dir)
	}
	if err != nil {
		return err
	}
	lines, err := l.ReadAll()
	if cerr := l.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	or.Lines = lines
	or.Bytes = int64(len(lines))
	has := func(name string) bool {
		for _, ln := range lines {
			if names && path.Base(strings.TrimSpace(ln)) == name {
				return true
			}
			if !names && (ln == name || strings.HasSuffix(ln, " "+name)) {
				return true
			}
		}
		return false
	}
	var missing, present []string
	for _, n := range op.Contains {
		if !has(n) {
			missing = append(missing, n)
		}
	}
	for _, n := range op.Lacks {
		if has(n) {
			present = append(present, n)
		}
	}
	switch {
	case len(missing) > 0:
		return fmt.Errorf("listing of %s lacks %s (got %d lines: %s)", dir, strings.Join(missing, ", "), len(lines), strings.Join(lines, " | "))
	case len(present) > 0:
		return fmt.Errorf("listing of %s still shows %s", dir, strings.Join(present, ", "))
	}
	return nil
}
