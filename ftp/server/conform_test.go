package server_test

// Each profile's replies and transfers, command by command on a raw control connection.

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/ftp/server"
)

// netxDuoReplies is every command and reply text of the reference page, in one session from
// before login on.
var netxDuoReplies = []exchange{
	// before login everything but USER/PASS is 530, QUIT and NOOP included
	{"NOOP", 530, "Not logged in "},
	{"QUIT", 530, "Not logged in "},
	{"PWD", 530, "Not logged in "},
	{"LIST", 530, "Not logged in "},
	{"SYST", 530, "Not logged in "},
	{"FOO", 530, "Not logged in "},
	{"USER u", 331, "Enter password "},
	{"PASS wrong", 530, "Login Fail "},
	{"user u", 331, "Enter password "},
	{"pass p", 230, "Logged in "},
	// logged in, what NetX Duo does not implement is 502
	{"SYST", 502, "Not Implemented "},
	{"FEAT", 502, "Not Implemented "},
	{"SIZE test.txt", 502, "Not Implemented "},
	{"MDTM test.txt", 502, "Not Implemented "},
	{"REST 1", 502, "Not Implemented "},
	{"ABOR", 502, "Not Implemented "},
	{"APPE x", 502, "Not Implemented "},
	{"STOU", 502, "Not Implemented "},
	{"STRU F", 502, "Not Implemented "},
	{"ALLO 1", 502, "Not Implemented "},
	{"SITE X", 502, "Not Implemented "},
	{"HELP", 502, "Not Implemented "},
	{"STAT", 502, "Not Implemented "},
	{"OPTS UTF8 ON", 502, "Not Implemented "},
	{"AUTH TLS", 502, "Not Implemented "},
	{"MLSD", 502, "Not Implemented "},
	{"MLST", 502, "Not Implemented "},
	{"XPWD", 502, "Not Implemented "},
	{"XCWD /", 502, "Not Implemented "},
	{"FOO", 502, "Not Implemented "},
	{"NOOP", 200, "NOOP Success "},
	{"TYPE A", 200, "Type ASCII "},
	{"RETR test.txt", 504, "Only Image transfer allowed "},
	{"TYPE E", 504, "Type Non ASCII or Binary "},
	{"TYPE I", 200, "Type Binary "},
	{"MODE S", 200, "Mode Stream "},
	{"MODE C", 504, "Mode Non Stream or Block "},
	{"PWD", 257, `"/" is current Directory `},
	{"Mkd /def", 200, `"/def" Directory Created `},
	{"MKD def", 550, "Directory Create failed "},
	{"XMKD abc", 200, `"/abc" Directory Created `},
	{"CWD abc", 250, `"/abc" set successfully `},
	{"CWD nowhere", 550, "Change Dir Fail "},
	{"CDUP", 250, `"/" set successfully `},
	{"CDUP", 250, `"/" set successfully `}, // ".." at the root stays at the root
	{"CWD ../../..", 250, `"/" set successfully `},
	{"RNFR nothing", 550, "Rename File not found "},
	{"RNTO x", 550, "Rename failed "},
	{"RNFR test.txt", 350, "Rename File From "},
	{"RNTO moved.txt", 250, "File Renamed "},
	{"RETR test.txt", 550, "File Open Fail "}, // the old name is gone
	{"DELE nothing", 550, "Delete Failed "},
	{"DELE abc", 550, "Delete Failed "},
	{"DELE moved.txt", 250, "File Deleted "},
	{"RMD nothing", 550, "Delete Directory Fail "},
	{"XRMD abc", 250, "Directory Deleted "},
	{"RMD def", 250, "Directory Deleted "},
	{"LIST nowhere", 550, "Bad Directory "},
	{"NLST nowhere", 550, "List bad Directory "},
}

// netxDuoPorts are the PORT/EPRT/PASV exchanges of netxDuoReplies, which differ by address family.
var netxDuoPorts = map[family][]exchange{
	v4: {
		{"PORT 127,0,0,1,0,0", 501, "Port Fail "},
		{"PORT 127,0,0,2,200,1", 501, "Port Fail "}, // not the control peer
		{"PORT 1,2,3", 501, "Port Fail "},
		{"PORT 127,0,0,1,200,1", 200, "Port set "},
		{"EPRT |1|127.0.0.1|5282|", 502, "EPRT illegal in IPv4 "},
	},
	v6: {
		{"PORT 127,0,0,1,200,1", 502, "PORT illegal in IPv6 "},
		{"EPRT |2|::1|5282|", 200, "EPRT command set "},
		{"EPRT |2|zz|5282|", 501, "EPRT command failed "},
		{"EPRT |1|127.0.0.1|5282|", 501, "Bad IPv6 address "},
		{"PASV", 501, "PASV Fail "},
	},
}

