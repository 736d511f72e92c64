package servecmd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"
	"github.com/netxsim/netxsim/fsimage"
)

// TestRootFullStor: on FAT12/16 the root directory has a fixed number of entries. An upload's
// temporary file takes 4 of them (its long name); renaming it to the target must cost nothing
// more, so a STOR (new or overwrite, short or long name) succeeds whenever 4 entries are free
// (issue 10 item 15: it failed while the final file would have fitted).
func TestRootFullStor(t *testing.T) {
	for _, ft := range []struct {
		typ  fsimage.FATType
		size int64
	}{{fsimage.FAT12, 1440 << 10}, {fsimage.FAT16, 16 << 20}} {
		for _, target := range []string{"NEW.TXT", "OLD.TXT", "a long target name.txt"} {
			t.Run(fmt.Sprintf("%s/%s", ft.typ, target), func(t *testing.T) {
				img := filepath.Join(t.TempDir(), "card.img")
				f, _ := os.Create(img)
				f.Truncate(ft.size)
				if err := fsimage.Format(f, ft.size, fsimage.FormatOptions{Type: ft.typ}); err != nil {
					t.Fatal(err)
				}
				f.Close()
				v, err := fsimage.OpenFile(img, fsimage.Options{})
				if err != nil {
					t.Fatal(err)
				}
				slots := v.Info().RootEntries
				w, _ := v.Create("OLD.TXT")
				w.Write([]byte("old"))
				w.Close()
				for i := 0; i < slots-1-4; i++ { // leave exactly 4 entries free
					w, err := v.Create(fmt.Sprintf("F%d.TXT", i))
					if err != nil {
						t.Fatal(err)
					}
					w.Close()
				}
				if w, err := v.Create("X1234567.TXT"); err != nil {
					t.Fatal(err)
				} else {
					w.Close()
					v.Remove("X1234567.TXT") // checks that the count is right: 4 free
				}
				v.Close()
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				addr, done := startServe(t, ctx, "--image", img)
				c, err := ftp.Dial(addr, ftp.DialWithTimeout(10*time.Second))
				if err != nil {
					t.Fatal(err)
				}
				if err := c.Login("demo", "secret"); err != nil {
					t.Fatal(err)
				}
				if err := c.Stor(target, strings.NewReader("new content")); err != nil {
					t.Fatalf("STOR %s with 4 root entries free: %v", target, err)
				}
				c.Quit()
				cancel()
				<-done
				v, err = fsimage.OpenFile(img, fsimage.Options{ReadOnly: true})
				if err != nil {
					t.Fatal(err)
				}
				defer v.Close()
				if b, err := v.ReadFile(target); err != nil || string(b) != "new content" {
					t.Fatalf("%s: %q %v", target, b, err)
				}
				if rep, err := v.Check(); err != nil || !rep.OK() {
					t.Fatalf("check: %v %v", rep, err)
				}
			})
		}
	}
}
