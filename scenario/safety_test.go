package scenario

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSizeBounds: sizes that would overflow, exhaust memory or abort the runtime are refused with
// the file and field named (issue 10 item 8).
func TestSizeBounds(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"huge image", strings.Replace(goodYAML, "size: 1MiB", "size: 99999999999GiB", 1), "t.yaml:6: size"},
		{"wrapping image", strings.Replace(goodYAML, "size: 1MiB", "size: 17179869184G", 1), "t.yaml:6: size"},
		{"100G image", strings.Replace(goodYAML, "size: 1MiB", "size: 100G", 1), "devices[0].server.image.size"},
		{"5G image", strings.Replace(goodYAML, "size: 1MiB", "size: 5GiB", 1), "devices[0].server.image.size"},
		{"float image", strings.Replace(goodYAML, "size: 1MiB", "size: 1e30", 1), "t.yaml:6: size"},
		{"huge put", strings.Replace(goodYAML, "size: 10}", "size: 5GiB}", 1), "steps[0].do[0].put.size"},
		{"huge file", strings.Replace(goodYAML, "image: {size: 1MiB}", "image: {size: 1MiB, files: [{name: a, size: 8GiB}]}", 1), "image.files[0].size"},
		{"huge queue", goodYAML + "links: [{between: [d, h], impair: {queue: 9999999999999}}]\n", "QueueLen"},
		{"queue over int64", goodYAML + "links: [{between: [d, h], impair: {queue: 99999999999999999999}}]\n", "t.yaml:11"},
		{"negative queue", goodYAML + "links: [{between: [d, h], impair: {queue: -1}}]\n", "QueueLen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), "t.yaml")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestImagePathBounds: image: {path: ...} must be a regular file that fits in memory; /dev/zero
// and a FIFO are refused at Load, naming the file and the field, without reading them.
func TestImagePathBounds(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe.img")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, img := range []string{"/dev/zero", fifo, dir} {
		y := strings.Replace(goodYAML, "image: {size: 1MiB}", "image: {path: "+img+"}", 1)
		file := filepath.Join(dir, "s.yaml")
		os.WriteFile(file, []byte(y), 0o644)
		done := make(chan error, 1)
		go func() { _, err := Load(file); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "devices[0].server.image.path") || !strings.Contains(err.Error(), "regular file") || !strings.Contains(err.Error(), "s.yaml") {
				t.Errorf("path %s: %v", img, err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("path %s: Load hangs", img)
		}
		if _, err := readImage(img); err == nil {
			t.Errorf("readImage(%s) accepted it", img)
		}
	}
}
