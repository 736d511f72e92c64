package cli

import (
	"bytes"
	"flag"
	"slices"
	"strings"
	"testing"
)

func TestParseInterspersed(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		pos     []string
		exit    int // -1: none
		out, er string
	}{
		{[]string{"a", "-v", "b"}, []string{"a", "b"}, -1, "", ""},
		{[]string{"-v", "a"}, []string{"a"}, -1, "", ""},
		{[]string{"--help"}, nil, 0, "usage: x", ""},
		{[]string{"a", "--bogus"}, nil, 2, "", "netxsim x: flag provided but not defined: -bogus\nusage: x"},
	} {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		v := fs.Bool("v", false, "verbose")
		fs.Usage = func() { fs.Output().Write([]byte("usage: x\n")) }
		var out, er bytes.Buffer
		pos, exit := ParseInterspersed(fs, tc.args, &out, &er)
		got := -1
		if exit != nil {
			got = *exit
		}
		if got != tc.exit || !slices.Equal(pos, tc.pos) || !strings.HasPrefix(out.String(), tc.out) || !strings.HasPrefix(er.String(), tc.er) {
			t.Errorf("%q: pos %q exit %d stdout %q stderr %q", tc.args, pos, got, out.String(), er.String())
		}
		if got == -1 && !*v {
			t.Errorf("%q: -v not parsed", tc.args)
		}
		if strings.Count(out.String()+er.String(), "usage: x") > 1 {
			t.Errorf("%q: usage printed twice", tc.args)
		}
	}
}