// TestNetXDuoReplies walks every command and reply text of the reference page on a raw connection.
func TestNetXDuoReplies(t *testing.T) {
	for _, fam := range []family{v4, v6} {
		t.Run(string(fam), func(t *testing.T) {
			fsys, dir := newHostFS(t)
			writeFile(t, dir, "test.txt", []byte("0123456789012345678901234567"))
			e := startKernel(t, baseServer(fsys, ftp.ProfileNetXDuo), fam)
			c := e.connect(t)
			c.expect(220, "Connection Ready ")
			c.doAll(netxDuoReplies)
			c.doAll(netxDuoPorts[fam])
			c.do("QUIT", 221, "Logging Off ")
		})
	}
}

var listLine = regexp.MustCompile(`^[-d]r[w-]-r[w-]-r[w-]-  1 owner group [ 0-9]{10} [A-Z]{3} \d\d \d\d:\d\d .+$`)

// TestNetXDuoTransfers checks 125/250 for active and 150/226 for passive, the 227/229 formats, the
// LIST layout and NLST's "." and ".." in subdirectories.
func TestNetXDuoTransfers(t *testing.T) {
	for _, nw := range networks {
		for _, fam := range []family{v4, v6} {
			t.Run(nw.name+"/"+string(fam), func(t *testing.T) {
				fsys, dir := newHostFS(t)
				content := bytes.Repeat([]byte("netx"), 1000)
				writeFile(t, dir, "sub/test.txt", content)
				e := nw.start(t, baseServer(fsys, ftp.ProfileNetXDuo), fam)
				c := e.connect(t)
				c.expect(220, "Connection Ready ")
				c.login("u", "p")
				c.do("TYPE I", 200, "Type Binary ")

				// passive
				if fam == v4 {
					c.send("PASV")
					code, text := c.read()
					h := strings.ReplaceAll(e.ctrl.Addr().String(), ".", ",")
					if code != 227 || !regexp.MustCompile(`^Entering Passive Mode \(`+h+`,\d+,\d+\)\.$`).MatchString(text) {
						t.Fatalf("PASV reply %d %q", code, text)
					}
					c.send("PASV") // a second PASV replaces the first
					c.read()
				} else {
					c.send("EPSV")
					code, text := c.read()
					if code != 229 || !regexp.MustCompile(`^Entering Extended Passive Mode \(\|\|\|\d+\|\)$`).MatchString(text) {
						t.Fatalf("EPSV reply %d %q", code, text)
					}
				}
				c.send("NOOP") // the one-shot passive listener of above is dropped by the next one
				c.read()
				if got := c.pasvGet("RETR sub/test.txt", "File Opened ", "File Sent "); !bytes.Equal(got, content) {
					t.Fatalf("passive RETR: %d bytes, want %d", len(got), len(content))
				}

				// active
				ln := c.activeData()
				c.send("RETR sub/test.txt")
				dc := accept(t, ln)
				checkPort20(t, dc)
				c.expect(125, "File Opened ")
				if got := readAll(t, dc); !bytes.Equal(got, content) {
					t.Fatalf("active RETR: %d bytes", len(got))
				}
				c.expect(250, "File Sent ")

				ln = c.activeData()
				c.send("STOR up.bin")
				dc = accept(t, ln)
				checkPort20(t, dc)
				c.expect(125, "File Open for Write ")
				dc.Write([]byte("uploaded"))
				dc.Close()
				c.expect(250, "File Written ")

				c.pasvPut("STOR up2.bin", "File Open for Write ", "File Written ", "uploaded2")

				// LIST layout (TYPE does not matter for listings)
				c.do("TYPE A", 200, "Type ASCII ")
				lines := strings.Split(strings.TrimSuffix(string(c.pasvGet("LIST sub", "Sending List ", "List End ")), "\r\n"), "\r\n")
				if len(lines) != 3 {
					t.Fatalf("LIST sub: %q", lines)
				}
				for _, l := range lines {
					if !listLine.MatchString(l) {
						t.Errorf("LIST line layout: %q", l)
					}
				}
				if !strings.HasSuffix(lines[2], " test.txt") || !strings.Contains(lines[2], "       4000 ") {
					t.Errorf("LIST file line: %q", lines[2])
				}
				// NLST of a subdirectory lists "." and ".." as FAT does
				c.do("CWD sub", 250, `"/sub" set successfully `)
				ln = c.activeData()
				c.send("NLST")
				dc = accept(t, ln)
				checkPort20(t, dc)
				c.expect(125, "Sending List ")
				if got := string(readAll(t, dc)); got != ".\r\n..\r\ntest.txt\r\n" {
					t.Errorf("NLST sub: %q", got)
				}
				c.expect(250, "List End ")
				c.do("CDUP", 250, `"/" set successfully `)
				if got, want := string(c.pasvGet("NLST", "Sending List ", "List End ")), osOrder(t, dir); got != want { // hostfs: the OS's order
					t.Errorf("NLST /: %q, want %q", got, want)
				}
			})
		}
	}
}

