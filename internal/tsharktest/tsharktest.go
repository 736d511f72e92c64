// Package tsharktest reads FTP dialogues out of a capture with tshark, for tests that check that
// ftpcheck sees the same commands and replies as Wireshark's dissector.
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

// Need skips the test when tshark is not installed.
func Need(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("needs tshark (Debian package tshark)")
	}
}

// Dialogues returns, per TCP stream in order of first appearance, the FTP commands ("C:VERB") and reply
// codes ("R:code") tshark decodes; ports other than 21 are decoded as FTP with -d.
func Dialogues(t testing.TB, file string, ports ...uint16) [][]string {
	t.Helper()
	args := []string{"-r", file, "-Y", "ftp", "-T", "fields", "-E", "separator=/t",
		"-e", "tcp.stream", "-e", "ftp.request.command", "-e", "ftp.response.code"}
	for _, p := range ports {
		if p != 21 {
			args = append(args, "-d", fmt.Sprintf("tcp.port==%d,ftp", p))
		}
	}
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Fatalf("tshark %v: %v", args, err)
	}
	var order []int
	streams := map[int][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
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
