package ftpcmd

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netxsim/netxsim/fsimage"
)

// The client on the device's own files (issue 12): `get --image` stores into the FAT image, `put
// --image` reads from it; a real FTP server (pyftpdlib) is the other end, and the image stays clean
// for fsck's view (fsimage.Check).
func TestImageGetPut(t *testing.T) {
	root := t.TempDir()
	fw := bytes.Repeat([]byte("firmware image "), 20000)
	os.WriteFile(filepath.Join(root, "fw.bin"), fw, 0o644)
	port := pyftpd(t, root)
	img := filepath.Join(t.TempDir(), "dev.img")
	f, _ := os.Create(img)
	f.Truncate(8 << 20)
	if err := fsimage.Format(f, 8<<20, fsimage.FormatOptions{}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	base := fmt.Sprintf("ftp://user:secret@127.0.0.1:%d/", port)
	if code, out, errs := runCmd(t, "get", "--image", img, base+"fw.bin", "fw/fw.bin"); code != 0 || !strings.Contains(out, "stored") {
		t.Fatalf("get --image: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := runCmd(t, "put", "--image", img, "fw/fw.bin", base+"back.bin"); code != 0 {
		t.Fatalf("put --image: exit %d\n%s%s", code, out, errs)
	}
	back, err := os.ReadFile(filepath.Join(root, "back.bin"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := fsimage.OpenFile(img, fsimage.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	onImage, err := fs.ReadFile(v, "fw/fw.bin")
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(onImage) != sha256.Sum256(fw) || sha256.Sum256(back) != sha256.Sum256(fw) {
		t.Fatalf("SHA-256 differ: image %d bytes, back on the server %d bytes, original %d", len(onImage), len(back), len(fw))
	}
	if r, err := v.Check(); err != nil || !r.OK() {
		t.Fatalf("image after get/put: %v %v", err, r)
	}
}

// ftp refuses 192.0.2.0/24 with exit 2, on the host kernel (no packet is sent) and as a device address.
func TestRefuses192_0_2(t *testing.T) {
	for _, args := range [][]string{
		{"ls", "ftp://192.0.2.1/"},
		{"ls", "--tap", "nxg0", "--ipv4", "192.0.2.2/24", "ftp://198.51.100.1/"},
		{"ls", "--tap", "nxg0", "--ip", "192.0.2.2/24", "ftp://198.51.100.1/"},
	} {
		code, _, errs := runCmd(t, args...)
		if code != 2 || !strings.Contains(errs, "192.0.2.0/24") {
			t.Errorf("ftp %v: exit %d, want 2 naming 192.0.2.0/24; stderr %q", args, code, errs)
		}
	}
}
