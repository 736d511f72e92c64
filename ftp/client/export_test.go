package client

import (
	"net/netip"
	"testing"
	"time"
)

// StartPyftpd is startPyftpd for the external tests (realclient_test.go): Debian's pyftpdlib on host
// serving root to the user NAME:PASSWORD.
func StartPyftpd(t *testing.T, host netip.Addr, root, user string) netip.AddrPort {
	return startPyftpd(t, host, root, false, nil, "user="+user)
}

// RecordProxy is recordingProxy for the external tests: the address to dial and, once the relay
// ended, what the client sent.
func RecordProxy(t *testing.T, listen netip.Addr, target netip.AddrPort) (netip.AddrPort, func() []byte) {
	t.Helper()
	addr, rec := recordingProxy(t, listen, target)
	return addr, func() []byte {
		select {
		case <-rec.done:
		case <-time.After(10 * time.Second):
			t.Error("the relay did not end")
		}
		return []byte(rec.String())
	}
}
