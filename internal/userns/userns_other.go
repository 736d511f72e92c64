//go:build !linux

package userns

import (
	"context"
	"errors"
	"io"
	"os/exec"
)

var errLinux = errors.New("rootless runs need Linux user namespaces")

// Check always fails off Linux.
func Check() error { return errLinux }

// Reexec always fails off Linux.
func Reexec(context.Context, []string, io.Reader, io.Writer, io.Writer) (int, error) {
	return 0, errLinux
}

// ExitStatus turns a Wait error into the command's exit code.
func ExitStatus(err error) (int, error) {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	return 0, err
}

// Prepare always fails off Linux.
func Prepare() error { return errLinux }

// EnterCommand is empty off Linux.
func EnterCommand() string { return "" }

// KillRest does nothing off Linux.
func KillRest() int { return 0 }

// Explain returns err off Linux.
func Explain(err error) error { return err }
