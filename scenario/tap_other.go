//go:build !linux

package scenario

import (
	"context"
	"fmt"
)

// TAPSupported says why TAP links cannot run here, or "" when they can.
func TAPSupported() string { return "TAP links need Linux; use memory links" }

func (w *world) buildTAP(ctx context.Context, l *Link, a, b *Device) error {
	return fmt.Errorf("%w: %s", ErrNeedsRoot, TAPSupported())
}
