package ftp

import (
	"errors"
	"net"
	"net/netip"
	"testing"
)

// checkParse runs parse on in; a zero want means in is refused with ErrBadAddress.
func checkParse[W comparable](t *testing.T, name string, parse func(string) (W, error), in string, want W) {
	t.Helper()
	got, err := parse(in)
	var refused W
	if want == refused {
		if !errors.Is(err, ErrBadAddress) {
			t.Errorf("%s(%q) = %v, %v; want ErrBadAddress", name, in, got, err)
		}
		return
	}
	if err != nil || got != want {
		t.Errorf("%s(%q) = %v, %v; want %v", name, in, got, err, want)
	}
}

// addrParsers are the parsers of PORT, EPRT and 227 arguments, by name.
var addrParsers = map[string]func(string) (netip.AddrPort, error){
	"ParsePORT": ParsePORT,
	"ParseEPRT": ParseEPRT,
	"Parse227":  Parse227,
}

// TestParseAddrs: each parser's input and the address it gives, as a string ("": refused).
func TestParseAddrs(t *testing.T) {
	for _, tc := range []struct{ parser, in, want string }{
		{"ParsePORT", "198,51,100,1,19,137", "198.51.100.1:5001"},
		{"ParsePORT", "001,002,003,005,192,001", "1.2.3.5:49153"},
		{"ParsePORT", " 198, 51, 100, 1, 4, 1 ", "198.51.100.1:1025"},
		{"ParsePORT", "255,255,255,255,255,255", "255.255.255.255:65535"},
		{"ParsePORT", "0,0,0,0,0,0", "0.0.0.0:0"},
		{"ParsePORT", "0198,51,100,1,19,137", ""},
		{"ParsePORT", "198,51,100,1,19", ""},
		{"ParsePORT", "198,51,100,1,19,137,1", ""},
		{"ParsePORT", "256,51,100,1,19,137", ""},
		{"ParsePORT", "198,51,100,1,19,-1", ""},
		{"ParsePORT", "198,51,100,1,19,+1", ""},
		{"ParsePORT", "198,51,,1,19,1", ""},
		{"ParsePORT", "", ""},
		{"ParsePORT", "2001:db8::1", ""},
		{"ParsePORT", "198,51,100,1,19,137 extra", ""},
		{"ParseEPRT", "|1|198.51.100.1|5282|", "198.51.100.1:5282"},
		{"ParseEPRT", "|2|2001:db8::1|5282|", "[2001:db8::1]:5282"},
		{"ParseEPRT", "!2!2001:db8::1!65535!", "[2001:db8::1]:65535"},
		{"ParseEPRT", " |1|198.51.100.1|21| ", "198.51.100.1:21"},
		{"ParseEPRT", "|1|2001:db8::1|5282|", ""},
		{"ParseEPRT", "|2|198.51.100.1|5282|", ""},
		{"ParseEPRT", "|3|198.51.100.1|5282|", ""},
		{"ParseEPRT", "|2|fe80::1%eth0|5282|", "[fe80::1]:5282"}, // the sender's zone (inetutils-ftp) is dropped
		{"ParseEPRT", "|2|2001:db8::1%eth0|1|", ""},              // zones belong to link-local addresses only
		{"ParseEPRT", "|2|fe80::1%|5282|", ""},
		{"ParseEPRT", "|1|198.51.100.1|0|", ""},
		{"ParseEPRT", "|1|198.51.100.1|65536|", ""},
		{"ParseEPRT", "|1|198.51.100.1|5282", ""},
		{"ParseEPRT", "1|1|198.51.100.1|5282|", ""},
		{"ParseEPRT", "|1|198.51.100.1|5282|x", ""},
		{"ParseEPRT", "|1|198.51.100.1|52 82|", ""},
		{"ParseEPRT", "", ""},
		{"ParseEPRT", "|", ""},
		{"ParseEPRT", "||||", ""},
		{"Parse227", "Entering Passive Mode (198,51,100,2,192,0).", "198.51.100.2:49152"},
		{"Parse227", "227 Entering Passive Mode (198,51,100,2,192,0).", "198.51.100.2:49152"},
		{"Parse227", "227 Entering Passive Mode 198,51,100,2,192,1", "198.51.100.2:49153"},
		{"Parse227", "Entering Passive Mode (198, 51, 100, 2, 4, 1)", "198.51.100.2:1025"},
		{"Parse227", "=198,51,100,2,0,21", "198.51.100.2:21"},
		{"Parse227", "Entering Passive Mode (1,2,3,4,5,6,7).", ""},
		{"Parse227", "Entering Passive Mode (1,2,3,4,5).", ""},
		{"Parse227", "Entering Passive Mode (1,2,3,4,5,256).", ""},
		{"Parse227", "227 ", ""},
		{"Parse227", "", ""},
	} {
		parse := addrParsers[tc.parser]
		checkParse(t, tc.parser, func(s string) (string, error) {
			ap, err := parse(s)
			return ap.String(), err
		}, tc.in, tc.want)
	}
}

// TestAddrPortOf: every Network's address comes out unmapped, zones kept; what is no address, zero.
func TestAddrPortOf(t *testing.T) {
	for _, c := range []struct {
		in   net.Addr
		want netip.AddrPort
	}{
		{&net.TCPAddr{IP: net.ParseIP("198.51.100.1"), Port: 21}, netip.MustParseAddrPort("198.51.100.1:21")},
		{&net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 20, Zone: "eth0"}, netip.MustParseAddrPort("[fe80::1%eth0]:20")},
		{&net.UDPAddr{IP: net.ParseIP("2001:db8::2"), Port: 5}, netip.MustParseAddrPort("[2001:db8::2]:5")},
		{&net.UnixAddr{Name: "/run/x"}, netip.AddrPort{}},
		{nil, netip.AddrPort{}},
	} {
		if got := AddrPortOf(c.in); got != c.want {
			t.Errorf("AddrPortOf(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestPORT(t *testing.T) {
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
	for in, want := range tests {
		checkParse(t, "Parse229", Parse229, in, want)
	}
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
