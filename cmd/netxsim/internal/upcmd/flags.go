package upcmd

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/netxsim/netxsim"
	"github.com/netxsim/netxsim/cmd/netxsim/internal/devflags"
	"github.com/netxsim/netxsim/ftp"
)

type options struct {
	devflags.Device
	devflags.Until
	verbose bool
}

// Defaults of the kernel side, for the tests.
var (
	defaultHost4 = netxsim.HostIPv4
	defaultHost6 = netxsim.HostIPv6
)

// usageError is a bad command line: exit code 2.
type usageError = devflags.UsageError

func flagSet(o *options) *flag.FlagSet {
	fs := flag.NewFlagSet("netxsim up", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o.Register(fs, devflags.CreateNetNS)
	fs.BoolVar(&o.verbose, "v", false, "log stack events to stderr")
	return fs
}

func parse(args []string) (*options, error) {
	var o options
	fs := flagSet(&o)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, usageError{Msg: err.Error()}
	}
	if fs.NArg() > 0 {
		return nil, usageError{Msg: fmt.Sprintf("unexpected argument %q (all settings are flags)", fs.Arg(0))}
	}
	if err := o.Check(true); err != nil {
		return nil, err
	}
	// The device is the simulated NetX Duo device: NetX's stack signature unless --stack-signature.
	o.Profile = ftp.ProfileNetXDuo
	return &o, nil
}
