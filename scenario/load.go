package scenario

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/netxsim/netxsim/fsimage"
	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/ftp/ftpcheck"
	"github.com/netxsim/netxsim/internal/size"
	"github.com/netxsim/netxsim/stack/link"
	"github.com/netxsim/netxsim/tapdev"
	"gopkg.in/yaml.v3"
)

// maxFileSize bounds a scenario file; anything larger is not a scenario.
const maxFileSize = 1 << 20

// Error is a problem with a scenario: where it is and what to do.
type Error struct {
	File string
	Line int    // 0 when unknown
	Path string // e.g. steps[2].do[0].get.sha256
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Load reads and checks a scenario file. Relative paths in it are resolved against its directory.
func Load(file string) (*Scenario, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("scenario: read %s: %w", file, err)
	}
	if len(data) > maxFileSize {
		return nil, &Error{File: file, Msg: fmt.Sprintf("larger than %d bytes: not a scenario file", maxFileSize)}
	}
	sc, err := Parse(data, file)
	if err != nil {
		return nil, err
	}
	sc.Dir = filepath.Dir(file)
	if err := sc.checkImageFiles(); err != nil {
		return nil, err
	}
	return sc, nil
}

// maxFATFile is FAT's largest file: sizes are 32-bit.
const maxFATFile = 1<<32 - 1

// checkImageFiles checks the image files a scenario names: each must be a regular file (not
// /dev/zero or a FIFO, which would never end) small enough to be read into RAM.
func (sc *Scenario) checkImageFiles() error {
	for i := range sc.Devices {
		im := sc.Devices[i].image()
		if im == nil || im.Path == "" {
			continue
		}
		p := fmt.Sprintf("devices[%d].image.path", i)
		if sc.Devices[i].Server != nil {
			p = fmt.Sprintf("devices[%d].server.image.path", i)
		}
		if err := checkImageFile(resolve(sc.Dir, im.Path)); err != nil {
			return &Error{File: sc.File, Path: p, Msg: err.Error()}
		}
	}
	return nil
}

func checkImageFile(name string) error {
	fi, err := os.Stat(name)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is %s, not a regular file: give a FAT image file", name, fsimage.FileKind(fi.Mode()))
	}
	if err := size.FitsMemory(fi.Size()); err != nil {
		return fmt.Errorf("%s: images are read into RAM: %w", name, err)
	}
	return nil
}

// Parse decodes a scenario strictly (unknown fields are errors) and checks it. file names it in errors.
func Parse(data []byte, file string) (*Scenario, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, &Error{File: file, Msg: cleanYAMLError(err)}
	}
	if len(root.Content) == 0 {
		return nil, &Error{File: file, Msg: "empty scenario: see docs/scenarios.md for the format"}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var sc Scenario
	if err := dec.Decode(&sc); err != nil {
		return nil, yamlErrors(file, err)
	}
	// A second document is most likely a mistake (a stray "---").
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &Error{File: file, Line: extra.Line, Msg: "a second YAML document: a scenario file holds one"}
	}
	sc.File = file
	if sc.Name == "" && file != "" {
		sc.Name = strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	}
	if err := sc.validate(); err != nil {
		var ve *Error
		if errors.As(err, &ve) && ve.Line == 0 {
			ve.Line = lineAt(&root, ve.Path)
		}
		return nil, err
	}
	return &sc, nil
}

