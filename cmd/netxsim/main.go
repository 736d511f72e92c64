// Command netxsim simulates an embedded NetX Duo device on a Linux host: a user-space TCP/IP stack on an
// in-memory link or a TAP, NetX Duo's FTP server and client, FAT images, and verification from captures.
//
// main only wires subcommands; the work lives in cmd/netxsim/internal/<name>cmd, as in Go's cmd/go.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/netxsim/netxsim/cmd/netxsim/internal/democmd"
	"github.com/netxsim/netxsim/cmd/netxsim/internal/ftpcmd"
	"github.com/netxsim/netxsim/cmd/netxsim/internal/imagecmd"
	"github.com/netxsim/netxsim/cmd/netxsim/internal/replaycmd"
	"github.com/netxsim/netxsim/cmd/netxsim/internal/runcmd"
	"github.com/netxsim/netxsim/cmd/netxsim/internal/servecmd"
	"github.com/netxsim/netxsim/cmd/netxsim/internal/shellcmd"
	"github.com/netxsim/netxsim/cmd/netxsim/internal/upcmd"
	"github.com/netxsim/netxsim/cmd/netxsim/internal/verifycmd"
	"github.com/netxsim/netxsim/stack"
)

// command is one subcommand: its name, a one-line summary and its entry point.
type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"demo", "run the whole job in memory: device and host, FTP both ways, capture verified", democmd.Run},
		{"up", upcmd.Summary, upcmd.Run},
		{"serve", "run the device's FTP server on a TAP or on the host kernel", servecmd.Run},
		{"ftp", "use the device's FTP client: get, put, ls, nlst, mkdir, rmdir, rm, mv", ftpcmd.Run},
		{"image", "make, inspect and change FAT images: mkfs, info, ls, put, get, cat, rm, mkdir, rmdir, mv, check", imagecmd.Run},
		{"verify", "check the FTP sessions in a pcap or pcapng capture", verifycmd.Run},
		{"run", runcmd.Summary, runcmd.Run},
		{"replay", replaycmd.Summary, replaycmd.Run},
		{"shell", shellcmd.Summary, shellcmd.Run},
	}
}

func main() {
	if os.Getenv("NETXSIM_GVISOR_LOG") == "" {
		stack.QuietGVisorLog() // gVisor's own warnings are not for users
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 {
		usage(stderr, cmds)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout, cmds)
		return 0
	}
	for _, c := range cmds {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "netxsim: unknown command %q\n\n", args[0])
	usage(stderr, cmds)
	return 2
}

func usage(w io.Writer, cmds []command) {
	fmt.Fprintln(w, "usage: netxsim <command> [flags]  (netxsim <command> --help for its flags)")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
}
