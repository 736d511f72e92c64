package ftp

import (
	"errors"
	"net/netip"
	"testing"
)

// checkParse runs parse over tests (input: want); a zero want means the input is refused with
// ErrBadAddress.
func checkParse[W comparable](t *testing.T, name string, parse func(string) (W, error), tests map[string]W) {
	t.Helper()
	var refused W
	for in, want := range tests {
		got, err := parse(in)
		if want == refused {
			if !errors.Is(err, ErrBadAddress) {
				t.Errorf("%s(%q) = %v, %v; want ErrBadAddress", name, in, got, err)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%s(%q) = %v, %v; want %v", name, in, got, err, want)
		}
	}
}

// addrString makes an address parser's result comparable with the tables' strings.
func addrString(parse func(string) (netip.AddrPort, error)) func(string) (string, error) {
	return func(s string) (string, error) {
		ap, err := parse(s)
		return ap.String(), err
	}
}

func TestPORT(t *testing.T) {
	ok := map[string]string{
		"198,51,100,1,19,137":       "198.51.100.1:5001",
		"001,002,003,005,192,001":   "1.2.3.5:49153",
		" 198, 51, 100, 1, 4, 1 ":   "198.51.100.1:1025",
		"255,255,255,255,255,255":   "255.255.255.255:65535",
		"0,0,0,0,0,0":               "0.0.0.0:0",
		"0198,51,100,1,19,137":      "",
		"198,51,100,1,19":           "",
		"198,51,100,1,19,137,1":     "",
		"256,51,100,1,19,137":       "",
		"198,51,100,1,19,-1":        "",
		"198,51,100,1,19,+1":        "",
		"198,51,,1,19,1":            "",
		"":                          "",
		"2001:db8::1":               "",
		"198,51,100,1,19,137 extra": "",
	}
	checkParse(t, "ParsePORT", addrString(ParsePORT), ok)
	ap := netip.MustParseAddrPort("1.2.3.5:49153")
	if got := FormatPORT(ap, true); got != "001,002,003,005,192,001" {
		t.Errorf("FormatPORT zero-padded = %q", got)
	}
	if got := FormatPORT(ap, false); got != "1,2,3,5,192,1" {
		t.Errorf("FormatPORT = %q", got)
	}
	if got := FormatPORT(netip.MustParseAddrPort("[::ffff:1.2.3.5]:258"), false); got != "1,2,3,5,1,2" {
		t.Errorf("FormatPORT mapped = %q", got)
	}
	if got := FormatPORT(netip.MustParseAddrPort("[2001:db8::1]:21"), false); got != "" {
		t.Errorf("FormatPORT v6 = %q, want empty", got)
	}
}

func TestEPRT(t *testing.T) {
	tests := map[string]string{
		"|1|198.51.100.1|5282|":  "198.51.100.1:5282",
		"|2|2001:db8::1|5282|":   "[2001:db8::1]:5282",
		"!2!2001:db8::1!65535!":  "[2001:db8::1]:65535",
		" |1|198.51.100.1|21| ":  "198.51.100.1:21",
		"|1|2001:db8::1|5282|":   "",
		"|2|198.51.100.1|5282|":  "",
		"|3|198.51.100.1|5282|":  "",
		"|2|fe80::1%eth0|5282|":  "[fe80::1]:5282", // the sender's zone (inetutils-ftp) is dropped
		"|2|2001:db8::1%eth0|1|": "",               // zones belong to link-local addresses only
		"|2|fe80::1%|5282|":      "",
		"|1|198.51.100.1|0|":     "",
		"|1|198.51.100.1|65536|": "",
		"|1|198.51.100.1|5282":   "",
		"1|1|198.51.100.1|5282|": "",
		"|1|198.51.100.1|5282|x": "",
		"|1|198.51.100.1|52 82|": "",
		"":                       "",
		"|":                      "",
		"||||":                   "",
	}
	checkParse(t, "ParseEPRT", addrString(ParseEPRT), tests)
	for in, want := range map[string]string{
		"198.51.100.1:5282":        "|1|198.51.100.1|5282|",
		"[::ffff:198.51.100.1]:20": "|1|198.51.100.1|20|",
		"[2001:db8::1]:5282":       "|2|2001:db8::1|5282|",
		"[fe80::1%eth0]:5282":      "|2|fe80::1|5282|",
	} {
		if got := FormatEPRT(netip.MustParseAddrPort(in)); got != want {
			t.Errorf("FormatEPRT(%s) = %q, want %q", in, got, want)
		}
	}
}

func TestPASV227(t *testing.T) {
	tests := map[string]string{
		"Entering Passive Mode (198,51,100,2,192,0).":     "198.51.100.2:49152",
		"227 Entering Passive Mode (198,51,100,2,192,0).": "198.51.100.2:49152",
		"227 Entering Passive Mode 198,51,100,2,192,1":    "198.51.100.2:49153",
		"Entering Passive Mode (198, 51, 100, 2, 4, 1)":   "198.51.100.2:1025",
		"=198,51,100,2,0,21":                              "198.51.100.2:21",
		"Entering Passive Mode (1,2,3,4,5,6,7).":          "",
		"Entering Passive Mode (1,2,3,4,5).":              "",
		"Entering Passive Mode (1,2,3,4,5,256).":          "",
		"227 ":                                            "",
		"":                                                "",
	}
	checkParse(t, "Parse227", addrString(Parse227), tests)
	if got := Format227(netip.MustParseAddrPort("198.51.100.2:49152")); got != "Entering Passive Mode (198,51,100,2,192,0)." {
		t.Errorf("Format227 = %q", got)
	}
	if got := Format227(netip.MustParseAddrPort("[2001:db8::2]:49152")); got != "" {
		t.Errorf("Format227 v6 = %q", got)
	}
}

func TestEPSV229(t *testing.T) {
	tests := map[string]uint16{
		"Entering Extended Passive Mode (|||49152|)":     49152,
		"229 Entering Extended Passive Mode (|||6446|)":  6446,
		"229 Extended (ok) Passive Mode (!!!6446!)":      6446,
		"Entering Extended Passive Mode (|||0|)":         0,
		"Entering Extended Passive Mode (|||65536|)":     0,
		"Entering Extended Passive Mode (||6446|)":       0,
		"Entering Extended Passive Mode (|1|1.2.3.4|5|)": 0,
		"Entering Extended Passive Mode (|||6446|":       0,
		"(111111)": 0,
		"":         0,
	}
	checkParse(t, "Parse229", Parse229, tests)
	if got := Format229(49152); got != "Entering Extended Passive Mode (|||49152|)" {
		t.Errorf("Format229 = %q", got)
	}
}

// fuzzRoundTrip fuzzes parse from seeds: whatever it accepts passes check (nil: no check) and,
// written by each format, parses back to the same value.
func fuzzRoundTrip[T any](f *testing.F, seeds []string, parse func(string) (T, error), check func(T) bool, same func(a, b T) bool, formats ...func(T) string) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := parse(s)
		if err != nil {
			return
		}
		if check != nil && !check(v) {
			t.Fatalf("accepted %v", v)
		}
		for _, format := range formats {
			back, err := parse(format(v))
			if err != nil || !same(back, v) {
				t.Fatalf("round trip %q -> %v -> %v, %v", s, v, back, err)
			}
		}
	})
}

