package stack_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/netxsim/netxsim/internal/testio"
	"github.com/netxsim/netxsim/internal/tsharktest"
	"github.com/netxsim/netxsim/stack"
	"github.com/netxsim/netxsim/stack/capture"
	"github.com/netxsim/netxsim/stack/link"
)

// On a perfect in-memory link the stacks exchange TCP super-segments (segmentation offload): far
// fewer packets cross the wire than a 1,500-byte wire would need.
func TestInMemoryLinkCarriesSuperSegments(t *testing.T) {
	dev, host, _ := newPair(t, link.PairConfig{}, true)
	ctx := timeout(t, time.Minute)
	const n = 8 << 20
	before := dev.Stats().FramesOut
	testio.Transfer(t, ctx, host, dev, hostV4, n)
	sent := dev.Stats().FramesOut - before
	if wire := uint64(n / 1448); sent*4 > wire {
		t.Errorf("%d MiB went out in %d packets; a 1,500-byte wire needs %d frames: no segmentation offload", n>>20, sent, wire)
	}
}

// Impairments and captures see wire frames: with both attached, every frame the impairment handles
// and every captured frame fits a 1,500-byte MTU, losses, reordering and duplicates hit whole wire
// frames (counted per frame, and TCP recovers), and tshark finds every checksum right.
func TestImpairedLinkWorksOnWireFrames(t *testing.T) {
	imp := link.Impairment{Loss: 0.01, Reorder: 0.01, Duplicate: 0.01}
	p, err := link.NewPair(link.PairConfig{AtoB: imp, BtoA: imp, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	file := filepath.Join(t.TempDir(), "wire.pcap")
	w, err := capture.Create(file, capture.Pcap)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := capture.New(p.A(), w, "dev0")
	if err != nil {
		t.Fatal(err)
	}
	cb, err := capture.New(p.B(), w, "host0")
	if err != nil {
		t.Fatal(err)
	}
	dcfg, hcfg := devConfig(), hostConfig()
	dcfg.SkipDAD, hcfg.SkipDAD = true, true
	dev, err := stack.New(context.Background(), dcfg, ca)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })
	host, err := stack.New(context.Background(), hcfg, cb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { host.Close() })

	ctx := timeout(t, 2*time.Minute)
	const n = 4 << 20
	testio.Transfer(t, ctx, host, dev, hostV4, n)
	testio.Transfer(t, ctx, dev, host, devV6, n)
	if err := p.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	ab, ba := p.Stats()
	for _, d := range []struct {
		name string
		st   link.DirStats
	}{{"dev->host", ab}, {"host->dev", ba}} {
		if d.st.Frames < n/1448 {
			t.Errorf("%s: the impairment handled %d frames for %d bytes: it saw super-segments", d.name, d.st.Frames, n)
		}
		if d.st.Lost == 0 || d.st.Reordered == 0 || d.st.Duplicated == 0 {
			t.Errorf("%s: 1%% loss, reordering and duplication did nothing: %+v", d.name, d.st)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	frames, data := tsharktest.CheckWire(t, file)
	if data < 2*n/1448 {
		t.Errorf("capture holds %d data frames of %d, want at least %d", data, frames, 2*n/1448)
	}
	_ = os.Remove(file)
}
