package runcmd

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/netxsim/netxsim/internal/junit"
)

func TestParseShard(t *testing.T) {
	for _, ok := range []string{"1/1", "1/4", "4/4", "3/10"} {
		if _, err := ParseShard(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "1", "0/4", "5/4", "-1/4", "1/0", "a/b", "1/4/2", " 1/4", "1/100000"} {
		if _, err := ParseShard(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestShardListPartitions: for N = 1..4, the --list outputs of shards 1..N over the example scenarios
// are disjoint, cover every file, differ in size by at most one, and do not depend on the order or
// spelling the files are given in.
func TestShardListPartitions(t *testing.T) {
	all, err := filepath.Glob(examples + "*.yaml")
	if err != nil || len(all) < 4 {
		t.Fatalf("examples: %v %v", all, err)
	}
	reversed := slices.Clone(all)
	slices.Reverse(reversed)
	for i := range reversed {
		reversed[i] = "./" + reversed[i] // another spelling of the same path
	}
	for n := 1; n <= 4; n++ {
		seen := map[string]int{}
		minLen, maxLen := len(all), 0
		for k := 1; k <= n; k++ {
			shard := ParseShardMust(t, k, n)
			code, out, errs := run(t, append([]string{"--shard", shard, "--list"}, all...)...)
			if code != 0 {
				t.Fatalf("--shard %s --list: exit %d: %s", shard, code, errs)
			}
			lines := strings.Fields(out)
			code, out2, _ := run(t, append([]string{"--list", "--shard", shard}, reversed...)...)
			if code != 0 || len(strings.Fields(out2)) != len(lines) {
				t.Fatalf("--shard %s: another order gives another part:\n%s\nvs\n%s", shard, out, out2)
			}
			for i, l := range strings.Fields(out2) {
				if filepath.Clean(l) != filepath.Clean(lines[i]) {
					t.Fatalf("--shard %s: another order gives another part:\n%s\nvs\n%s", shard, out, out2)
				}
			}
			for _, l := range lines {
				seen[filepath.Clean(l)]++
			}
			minLen, maxLen = min(minLen, len(lines)), max(maxLen, len(lines))
		}
		for _, f := range all {
			if seen[filepath.Clean(f)] != 1 {
				t.Errorf("N=%d: %s in %d shards", n, f, seen[filepath.Clean(f)])
			}
		}
		if len(seen) != len(all) || maxLen-minLen > 1 {
			t.Errorf("N=%d: %d files listed of %d, shard sizes %d..%d", n, len(seen), len(all), minLen, maxLen)
		}
	}
	if code, _, errs := run(t, "--list", all[0]); code != 2 || !strings.Contains(errs, "--shard") {
		t.Errorf("--list without --shard: exit %d %s", code, errs)
	}
	if code, _, errs := run(t, "--shard", "5/4", all[0]); code != 2 || !strings.Contains(errs, "1 <= K <= N") {
		t.Errorf("--shard 5/4: exit %d %s", code, errs)
	}
}

func ParseShardMust(t *testing.T, k, n int) string {
	t.Helper()
	s := Shard{K: k, N: n}.String()
	if _, err := ParseShard(s); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestShardsRun runs a suite of three in-memory scenarios in two shards, as a CI matrix would: each
// shard runs its part and writes its own JUnit file; together they hold every scenario once.
func TestShardsRun(t *testing.T) {
	suite := []string{examples + "basic.yaml", examples + "extended.yaml", examples + "switch-bounce.yaml"}
	dir := t.TempDir()
	got := map[string]int{}
	for k := 1; k <= 2; k++ {
		shard := ParseShardMust(t, k, 2)
		code, out, errs := run(t, append([]string{"-q", "--shard", shard, "--out", dir}, suite...)...)
		if code != 0 {
			t.Fatalf("shard %s: exit %d\n%s\n%s", shard, code, out, errs)
		}
		file := filepath.Join(dir, "junit-shard-"+strings.Replace(shard, "/", "-of-", 1)+".xml")
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("shard %s: %v\n%s", shard, err, out)
		}
		var r junit.Suites
		if err := xml.Unmarshal(data, &r); err != nil {
			t.Fatal(err)
		}
		if r.Failures != 0 || r.Tests == 0 {
			t.Fatalf("shard %s: %d tests, %d failures", shard, r.Tests, r.Failures)
		}
		for _, s := range r.Suites {
			if name, ok := strings.CutPrefix(s.Name, "scenario "); ok {
				got[name]++
			}
		}
	}
	for _, want := range []string{"basic", "extended", "switch-bounce"} {
		if got[want] != 1 {
			t.Errorf("scenario %s ran in %d shards (JUnit): %v", want, got[want], got)
		}
	}
}
