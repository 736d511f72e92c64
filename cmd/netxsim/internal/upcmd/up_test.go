package upcmd

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netxsim/netxsim/cmd/netxsim/internal/cli/clitest"
	"github.com/netxsim/netxsim/tapdev"
	"github.com/netxsim/netxsim/tapdev/taptest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestExistingNetNS(t *testing.T) {
	if why := taptest.Skip(); why != "" {
		t.Skip(why)
	}
	ns, err := tapdev.CreateNetNS(taptest.Name("nxu"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Delete() })
	code, _, errOut := clitest.Run(t, Run, "--tap", ns.Name, "--netns", ns.Name)
	if code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, errOut)
	}
	if !strings.Contains(errOut, "exists") {
		t.Errorf("stderr %q", errOut)
	}
}

// TestUpNetNS runs `up --netns` until it prints its addresses, pings the
// device from the namespace, interrupts it and checks that the namespace
// and TAP are gone and the pcapng was written.
func TestUpNetNS(t *testing.T) {
	if why := taptest.Skip(); why != "" {
		t.Skip(why)
	}
	name := taptest.Name("nxu")
	pcap := filepath.Join(t.TempDir(), "up.pcapng")
	up := clitest.Start(t, Run, "running;", "--tap", name, "--netns", name, "--skip-dad", "--pcap", pcap)
	o := up.Stdout()
	for _, w := range []string{"198.51.100.2/24", "2001:db8::2/64", "fe80::", "link-local", name} {
		if !strings.Contains(o, w) {
			t.Errorf("output lacks %q:\n%s", w, o)
		}
	}
	ns, err := tapdev.OpenNetNS(name)
	if err != nil {
		t.Fatal(err)
	}
	for _, dst := range []string{"198.51.100.2", "2001:db8::2"} {
		var err error
		var b []byte
		for i := 0; i < 20; i++ {
			b, err = ns.Command(t.Context(), "ping", "-c1", "-W1", dst).CombinedOutput()
			if err == nil {
				break
			}
		}
		if err != nil {
			t.Errorf("ping %s: %v %s", dst, err, b)
		}
	}
	ns.Close() // the namespace is up's to remove
	// every hint printed runs as printed (retried while the kernel side's link-local is tentative)
	var hints []string
	for _, l := range strings.Split(o, "\n") {
		if h, ok := strings.CutPrefix(strings.TrimSpace(l), "try: "); ok {
			hints = append(hints, h)
		}
		if _, h, ok := strings.Cut(l, "(link-local: "); ok {
			hints = append(hints, strings.TrimSuffix(strings.TrimSpace(h), ")"))
		}
	}
	if len(hints) != 2 {
		t.Errorf("hints %q: want the IPv4 ping and the link-local ping", hints)
	}
	clitest.HintsRun(t, hints, "", 10)
	stopped := make(chan int, 1)
	go func() { stopped <- up.Stop() }()
	select {
	case code := <-stopped:
		if code != 0 {
			t.Errorf("exit %d: %s", code, up.Stderr())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("up did not stop after cancel")
	}
	// the stop line shows the pings answered, not just requests in and out (issue 11 item 8)
	var answered, received int
	if _, after, ok := strings.Cut(up.Stdout(), "pings answered "); !ok {
		t.Errorf("stop line lacks the pings answered:\n%s", up.Stdout())
	} else if _, err := fmt.Sscanf(after, "%d of %d received", &answered, &received); err != nil || answered == 0 || answered != received {
		t.Errorf("stop line: pings answered %d of %d (%v); the test's pings were all answered:\n%s", answered, received, err, up.Stdout())
	}
	assertGone(t, name)
	if fi, err := os.Stat(pcap); err != nil || fi.Size() < 100 {
		t.Errorf("pcap: %v %v", fi, err)
	}
}

// TestUpFailureCleansUp: a failure after the namespace and TAP exist (an
// unwritable pcap path) exits 1 and leaves neither behind.
func TestUpFailureCleansUp(t *testing.T) {
	if why := taptest.Skip(); why != "" {
		t.Skip(why)
	}
	name := taptest.Name("nxu")
	code, _, errOut := clitest.Run(t, Run, "--tap", name, "--netns", name, "--pcap", "/nonexistent-dir/x.pcapng")
	if code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, errOut)
	}
	if !strings.Contains(errOut, "nonexistent-dir") {
		t.Errorf("stderr %q does not name the file", errOut)
	}
	assertGone(t, name)
}

// assertGone reports a namespace called name that up left behind, or a TAP of that name in the
// test's own namespace.
func assertGone(t *testing.T, name string) {
	t.Helper()
	clitest.NetNSGone(t, name)
	own, err := tapdev.CurrentNetNS()
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	if own.HasLink(name) {
		t.Errorf("TAP %s left behind", name)
	}
}
