package server_test

// Clients other than the project's own against the server: github.com/jlaffaye/ftp on every back
// end, and curl, lftp and Python's ftplib in a TAP namespace.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	jftp "github.com/jlaffaye/ftp"

	"github.com/netxsim/netxsim/fsimage"
	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/internal/testio"
	"github.com/netxsim/netxsim/tapdev/taptest"
)

// interop is the server on a TAP device over a FAT image file, real clients in the namespace.
type interop struct {
	t     *testing.T
	env   *taptest.Env
	img   string
	work  string // client-side files
	close func() // stops the server and closes the image
}

func newInterop(t *testing.T, prof ftp.Profile) *interop {
	t.Helper()
	env := taptest.New(t, taptest.Options{})
	img := filepath.Join(t.TempDir(), "disk.img")
	const size = 64 << 20
	f, err := os.OpenFile(img, os.O_RDWR|os.O_CREATE, 0o644)
	must(t, err)
	must(t, f.Truncate(size))
	must(t, fsimage.Format(f, size, fsimage.FormatOptions{}))
	v, err := fsimage.Open(f, fsimage.Options{})
	must(t, err)
	srv := baseServer(v, prof)
	srv.Network = env.Device
	srv.DataTimeout = 10 * time.Second
	var done []chan error
	for _, a := range []netip.Addr{env.DevV4, env.DevV6} {
		ln, err := env.Device.Listen(context.Background(), netip.AddrPortFrom(a, 21))
		must(t, err)
		ch := make(chan error, 1)
		go func() { ch <- srv.Serve(ln) }()
		done = append(done, ch)
	}
	closed := false
	stop := func() {
		if closed {
			return
		}
		closed = true
		srv.Close()
		for _, ch := range done {
			<-ch
		}
		if err := v.Close(); err != nil {
			t.Errorf("closing the image: %v", err)
		}
		f.Close()
	}
	t.Cleanup(stop)
	return &interop{t: t, env: env, img: img, work: t.TempDir(), close: stop}
}

