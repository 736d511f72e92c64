package runcmd

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Shard is part K of N of a scenario suite (1 <= K <= N); the zero value is the whole suite.
type Shard struct{ K, N int }

// ParseShard reads "K/N".
func ParseShard(s string) (Shard, error) {
	a, b, ok := strings.Cut(s, "/")
	k, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || k < 1 || k > n || n > 10000 {
		return Shard{}, fmt.Errorf("--shard %q: want K/N with 1 <= K <= N, e.g. 2/4 (Kubernetes: $((JOB_COMPLETION_INDEX+1))/N)", s)
	}
	return Shard{K: k, N: n}, nil
}

func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.K, s.N) }

// Pick returns the files of shard s, in order. The partition is stable and disjoint and its N parts
// cover every file: the files are sorted by their path relative to the working directory (slashes,
// cleaned; the same on every machine of a CI matrix checking out the same tree) and dealt round-robin,
// file i (from 0) to shard i mod N + 1. Sorting first makes it independent of the order (and the
// spelling: ./a.yaml, a.yaml) the files are given in; dealing keeps the shards within one file of
// each other in size. A file named twice counts once.
func (s Shard) Pick(files []string) ([]string, error) {
	type entry struct{ key, file string }
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	var es []entry
	seen := map[string]bool{}
	for _, f := range files {
		abs, err := filepath.Abs(f)
		if err != nil {
			return nil, err
		}
		key := abs
		if rel, err := filepath.Rel(wd, abs); err == nil {
			key = rel
		}
		key = filepath.ToSlash(key)
		if !seen[key] {
			seen[key] = true
			es = append(es, entry{key, f})
		}
	}
	slices.SortFunc(es, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	if s.N == 0 {
		s = Shard{K: 1, N: 1}
	}
	var out []string
	for i, e := range es {
		if i%s.N == s.K-1 {
			out = append(out, e.file)
		}
	}
	return out, nil
}
