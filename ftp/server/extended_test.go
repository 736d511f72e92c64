package server_test

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netxsim/netxsim/ftp"
	"github.com/netxsim/netxsim/ftp/server"
)

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
