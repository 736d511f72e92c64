package client

import (
	"net/netip"
	"testing"
)

// StartPyftpd is startPyftpd for the external tests (realclient_test.go): Debian's pyftpdlib on host
// serving root to the user NAME:PASSWORD.
func StartPyftpd(t *testing.T, host netip.Addr, root, user string) netip.AddrPort {
	return startPyftpd(t, host, root, false, nil, "user="+user)
}
