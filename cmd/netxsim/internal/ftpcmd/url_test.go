package ftpcmd

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	cases := []struct {
		in   string
		want Target
	}{
		{"ftp://198.51.100.1/dir/f.txt", Target{User: "anonymous", Pass: "anonymous@", Host: "198.51.100.1",
			Addr: netip.MustParseAddr("198.51.100.1"), Port: 21, Path: "dir/f.txt"}},
		{"ftp://u:p%40ss@198.51.100.1:2121/", Target{User: "u", Pass: "p@ss", Host: "198.51.100.1",
			Addr: netip.MustParseAddr("198.51.100.1"), Port: 2121, Path: ""}},
		{"ftp://u@[2001:db8::1]:21//abs/x", Target{User: "u", Pass: "", Host: "2001:db8::1",
			Addr: netip.MustParseAddr("2001:db8::1"), Port: 21, Path: "/abs/x"}},
		{"ftp://u:p@[fe80::1%eth0]/f", Target{User: "u", Pass: "p", Host: "fe80::1%eth0",
			Addr: netip.MustParseAddr("fe80::1%eth0"), Port: 21, Path: "f"}},
		{"ftp://u:p@[fe80::1%25tap0]:2121/%2Fetc/x", Target{User: "u", Pass: "p", Host: "fe80::1%tap0",
			Addr: netip.MustParseAddr("fe80::1%tap0"), Port: 2121, Path: "/etc/x"}},
		{"ftp://localhost/a%20b", Target{User: "anonymous", Pass: "anonymous@", Host: "localhost", Port: 21, Path: "a b"}},
	}
	for _, tc := range cases {
		got, err := ParseURL(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseURL(%q) =\n %+v, %v\nwant %+v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{
		"http://h/", "ftp://", "ftp:///path", "ftp://h:0/", "ftp://h:70000/", "ftp://h/?q=1",
		"ftp://[2001:db8::1/x", "ftp://h/a%0d%0aDELE%20x", "ftp://:p@h/", "ftp://198.51.100.1%eth0/",
	} {
		if _, err := ParseURL(bad); err == nil {
			t.Errorf("ParseURL(%q): no error", bad)
		}
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"ftp://198.51.100.1/dir/f.txt", "ftp://u:p@[2001:db8::1]:2121//abs", "ftp://u:p@[fe80::1%eth0]/f",
		"ftp://[fe80::1%25tap0]:21/%2Fx", "ftp://h/a%0d%0a", "ftp://h:99999/", "ftp://@/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := ParseURL(s)
		if err != nil {
			return
		}
		if tg.Port == 0 || tg.Host == "" || tg.User == "" {
			t.Fatalf("ParseURL(%q) accepted %+v", s, tg)
		}
		if strings.ContainsAny(tg.Path, "\r\n\x00") {
			t.Fatalf("ParseURL(%q): path with control characters %q", s, tg.Path)
		}
		if tg.Addr.IsValid() && tg.AddrPort().Port() != tg.Port {
			t.Fatalf("AddrPort mismatch")
		}
	})
}
