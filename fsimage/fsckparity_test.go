package fsimage

import (
	"bytes"
	"encoding/binary"
	"os"
	"strings"
	"testing"
)

// TestCheckMatchesFsck: damage that fsck.fat -n rejects (issue 10 item 16: reserved sectors 513, a
// directory with a non-zero size, bad short names, and more) is found by Check too, on every FAT
// type; an undamaged image passes both.
func TestCheckMatchesFsck(t *testing.T) {
	needTool(t, "fsck.fat")
	types := []struct {
		typ  FATType
		size int64
	}{{FAT12, 1440 << 10}, {FAT16, 16 << 20}, {FAT32, 40 << 20}}
	// entry finds the short entry named sn in the raw image.
	entry := func(raw []byte, sn string) int {
		i := bytes.Index(raw, []byte(sn))
		for i >= 0 && i%32 != 0 {
			j := bytes.Index(raw[i+1:], []byte(sn))
			if j < 0 {
				return -1
			}
			i += 1 + j
		}
		return i
	}
	cases := []struct {
		name, want string
		damage     func(raw []byte, g *geom) bool
	}{
		{"reserved sectors 513", "media byte", func(raw []byte, g *geom) bool {
			binary.LittleEndian.PutUint16(raw[14:], 513)
			return true
		}},
		{"directory size", "non-zero size", func(raw []byte, g *geom) bool {
			e := entry(raw, "SUBDIR     ")
			binary.LittleEndian.PutUint32(raw[e+28:], 4096)
			return e >= 0
		}},
		{"star in short name", "bad short name", func(raw []byte, g *geom) bool {
			e := entry(raw, "FILE    TXT")
			raw[e+2] = '*'
			return e >= 0
		}},
		{"dot in short name", "bad short name", func(raw []byte, g *geom) bool {
			e := entry(raw, "FILE    TXT")
			raw[e+2] = '.'
			return e >= 0
		}},
		{"leading space", "bad short name", func(raw []byte, g *geom) bool {
			e := entry(raw, "FILE    TXT")
			raw[e] = ' '
			return e >= 0
		}},
		{"control character", "bad short name", func(raw []byte, g *geom) bool {
			e := entry(raw, "FILE    TXT")
			raw[e+9] = 0x01
			return e >= 0
		}},
		{"FAT media byte", "media byte", func(raw []byte, g *geom) bool {
			raw[g.fatOff] = 0x00
			return true
		}},
	}
	for _, ty := range types {
		for _, c := range cases {
			t.Run(ty.typ.String()+"/"+c.name, func(t *testing.T) {
				v, f, img := newImage(t, ty.size, FormatOptions{Type: ty.typ}, Options{})
				if err := v.Mkdir("SUBDIR"); err != nil {
					t.Fatal(err)
				}
				writeFile(t, v, "FILE.TXT", []byte("data"))
				g := *v.g
				if err := v.Close(); err != nil {
					t.Fatal(err)
				}
				f.Close()
				fsckClean(t, img)
				raw, _ := os.ReadFile(img)
				if !c.damage(raw, &g) {
					t.Fatal("entry to damage not found")
				}
				os.WriteFile(img, raw, 0o644)
				out, bad := fsckComplaints(img)
				if !bad {
					t.Skipf("fsck.fat accepts this damage:\n%s", out)
				}
				df, err := os.Open(img)
				if err != nil {
					t.Fatal(err)
				}
				defer df.Close()
				rep, err := CheckDevice(df)
				if err != nil {
					t.Logf("CheckDevice refuses the image: %v", err)
					return
				}
				if !strings.Contains(strings.Join(rep.Problems, "\n"), c.want) {
					t.Fatalf("fsck.fat -n rejects the image but Check found %q (want %q)\nfsck.fat: %s", rep.Problems, c.want, out)
				}
			})
		}
	}
}
