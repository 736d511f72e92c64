package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/netxsim/netxsim/tapdev"
	"github.com/netxsim/netxsim/tapdev/taptest"
)

// curlSize is what each curl RETR and STOR moves.
const curlSize = 256 << 20

// BenchmarkCurlServeTAP measures curl against `netxsim serve --tap` (extended profile, RAM image,
// offloads on as by default; 600 MiB, as an upload goes to a temporary file next to the old one) from the kernel side of the TAP, and in the same run curl against
// pyftpdlib and vsftpd (where installed) over a veth pair between two namespaces. Each round runs
// every server once, so machine load hits them alike; the reported figures are medians of rounds.
//
//	go test -run '^$' -bench CurlServeTAP -benchtime 3x ./cmd/netxsim/
func BenchmarkCurlServeTAP(b *testing.B) {
	if why := taptest.Skip(); why != "" {
		b.Skip(why)
	}
	if _, err := exec.LookPath("curl"); err != nil {
		b.Skip("needs curl")
	}
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import pyftpdlib").Run(); err != nil {
		b.Skip("needs pyftpdlib (Debian package python3-pyftpdlib)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	src := filepath.Join(b.TempDir(), "src.bin")
	if err := writeRandom(src, curlSize); err != nil {
		b.Fatal(err)
	}

	// The device: the real command, as a user runs it, in the fast configuration chosen explicitly
	// (gVisor's stack signature, auto-tuned windows; NetX-like profiles default to NetX's windows).
	ns := taptest.Name("nxc")
	b.Cleanup(func() {
		if n, err := tapdev.OpenNetNS(ns); err == nil {
			n.Delete()
		}
	})
	startCLI(b, "running;", "serve", "--tap", ns, "--netns", ns, "--ram", "600M", "--user", "u:p",
		"--profile", "extended", "--stack-signature", "gvisor", "--skip-dad", "--no-ipv6")
	dev := server{name: "netxsim serve --tap", ns: ns, url: "ftp://u:p@198.51.100.2/"}

	// The references: two namespaces joined by a veth, the server in one, curl in the other.
	va, vb := taptest.VethPair(b, "nxc")
	pyDir := b.TempDir()
	pyd := exec.CommandContext(ctx, "ip", "netns", "exec", vb.Name, py, "-m", "pyftpdlib", "-i", "203.0.113.2",
		"-p", "2121", "-w", "-d", pyDir, "-u", "u", "-P", "p")
	pyd.Stdout, pyd.Stderr = io.Discard, io.Discard
	if err := pyd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { pyd.Process.Kill(); pyd.Wait() })
	refs := []server{{name: "pyftpdlib over veth", ns: va.Name, url: "ftp://u:p@203.0.113.2:2121/"}}
	if url, ok := startVsftpdNS(b, vb); ok {
		refs = append(refs, server{name: "vsftpd over veth", ns: va.Name, url: url})
	}
	all := append([]server{dev}, refs...)
	for _, s := range all { // wait until each answers
		waitFTP(b, ctx, s)
	}

	retr := make([][]float64, len(all))
	stor := make([][]float64, len(all))
	b.ResetTimer()
	for range b.N {
		for i, s := range all {
			st, rt := s.round(b, ctx, src)
			stor[i] = append(stor[i], curlSize/st/1e6)
			retr[i] = append(retr[i], curlSize/rt/1e6)
		}
	}
	b.StopTimer()
	b.ReportMetric(median(retr[0]), "dev-retr-MB/s")
	b.ReportMetric(median(stor[0]), "dev-stor-MB/s")
	b.ReportMetric(median(retr[1]), "py-retr-MB/s")
	b.ReportMetric(median(stor[1]), "py-stor-MB/s")
	b.ReportMetric(median(retr[0])/median(retr[1]), "retr/py")
	b.ReportMetric(median(stor[0])/median(stor[1]), "stor/py")
	if len(all) > 2 {
		b.ReportMetric(median(retr[2]), "vsftpd-retr-MB/s")
		b.ReportMetric(median(stor[2]), "vsftpd-stor-MB/s")
		b.ReportMetric(median(retr[0])/median(retr[2]), "retr/vsftpd")
		b.ReportMetric(median(stor[0])/median(stor[2]), "stor/vsftpd")
	}
}

