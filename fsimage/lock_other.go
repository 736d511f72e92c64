//go:build !unix

package fsimage

import "os"

// lockFile does nothing where flock does not exist: one writer per image is then the user's care.
func lockFile(*os.File, string, bool) error { return nil }
