// Package tsharktest reads captures with tshark, for tests that check them against Wireshark's
// dissectors: the FTP dialogues ftpcheck must see alike, and the frames a 1,500-byte wire carries.
package tsharktest

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Have reports whether tshark is installed, for tests that use it as an optional second reader.
func Have() bool {
	_, err := exec.LookPath("tshark")
	return err == nil
}

// Need skips the test when tshark is not installed.
func Need(t testing.TB) {
	t.Helper()
	if !Have() {
		t.Skip("needs tshark (Debian package tshark)")
	}
}

// Fields runs tshark -r file -T fields with args (a display filter, the -e fields, -d or -o
// options) and returns each output line split at its tabs; a tshark that fails fails the test.
func Fields(t testing.TB, file string, args ...string) [][]string {
	t.Helper()
	args = append([]string{"-r", file, "-T", "fields"}, args...)
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark %v: %v", args, err)
	}
	var rows [][]string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if sc.Text() != "" {
			rows = append(rows, strings.Split(sc.Text(), "\t"))
		}
	}
	return rows
}

// Dialogues returns, per TCP stream in order of first appearance, the FTP commands ("C:VERB") and reply
// codes ("R:code") tshark decodes; ports other than 21 are decoded as FTP with -d.
func Dialogues(t testing.TB, file string, ports ...uint16) [][]string {
	t.Helper()
	args := []string{"-Y", "ftp", "-e", "tcp.stream", "-e", "ftp.request.command", "-e", "ftp.response.code"}
	for _, p := range ports {
		if p != 21 {
			args = append(args, "-d", fmt.Sprintf("tcp.port==%d,ftp", p))
		}
	}
	var order []int
	streams := map[int][]string{}
	for _, f := range Fields(t, file, args...) {
		if len(f) < 3 {
			continue
		}
		id, err := strconv.Atoi(f[0])
		if err != nil {
			continue
		}
		if _, ok := streams[id]; !ok {
			order = append(order, id)
			streams[id] = []string{}
		}
		for _, c := range strings.Split(f[1], ",") {
			if c != "" {
				streams[id] = append(streams[id], "C:"+strings.ToUpper(c))
			}
		}
		for _, c := range strings.Split(f[2], ",") {
			if c != "" {
				streams[id] = append(streams[id], "R:"+c)
			}
		}
	}
	res := make([][]string, 0, len(order))
	for _, id := range order {
		res = append(res, streams[id])
	}
	return res
}

// Fold folds a reply code repeated with no command between: tshark works per packet, so a multi-line
// reply split over two segments shows its code twice.
func Fold(seq []string) []string {
	var out []string
	for _, s := range seq {
		if len(out) > 0 && strings.HasPrefix(s, "R:") && out[len(out)-1] == s {
			continue
		}
		out = append(out, s)
	}
	return out
}

// Compare fails the test unless ours (one dialogue per session, in order) equals tshark's reading of file.
func Compare(t testing.TB, file string, ours [][]string, ports ...uint16) {
	t.Helper()
	theirs := Dialogues(t, file, ports...)
	if len(theirs) != len(ours) {
		t.Fatalf("tshark sees %d FTP streams, ftpcheck %d sessions\ntshark: %v\nours:   %v", len(theirs), len(ours), theirs, ours)
	}
	for i := range ours {
		if a, b := Fold(ours[i]), Fold(theirs[i]); !slices.Equal(a, b) {
			t.Errorf("session %d differs\ntshark:   %v\nftpcheck: %v", i+1, b, a)
		}
	}
}

// CheckWire skips the test when tshark is not installed, else reads the capture at file with IP, TCP
// and UDP checksum validation and fails the test unless it holds what a 1,500-byte Ethernet wire
// carries: no frame above 1,514 bytes, no checksum tshark finds bad. It returns how many frames the
// capture holds and how many of them carry TCP payload.
func CheckWire(t testing.TB, file string) (frames, data int) {
	t.Helper()
	if !Have() {
		t.Skip("needs tshark (Debian package tshark) to read the capture")
	}
	for _, f := range Fields(t, file, "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
		"-o", "udp.check_checksum:TRUE", "-e", "frame.len", "-e", "ip.checksum.status",
		"-e", "tcp.checksum.status", "-e", "tcp.len",
		// what names a bad frame in the failure message
		"-e", "frame.number", "-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "tcp.flags.str") {
		line := strings.Join(f, "\t")
		frames++
		if l, _ := strconv.Atoi(f[0]); l > 1514 {
			t.Fatalf("captured a %d-byte frame: %q", l, line)
		}
		for _, st := range f[1:min(3, len(f))] {
			if st == "0" { // tshark: 0 bad, 1 good, 2 unverified
				t.Fatalf("tshark finds a bad checksum (len, ip, tcp status, payload; frame, source, ports, flags): %q", line)
			}
		}
		if len(f) > 3 {
			if l, _ := strconv.Atoi(f[3]); l > 0 {
				data++
			}
		}
	}
	return frames, data
}