func equal[T comparable](a, b T) bool { return a == b }

func FuzzParsePORT(f *testing.F) {
	fuzzRoundTrip(f, []string{"198,51,100,1,19,137", "001,002,003,005,192,001", "1,2,3", " 1, 2,3,4,5,6", "999,1,1,1,1,1"},
		ParsePORT, nil, equal[netip.AddrPort],
		func(ap netip.AddrPort) string { return FormatPORT(ap, false) }, func(ap netip.AddrPort) string { return FormatPORT(ap, true) })
}

func FuzzParseEPRT(f *testing.F) {
	fuzzRoundTrip(f, []string{"|1|198.51.100.1|5282|", "|2|2001:db8::1|5282|", "!2!::1!1!", "|2|fe80::1%x|1|", "|1|1.2.3.4|0|"},
		ParseEPRT, func(ap netip.AddrPort) bool { return ap.Port() != 0 && ap.Addr().Zone() == "" },
		func(a, b netip.AddrPort) bool { return a.Addr().Unmap() == b.Addr().Unmap() && a.Port() == b.Port() }, FormatEPRT)
}

func FuzzParse227(f *testing.F) {
	fuzzRoundTrip(f, []string{"227 Entering Passive Mode (198,51,100,2,192,0).", "=1,2,3,4,5,6", "(1,2,3,4,5,6,7)", "227 1,2"},
		Parse227, nil, equal[netip.AddrPort], Format227)
}

func FuzzParse229(f *testing.F) {
	fuzzRoundTrip(f, []string{"229 Entering Extended Passive Mode (|||49152|)", "(!!!1!)", "((|||1|)", "(|||0|)"},
		Parse229, func(p uint16) bool { return p != 0 }, equal[uint16], Format229)
}
