package upcmd

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netxsim/netxsim/internal/testio"
	"github.com/netxsim/netxsim/tapdev/taptest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "--tap NAME is required"},
		{[]string{"--netns", "x"}, "--netns needs --tap"},
		{[]string{"--tap", "t0", "--ipv4", "198.51.100.2"}, "--ipv4"},
		{[]string{"--tap", "t0", "--ipv4", "198.51.100.300/24"}, "--ipv4"},
		{[]string{"--tap", "t0", "--ipv4", "2001:db8::2/64"}, "not an IPv4"},
		{[]string{"--tap", "t0", "--ipv6", "198.51.100.2/24"}, "not an IPv6"},
		{[]string{"--tap", "t0", "--ipv4", "192.0.2.5/24"}, "192.0.2.0/24 is refused"},
		{[]string{"--tap", "t0", "--ipv4", "198.51.100.0/24"}, "network or broadcast"},
		{[]string{"--tap", "t0", "--mac", "zz:00:00:00:00:01"}, "--mac"},
		{[]string{"--tap", "t0", "--mac", "01:00:5e:00:00:01"}, "multicast"},
		{[]string{"--tap", "t0", "--mac", "02:00:00:00:00:00:00:01"}, "6-byte"},
		{[]string{"--tap", "t0", "--gw4", "203.0.113.1"}, "not on the device's IPv4 subnet"},
		{[]string{"--tap", "t0", "--gw4", "2001:db8::1"}, "--gw4"},
		{[]string{"--tap", "t0", "--gw6", "198.51.100.1"}, "--gw6"},
		{[]string{"--tap", "t0", "--host-ipv4", "198.51.100.1/24"}, "--host-ipv4 needs --netns"},
		{[]string{"--tap", "t0", "--netns", "n", "--host-ipv4", "198.51.100.2/24"}, "same address"},
		{[]string{"--tap", "t0", "--no-ipv6", "--ipv6", "2001:db8::2/64"}, "contradict"},
		{[]string{"--tap", "0123456789abcdef"}, "longer than 15"},
		{[]string{"--tap", "a/b"}, "--tap"},
		{[]string{"--tap", "t0", "--netns", "../x"}, "plain name"},
		{[]string{"--tap", "t0", "--mtu", "100"}, "--mtu"},
		{[]string{"--tap", "t0", "extra"}, "unexpected argument"},
		{[]string{"--bogus"}, "bogus"},
	} {
		var out, errb bytes.Buffer
		code := Run(context.Background(), c.args, &out, &errb)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", c.args, code, errb.String())
			continue
		}
		if !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: stderr %q lacks %q", c.args, errb.String(), c.want)
		}
	}
}

func TestHelp(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Run(context.Background(), []string{"--help"}, &out, &errb); code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	for _, w := range []string{"--tap", "--netns", "--ipv4", "--pcap", "tap-setup.sh"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("help lacks %s:\n%s", w, out.String())
		}
	}
}

func TestExistingNetNS(t *testing.T) {
	if why := taptest.Skip(); why != "" {
		t.Skip(why)
	}
	ns := taptest.Name("nxu")
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	var out, errb bytes.Buffer
	if code := Run(context.Background(), []string{"--tap", ns, "--netns", ns}, &out, &errb); code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "exists") {
		t.Errorf("stderr %q", errb.String())
	}
}

// syncBuf is a bytes.Buffer safe for a writer goroutine and a reader.
type syncBuf = testio.Buffer

// TestUpNetNS runs `up --netns` until it prints its addresses, pings the
// device from the namespace, interrupts it and checks that the namespace
// and TAP are gone and the pcapng was written.
func TestUpNetNS(t *testing.T) {
	if why := taptest.Skip(); why != "" {
		t.Skip(why)
	}
	name := taptest.Name("nxu")
	pcap := filepath.Join(t.TempDir(), "up.pcapng")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuf
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"--tap", name, "--netns", name, "--skip-dad", "--pcap", pcap}, &out, &errb)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "running;") {
		select {
		case code := <-done:
			t.Fatalf("up exited %d early: %s %s", code, out.String(), errb.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatalf("up did not come up: %s %s", out.String(), errb.String())
		}
	}
	o := out.String()
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
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d: %s", code, errb.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("up did not stop after cancel")
	}
	// the stop line shows the pings answered, not just requests in and out (issue 11 item 8)
	var answered, received int
	if _, after, ok := strings.Cut(out.String(), "pings answered "); !ok {
		t.Errorf("stop line lacks the pings answered:\n%s", out.String())
	} else if _, err := fmt.Sscanf(after, "%d of %d received", &answered, &received); err != nil || answered == 0 || answered != received {
		t.Errorf("stop line: pings answered %d of %d (%v); the test's pings were all answered:\n%s", answered, received, err, out.String())
	}
	if _, err := os.Stat(filepath.Join("/run/netns", name)); err == nil {
		t.Errorf("namespace %s left behind", name)
	}
	if b, _ := exec.Command("ip", "-o", "link").CombinedOutput(); strings.Contains(string(b), name) {
		t.Errorf("TAP %s left behind", name)
	}
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
	var out, errb bytes.Buffer
	code := Run(context.Background(), []string{"--tap", name, "--netns", name, "--pcap", "/nonexistent-dir/x.pcapng"}, &out, &errb)
	if code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "nonexistent-dir") {
		t.Errorf("stderr %q does not name the file", errb.String())
	}
	if _, err := os.Stat(filepath.Join("/run/netns", name)); err == nil {
		t.Errorf("namespace %s left behind", name)
	}
	if b, _ := exec.Command("ip", "-o", "link").CombinedOutput(); strings.Contains(string(b), name) {
		t.Errorf("TAP %s left behind", name)
	}
}
