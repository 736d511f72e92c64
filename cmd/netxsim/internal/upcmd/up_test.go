package upcmd

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netxsim/netxsim/cmd/netxsim/internal/cli/clitest"
	"github.com/netxsim/netxsim/tapdev/taptest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestExistingNetNS(t *testing.T) {
	if why := taptest.Skip(); why != "" {
		t.Skip(why)
	}
	ns := taptest.Name("nxu")
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	code, _, errOut := clitest.Run(t, Run, "--tap", ns, "--netns", ns)
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
	for _, dst := range []string{"198.51.100.2", "2001:db8::2"} {
		var err error
		var b []byte
		for i := 0; i < 20; i++ {
			b, err = exec.Command("ip", "netns", "exec", name, "ping", "-c1", "-W1", dst).CombinedOutput()
			if err == nil {
				break
			}
		}
		if err != nil {
			t.Errorf("ping %s: %v %s", dst, err, b)
		}
	}
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
	for _, h := range hints {
		var err error
		var b []byte
		for i := 0; i < 10; i++ {
			if b, err = exec.Command("sh", "-c", h).CombinedOutput(); err == nil {
				break
			}
			time.Sleep(300 * time.Millisecond)
		}
		if err != nil {
			t.Errorf("hint %q: %v\n%s", h, err, b)
		}
	}
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

// assertGone reports a namespace or TAP called name that up left behind.
func assertGone(t *testing.T, name string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join("/run/netns", name)); err == nil {
		t.Errorf("namespace %s left behind", name)
	}
	if b, _ := exec.Command("ip", "-o", "link").CombinedOutput(); strings.Contains(string(b), name) {
		t.Errorf("TAP %s left behind", name)
	}
}