// yamlErrors turns yaml.v3's errors ("yaml: unmarshal errors:\n  line 3: ...") into one Error per
// line, joined, each with the file name.
func yamlErrors(file string, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return &Error{File: file, Msg: cleanYAMLError(err)}
	}
	var errs []error
	msgs := te.Errors
	if len(msgs) > 10 {
		msgs = append(msgs[:10:10], fmt.Sprintf("... and %d more problems", len(te.Errors)-10))
	}
	for _, m := range msgs {
		e := &Error{File: file, Msg: m}
		if rest, ok := strings.CutPrefix(m, "line "); ok {
			if num, msg, ok := strings.Cut(rest, ": "); ok {
				if n, err := strconv.Atoi(num); err == nil {
					e.Line, e.Msg = n, msg
				}
			}
		}
		e.Msg = strings.Replace(e.Msg, "in type scenario.", "in ", 1)
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

func cleanYAMLError(err error) string {
	return yamlLine.ReplaceAllString(err.Error(), "line $1: ")
}

// lineAt finds the line of a path like "steps[2].do[0].get" in the document; 0 if not found.
func lineAt(root *yaml.Node, p string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, part := range strings.Split(p, ".") {
		if part == "" {
			continue
		}
		key, idx := part, -1
		if i := strings.IndexByte(part, '['); i >= 0 && strings.HasSuffix(part, "]") {
			key = part[:i]
			if v, err := strconv.Atoi(part[i+1 : len(part)-1]); err == nil {
				idx = v
			}
		}
		if key != "" {
			if n.Kind != yaml.MappingNode {
				return line
			}
			var next *yaml.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == key {
					line, next = n.Content[i].Line, n.Content[i+1]
					break
				}
			}
			if next == nil {
				return line
			}
			n = next
		}
		if idx >= 0 {
			if n.Kind != yaml.SequenceNode || idx >= len(n.Content) {
				return line
			}
			n = n.Content[idx]
			line = n.Line
		}
	}
	return line
}

// validator collects the first problem with its path.
type validator struct {
	sc  *Scenario
	err *Error
}

func (v *validator) fail(p string, format string, args ...any) {
	if v.err == nil {
		v.err = &Error{File: v.sc.File, Path: p, Msg: fmt.Sprintf(format, args...)}
	}
}

var nameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,14}$`)

// validate checks the scenario and fills defaults (MACs). It is called by Parse and by Run.
func (sc *Scenario) validate() error {
	v := &validator{sc: sc}
	if len(sc.Devices) < 2 {
		v.fail("devices", "need at least two devices (a server and a client), found %d", len(sc.Devices))
	}
	if sc.Timeout < 0 {
		v.fail("timeout", "negative timeout")
	}
	names := map[string]bool{}
	macs := map[string]string{}
	for i := range sc.Devices {
		d := &sc.Devices[i]
		p := fmt.Sprintf("devices[%d]", i)
		if !nameRE.MatchString(d.Name) {
			v.fail(p+".name", "device name %q: use 1 to 15 letters, digits, - or _, starting with a letter (it names the interface in the capture)", d.Name)
		}
		if names[d.Name] {
			v.fail(p+".name", "device name %q used twice", d.Name)
		}
		names[d.Name] = true
		if len(d.MAC) == 0 {
			d.MAC = MAC(net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x00, byte(i + 1)})
		}
		if other, ok := macs[net.HardwareAddr(d.MAC).String()]; ok {
			v.fail(p+".mac", "MAC %s is also %s's", net.HardwareAddr(d.MAC), other)
		}
		macs[net.HardwareAddr(d.MAC).String()] = d.Name
		if !d.IPv4.IsValid() && len(d.IPv6) == 0 {
			v.fail(p, "device %s has no address: give ipv4 and/or ipv6", d.Name)
		}
		// Refused on every kind of link, not only where it reaches a kernel: a scenario written for
		// memory links runs on a TAP too.
		if err := tapdev.CheckPrefix(d.IPv4.Prefix); err != nil {
			v.fail(p+".ipv4", "%v", err)
		}
		if d.Server != nil {
			v.server(p+".server", d.Server)
			if d.Image != nil {
				v.fail(p+".image", "a device with a server has its image under server.image")
			}
		}
		if d.Image != nil {
			v.image(p+".image", d.Image)
		}
		for j, port := range d.Listen {
			if port == 0 || d.Server != nil && port == d.Server.port() {
				v.fail(fmt.Sprintf("%s.listen[%d]", p, j), "listen port %d: give a free port 1..65535 (not the FTP server's)", port)
			}
		}
	}
	v.links()
	v.segments()
	for i := range sc.Steps {
		v.step(fmt.Sprintf("steps[%d]", i), &sc.Steps[i])
	}
	if len(sc.Steps) == 0 {
		v.fail("steps", "no steps: give at least one FTP session")
	}
	v.expect()
	if v.err != nil {
		return v.err
	}
	return nil
}

func (v *validator) server(p string, s *Server) {
	if _, err := ftp.ParseProfile(string(s.Profile)); err != nil {
		v.fail(p+".profile", "%v", err)
	}
	switch s.Anonymous {
	case "", "no", "read", "write":
	default:
		v.fail(p+".anonymous", "anonymous %q: use no, read or write", s.Anonymous)
	}
	if len(s.Users) == 0 && (s.Anonymous == "" || s.Anonymous == "no") {
		v.fail(p+".users", "nobody can log in: give users (name: password) or anonymous: read|write")
	}
	for u := range s.Users {
		if u == "" || strings.ContainsAny(u, " \r\n") {
			v.fail(p+".users", "user name %q: no spaces or line breaks", u)
		}
	}
	v.image(p+".image", &s.Image)
}

func (v *validator) image(ip string, im *Image) {
	if im.Path != "" && (im.Size != 0 || im.Type != "") {
		v.fail(ip, "give either path (an existing image) or size/type (a new one), not both")
	}
	switch strings.ToLower(im.Type) {
	case "", "fat12", "fat16", "fat32":
	default:
		v.fail(ip+".type", "type %q: use fat12, fat16 or fat32", im.Type)
	}
	if im.Size != 0 && im.Size < 64<<10 {
		v.fail(ip+".size", "image size %d is too small: at least 64KiB", im.Size)
	}
	if im.Size > size.MaxMemory {
		v.fail(ip+".size", "image size %d: images live in RAM, keep them at most %s", im.Size, size.Format(size.MaxMemory))
	}
	for i, d := range im.Dirs {
		if !validRemote(d) {
			v.fail(fmt.Sprintf("%s.dirs[%d]", ip, i), "directory %q: give a relative or /-rooted path without ..", d)
		}
	}
	for i, f := range im.Files {
		fp := fmt.Sprintf("%s.files[%d]", ip, i)
		if !validRemote(f.Name) {
			v.fail(fp+".name", "file name %q: give a relative or /-rooted path without ..", f.Name)
		}
		n := 0
		for _, set := range []bool{f.Content != "", f.From != "", f.Size != 0} {
			if set {
				n++
			}
		}
		if n > 1 {
			v.fail(fp, "give one of content, from, or size (+seed)")
		}
		if f.Seed != 0 && f.Size == 0 {
			v.fail(fp+".seed", "seed without size: give the size of the generated content")
		}
		if f.Size > maxFATFile {
			v.fail(fp+".size", "size %d: a FAT file holds at most %d bytes", f.Size, int64(maxFATFile))
		}
	}
}

// validRemote accepts "a/b.txt" and "/a/b.txt" but not "..", "" or control characters.
func validRemote(name string) bool {
	n := strings.TrimPrefix(name, "/")
	if n == "" || strings.ContainsAny(n, "\r\n\x00") {
		return false
	}
	return fs.ValidPath(path.Clean(n)) && !strings.Contains("/"+n+"/", "/../")
}

// attach records in on that the devices named at field (a list) are on where, failing each name that
// is unknown or already on something else: each device has one interface.
func (v *validator) attach(on map[string]string, where, field string, names []string) {
	for j, name := range names {
		if v.sc.device(name) == nil {
			v.fail(fmt.Sprintf("%s[%d]", field, j), "no device named %q", name)
		}
		if prev, ok := on[name]; ok {
			v.fail(fmt.Sprintf("%s[%d]", field, j), "device %s is already on %s: each device has one interface", name, prev)
		}
		on[name] = where
	}
}

func (v *validator) links() {
	sc := v.sc
	on := map[string]string{}
	for i := range sc.Links {
		l := &sc.Links[i]
		p := fmt.Sprintf("links[%d]", i)
		if len(l.Between) != 2 {
			v.fail(p+".between", "a link joins exactly two devices: between: [a, b]")
			continue
		}
		v.attach(on, p, p+".between", l.Between)
		if l.Between[0] == l.Between[1] {
			v.fail(p+".between", "a link needs two different devices")
		}
		switch l.Type {
		case "", "memory":
			for _, im := range []struct {
				name string
				im   *Impair
			}{{"impair", l.Impair}, {"a_to_b", l.AtoB}, {"b_to_a", l.BtoA}} {
				if im.im == nil {
					continue
				}
				if err := im.im.impairment().Validate(); err != nil {
					v.fail(p+"."+im.name, "%v", err)
				}
			}
			if l.NetNS != "" || l.TAP != "" {
				v.fail(p, "netns and tap are for type: tap links")
			}
		case "tap":
			// Impairments wrap the TAP's endpoint on the device's side (a_to_b: device to kernel).
			for _, im := range []struct {
				name string
				im   *Impair
			}{{"impair", l.Impair}, {"a_to_b", l.AtoB}, {"b_to_a", l.BtoA}} {
				if err := im.im.impairment().Validate(); im.im != nil && err != nil {
					v.fail(p+"."+im.name, "%v", err)
				}
			}
			for _, n := range []struct{ key, val string }{{"netns", l.NetNS}, {"tap", l.TAP}} {
				if n.val != "" && !nameRE.MatchString(n.val) {
					v.fail(p+"."+n.key, "%s %q: use 1 to 15 letters, digits, - or _", n.key, n.val)
				}
			}
		default:
			v.fail(p+".type", "link type %q: use memory or tap", l.Type)
		}
		if err := tapdev.CheckMTU(l.MTU); l.MTU != 0 && err != nil {
			v.fail(p+".mtu", "%v", err)
		}
	}
	for i := range sc.Devices {
		if _, ok := on[sc.Devices[i].Name]; !ok && len(sc.Links) > 0 {
			v.fail(fmt.Sprintf("devices[%d]", i), "device %s is on no link: add it to a link's between", sc.Devices[i].Name)
		}
	}
	if len(sc.Links) == 0 && len(sc.Segments) == 0 && len(sc.Devices) == 2 {
		// The common case needs no links section: one perfect memory cable.
		sc.Links = []Link{{Between: []string{sc.Devices[0].Name, sc.Devices[1].Name}}}
	} else if len(sc.Links) == 0 && len(sc.Segments) == 0 {
		v.fail("links", "with more than two devices, say how they are connected: links: [{between: [a, b]}] or segments: [{devices: [a, b, c]}]")
	}
}

// segments checks the segments section and adds the links to it, each a segment of its own, so the
// engine knows segments only.
func (v *validator) segments() {
	sc := v.sc
	on := map[string]string{}
	for _, l := range sc.Links {
		for _, d := range l.Between {
			on[d] = "a link"
		}
	}
	var segs []Segment
	for i := range sc.Segments {
		sg := sc.Segments[i]
		p := fmt.Sprintf("segments[%d]", i)
		if sg.Name == "" {
			sg.Name = fmt.Sprintf("seg%d", i)
		}
		switch sg.Type {
		case "", "switch":
			sg.Type = "switch"
			if len(sg.Devices) < 2 {
				v.fail(p+".devices", "a switch joins at least two devices")
			}
			if sg.NetNS != "" || sg.TAP != "" {
				v.fail(p, "netns and tap are for type: tap segments")
			}
			if sg.VXLAN != nil {
				v.fail(p+".vxlan", "vxlan is for type: vxlan segments")
			}
		case "vxlan":
			if len(sg.Devices) != 1 {
				v.fail(p+".devices", "a vxlan segment has one device: the far end is the VTEP at vxlan's remote")
			}
			if sg.VXLAN == nil {
				v.fail(p+".vxlan", "a vxlan segment needs vxlan: local=IP:PORT,remote=IP:PORT,vni=N")
			}
			if sg.NetNS != "" || sg.TAP != "" || len(sg.Ports) > 0 {
				v.fail(p, "netns, tap and ports are not for vxlan segments")
			}
		case "tap":
			if len(sg.Devices) != 2 {
				v.fail(p+".devices", "a tap segment has two devices: the one on the TAP and the kernel side")
			}
			for name := range sg.Ports {
				if len(sg.Devices) > 0 && name != sg.Devices[0] {
					v.fail(p+".ports", "port of %q: on a tap segment only the device on the TAP (%s) has a port to impair", name, sg.Devices[0])
				}
			}
			for _, n := range []struct{ key, val string }{{"netns", sg.NetNS}, {"tap", sg.TAP}} {
				if n.val != "" && !nameRE.MatchString(n.val) {
					v.fail(p+"."+n.key, "%s %q: use 1 to 15 letters, digits, - or _", n.key, n.val)
				}
			}
		default:
			v.fail(p+".type", "segment type %q: use switch, tap or vxlan", sg.Type)
		}
		v.attach(on, p, p+".devices", sg.Devices)
		for name, pi := range sg.Ports {
			if !slices.Contains(sg.Devices, name) {
				v.fail(p+".ports", "port of %q: that device is not on this segment", name)
			}
			for _, im := range []*Impair{pi.In, pi.Out} {
				if err := im.impairment().Validate(); err != nil {
					v.fail(p+".ports."+name, "%v", err)
				}
			}
		}
		if err := tapdev.CheckMTU(sg.MTU); sg.MTU != 0 && err != nil {
			v.fail(p+".mtu", "%v", err)
		}
		segs = append(segs, sg)
	}
	for i := range sc.Devices {
		if _, ok := on[sc.Devices[i].Name]; !ok && len(sc.Segments) > 0 {
			v.fail(fmt.Sprintf("devices[%d]", i), "device %s is on no link or segment", sc.Devices[i].Name)
		}
	}
	var all []Segment
	for i, l := range sc.Links {
		typ := "switch"
		if l.Type == "tap" {
			typ = "tap"
		}
		all = append(all, Segment{Name: fmt.Sprintf("link%d", i), Type: typ, Devices: l.Between, MTU: l.MTU, Seed: l.Seed,
			NetNS: l.NetNS, TAP: l.TAP, pair: typ != "tap", atob: pick(l.AtoB, l.Impair), btoa: pick(l.BtoA, l.Impair), linkIdx: i})
	}
	sc.segs = append(all, segs...)
}

func pick(a, b *Impair) *Impair {
	if a != nil {
		return a
	}
	return b
}

// segmentOf returns the segment a device is on.
func (sc *Scenario) segmentOf(name string) *Segment {
	for i := range sc.segs {
		if slices.Contains(sc.segs[i].Devices, name) {
			return &sc.segs[i]
		}
	}
	return nil
}

// linkOf returns the link a device is on, and its index in Between.
func (sc *Scenario) linkOf(name string) (*Link, int) {
	for i := range sc.Links {
		for j, n := range sc.Links[i].Between {
			if n == name {
				return &sc.Links[i], j
			}
		}
	}
	return nil, -1
}

func (v *validator) step(p string, st *Step) {
	sc := v.sc
	cl, sv := sc.device(st.Client), sc.device(st.Server)
	if cl == nil {
		v.fail(p+".client", "no device named %q", st.Client)
	}
	if sv == nil {
		v.fail(p+".server", "no device named %q", st.Server)
	} else if sv.Server == nil {
		v.fail(p+".server", "device %s runs no FTP server: give it a server section", st.Server)
	}
	if cl == nil || sv == nil || sv.Server == nil {
		return
	}
	if cl == sv {
		v.fail(p, "client and server are the same device")
	}
	if s1 := sc.segmentOf(cl.Name); s1 != nil {
		if s2 := sc.segmentOf(sv.Name); s1 != s2 && !vxlanJoined(s1, s2) {
			v.fail(p, "%s and %s are not on the same link or segment", cl.Name, sv.Name)
		}
	}
	switch st.Family {
	case "", "ipv4", "ipv6":
	default:
		v.fail(p+".family", "family %q: use ipv4 or ipv6", st.Family)
	}
	if _, ok := sv.addrOf(st.family()); !ok {
		v.fail(p+".family", "server %s has no %s address", sv.Name, st.family())
	}
	if _, ok := cl.addrOf(st.family()); !ok {
		v.fail(p+".family", "client %s has no %s address", cl.Name, st.family())
	}
	switch st.Mode {
	case "", "active", "passive":
	default:
		v.fail(p+".mode", "mode %q: use active or passive", st.Mode)
	}
	if _, err := ftp.ParseProfile(string(st.Profile)); err != nil {
		v.fail(p+".profile", "%v", err)
	}
	if st.Timeout < 0 {
		v.fail(p+".timeout", "negative timeout")
	}
	if st.User == "" {
		switch {
		case len(sv.Server.Users) == 1:
			for u, pw := range sv.Server.Users {
				st.User = u
				if st.Password == "" {
					st.Password = pw
				}
			}
		case len(sv.Server.Users) == 0:
			st.User = "anonymous"
			if st.Password == "" {
				st.Password = "netxsim@example.com"
			}
		default:
			v.fail(p+".user", "server %s has several users: say which one logs in", sv.Name)
		}
	} else if pw, ok := sv.Server.Users[st.User]; ok && st.Password == "" {
		st.Password = pw
	} else if !ok && st.LoginError == 0 && st.User != "anonymous" && st.User != "ftp" {
		v.fail(p+".user", "%q is not a user of %s's server (set login_error: 530 to test a refused login)", st.User, sv.Name)
	}
	if strings.ContainsAny(st.User+st.Password, "\r\n") {
		v.fail(p, "user and password must not contain line breaks")
	}
	if st.LoginError != 0 && (st.LoginError < 400 || st.LoginError > 599) {
		v.fail(p+".login_error", "login_error %d: give the refusal code, e.g. 530", st.LoginError)
	}
	if st.LoginError != 0 && len(st.Do) > 0 {
		v.fail(p+".do", "a session whose login is refused cannot do anything")
	}
	for i := range st.Do {
		v.op(fmt.Sprintf("%s.do[%d]", p, i), &st.Do[i])
	}
}

func (v *validator) op(p string, op *Op) {
	if n := op.actions(); n != 1 {
		v.fail(p, "give exactly one action (put, get, ls, nlst, mkdir, rmdir, delete, rename, quote), found %d", n)
		return
	}
	if (len(op.Contains) > 0 || len(op.Lacks) > 0) && op.Ls == nil && op.Nlst == nil {
		v.fail(p, "contains and lacks go with ls or nlst")
	}
	if op.Error != 0 && (op.Error < 400 || op.Error > 599) {
		v.fail(p+".error", "error %d: give the expected failure code (4xx or 5xx)", op.Error)
	}
	remote := func(key, name string) {
		if !validRemote(name) {
			v.fail(p+"."+key, "path %q: give a relative or /-rooted path without ..", name)
		}
	}
	switch {
	case op.Put != nil:
		remote("put.remote", op.Put.Remote)
		n := 0
		if op.Put.Local != "" && !validRemote(op.Put.Local) {
			v.fail(p+".put.local", "path %q: give a relative or /-rooted path without ..", op.Put.Local)
		}
		for _, set := range []bool{op.Put.Content != "", op.Put.File != "", op.Put.Size != 0, op.Put.Local != ""} {
			if set {
				n++
			}
		}
		if n > 1 {
			v.fail(p+".put", "give one of content, file, local, or size (+seed)")
		}
		if op.Put.Seed != 0 && op.Put.Size == 0 {
			v.fail(p+".put.seed", "seed without size")
		}
		if op.Put.Size > maxFATFile {
			v.fail(p+".put.size", "size %d: a FAT file holds at most %d bytes", op.Put.Size, int64(maxFATFile))
		}
	case op.Get != nil:
		remote("get.remote", op.Get.Remote)
		if h := op.Get.SHA256; h != "" && h != "same" && !isHex256(h) {
			v.fail(p+".get.sha256", "sha256 %q: give 64 hex digits or \"same\"", h)
		}
		if op.Get.Local != "" && !validRemote(op.Get.Local) {
			v.fail(p+".get.local", "path %q: give a relative or /-rooted path without ..", op.Get.Local)
		}
		if s := op.Get.Save; s != "" && (filepath.IsAbs(s) || !filepath.IsLocal(s)) {
			v.fail(p+".get.save", "save %q: give a file name inside the output directory", s)
		}
	case op.Ls != nil:
		remoteOrRoot(v, p+".ls", *op.Ls)
	case op.Nlst != nil:
		remoteOrRoot(v, p+".nlst", *op.Nlst)
	case op.Mkdir != nil:
		remote("mkdir", *op.Mkdir)
	case op.Rmdir != nil:
		remote("rmdir", *op.Rmdir)
	case op.Delete != nil:
		remote("delete", *op.Delete)
	case op.Rename != nil:
		remote("rename.from", op.Rename.From)
		remote("rename.to", op.Rename.To)
	case op.Quote != nil:
		if *op.Quote == "" || strings.ContainsAny(*op.Quote, "\r\n\x00") {
			v.fail(p+".quote", "quote %q: give one command line without line breaks", *op.Quote)
		}
	}
	if op.Reply != 0 && (op.Quote == nil || op.Reply < 100 || op.Reply > 599) {
		v.fail(p+".reply", "reply goes with quote and is a reply code 1xx..5xx")
	}
}

func remoteOrRoot(v *validator, p, name string) {
	if name == "" || name == "/" || name == "." {
		return
	}
	if !validRemote(name) {
		v.fail(p, "path %q: give a relative or /-rooted path without ..", name)
	}
}

func isHex256(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 32
}

func (v *validator) expect() {
	e := &v.sc.Expect
	if e.Profile != "" {
		if _, err := ftpcheck.ParseProfile(e.Profile); err != nil {
			v.fail("expect.profile", "%v", err)
		}
	}
	known := map[string]bool{}
	var list []string
	for _, c := range ftpcheck.Checks {
		known[c.Name] = true
		list = append(list, c.Name)
	}
	for i, name := range e.Violations {
		if !known[name] {
			v.fail(fmt.Sprintf("expect.violations[%d]", i), "unknown check %q: use one of %s", name, strings.Join(list, ", "))
		}
	}
	if e.Sessions < 0 {
		v.fail("expect.sessions", "negative session count")
	}
	for i, f := range e.Files {
		p := fmt.Sprintf("expect.files[%d]", i)
		d := v.sc.device(f.Device)
		if d == nil || d.image() == nil {
			v.fail(p+".device", "no device with an image named %q", f.Device)
		}
		if f.SameAs != "" {
			dev, path, ok := strings.Cut(f.SameAs, ":")
			if od := v.sc.device(dev); !ok || od == nil || od.image() == nil || !validRemote(path) {
				v.fail(p+".same_as", "same_as %q: give device:path of a file on a device with an image", f.SameAs)
			}
		}
		if !validRemote(f.Path) {
			v.fail(p+".path", "path %q: give a relative or /-rooted path without ..", f.Path)
		}
		if f.SHA256 != "" && f.SHA256 != "same" && !isHex256(f.SHA256) {
			v.fail(p+".sha256", "sha256 %q: give 64 hex digits or \"same\"", f.SHA256)
		}
		if f.Absent && (f.SHA256 != "" || f.Size != nil || f.SameAs != "") {
			v.fail(p, "absent excludes sha256, size and same_as")
		}
	}
	for i, c := range e.Connections {
		p := fmt.Sprintf("expect.connections[%d]", i)
		d := v.sc.device(c.Device)
		if d == nil || !slices.Contains(d.Listen, c.Port) {
			v.fail(p, "device %q does not listen on port %d: add it to the device's listen", c.Device, c.Port)
		}
		if c.Count < 0 {
			v.fail(p+".count", "negative count")
		}
	}
}

// impairment converts to the link package's form.
func (im *Impair) impairment() link.Impairment {
	if im == nil {
		return link.Impairment{}
	}
	return link.Impairment{
		Loss: float64(im.Loss), Duplicate: float64(im.Duplicate), Reorder: float64(im.Reorder), Corrupt: float64(im.Corrupt),
		ReorderDelay: im.ReorderDelay, Delay: im.Delay, Jitter: im.Jitter, Rate: uint64(im.Rate), MTU: im.MTU, QueueLen: im.Queue,
	}
}

// vxlanJoined reports whether two vxlan segments are the two ends of one tunnel (each one's remote is
// the other's local, same VNI): their devices share an Ethernet.
func vxlanJoined(a, b *Segment) bool {
	if a == nil || b == nil || a.VXLAN == nil || b.VXLAN == nil {
		return false
	}
	return a.VXLAN.VNI == b.VXLAN.VNI && a.VXLAN.Remote == b.VXLAN.Local && b.VXLAN.Remote == a.VXLAN.Local
}
