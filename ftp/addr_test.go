package ftp

import (
	"errors"
	"net/netip"
	"testing"
)

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
	for in, want := range ok {
		ap, err := ParsePORT(in)
		if want == "" {
			if err == nil || !errors.Is(err, ErrBadAddress) {
				t.Errorf("ParsePORT(%q) = %v, %v; want ErrBadAddress", in, ap, err)
			}
			continue
		}
		if err != nil || ap.String() != want {
			t.Errorf("ParsePORT(%q) = %v, %v; want %s", in, ap, err, want)
		}
	}
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
	for in, want := range tests {
		ap, err := ParseEPRT(in)
		if want == "" {
			if !errors.Is(err, ErrBadAddress) {
				t.Errorf("ParseEPRT(%q) = %v, %v; want ErrBadAddress", in, ap, err)
			}
			continue
		}
		if err != nil || ap.String() != want {
			t.Errorf("ParseEPRT(%q) = %v, %v; want %s", in, ap, err, want)
		}
	}
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
	for in, want := range tests {
		ap, err := Parse227(in)
		if want == "" {
			if !errors.Is(err, ErrBadAddress) {
				t.Errorf("Parse227(%q) = %v, %v; want ErrBadAddress", in, ap, err)
			}
			continue
		}
		if err != nil || ap.String() != want {
			t.Errorf("Parse227(%q) = %v, %v; want %s", in, ap, err, want)
		}
	}
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
		p, err := Parse229(in)
		if want == 0 {
			if !errors.Is(err, ErrBadAddress) {
				t.Errorf("Parse229(%q) = %d, %v; want ErrBadAddress", in, p, err)
			}
			continue
		}
		if err != nil || p != want {
			t.Errorf("Parse229(%q) = %d, %v; want %d", in, p, err, want)
		}
	}
	if got := Format229(49152); got != "Entering Extended Passive Mode (|||49152|)" {
		t.Errorf("Format229 = %q", got)
	}
}

func FuzzParsePORT(f *testing.F) {
	for _, s := range []string{"198,51,100,1,19,137", "001,002,003,005,192,001", "1,2,3", " 1, 2,3,4,5,6", "999,1,1,1,1,1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ap, err := ParsePORT(s)
		if err != nil {
			return
		}
		for _, pad := range []bool{false, true} {
			back, err := ParsePORT(FormatPORT(ap, pad))
			if err != nil || back != ap {
				t.Fatalf("round trip %q -> %v -> %v, %v", s, ap, back, err)
			}
		}
	})
}

func FuzzParseEPRT(f *testing.F) {
	for _, s := range []string{"|1|198.51.100.1|5282|", "|2|2001:db8::1|5282|", "!2!::1!1!", "|2|fe80::1%x|1|", "|1|1.2.3.4|0|"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ap, err := ParseEPRT(s)
		if err != nil {
			return
		}
		if ap.Port() == 0 || ap.Addr().Zone() != "" {
			t.Fatalf("accepted %v", ap)
		}
		back, err := ParseEPRT(FormatEPRT(ap))
		if err != nil || back.Addr().Unmap() != ap.Addr().Unmap() || back.Port() != ap.Port() {
			t.Fatalf("round trip %q -> %v -> %v, %v", s, ap, back, err)
		}
	})
}

func FuzzParse227(f *testing.F) {
	for _, s := range []string{"227 Entering Passive Mode (198,51,100,2,192,0).", "=1,2,3,4,5,6", "(1,2,3,4,5,6,7)", "227 1,2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ap, err := Parse227(s)
		if err != nil {
			return
		}
		back, err := Parse227(Format227(ap))
		if err != nil || back != ap {
			t.Fatalf("round trip %q -> %v -> %v, %v", s, ap, back, err)
		}
	})
}

func FuzzParse229(f *testing.F) {
	for _, s := range []string{"229 Entering Extended Passive Mode (|||49152|)", "(!!!1!)", "((|||1|)", "(|||0|)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse229(s)
		if err != nil {
			return
		}
		if p == 0 {
			t.Fatal("port 0 accepted")
		}
		back, err := Parse229(Format229(p))
		if err != nil || back != p {
			t.Fatalf("round trip %q -> %d -> %d, %v", s, p, back, err)
		}
	})
}