func TestReadOnlySession(t *testing.T) {
	fsys, dir := newHostFS(t)
	writeFile(t, dir, "f", []byte("x"))
	e := startKernel(t, baseServer(fsys, ftp.ProfileNetXDuo), v4)
	c := e.connect(t)
	c.expect(220, "Connection Ready ")
	c.login("ro", "ro")
	for _, cmd := range []string{"STOR f", "RNFR f", "RNTO g", "DELE f", "RMD d", "MKD d", "XMKD d"} {
		c.do(cmd, 532, "Need account for storing files ")
	}
	c.do("TYPE I", 200, "Type Binary ")
	d := c.pasvData()
	c.send("RETR f")
	c.expect(150, "File Opened ")
	if got := string(readAll(t, d)); got != "x" {
		t.Fatalf("RETR: %q", got)
	}
	c.expect(226, "File Sent ")
}

// Commands split over segments and several in one segment both work.
func TestSegmentation(t *testing.T) {
	fsys, _ := newHostFS(t)
	e := startKernel(t, baseServer(fsys, ftp.ProfileNetXDuo), v4)
	c := e.connect(t)
	c.expect(220, "Connection Ready ")
	for _, b := range []byte("USER u\r\n") {
		c.c.Write([]byte{b})
		time.Sleep(time.Millisecond)
	}
	c.expect(331, "Enter password ")
	c.c.Write([]byte("PASS p\r\nNOOP\nPWD\r\nTYPE I\r\n"))
	c.expect(230, "Logged in ")
	c.expect(200, "NOOP Success ")
	c.expect(257, `"/" is current Directory `)
	c.expect(200, "Type Binary ")
}

// A line longer than the limit without CRLF gets 500 at once, and the session goes on.
func TestLongLine(t *testing.T) {
	fsys, _ := newHostFS(t)
	srv := baseServer(fsys, ftp.ProfileNetXDuo)
	srv.MaxLineLen = 512
	e := startKernel(t, srv, v4)
	c := e.connect(t)
	c.expect(220, "Connection Ready ")
	c.c.Write(bytes.Repeat([]byte("A"), 10000)) // no line end
	c.expect(500, "Command line too long ")
	c.c.Write(bytes.Repeat([]byte("B"), 100000)) // the same line goes on: discarded, no second reply
	c.c.Write([]byte("\r\nUSER u\r\n"))
	c.expect(331, "Enter password ")
}

// checkPort20: NetX's active data connections come from port 20.
func checkPort20(t *testing.T, c interface{ RemoteAddr() net.Addr }) {
	t.Helper()
	if s := c.RemoteAddr().String(); !strings.HasSuffix(s, ":20") {
		t.Errorf("active data connection from %s, want source port 20", s)
	}
}

// osOrder is the NLST body of dir in the order the operating system lists it (ls -U).
func osOrder(t *testing.T, dir string) string {
	t.Helper()
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n + "\r\n")
	}
	return b.String()
}

func extendedSession(t *testing.T, fam family) (*ctrl, string) {
	t.Helper()
	fsys, dir := newHostFS(t)
	e := startKernel(t, baseServer(fsys, ftp.ProfileExtended), fam)
	c := e.connect(t)
	c.expect(220, "Connection Ready")
	return c, dir
}

