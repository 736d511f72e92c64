package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"net/textproto"
	"slices"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	nxftp "github.com/netxsim/netxsim/ftp"
)

// jl connects github.com/jlaffaye/ftp, an independent client, to e and logs in.
func jl(t testing.TB, e *env, user, pass string) *ftp.ServerConn {
	t.Helper()
	c, err := ftp.Dial(e.ctrl.String(),
		ftp.DialWithTimeout(30*time.Second),
		ftp.DialWithDialFunc(func(network, address string) (net.Conn, error) {
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
	big := make([]byte, 10<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	for _, be := range backends() {
		for _, prof := range []nxftp.Profile{nxftp.ProfileNetXDuo, nxftp.ProfileExtended} {
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
						if prof != nxftp.ProfileNetXDuo || !errors.As(err, &te) || te.Code != 200 {
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
						if en.Name == "big.bin" && (en.Size != uint64(len(big)) || en.Type != ftp.EntryTypeFile) {
							t.Errorf("LIST big.bin: %+v", en)
						}
						if en.Name == "dir" && en.Type != ftp.EntryTypeFolder {
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
