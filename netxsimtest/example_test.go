package netxsimtest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/ftp/client"
	"github.com/netxsim/netxsim/netxsimtest"
)

// uploadOverLossyLink is a test as you would write it (func TestUpload(t *testing.T) { ... }): a
// device on a 2 % lossy link serves an 8 MiB RAM image; a NetX-profile client logs in, puts a file,
// reads it back from the image and over FTP; the capture is verified when the test ends.
func uploadOverLossyLink(t netxsimtest.TB) {
	ctx := context.Background()
	env := netxsimtest.New(t, netxsimtest.Loss(0.02))
	img := env.ServeFTP(t, 8<<20, ftp.ProfileNetXDuo)
	c := env.Login(t, client.WithProfile(ftp.ProfileNetXDuo))
	want := bytes.Repeat([]byte("NetX Duo firmware "), 16<<10) // 288 KiB
	up, err := c.Stor(ctx, "fw.bin")
	if err == nil {
		_, err = io.Copy(up, bytes.NewReader(want))
		err = errors.Join(err, up.Close())
	}
	onImage, ierr := fs.ReadFile(img, "fw.bin")
	var got []byte
	back, gerr := c.Retr(ctx, "fw.bin")
	if gerr == nil {
		got, gerr = io.ReadAll(back)
		gerr = errors.Join(gerr, back.Close())
	}
	if err != nil || ierr != nil || gerr != nil || !bytes.Equal(onImage, want) || !bytes.Equal(got, want) {
		t.Fatalf("put %v, image %v (%d bytes), get %v (%d bytes)", err, ierr, len(onImage), gerr, len(got))
	}
}

// Example runs uploadOverLossyLink under exampleT, a minimal netxsimtest.TB, as go test would run it
// under a *testing.T.
func Example() {
	t := &exampleT{}
	t.run(uploadOverLossyLink)
	fmt.Println("failed:", t.failed)
	// Output: failed: false
}

type exampleT struct {
	cleanups []func()
	failed   bool
}

var errFatal = errors.New("fatal")

func (t *exampleT) Helper()                   {}
func (t *exampleT) Cleanup(f func())          { t.cleanups = append(t.cleanups, f) }
func (t *exampleT) Errorf(f string, a ...any) { t.failed = true; fmt.Printf(f+"\n", a...) }
func (t *exampleT) Fatalf(f string, a ...any) { t.Errorf(f, a...); panic(errFatal) }
func (t *exampleT) TempDir() string {
	d, err := os.MkdirTemp("", "netxsimtest")
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// run calls test, then its cleanups in reverse, as testing does; a Fatalf ends test early.
func (t *exampleT) run(test func(netxsimtest.TB)) {
	defer func() {
		for i := len(t.cleanups) - 1; i >= 0; i-- {
			t.cleanups[i]()
		}
	}()
	defer func() {
		if r := recover(); r != nil && r != errFatal {
			panic(r)
		}
	}()
	test(t)
}
