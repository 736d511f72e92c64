package client

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/tapdev/taptest"
)

const benchSize = 256 * MiB

// repeatReader yields n bytes of a 1 MiB pattern, cheaply.
type repeatReader struct {
	buf  []byte
	left int64
	off  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(int64(len(p)), r.left)], r.buf[r.off:])
	r.off = (r.off + n) % len(r.buf)
	r.left -= int64(n)
	return n, nil
}

// BenchmarkVsftpdTAP moves 256 MiB down and up between vsftpd (kernel side of a namespace) and our
// client on the device stack on the TAP, and the same with curl on the kernel side against the same
// vsftpd, in the same run. It reports MB/s of each and ours/curl ratios.
//
//	go test -run '^$' -bench VsftpdTAP -benchtime 1x ./ftp/client/
func BenchmarkVsftpdTAP(b *testing.B) {
	if _, err := os.Stat("/usr/bin/curl"); err != nil {
		b.Skip("needs curl")
	}
	env := taptest.New(b, taptest.Options{})
	p := startVsftpdB(b, env)
	// the file to download, written straight into vsftpd's tree
	big := filepath.Join(p.root, "upload", "big")
	f, err := os.Create(big)
	if err != nil {
		b.Fatal(err)
	}
	pattern := randomBytes(MiB, 42)
	if _, err := io.Copy(f, &repeatReader{buf: pattern, left: benchSize}); err != nil {
		b.Fatal(err)
	}
	f.Close()
	os.Chmod(big, 0o644)
	ctx := context.Background()
	curlURL := fmt.Sprintf("ftp://anonymous:x@%s/upload/", p.v4.Addr())

	mbps := func(n int64, d time.Duration) float64 { return float64(n) / 1e6 / d.Seconds() }
	var oursDown, oursUp, curlDown, curlUp, oursDownActive, oursUpActive float64
	for i := 0; i < b.N; i++ {
		for _, passive := range []bool{true, false} {
			c, err := Dial(ctx, env.Device, p.v4, WithPassive(passive), WithProfile(ftp.ProfileExtended))
			if err != nil {
				b.Fatal(err)
			}
			if err := c.Login(ctx, "anonymous", "x"); err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			d, err := c.Retr(ctx, "upload/big")
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.Copy(io.Discard, d)
			if err != nil || n != benchSize {
				b.Fatalf("download: %d bytes, %v", n, err)
			}
			down := mbps(n, time.Since(start))
			start = time.Now()
			u, err := c.Stor(ctx, "upload/ours")
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(u, &repeatReader{buf: pattern, left: benchSize}); err != nil {
				b.Fatal(err)
			}
			if err := u.Close(); err != nil {
				b.Fatal(err)
			}
			up := mbps(benchSize, time.Since(start))
			c.Delete(ctx, "upload/ours")
			c.Quit(ctx)
			if passive {
				oursDown, oursUp = down, up
			} else {
				oursDownActive, oursUpActive = down, up
			}
		}
		// curl, passive (its default), on the kernel side
		out, err := env.Command(ctx, "curl", "-sS", "-o", "/dev/null", "-w", "%{time_total}", curlURL+"big").Output()
		if err != nil {
			b.Fatalf("curl download: %v", err)
		}
		curlDown = float64(benchSize) / 1e6 / seconds(b, out)
		out, err = env.Command(ctx, "curl", "-sS", "-T", big, "-w", "%{time_total}", curlURL+"curlup").Output()
		if err != nil {
			b.Fatalf("curl upload: %v", err)
		}
		curlUp = float64(benchSize) / 1e6 / seconds(b, out)
		if got, err := os.ReadFile(filepath.Join(p.root, "upload", "curlup")); err != nil || !bytes.Equal(got[:MiB], pattern) {
			b.Fatalf("curl upload did not arrive: %v", err)
		}
		os.Remove(filepath.Join(p.root, "upload", "curlup"))
	}
	// The same stack and TAP without FTP: raw TCP from the kernel side to the device, 256 MiB, to tell
	// the client's share of the gap from the stack's.
	rawDown := rawTCPDown(b, env, pattern)
	b.ReportMetric(rawDown, "raw-tcp-down-MB/s")
	b.ReportMetric(oursDown/rawDown, "down-vs-raw")
	b.ReportMetric(oursDown, "ours-down-MB/s")
	b.ReportMetric(curlDown, "curl-down-MB/s")
	b.ReportMetric(oursDown/curlDown, "down-ratio")
	b.ReportMetric(oursUp, "ours-up-MB/s")
	b.ReportMetric(curlUp, "curl-up-MB/s")
	b.ReportMetric(oursUp/curlUp, "up-ratio")
	b.ReportMetric(oursDownActive, "ours-active-down-MB/s")
	b.ReportMetric(oursUpActive, "ours-active-up-MB/s")
}

func seconds(b *testing.B, out []byte) float64 {
	s, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil || s <= 0 {
		b.Fatalf("curl time %q: %v", out, err)
	}
	return s
}

func rawTCPDown(b *testing.B, env *taptest.Env, pattern []byte) float64 {
	ctx := context.Background()
	ln, err := env.KernelDialer().Listen(ctx, netip.AddrPortFrom(env.HostV4, 0))
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, &repeatReader{buf: pattern, left: benchSize})
	}()
	start := time.Now()
	c, err := env.Device.Dial(ctx, netip.AddrPort{}, netip.MustParseAddrPort(ln.Addr().String()))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	n, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, c, make([]byte, copyBuf))
	if err != nil || n != benchSize {
		b.Fatalf("raw TCP: %d bytes, %v", n, err)
	}
	return float64(n) / 1e6 / time.Since(start).Seconds()
}