func TestExtendedCommands(t *testing.T) {
	c, dir := extendedSession(t, v4)
	mt := time.Date(2024, 4, 2, 8, 5, 33, 0, time.UTC)
	writeFile(t, dir, "f.txt", []byte("line1\nline2\r\nline3\n"))
	must(t, os.Chtimes(filepath.Join(dir, "f.txt"), mt, mt))
	c.do("SYST", 215, "UNIX Type: L8")
	c.send("FEAT")
	if code, text := c.read(); code != 211 || !strings.Contains(text, "\n MLST type*;size*;modify*;\n") || !strings.Contains(text, "\n EPSV\n") {
		t.Fatalf("FEAT: %d %q", code, text)
	}
	c.do("NOOP", 200, "NOOP Success")
	c.do("PWD", 530, "Not logged in")
	c.login("u", "p")
	c.do("OPTS UTF8 ON", 200, "Always in UTF8 mode")
	c.do("SIZE f.txt", 213, "19")
	c.do("MDTM f.txt", 213, "20240402080533")
	c.do("SIZE nothing", 550, "Could not get file size")
	c.do("MKD d", 257, `"/d" Directory Created`)
	c.do("XCWD d", 250, `"/d" set successfully`)
	c.do("XPWD", 257, `"/d" is current Directory`)
	c.do("XCUP", 250, `"/" set successfully`)
	c.do("STRU F", 200, "Structure set to F")
	c.do("STRU R", 504, "Only file structure (F) is supported")
	c.do("ALLO 100", 202, "No storage allocation necessary")
	c.do("ABOR", 225, "No transfer to abort")
	c.do("MLST f.txt", 250, "Listing /f.txt\n type=file;size=19;modify=20240402080533; /f.txt\nEnd")
	c.send("HELP")
	if code, _ := c.read(); code != 214 {
		t.Fatalf("HELP: %d", code)
	}
	c.send("STAT")
	if code, _ := c.read(); code != 211 {
		t.Fatalf("STAT: %d", code)
	}
	c.send("STAT /")
	if code, text := c.read(); code != 213 || !strings.Contains(text, " f.txt") {
		t.Fatalf("STAT /: %d %q", code, text)
	}
	c.do("SITE CHMOD 777 f.txt", 502, "Not Implemented")
	c.do("EPRT |1|127.0.0.1|5282|", 200, "EPRT command set") // RFC 2428 allows EPRT over IPv4
	c.do("EPRT |2|::1|5282|", 522, "Network protocol not supported, use (1)")

	// MLSD
	if got := string(c.pasvGet("MLSD", "Sending List", "List End")); got != "type=dir;modify="+ftp.MLSTime(statTime(t, dir, "d"))+"; d\r\ntype=file;size=19;modify=20240402080533; f.txt\r\n" {
		t.Fatalf("MLSD: %q", got)
	}

	// TYPE A converts line ends both ways
	c.do("TYPE A", 200, "Type ASCII")
	if got := string(c.pasvGet("RETR f.txt", "File Opened", "File Sent")); got != "line1\r\nline2\r\nline3\r\n" {
		t.Fatalf("TYPE A RETR: %q", got)
	}
	c.pasvPut("STOR a.txt", "File Open for Write", "File Written", "x\r\ny\r", "\nz\rw")
	if b, _ := os.ReadFile(filepath.Join(dir, "a.txt")); string(b) != "x\ny\nz\rw" {
		t.Fatalf("TYPE A STOR stored %q", b)
	}

	// REST for RETR and STOR, APPE
	c.do("TYPE I", 200, "Type Binary")
	c.do("REST 3", 350, "Restarting at 3. Send STOR or RETR")
	if got := string(c.pasvGet("RETR f.txt", "File Opened", "File Sent")); got != "e1\nline2\r\nline3\n" {
		t.Fatalf("REST RETR: %q", got)
	}
	c.do("REST 2", 350, "Restarting at 2. Send STOR or RETR")
	c.pasvPut("STOR a.txt", "File Open for Write", "File Written", "NEW")
	c.pasvPut("APPE a.txt", "File Open for Write", "File Written", "+more")
	if b, _ := os.ReadFile(filepath.Join(dir, "a.txt")); string(b) != "x\nNEW+more" {
		t.Fatalf("REST STOR + APPE: %q", b)
	}

	// active transfers are 150/226 too; PORT to a privileged port is refused
	c.do("PORT 127,0,0,1,0,80", 501, "Port Fail")
	ln := c.activeData()
	c.send("RETR a.txt")
	dc := accept(t, ln)
	c.expect(150, "File Opened")
	readAll(t, dc)
	c.expect(226, "File Sent")

	// EPSV ALL: afterwards only EPSV
	c.do("EPSV ALL", 200, "EPSV ALL ok")
	c.do("PASV", 501, "PASV not allowed after EPSV ALL")
	c.do("PORT 127,0,0,1,200,1", 501, "PORT not allowed after EPSV ALL")
	c.do("EPSV 2", 522, "Network protocol not supported, use (1)")
	c.do("QUIT", 221, "Logging Off")
}

