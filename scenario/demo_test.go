package scenario

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/netxsim/netxsim/internal/tsharktest"
)

// TestDemo runs the built-in demo scenario: every session passes, the image checks clean, and (when
// tshark is installed) Wireshark's dissectors decode FTP and FTP-DATA for all four ways.
func TestDemo(t *testing.T) {
	out := outDir(t, "demo")
	res := runLogged(t, Demo(DemoOptions{FileSize: 64 << 10}), Options{Out: out})
	if !res.OK {
		t.Fatal("demo failed")
	}
	checkJUnit(t, res.Artifacts.JUnit[0])
	setups := map[string]int{}
	for _, s := range res.Report.Sessions {
		if !s.Passed() {
			t.Errorf("%s failed", s.Name())
		}
		for _, tr := range s.Transfers {
			setups[tr.Setup]++
		}
	}
	for _, way := range []string{"PORT", "PASV", "EPRT", "EPSV"} {
		if setups[way] < 2 {
			t.Errorf("%d transfers set up with %s, want a read and a write at least", setups[way], way)
		}
	}
	fsck := false
	for _, o := range res.Expectations {
		if strings.HasPrefix(o.Name, "fsck ") && o.OK {
			fsck = true
		}
	}
	if !fsck {
		t.Error("no clean image check among the expectations")
	}
	tsharkDecodes(t, res)
}

// tsharkDecodes checks that tshark decodes the control connections as FTP and every data connection
// ftpcheck matched as FTP-DATA. Wireshark follows PORT/EPRT and PASV/EPSV itself (4.0 does); should a
// version not follow a passive port, the test retries with -d tcp.port==P,ftp-data and says so.
func tsharkDecodes(t *testing.T, res *Result) {
	if !tsharktest.Have() {
		t.Skip("tshark not installed: skipping the Wireshark cross-check")
	}
	run := func(extra ...string) map[string]int {
		args := append(extra, "-Y", "ftp || ftp-data", "-e", "frame.protocols", "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "ftp.request.command")
		seen := map[string]int{}
		for _, f := range tsharktest.Fields(t, res.Artifacts.Capture, args...) {
			if len(f) < 4 {
				continue
			}
			if strings.Contains(f[0]+":", ":ftp-data:") {
				seen["data "+f[1]+"-"+f[2]]++
				seen["data "+f[2]+"-"+f[1]]++
			}
			if f[3] != "" {
				seen["cmd "+f[3]]++
			}
		}
		return seen
	}
	seen := run()
	for _, cmd := range []string{"USER", "PASS", "TYPE", "PORT", "PASV", "EPRT", "EPSV", "RETR", "STOR", "LIST", "NLST", "MKD", "RNFR", "RNTO", "DELE", "RMD", "QUIT"} {
		if seen["cmd "+cmd] == 0 {
			t.Errorf("tshark decodes no FTP %s command", cmd)
		}
	}
	var decodeAs []string
	for _, s := range res.Report.Sessions {
		for _, tr := range s.Transfers {
			if tr.Data == nil {
				t.Errorf("%s: %s %s has no data connection", s.Name(), tr.Verb, tr.Arg)
				continue
			}
			key := fmt.Sprintf("data %d-%d", tr.Data.Initiator.Port(), tr.Data.Responder.Port())
			if seen[key] > 0 {
				continue
			}
			if tr.Mode != "passive" {
				t.Errorf("tshark does not decode the active (%s) data connection %s as ftp-data", tr.Setup, key)
				continue
			}
			decodeAs = append(decodeAs, "-d", fmt.Sprintf("tcp.port==%d,ftp-data", tr.Data.Responder.Port()))
		}
	}
	if len(decodeAs) > 0 {
		t.Logf("this tshark needs %v for passive data connections", decodeAs)
		seen = run(decodeAs...)
		for i := 1; i < len(decodeAs); i += 2 {
			port := strings.TrimSuffix(strings.TrimPrefix(decodeAs[i], "tcp.port=="), ",ftp-data")
			found := false
			for k := range seen {
				if strings.HasPrefix(k, "data "+port+"-") {
					found = true
				}
			}
			if !found {
				t.Errorf("tshark does not decode passive port %s as ftp-data even with -d", port)
			}
		}
	}
	t.Logf("tshark decoded %d FTP-DATA connections and the commands %v", countPrefix(seen, "data ")/2, commands(seen))
}

func countPrefix(m map[string]int, p string) int {
	n := 0
	for k := range m {
		if strings.HasPrefix(k, p) {
			n++
		}
	}
	return n
}

func commands(m map[string]int) []string {
	var out []string
	for k, v := range m {
		if c, ok := strings.CutPrefix(k, "cmd "); ok {
			out = append(out, fmt.Sprintf("%s×%d", c, v))
		}
	}
	return out
}

// TestDemoTAP runs the demo with the device on a TAP and the kernel as host (root only).
func TestDemoTAP(t *testing.T) {
	if why := TAPSupported(); why != "" {
		t.Skip(why)
	}
	res := runLogged(t, Demo(DemoOptions{TAP: true, FileSize: 64 << 10}), Options{Out: t.TempDir()})
	if !res.OK {
		t.Fatal("TAP demo failed")
	}
}

// runLogged runs sc and logs its result table.
func runLogged(t *testing.T, sc *Scenario, o Options) *Result {
	t.Helper()
	res, err := Run(t.Context(), sc, o)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	res.WriteTable(&b)
	t.Logf("\n%s", b.String())
	return res
}
