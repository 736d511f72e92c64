package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/ftp/client"
	"github.com/netxsim/netxsim/ftp/server"
	"github.com/netxsim/netxsim/internal/testio"
)

// usage is what the process holds: open descriptors, goroutines, resident memory, live heap.
type usage struct {
	fds, goroutines int
	rss, heap       uint64
}

// measure takes the usage once garbage is collected and returned to the system (settledRSS).
func measure(t testing.TB) usage {
	u := usage{rss: uint64(settledRSS())}
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	u.fds = len(es)
	u.goroutines = runtime.NumGoroutine()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	u.heap = ms.HeapAlloc
	return u
}

// flatTarget is one server of the mix.
type flatTarget struct {
	name string
	e    *env
	prof ftp.Profile
	fsys server.FileSystem
}

// TestManySessionsFlat: 1,000 mixed sessions (uploads, downloads, appends, listings, renames and
// directories, wrong passwords, transfers cut off in the middle, connections that never log in or
// send garbage) against servers on both back ends, every profile, IPv4 and IPv6, the device stack
// and the kernel, eight at a time. Afterwards the process holds as many descriptors and goroutines
// as before and its memory has not grown; no upload temporary is left and the images are
// consistent (checked at cleanup).
func TestManySessionsFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 sessions: not in -short")
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	var targets []flatTarget
	i := 0
	for _, be := range []backend{allBackends()[0], allBackends()[2]} { // hostfs, FAT16
		for _, prof := range allProfiles {
			for _, fam := range []family{v4, v6} {
				fsys := be.make(t)
				testio.CreateFile(t, fsys, "big.bin", big)
				srv := baseServer(fsys, prof)
				srv.AddrFailureBudget = -1 // the wrong passwords all come from one address
				srv.LoginTimeout = 2 * time.Second
				e := networks[i%2].start(t, srv, fam)
				i++
				targets = append(targets, flatTarget{fmt.Sprintf("%s/%s/%s/%s", be.name, prof, fam, networks[(i-1)%2].name), e, prof, fsys})
			}
		}
	}
	run := func(n, seed int) {
		var wg sync.WaitGroup
		jobs := make(chan int)
		for range 8 {
			wg.Go(func() {
				for k := range jobs {
					tg := targets[k%len(targets)]
					if err := flatSession(tg, k, len(targets), seed); err != nil {
						t.Errorf("session %d on %s: %v", k, tg.name, err)
					}
				}
			})
		}
		for k := range n {
			jobs <- k
		}
		close(jobs)
		wg.Wait()
		for _, tg := range targets {
			waitSessions(t, tg.e.srv, 0)
		}
	}
	run(9*len(targets), 1) // warm-up: pools, caches and every code path once
	before := measure(t)
	run(1000, 2)
	peak := measure(t)
	t.Logf("right after the last session: %d fds, %d goroutines, RSS %.1f MiB, heap %.1f MiB", peak.fds, peak.goroutines, mib(peak.rss), mib(peak.heap))
	var after usage
	// Goroutines of closed connections end shortly after the sessions are counted out; the device
	// stack keeps each closed TCP endpoint in TIME_WAIT for 60 s (gVisor's default, as RFC 9293's
	// 2 MSL), holding a few KiB each: wait for both, bounded (not a timing assertion).
	start := time.Now()
	for time.Since(start) < 90*time.Second {
		after = measure(t)
		if after.goroutines <= before.goroutines && after.fds <= before.fds &&
			after.heap <= before.heap+8<<20 && after.rss <= before.rss+32<<20 {
			break
		}
		time.Sleep(time.Second)
	}
	t.Logf("flat again %.0f s after the last session", time.Since(start).Seconds())
	t.Logf("before: %d fds, %d goroutines, RSS %.1f MiB, heap %.1f MiB; after 1,000 sessions: %d fds, %d goroutines, RSS %.1f MiB, heap %.1f MiB",
		before.fds, before.goroutines, mib(before.rss), mib(before.heap), after.fds, after.goroutines, mib(after.rss), mib(after.heap))
	if after.fds > before.fds {
		t.Errorf("descriptors leaked: %d before, %d after", before.fds, after.fds)
	}
	if after.goroutines > before.goroutines {
		buf := make([]byte, 1<<20)
		t.Errorf("goroutines leaked: %d before, %d after\n%s", before.goroutines, after.goroutines, buf[:runtime.Stack(buf, true)])
	}
	if after.heap > before.heap+8<<20 {
		t.Errorf("live heap grew from %.1f to %.1f MiB", mib(before.heap), mib(after.heap))
	}
	if after.rss > before.rss+32<<20 {
		t.Errorf("RSS grew from %.1f to %.1f MiB", mib(before.rss), mib(after.rss))
	}
	for _, tg := range targets {
		assertNoTemp(t, tg.fsys, ".")
	}
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

