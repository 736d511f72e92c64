package server_test

import (
	"testing"

	"github.com/netxsim/netxsim/fsimage"
	"github.com/netxsim/netxsim/ftp/server"
)

var _ server.FileSystem = (*fsimage.FS)(nil)

func init() {
	extraBackends = append(extraBackends, backend{"fsimage", func(t testing.TB) server.FileSystem {
		return newImage(t, 64<<20)
	}})
}

// newImage formats a FAT image in RAM and checks it is consistent when the test ends.
func newImage(t testing.TB, size int64) *fsimage.FS {
	t.Helper()
	dev := fsimage.NewRAM(size)
	if err := fsimage.Format(dev, size, fsimage.FormatOptions{}); err != nil {
		t.Fatal(err)
	}
	v, err := fsimage.Open(dev, fsimage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := v.Close(); err != nil {
			t.Errorf("closing the image: %v", err)
		}
		rep, err := fsimage.CheckDevice(dev)
		if err != nil {
			t.Errorf("checking the image: %v", err)
		} else if !rep.OK() {
			t.Errorf("image inconsistent after the test: %q", rep.Problems)
		}
	})
	return v
}