func statTime(t *testing.T, dir, name string) time.Time {
	fi, err := os.Stat(filepath.Join(dir, name))
	must(t, err)
	return fi.ModTime()
}

// TestAbortDuringTransfer: ABOR is read and obeyed while a transfer runs (426 then 226).
func TestAbortDuringTransfer(t *testing.T) {
	c, dir := extendedSession(t, v4)
	writeFile(t, dir, "big", bytes.Repeat([]byte("z"), 64<<20))
	c.login("u", "p")
	c.do("TYPE I", 200, "Type Binary")
	d := c.pasvData()
	defer d.Close()
	c.send("RETR big")
	c.expect(150, "File Opened")
	d.Read(make([]byte, 1000)) // the transfer is running; the client reads no further
	c.c.Write([]byte("\xff\xf4\xff\xf2ABOR\r\n"))
	c.expect(426, "Transfer aborted")
	c.expect(226, "Abort successful")
	c.do("NOOP", 200, "NOOP Success")
	// and an aborted STOR leaves nothing behind
	d2 := c.pasvData()
	c.send("STOR partial")
	c.expect(150, "File Open for Write")
	d2.Write([]byte("some"))
	c.send("ABOR")
	c.expect(426, "Transfer aborted")
	c.expect(226, "Abort successful")
	d2.Close()
	if names := dirNames(t, dir); names != "big" {
		t.Fatalf("after aborted STOR: %s", names)
	}
}

// TestBlockMode: MODE B transfers (the NetX client's optional mode) in both directions.
func TestBlockMode(t *testing.T) {
	fsys, dir := newHostFS(t)
	data := bytes.Repeat([]byte("0123456789"), 20000) // more than one 64 KiB block
	writeFile(t, dir, "f", data)
	e := startKernel(t, baseServer(fsys, ftp.ProfileNetXDuo), v4)
	c := e.connect(t)
	c.read()
	c.login("u", "p")
	c.do("TYPE I", 200, "Type Binary ")
	c.do("MODE B", 200, "Mode Block ")
	d := c.pasvData()
	c.send("RETR f")
	c.read()
	raw := readAll(t, d)
	c.expect(226, "File Sent ")
	var got []byte
	for len(raw) >= 3 {
		n := int(raw[1])<<8 | int(raw[2])
		got = append(got, raw[3:3+n]...)
		desc := raw[0]
		raw = raw[3+n:]
		if desc&0x40 != 0 {
			break
		}
	}
	if !bytes.Equal(got, data) || len(raw) != 0 {
		t.Fatalf("block RETR: %d bytes decoded, %d left over", len(got), len(raw))
	}
	d = c.pasvData()
	c.send("STOR g")
	c.read()
	d.Write([]byte{0, 0, 3, 'a', 'b', 'c', 0x10, 0, 2, 'R', 'M', 0x40, 0, 2, 'd', 'e'})
	d.Close()
	c.expect(226, "File Written ")
	if b, _ := os.ReadFile(filepath.Join(dir, "g")); string(b) != "abcde" {
		t.Fatalf("block STOR stored %q", b)
	}
	// a block upload cut before its end-of-file block is not complete
	d = c.pasvData()
	c.send("STOR g")
	c.read()
	d.Write([]byte{0, 0, 3, 'x', 'y', 'z'})
	d.Close()
	if code, _ := c.read(); code != 426 {
		t.Fatalf("truncated block STOR: %d, want 426", code)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "g")); string(b) != "abcde" {
		t.Fatalf("truncated block STOR replaced the file: %q", b)
	}
}

// TestLoginCallback receives the client's address and can reject or allow.
func TestLoginCallback(t *testing.T) {
	fsys, _ := newHostFS(t)
	srv := baseServer(fsys, ftp.ProfileNetXDuo)
	var seen netip.AddrPort
	srv.Login = func(_ context.Context, c netip.AddrPort, user, pass string) server.Access {
		seen = c
		return server.ReadWrite
	}
	e := startKernel(t, srv, v6)
	c := e.connect(t)
	c.read()
	c.login("x", "y")
	local := c.c.LocalAddr().(*net.TCPAddr).AddrPort()
	if seen.Addr() != local.Addr() || seen.Port() != local.Port() {
		t.Fatalf("login callback saw %v, client is %v", seen, local)
	}
}
