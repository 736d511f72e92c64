package ftpcheck

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/netxsim/netxsim/ftp"
)

// TestVerifyRealNetXDuo642: verify on the captures of the real NetX Duo 6.4.2 server
// (testdata/netxduo-6.4.2, a hostile series of dialogues) judges the shipped code's normal
// behaviour as correct (one segment one command, 125/250 in passive mode, 550 to LIST of a
// non-directory, 530 to QUIT before login, PASV on IPv6 naming the IPv4 address) and fails only
// what is wrong on the real device: its defects (a failed passive RETR leaves its data connection
// for the next transfer, PASS without USER logs in, RNTO without RNFR crashes it) and the probing
// client's own departures from the seed (PASV and PORT on IPv6).
func TestVerifyRealNetXDuo642(t *testing.T) {
	defects := []string{
		"1 data-connection", // RETR data.bin went over the passive connection left by the failed RETR
		"4 login",           // PASS without USER accepted (230)
		"5 unanswered",      // RNTO nowhere.txt: the device crashed
	}
	want := map[string][]string{
		"ipv4": defects,
		"ipv6": append(slices.Clone(defects), "1 ipv6-port"), // the client sent PASV and PORT on IPv6
	}
	for _, prof := range []ftp.Profile{ftp.ProfileNetXDuo64, ProfileAuto} {
		for _, c := range []string{"ipv4", "ipv6"} {
			t.Run(fmt.Sprintf("%s/%s", prof, c), func(t *testing.T) {
				rep := analyzeFile(t, "../../testdata/netxduo-6.4.2/server-dialogues-"+c+".pcap", Options{Profile: prof})
				var got []string
				for _, s := range rep.Sessions {
					for _, ck := range s.Checks {
						if ck.Status == StatusFail {
							got = append(got, fmt.Sprintf("%d %s", s.ID, ck.Name))
						}
					}
				}
				w := slices.Clone(want[c])
				slices.Sort(got)
				slices.Sort(w)
				if !slices.Equal(got, w) {
					t.Errorf("failed checks %q, want %q\n%s", got, w, reportText(rep))
				}
				if len(rep.Sessions) != 5 {
					t.Errorf("%d sessions, want 5", len(rep.Sessions))
				}
				if s := rep.Sessions[0]; !strings.Contains(s.ProfileSource, "one segment one command") {
					t.Errorf("session 1 judged as %s (%s): the split and pipelined commands were not read as NetX 6.4.2 reads them", s.Profile, s.ProfileSource)
				}
			})
		}
	}
}