type server struct{ name, ns, url string }

// round uploads src with curl -T (STOR) and downloads it back (RETR), returning seconds of each as
// curl measures them (%{time_total}), and checks the size that came back.
func (s server) round(b *testing.B, ctx context.Context, src string) (stor, retr float64) {
	up := s.url + "upload/bench.bin"
	if strings.Contains(s.url, "198.51.100.2") || strings.Contains(s.url, ":2121") {
		up = s.url + "bench.bin"
	}
	stor = s.curl(b, ctx, "-T", src, up)
	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", s.ns, "curl", "-sS", "-o", "/dev/null",
		"-w", "%{time_total} %{size_download}", up).Output()
	if err != nil {
		b.Fatalf("%s: curl RETR: %v", s.name, err)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 || f[1] != strconv.Itoa(curlSize) {
		b.Fatalf("%s: RETR gave %q, want %d bytes", s.name, out, curlSize)
	}
	retr, _ = strconv.ParseFloat(f[0], 64)
	return stor, retr
}

func (s server) curl(b *testing.B, ctx context.Context, args ...string) float64 {
	args = append([]string{"netns", "exec", s.ns, "curl", "-sS", "-o", "/dev/null", "-w", "%{time_total}"}, args...)
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		b.Fatalf("%s: curl %v: %v: %s", s.name, args, err, out)
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil || v <= 0 {
		b.Fatalf("%s: curl said %q", s.name, out)
	}
	return v
}

func waitFTP(b *testing.B, ctx context.Context, s server) {
	var out []byte
	for range 200 {
		var err error
		out, err = exec.CommandContext(ctx, "ip", "netns", "exec", s.ns, "curl", "-sS", "--max-time", "2", "-l", s.url).CombinedOutput()
		if err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.Fatalf("%s does not answer at %s: %s", s.name, s.url, out)
}

// startVsftpdNS runs vsftpd in ns on 203.0.113.2:21 with anonymous upload into /upload.
func startVsftpdNS(b *testing.B, ns *tapdev.NetNS) (string, bool) {
	bin := "/usr/sbin/vsftpd"
	if _, err := os.Stat(bin); err != nil {
		return "", false
	}
	u, err := user.Lookup("ftp")
	if err != nil {
		return "", false
	}
	uid, _ := strconv.Atoi(u.Uid)
	dir := b.TempDir()
	os.Chmod(dir, 0o755)
	root := filepath.Join(dir, "root")
	empty := filepath.Join(dir, "empty")
	for _, d := range []string{root, empty} {
		if err := os.Mkdir(d, 0o555); err != nil {
			b.Fatal(err)
		}
	}
	upload := filepath.Join(root, "upload")
	if err := os.Mkdir(upload, 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.Chown(upload, uid, -1); err != nil {
		b.Fatal(err)
	}
	conf := filepath.Join(dir, "vsftpd.conf")
	if err := os.WriteFile(conf, []byte(strings.Join([]string{
		"listen=YES", "listen_ipv6=NO", "listen_address=203.0.113.2", "listen_port=21", "background=NO",
		"anonymous_enable=YES", "no_anon_password=YES", "anon_root=" + root, "anon_upload_enable=YES",
		"anon_other_write_enable=YES", "anon_umask=022", "write_enable=YES", "local_enable=NO",
		"secure_chroot_dir=" + empty, "seccomp_sandbox=NO", "isolate=NO", "isolate_network=NO",
		"xferlog_enable=NO", "syslog_enable=NO", "vsftpd_log_file=" + filepath.Join(dir, "log"), "ftp_username=ftp",
	}, "\n")+"\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", ns.Name, bin, conf)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return "ftp://anonymous:x@203.0.113.2/", true
}

func writeRandom(name string, n int64) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	r, err := os.Open("/dev/urandom")
	if err != nil {
		f.Close()
		return err
	}
	defer r.Close()
	if _, err := io.CopyN(f, r, n); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}
