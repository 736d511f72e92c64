package replaycmd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/ftp/ftpcheck"
)

// TestReplayCaptureVerifies: the simulated netxduo-6.4 device's own capture of the replayed real
// dialogues (--pcap) passes `netxsim verify` but for what the shipped code really does wrong, which
// it reproduces (a failed passive RETR leaves its data connection for the next transfer) or stands
// in for (RNTO without RNFR: the session closes unanswered where the real device crashes), and the
// probing client's PASV and PORT on IPv6. PASS without USER is refused here (a deliberate
// exception), so the login check passes where the real device's capture fails it.
func TestReplayCaptureVerifies(t *testing.T) {
	want := []string{"1 data-connection", "5 unanswered"}
	for _, c := range []string{"ipv4", "ipv6"} {
		t.Run(c, func(t *testing.T) {
			pcap := filepath.Join(t.TempDir(), "device.pcapng")
			code, rep := replayJSON(t, options{}, "--pcap", pcap, filepath.Join(captures, "server-dialogues-"+c+".pcap"))
			if code != 0 || rep.Real != 0 {
				t.Fatalf("replay: exit %d, %d differences", code, rep.Real)
			}
			f, err := os.Open(pcap)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			vr, err := ftpcheck.Analyze(context.Background(), f, ftpcheck.Options{Profile: ftp.ProfileNetXDuo64})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range vr.Sessions {
				for _, ck := range s.Checks {
					if ck.Status == ftpcheck.StatusFail {
						got = append(got, fmt.Sprintf("%d %s", s.ID, ck.Name))
					}
				}
			}
			w := slices.Clone(want)
			if c == "ipv6" {
				w = append(w, "1 ipv6-port")
			}
			slices.Sort(got)
			slices.Sort(w)
			if !slices.Equal(got, w) || len(vr.Sessions) != 5 {
				t.Errorf("%d sessions, failed checks %q, want 5 and %q", len(vr.Sessions), got, w)
			}
		})
	}
}