// run runs a client inside the namespace and fails the test with its output if it fails.
func (in *interop) run(name string, args ...string) string {
	in.t.Helper()
	testio.NeedTools(in.t, name)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := in.env.Command(ctx, name, args...).CombinedOutput()
	if err != nil {
		in.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// fsck closes the server and checks the image with dosfstools.
func (in *interop) fsck() {
	in.t.Helper()
	in.close()
	if _, err := exec.LookPath("fsck.fat"); err != nil {
		in.t.Logf("fsck.fat missing, image not checked by dosfstools: %v", err)
		return
	}
	out, err := exec.Command("fsck.fat", "-n", in.img).CombinedOutput()
	if err != nil {
		in.t.Fatalf("fsck.fat -n: %v\n%s", err, out)
	}
}

// randomBytes is n pseudo-random bytes, the same for the same n and seed.
func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// randomFile writes randomBytes(n, seed) to path and returns them.
func randomFile(t testing.TB, path string, n int, seed uint64) []byte {
	t.Helper()
	b := randomBytes(n, seed)
	must(t, os.MkdirAll(filepath.Dir(path), 0o755))
	must(t, os.WriteFile(path, b, 0o644))
	return b
}

func sameFile(t testing.TB, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != sha256.Sum256(want) {
		t.Fatalf("%s: %d bytes, SHA-256 differs from the %d bytes sent", path, len(got), len(want))
	}
}

func hostURL(a netip.Addr) string {
	if a.Is6() {
		return "[" + a.String() + "]"
	}
	return a.String()
}

// TestInteropCurl: curl uploads, downloads and lists with EPSV, PASV (--disable-epsv) and active
// PORT/EPRT (-P), over IPv4 and IPv6, in both profiles.
func TestInteropCurl(t *testing.T) {
	for _, prof := range []ftp.Profile{ftp.ProfileNetXDuo, ftp.ProfileExtended} {
		t.Run(string(prof), func(t *testing.T) {
			in := newInterop(t, prof)
			type mode struct {
				name string
				args []string
				v6   bool // usable over IPv6
			}
			modes := []mode{
				{"epsv", nil, true},
				{"pasv", []string{"--disable-epsv"}, false},
				{"active", []string{"-P", "-"}, true}, // EPRT; on IPv4 netxduo refuses EPRT and curl falls back to PORT
				{"port", []string{"-P", "-", "--disable-eprt"}, false},
			}
			sizes := []int{0, 1, 100 << 10, 3 << 20}
			for _, fam := range []netip.Addr{in.env.DevV4, in.env.DevV6} {
				for _, m := range modes {
					if fam.Is6() && !m.v6 {
						continue
					}
					for i, n := range sizes {
						name := fmt.Sprintf("%s-%s-%d.bin", m.name, map[bool]string{false: "v4", true: "v6"}[fam.Is6()], i)
						local := filepath.Join(in.work, name)
						data := randomFile(t, local, n, uint64(i))
						url := "ftp://u:p@" + hostURL(fam) + "/" + name
						base := append([]string{"-sS", "--max-time", "60"}, m.args...)
						in.run("curl", append(base, "-T", local, url)...)
						back := local + ".back"
						in.run("curl", append(base, "-o", back, url)...)
						sameFile(t, back, data)
					}
					list := in.run("curl", append([]string{"-sS", "--max-time", "60"}, append(m.args, "ftp://u:p@"+hostURL(fam)+"/")...)...)
					if !strings.Contains(list, m.name+"-") || !strings.Contains(list, "owner group") {
						t.Fatalf("curl LIST (%s): %q", m.name, list)
					}
				}
			}
			in.fsck()
		})
	}
}

// TestInteropLftp: lftp mirrors a nested tree up and back down, over IPv4 and IPv6.
func TestInteropLftp(t *testing.T) {
	for _, prof := range []ftp.Profile{ftp.ProfileNetXDuo, ftp.ProfileExtended} {
		t.Run(string(prof), func(t *testing.T) {
			in := newInterop(t, prof)
			tree := map[string][]byte{}
			src := filepath.Join(in.work, "src")
			for i, p := range []string{"a.txt", "empty", "d1/b.bin", "d1/d2/c.bin", "d1/d2/d3/deep.bin", "d4/e.bin", "d4/long file name.dat"} {
				tree[p] = randomFile(t, filepath.Join(src, p), []int{10, 0, 200 << 10, 1 << 20, 5, 70000, 333}[i], uint64(i))
			}
			for _, fam := range []netip.Addr{in.env.DevV4, in.env.DevV6} {
				remote := "tree" + map[bool]string{false: "4", true: "6"}[fam.Is6()]
				back := filepath.Join(in.work, "back-"+remote)
				script := strings.Join([]string{
					"set ftp:ssl-allow no", "set net:max-retries 2", "set net:timeout 20", "set ftp:passive-mode on",
					"mirror -R --no-perms " + src + " " + remote,
					"mirror --no-perms " + remote + " " + back,
					"quit",
				}, "; ")
				in.run("lftp", "-u", "u,p", "-e", script, "ftp://"+hostURL(fam))
				for p, data := range tree {
					sameFile(t, filepath.Join(back, p), data)
				}
			}
			in.fsck()
		})
	}
}

const ftplibScript = `
import ftplib, hashlib, io, sys
host, passive, name = sys.argv[1], sys.argv[2] == "1", sys.argv[3]
data = bytes(range(256)) * 4000 + b"end"
f = ftplib.FTP()
f.connect(host, 21, timeout=30)
f.login("u", "p")
f.set_pasv(passive)
f.storbinary("STOR " + name, io.BytesIO(data))
out = io.BytesIO()
f.retrbinary("RETR " + name, out.write)
names = f.nlst()
f.quit()
assert hashlib.sha256(out.getvalue()).digest() == hashlib.sha256(data).digest(), "content differs"
assert name in names, names
print("ok", len(data))
`

// TestInteropFtplib: Python's ftplib, passive and active, over IPv4 and IPv6.
func TestInteropFtplib(t *testing.T) {
	for _, prof := range []ftp.Profile{ftp.ProfileNetXDuo, ftp.ProfileExtended} {
		t.Run(string(prof), func(t *testing.T) {
			in := newInterop(t, prof)
			script := filepath.Join(in.work, "client.py")
			must(t, os.WriteFile(script, []byte(ftplibScript), 0o644))
			for _, fam := range []netip.Addr{in.env.DevV4, in.env.DevV6} {
				for _, passive := range []string{"1", "0"} {
					name := fmt.Sprintf("py-%v-%s.bin", fam.Is6(), passive)
					if out := in.run("python3", script, fam.String(), passive, name); !strings.HasPrefix(out, "ok ") {
						t.Fatalf("ftplib: %s", out)
					}
				}
			}
			in.fsck()
		})
	}
}

// jl connects github.com/jlaffaye/ftp, an independent client, to e and logs in.
func jl(t testing.TB, e *env, user, pass string) *jftp.ServerConn {
	t.Helper()
	c, err := jftp.Dial(e.ctrl.String(),
		jftp.DialWithTimeout(30*time.Second),
		jftp.DialWithDialFunc(func(network, address string) (net.Conn, error) {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return nil, err
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return e.dial(ctx, ap)
		}))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Quit() })
	if err := c.Login(user, pass); err != nil {
		t.Fatalf("login: %v", err)
	}
	return c
}

