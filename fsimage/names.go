package fsimage

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// Directory entry attributes.
const (
	AttrReadOnly  = 0x01
	AttrHidden    = 0x02
	AttrSystem    = 0x04
	AttrVolumeID  = 0x08
	AttrDirectory = 0x10
	AttrArchive   = 0x20
	attrLFN       = 0x0F
	attrLFNMask   = 0x3F
)

// NTRes case bits (Windows NT, Linux, mtools): the short name is shown in lower case.
const (
	ntLowerBase = 0x08
	ntLowerExt  = 0x10
)

const maxNameUnits = 255

// checkName validates one long file name and returns a clear error when FAT cannot store it.
func checkName(name string) error {
	bad := func(why string) error {
		return fmt.Errorf("name %q %s: %w", name, why, ErrInvalidName)
	}
	if name == "" || name == "." || name == ".." {
		return bad("is reserved")
	}
	if strings.HasSuffix(name, ".") || strings.HasSuffix(name, " ") {
		return bad("ends with a dot or space, which FAT drops")
	}
	if !utf8.ValidString(name) {
		return bad("is not valid UTF-8")
	}
	units := 0
	for _, r := range name {
		switch {
		case r < 0x20 || r == 0x7F:
			return bad("contains a control character")
		case strings.ContainsRune(`"*/:<>?\|`, r):
			return bad(fmt.Sprintf("contains %q, not allowed in FAT names", r))
		case r > 0xFFFF:
			return bad("contains a character outside the Basic Multilingual Plane (FAT long names are UCS-2)")
		}
		units++
	}
	if units > maxNameUnits {
		return bad(fmt.Sprintf("is %d characters long, the limit is %d", units, maxNameUnits))
	}
	return nil
}

// fold is the key for case-insensitive lookup.
func fold(s string) string { return strings.ToUpper(s) }

const shortSpecial = "$%'-_@~`!(){}^#&"

func shortChar(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80 || strings.IndexByte(shortSpecial, c) >= 0
}

// exactShort reports whether name can be stored as a short entry alone: an 8.3 name whose base
// and extension are each all upper or all lower case (the lower case kept in the NTRes bits).
func exactShort(name string) (sn [11]byte, ntres byte, ok bool) {
	base, ext, hasDot := strings.Cut(name, ".")
	if base == "" || len(base) > 8 || len(ext) > 3 || hasDot && ext == "" || strings.Contains(ext, ".") {
		return sn, 0, false
	}
	part := func(s string, dst []byte, lowerBit byte) bool {
		hasUp, hasLow := false, false
		for i := 0; i < len(s); i++ {
			c := s[i]
			switch {
			case c >= 'a' && c <= 'z':
				hasLow = true
				c -= 'a' - 'A'
			case c >= 'A' && c <= 'Z':
				hasUp = true
			case c >= 0x80 || !shortChar(c):
				return false
			}
			dst[i] = c
		}
		if hasUp && hasLow {
			return false
		}
		if hasLow {
			ntres |= lowerBit
		}
		return true
	}
	for i := range sn {
		sn[i] = ' '
	}
	if !part(base, sn[:8], ntLowerBase) || !part(ext, sn[8:], ntLowerExt) {
		return sn, 0, false
	}
	return sn, ntres, true
}

// basisName derives the 8.3 basis name of a long name (fatgen103's basis-name algorithm).
func basisName(name string) (base, ext string) {
	up := strings.ToUpper(name)
	conv := func(s string) string {
		var b strings.Builder
		for _, r := range s {
			switch {
			case r == ' ' || r == '.':
				// Spaces and embedded periods are dropped.
			case r < 0x80 && shortChar(byte(r)):
				b.WriteByte(byte(r))
			default:
				b.WriteByte('_')
			}
		}
		return b.String()
	}
	stripped := strings.TrimLeft(up, ". ")
	if i := strings.LastIndexByte(stripped, '.'); i >= 0 {
		base, ext = conv(stripped[:i]), conv(stripped[i+1:])
	} else {
		base = conv(stripped)
	}
	if len(base) > 8 {
		base = base[:8]
	}
	if len(ext) > 3 {
		ext = ext[:3]
	}
	if base == "" {
		base = "_"
	}
	return base, ext
}

