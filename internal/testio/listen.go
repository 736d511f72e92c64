package testio

import (
	"bufio"
	"io"
	"strings"
)

// ListenAddr reads r line by line until one reads "listening on ADDR" (what `netxsim serve` prints
// once it is ready) and returns ADDR, or "" if r ends first. The rest of r is drained in the
// background, so the writer never blocks on a full pipe.
func ListenAddr(r io.Reader) string {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if a, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "listening on "); ok {
			go io.Copy(io.Discard, r)
			return a
		}
	}
	return ""
}
