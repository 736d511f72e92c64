package netxsimtest_test

import (
	"testing"

	"github.com/netxsim/netxsim/netxsimtest"
)

// The Example's test under a real *testing.T, with the capture verified at cleanup.
func TestUploadOverLossyLink(t *testing.T) { uploadOverLossyLink(t) }

// A test that uses no FTP still closes cleanly and verifies an FTP-less capture without complaint.
func TestNoFTP(t *testing.T) {
	env := netxsimtest.New(t)
	dst, _ := env.Host.Addr(false)
	if _, err := env.Device.IP().Ping(t.Context(), dst); err != nil {
		t.Fatal(err)
	}
}
