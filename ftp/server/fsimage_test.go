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

// newImage formats a FAT image in RAM (type by size) and checks it is consistent when the test ends.
func newImage(t testing.TB, size int64) *fsimage.FS {
	t.Helper()
	return newImageType(t, size, 0)
}
