package ftpcheck

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/netxsim/netxsim/ftp/server"
)

// TestOurServerWithRealClients runs our netxduo server on loopback, drives it with curl, lftp and
// Python's ftplib while dumpcap captures, and checks that ftpcheck's sequences equal tshark's and that
// every session passes.
func TestOurServerWithRealClients(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: captures on the loopback interface with dumpcap")
	}
	needTool(t, "tshark", "dumpcap", "curl", "lftp", "/usr/bin/python3")
	dir, root, file := clientFiles(t, 0o755, 150000, 40000)
	fsys, ln, port := hostfsListener(t, root)
	pasvLo := uint16(50100 + os.Getpid()%400*10)
	srv := &server.Server{FS: fsys, PassivePortMin: pasvLo, PassivePortMax: pasvLo + 9, LoginFailDelay: -1,
		Login: func(context.Context, netip.AddrPort, string, string) server.Access { return server.ReadWrite }}
	go srv.Serve(ln)
	defer srv.Close()

	pcap := filepath.Join(dir, "ours.pcapng")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	filter := fmt.Sprintf("tcp port %d or tcp portrange %d-%d or tcp port 20", port, pasvLo, pasvLo+9)
	stopCap := startCapture(t, exec.CommandContext(ctx, "dumpcap", "-i", "lo", "-f", filter, "-w", pcap))
	defer stopCap()
	base := fmt.Sprintf("ftp://u:p@127.0.0.1:%d/", port)
	runs := [][]string{
		{"curl", "-s", "-o", "/dev/null", base + "big.bin"},
		{"curl", "-s", "--disable-epsv", "-o", "/dev/null", base + "big.bin"},
		{"curl", "-s", "-P", "-", "--disable-eprt", "-o", "/dev/null", base + "big.bin"},
		{"curl", "-s", "-P", "-", "-o", "/dev/null", base + "big.bin"},
		{"curl", "-s", "-T", filepath.Join(dir, "up.bin"), base + "up.bin"},
		{"lftp", "-u", "u,p", "-p", fmt.Sprint(port), "-e", "set ftp:ssl-allow no; set ftp:passive-mode on; get big.bin -o " + filepath.Join(dir, "lftp.bin") + "; bye", "127.0.0.1"},
		{"/usr/bin/python3", "-c", fmt.Sprintf(`
import ftplib, io
f = ftplib.FTP()
f.connect("127.0.0.1", %d)
f.login("u", "p")
b = io.BytesIO()
f.retrbinary("RETR big.bin", b.write)
f.storbinary("STOR py.bin", io.BytesIO(b"x" * 5000))
f.mkd("newdir")
f.rename("py.bin", "moved.bin")
f.delete("moved.bin")
f.quit()
`, port)},
	}
	for _, args := range runs {
		if out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Errorf("%v: %v %s", args[:2], err, out)
		}
	}
	time.Sleep(500 * time.Millisecond)
	stopCap()
	rep := analyzeFile(t, pcap, Options{})
	var text bytes.Buffer
	rep.WriteText(&text)
	if len(rep.Sessions) != len(runs) {
		t.Fatalf("%d sessions, want %d\n%s", len(rep.Sessions), len(runs), text.String())
	}
	compareWithTshark(t, pcap, rep, uint16(port))
	want := sha256hex(file)
	for _, s := range rep.Sessions {
		for _, tr := range s.Transfers {
			if tr.Verb == "RETR" && (tr.SHA256 != want || tr.Bytes != int64(len(file))) {
				t.Errorf("%s RETR: %d bytes sha %s, want %d %s", s.Name(), tr.Bytes, tr.SHA256, len(file), want)
			}
		}
	}
	if rep.Violations != 0 {
		t.Errorf("%d violations against our server\n%s", rep.Violations, text.String())
	}
	t.Logf("%d packets, %d sessions, %d violations, %d warnings", rep.Capture.Packets, len(rep.Sessions), rep.Violations, rep.Warnings)
}
