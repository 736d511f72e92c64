//go:build !linux

package size

// MemAvailable is unknown outside Linux.
func MemAvailable() (int64, bool) { return 0, false }
