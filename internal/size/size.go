// Package size is the one grammar for byte counts on the command line and in scenario files:
// "65536", "64K", "64KiB", "4 MiB", "1.5G", "10kB" (powers of 1000 only with an explicit B after the
// prefix letter: kB, MB, GB, TB). Values are parsed exactly (no floating point), checked for overflow
// and bounded by a maximum the caller names, so no size can wrap, panic an allocation or exceed what
// the caller can hold.
package size

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
)

// maxInput bounds the text of a size: no real size needs more, and big.Int work stays small.
const maxInput = 40

var units = []struct {
	suffix string
	mult   int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"t", 1 << 40},
	{"b", 1},
}

// ErrSyntax and ErrRange classify parse failures (errors.Is works on the returned error).
var (
	ErrSyntax = errors.New("not a size")
	ErrRange  = errors.New("size out of range")
)

// sizeError is a refusal whose message reads well alone and which matches ErrSyntax or ErrRange.
type sizeError struct {
	msg  string
	kind error
}

func (e *sizeError) Error() string { return e.msg }
func (e *sizeError) Unwrap() error { return e.kind }

func errorf(kind error, format string, a ...any) error {
	return &sizeError{fmt.Sprintf(format, a...), kind}
}

// Parse reads a size of at least min and at most max bytes (max <= 0 means math.MaxInt64).
// The error says what was wrong and the allowed range; callers prefix the flag or field name.
func Parse(s string, min, max int64) (int64, error) {
	if max <= 0 {
		max = math.MaxInt64
	}
	t := strings.ToLower(strings.TrimSpace(s))
	if len(t) > maxInput {
		return 0, errorf(ErrSyntax, "size %.20q...: too long", s)
	}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	intPart, frac, hasDot := strings.Cut(t, ".")
	if intPart == "" && frac == "" || !digits(intPart) || !digits(frac) || hasDot && frac == "" {
		return 0, errorf(ErrSyntax, "size %q: want bytes or a number with K, M, G or T (KiB, MiB, ...; kB, MB, ... for powers of 1000), like 65536, 64K or 1.5GiB", s)
	}
	// value = (intPart.frac) * mult, exactly.
	num, _ := new(big.Int).SetString(intPart+frac, 10)
	if intPart+frac == "" {
		num = new(big.Int)
	}
	num.Mul(num, big.NewInt(mult))
	den := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(len(frac))), nil)
	q, r := new(big.Int).QuoRem(num, den, new(big.Int))
	if r.Sign() != 0 {
		return 0, errorf(ErrSyntax, "size %q is not a whole number of bytes", s)
	}
	if !q.IsInt64() || q.Int64() > max {
		return 0, errorf(ErrRange, "size %q is too large: at most %s", s, Format(max))
	}
	if v := q.Int64(); v < min {
		return 0, errorf(ErrRange, "size %q is too small: at least %s", s, Format(min))
	}
	return q.Int64(), nil
}

// ParseIn is Parse for a flag whose bare numbers have always meant a unit (demo --size 8 is 8 MiB):
// a number without a unit is in unit ("KiB", "MiB", ...), one with a unit is read as Parse reads it.
func ParseIn(s, unit string, min, max int64) (int64, error) {
	t := strings.TrimSpace(s)
	if t != "" && (t[len(t)-1] >= '0' && t[len(t)-1] <= '9' || t[len(t)-1] == '.') {
		v, err := Parse(t+unit, min, max)
		if err != nil {
			return 0, errorf(errors.Unwrap(err), "%s (a number alone is in %s)", strings.Replace(err.Error(), strconvQuote(t+unit), strconvQuote(s), 1), unit)
		}
		return v, nil
	}
	return Parse(s, min, max)
}

func strconvQuote(s string) string { return fmt.Sprintf("%q", s) }

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Format writes n in the largest binary unit that divides it ("4 GiB", "1440 KiB"), else in bytes.
func Format(n int64) string {
	for _, u := range []struct {
		s string
		m int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.m == 0 {
			return fmt.Sprintf("%d %s", n/u.m, u.s)
		}
	}
	if n == math.MaxInt64 {
		return "8 EiB"
	}
	return fmt.Sprintf("%d bytes", n)
}

// MaxMemory is the documented largest thing netxsim holds in memory on a user's behalf: a RAM disk
// (serve --ram, a scenario image) or an image file read into RAM. FAT32 with 512-byte sectors
// and 4 KiB clusters tops out near here too, and bigger RAM disks are not what a simulated
// embedded device has.
const MaxMemory = 4 << 30

// FitsMemory reports an error when n bytes are more than MaxMemory or than the memory this
// machine has available now, so that a large size fails clearly instead of killing the process.
func FitsMemory(n int64) error {
	if n > MaxMemory {
		return errorf(ErrRange, "%s is more than the %s netxsim holds in memory", Format(n), Format(MaxMemory))
	}
	if avail, ok := MemAvailable(); ok && n > avail {
		return errorf(ErrRange, "%s is more than the %s of memory this machine has available", Format(n), Format(avail))
	}
	return nil
}

// ParseMemory parses the size of something netxsim will hold in memory: Parse with max
// MaxMemory, then FitsMemory.
func ParseMemory(s string, min int64) (int64, error) {
	n, err := Parse(s, min, MaxMemory)
	if err != nil {
		return 0, err
	}
	if err := FitsMemory(n); err != nil {
		return 0, fmt.Errorf("size %q: %w", s, err)
	}
	return n, nil
}
