package server_test

import (
	"testing"

	"github.com/netxsim/netxsim/ftp/server"
)

// startNet serves srv on the network the acceptance tests use.
func startNet(t testing.TB, srv *server.Server, fam family) *env {
	return startKernel(t, srv, fam)
}
