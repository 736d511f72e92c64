package size

import (
	"errors"
	"math"
	"testing"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "65536": 65536, "64K": 64 << 10, "64k": 64 << 10, "64KiB": 64 << 10, "4 MiB": 4 << 20,
		"1G": 1 << 30, "1.5G": 3 << 29, "1.5MiB": 3 << 19, "10kB": 10000, "2MB": 2e6, "1TB": 1e12,
		"1T": 1 << 40, "512b": 512, "1440K": 1440 << 10, " 8M ": 8 << 20, ".5K": 512,
		"9223372036854775807": math.MaxInt64, "8388607T": 8388607 << 40,
	} {
		got, err := Parse(in, 0, 0)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for in, want := range map[string]error{
		"": ErrSyntax, "x": ErrSyntax, "-1": ErrSyntax, "1e3": ErrSyntax, "0x10": ErrSyntax, "1.": ErrSyntax,
		"1.0001K": ErrSyntax, "0.5": ErrSyntax, "K": ErrSyntax, "1 2": ErrSyntax, "NaN": ErrSyntax, "Inf": ErrSyntax,
		"1PiB": ErrSyntax, "99999999999999999999999999999999999999999999": ErrSyntax,
		// The three sizes of the hostile campaign: a makeslice panic, out of memory, a wrap to 0.
		"99999999999G": ErrRange, "17179869184G": ErrRange, "8388608T": ErrRange,
		"9223372036854775808": ErrRange,
	} {
		if got, err := Parse(in, 0, 0); !errors.Is(err, want) {
			t.Errorf("Parse(%q) = %d, %v; want %v", in, got, err, want)
		}
	}
}

func TestParseBounds(t *testing.T) {
	for _, c := range []struct {
		in       string
		min, max int64
		ok       bool
	}{
		{"64K", 64 << 10, 1 << 20, true}, {"63K", 64 << 10, 1 << 20, false}, {"1M", 64 << 10, 1 << 20, true},
		{"1025K", 64 << 10, 1 << 20, false}, {"100G", 0, MaxMemory, false}, {"4G", 0, MaxMemory, true},
	} {
		_, err := Parse(c.in, c.min, c.max)
		if (err == nil) != c.ok {
			t.Errorf("Parse(%q, %d, %d): err %v, want ok=%v", c.in, c.min, c.max, err, c.ok)
		}
		if err != nil && !errors.Is(err, ErrRange) {
			t.Errorf("Parse(%q): %v is not ErrRange", c.in, err)
		}
	}
}

func TestParseMemory(t *testing.T) {
	for _, in := range []string{"100G", "5G", "99999999999G", "17179869184G"} {
		if _, err := ParseMemory(in, 1); !errors.Is(err, ErrRange) {
			t.Errorf("ParseMemory(%q) = %v, want ErrRange", in, err)
		}
	}
	if avail, ok := MemAvailable(); !ok || avail <= 0 {
		t.Skip("MemAvailable unknown here")
	} else if avail > 16<<20 {
		if n, err := ParseMemory("16M", 1); err != nil || n != 16<<20 {
			t.Errorf("ParseMemory(16M) = %d, %v", n, err)
		}
	}
}

func TestFormat(t *testing.T) {
	for n, want := range map[int64]string{4 << 30: "4 GiB", 1440 << 10: "1440 KiB", 1000: "1000 bytes", 0: "0 bytes", math.MaxInt64: "8 EiB"} {
		if got := Format(n); got != want {
			t.Errorf("Format(%d) = %q, want %q", n, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"64K", "1.5GiB", "10kB", "99999999999G", "0", ".5k", "1e9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s, 0, 1<<40)
		if err == nil && (n < 0 || n > 1<<40) {
			t.Fatalf("Parse(%q) = %d outside [0, 1 TiB]", s, n)
		}
		if err != nil && !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrRange) {
			t.Fatalf("Parse(%q): unclassified error %v", s, err)
		}
	})
}

func TestParseIn(t *testing.T) {
	for in, want := range map[string]int64{"8": 8 << 20, "0": 0, "0.5": 512 << 10, "512K": 512 << 10, "64 KiB": 64 << 10, "100": 100 << 20} {
		if got, err := ParseIn(in, "MiB", 0, 1<<34); err != nil || got != want {
			t.Errorf("ParseIn(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"-3", "", "x", "1.", "99999999"} {
		if _, err := ParseIn(in, "MiB", 0, 1<<34); err == nil {
			t.Errorf("ParseIn(%q) accepted", in)
		}
	}
	if _, err := ParseIn("99999", "MiB", 0, 1<<34); !errors.Is(err, ErrRange) {
		t.Errorf("out of range: %v, want ErrRange", err)
	}
}