// aliasName returns basis~n as an 11-byte short name.
func aliasName(base, ext string, n int) [11]byte {
	tail := "~" + strconv.Itoa(n)
	if len(base)+len(tail) > 8 {
		base = base[:8-len(tail)]
	}
	var sn [11]byte
	for i := range sn {
		sn[i] = ' '
	}
	copy(sn[:8], base+tail)
	copy(sn[8:], ext)
	return sn
}

// lfnChecksum is the checksum of a short name stored in every long-name entry.
func lfnChecksum(sn []byte) byte {
	var s byte
	for i := 0; i < 11; i++ {
		s = (s>>1 | s<<7) + sn[i]
	}
	return s
}

// shortDisplay renders an 11-byte short name as NAME.EXT, honoring the NTRes case bits.
func shortDisplay(sn []byte, ntres byte) string {
	b := make([]byte, 0, 12)
	for i := 0; i < 8 && sn[i] != ' '; i++ {
		c := sn[i]
		if i == 0 && c == 0x05 {
			c = 0xE5
		}
		if ntres&ntLowerBase != 0 && c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	if sn[8] != ' ' {
		b = append(b, '.')
		for i := 8; i < 11 && sn[i] != ' '; i++ {
			c := sn[i]
			if ntres&ntLowerExt != 0 && c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			b = append(b, c)
		}
	}
	// Bytes >= 0x80 are OEM code page characters; map them one to one through Latin-1 so the
	// name is valid UTF-8 and stable.
	var s strings.Builder
	for _, c := range b {
		s.WriteRune(rune(c))
	}
	return s.String()
}

// lfnEntries builds the long-name entries for name, in on-disk order (last part first).
func lfnEntries(name string, sum byte) []byte {
	u := utf16.Encode([]rune(name))
	n := (len(u) + 12) / 13
	buf := make([]byte, 32*n)
	for i := 0; i < n; i++ {
		e := buf[32*(n-1-i):]
		ord := byte(i + 1)
		if i == n-1 {
			ord |= 0x40
		}
		e[0] = ord
		e[11] = attrLFN
		e[13] = sum
		for j := 0; j < 13; j++ {
			k := 13*i + j
			var v uint16
			switch {
			case k < len(u):
				v = u[k]
			case k == len(u):
				v = 0
			default:
				v = 0xFFFF
			}
			o := lfnOffsets[j]
			e[o], e[o+1] = byte(v), byte(v>>8)
		}
	}
	return buf
}

var lfnOffsets = [13]int{1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30}

// lfnPart extracts the 13 UCS-2 units of one long-name entry.
func lfnPart(e []byte, dst []uint16) {
	for j, o := range lfnOffsets {
		dst[j] = uint16(e[o]) | uint16(e[o+1])<<8
	}
}

// FAT timestamps: local wall-clock fields, 2-second resolution plus a 10 ms creation field.
func fatDate(t time.Time) uint16 {
	y := t.Year()
	if y < 1980 {
		return 1<<5 | 1
	}
	if y > 2107 {
		y = 2107
	}
	return uint16(y-1980)<<9 | uint16(t.Month())<<5 | uint16(t.Day())
}

func fatTime(t time.Time) uint16 {
	if t.Year() < 1980 {
		return 0
	}
	return uint16(t.Hour())<<11 | uint16(t.Minute())<<5 | uint16(t.Second()/2)
}

func fatTenth(t time.Time) byte {
	if t.Year() < 1980 {
		return 0
	}
	return byte(t.Second()%2*100 + t.Nanosecond()/10_000_000)
}

func fromFAT(d, tm uint16, tenth byte, loc *time.Location) time.Time {
	if d == 0 {
		return time.Date(1980, 1, 1, 0, 0, 0, 0, loc)
	}
	ms := int(tenth) * 10
	if ms > 1990 {
		ms = 0
	}
	return time.Date(1980+int(d>>9), time.Month(d>>5&0xF), int(d&0x1F),
		int(tm>>11), int(tm>>5&0x3F), int(tm&0x1F)*2, 0, loc).Add(time.Duration(ms) * time.Millisecond)
}