// TestClientOperations runs the acceptance list with an independent client on every back end, both
// families and both profiles.
func TestClientOperations(t *testing.T) {
	big := randomBytes(10<<20, 1)
	for _, be := range backends() {
		for _, prof := range []ftp.Profile{ftp.ProfileNetXDuo, ftp.ProfileExtended} {
			for _, fam := range []family{v4, v6} {
				t.Run(be.name+"/"+string(prof)+"/"+string(fam), func(t *testing.T) {
					e := startNet(t, baseServer(be.make(t), prof), fam)
					c := jl(t, e, "u", "p")
					files := map[string][]byte{"empty": {}, "one": {'x'}, "big.bin": big}
					for name, data := range files {
						if err := c.Stor(name, bytes.NewReader(data)); err != nil {
							t.Fatalf("STOR %s: %v", name, err)
						}
					}
					for name, data := range files {
						r, err := c.Retr(name)
						if err != nil {
							t.Fatalf("RETR %s: %v", name, err)
						}
						got, err := io.ReadAll(r)
						r.Close()
						if err != nil || sha256.Sum256(got) != sha256.Sum256(data) {
							t.Fatalf("RETR %s: %d bytes, err %v; want %d bytes with the same SHA-256", name, len(got), err, len(data))
						}
					}
					if err := c.MakeDir("dir"); err != nil {
						// NetX answers MKD with 200, not 257: a deviation the netxduo profile keeps
						var te *textproto.Error
						if prof != ftp.ProfileNetXDuo || !errors.As(err, &te) || te.Code != 200 {
							t.Fatalf("MKD: %v", err)
						}
					}
					if err := c.ChangeDir("dir"); err != nil {
						t.Fatalf("CWD: %v", err)
					}
					if wd, err := c.CurrentDir(); err != nil || wd != "/dir" {
						t.Fatalf("PWD = %q, %v", wd, err)
					}
					if err := c.Stor("inner", bytes.NewReader([]byte("in"))); err != nil {
						t.Fatalf("STOR inner: %v", err)
					}
					if err := c.ChangeDirToParent(); err != nil {
						t.Fatalf("CDUP: %v", err)
					}
					if wd, _ := c.CurrentDir(); wd != "/" {
						t.Fatalf("PWD after CDUP = %q", wd)
					}
					entries, err := c.List("")
					if err != nil {
						t.Fatalf("LIST: %v", err)
					}
					var names []string
					for _, en := range entries {
						names = append(names, en.Name)
						if en.Name == "big.bin" && (en.Size != uint64(len(big)) || en.Type != jftp.EntryTypeFile) {
							t.Errorf("LIST big.bin: %+v", en)
						}
						if en.Name == "dir" && en.Type != jftp.EntryTypeFolder {
							t.Errorf("LIST dir: %+v", en)
						}
					}
					slices.Sort(names) // NetX lists in directory order (TestListDirectoryOrder)
					if want := []string{"big.bin", "dir", "empty", "one"}; !slices.Equal(names, want) {
						t.Errorf("LIST names %q, want %q", names, want)
					}
					nl, err := c.NameList("dir")
					if err != nil {
						t.Fatalf("NLST: %v", err)
					}
					nl = slices.DeleteFunc(nl, func(s string) bool { return s == "." || s == ".." })
					if !slices.Equal(nl, []string{"inner"}) {
						t.Errorf("NLST dir = %q", nl)
					}
					if err := c.Rename("one", "dir/two"); err != nil {
						t.Fatalf("RNFR/RNTO: %v", err)
					}
					if _, err := c.Retr("one"); err == nil {
						t.Fatal("RETR of the renamed file's old name succeeded")
					}
					if err := c.Delete("dir/two"); err != nil {
						t.Fatalf("DELE: %v", err)
					}
					if err := c.RemoveDir("dir"); err == nil {
						t.Fatal("RMD of a non-empty directory succeeded")
					}
					if err := c.Delete("dir/inner"); err != nil {
						t.Fatalf("DELE: %v", err)
					}
					if err := c.RemoveDir("dir"); err != nil {
						t.Fatalf("RMD: %v", err)
					}
					if err := c.Quit(); err != nil {
						t.Fatalf("QUIT: %v", err)
					}
				})
			}
		}
	}
}