// flatSession runs session k of the mix against tg.
func flatSession(tg flatTarget, k, ntargets, seed int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(k)))
	kind := k / ntargets % 9 // every target gets every kind
	if kind == 8 {           // never logs in: connects, maybe sends garbage, goes away
		conn, err := tg.e.dial(ctx, tg.e.ctrl)
		if err != nil {
			return err
		}
		if k%2 == 0 {
			io.WriteString(conn, "\xff\xfe garbage \x00\r\nUSER\r\n")
		}
		return conn.Close()
	}
	opts := []client.Option{client.WithProfile(tg.prof), client.WithPassive(k%2 == 0)}
	c, err := client.Dial(ctx, tg.e.net, tg.e.ctrl, opts...)
	if err != nil {
		return err
	}
	defer c.Close()
	if kind == 7 { // a wrong password
		if err := c.Login(ctx, "u", "wrong"); err == nil {
			return fmt.Errorf("a wrong password was accepted")
		}
		return nil
	}
	if err := c.Login(ctx, "u", "p"); err != nil {
		return err
	}
	name := fmt.Sprintf("f%d-%d.bin", seed, k)
	data := make([]byte, rng.IntN(64<<10))
	for j := range data {
		data[j] = byte(rng.Uint32())
	}
	stor := func(n string, b []byte) error {
		u, err := c.Stor(ctx, n)
		if err != nil {
			return err
		}
		if _, err := u.Write(b); err != nil {
			u.Close()
			return err
		}
		return u.Close()
	}
	switch kind {
	case 0, 1: // upload, download, compare, delete
		if err := stor(name, data); err != nil {
			return fmt.Errorf("STOR: %w", err)
		}
		d, err := c.Retr(ctx, name)
		if err != nil {
			return fmt.Errorf("RETR: %w", err)
		}
		got, err := io.ReadAll(d)
		if cerr := d.Close(); err == nil {
			err = cerr
		}
		if err != nil || !bytes.Equal(got, data) {
			return fmt.Errorf("RETR: %d bytes, %v; want %d", len(got), err, len(data))
		}
		if err := c.Delete(ctx, name); err != nil {
			return fmt.Errorf("DELE: %w", err)
		}
	case 2: // listings
		for _, list := range []func(context.Context, string) (*client.Lines, error){c.List, c.NameList} {
			l, err := list(ctx, "")
			if err != nil {
				return fmt.Errorf("listing: %w", err)
			}
			names, err := l.ReadAll()
			if err != nil || len(names) == 0 {
				return fmt.Errorf("listing: %d lines, %v", len(names), err)
			}
		}
	case 3: // a directory, a rename into it, removal
		dir := fmt.Sprintf("d%d-%d", seed, k)
		if err := c.Mkdir(ctx, dir); err != nil {
			return fmt.Errorf("MKD: %w", err)
		}
		if err := stor(name, data[:min(len(data), 100)]); err != nil {
			return fmt.Errorf("STOR: %w", err)
		}
		if err := c.Rename(ctx, name, dir+"/"+name); err != nil {
			return fmt.Errorf("RNFR/RNTO: %w", err)
		}
		if err := c.Delete(ctx, dir+"/"+name); err != nil {
			return fmt.Errorf("DELE: %w", err)
		}
		if err := c.Rmdir(ctx, dir); err != nil {
			return fmt.Errorf("RMD: %w", err)
		}
	case 4: // a download cut off in the middle: the client goes away
		d, err := c.Retr(ctx, "big.bin")
		if err != nil {
			return fmt.Errorf("RETR: %w", err)
		}
		io.CopyN(io.Discard, d, 1000)
		return c.Close()
	case 5: // an upload cut off in the middle: the old file stays, no temporary is left
		u, err := c.Stor(ctx, "big.bin")
		if err != nil {
			return fmt.Errorf("STOR: %w", err)
		}
		u.Write(data)
		return c.Close()
	case 6: // a resumed upload (REST + STOR) and SIZE, where the profile has them
		if tg.prof != ftp.ProfileExtended {
			return c.Quit(ctx)
		}
		if err := stor(name, data); err != nil {
			return err
		}
		u, err := c.StorFrom(ctx, name, int64(len(data)))
		if err != nil {
			return fmt.Errorf("REST+STOR: %w", err)
		}
		u.Write(data)
		if err := u.Close(); err != nil {
			return fmt.Errorf("REST+STOR: %w", err)
		}
		if n, err := c.Size(ctx, name); err != nil || n != 2*int64(len(data)) {
			return fmt.Errorf("SIZE after the resumed upload: %d, %v; want %d", n, err, 2*len(data))
		}
		if err := c.Delete(ctx, name); err != nil {
			return err
		}
	}
	return c.Quit(ctx)
}
