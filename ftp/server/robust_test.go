package server_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netxsim/netxsim/ftp"
)

// reset closes a connection with RST where the network allows it.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// TestConnectResetCycles: 100 connect-and-reset cycles per session slot leave every slot usable.
func TestConnectResetCycles(t *testing.T) {
	fsys, _ := newHostFS(t)
	srv := baseServer(fsys, ftp.ProfileNetXDuo)
	srv.MaxSessions = 4
	e := startNet(t, srv, v4)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := 0; i < 100*srv.MaxSessions; i++ {
		c, err := e.dial(ctx, e.ctrl)
		if err != nil {
			t.Fatalf("cycle %d: %v", i, err)
		}
		switch i % 3 { // reset at different moments: at once, after the greeting, during login
		case 1:
			c.Read(make([]byte, 64))
		case 2:
			c.Write([]byte("USER u\r\nPA"))
		}
		reset(c)
	}
	waitSessions(t, srv, 0)
	var wg sync.WaitGroup
	for i := 0; i < srv.MaxSessions; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := e.connect(t)
			c.expect(220, "Connection Ready ")
			c.login("u", "p")
			c.do("PWD", 257, `"/" is current Directory `)
		}()
	}
	wg.Wait()
}

// TestInterruptedSTOR: a client that drops during STOR (control connection or data reset) leaves the
// old file intact and no temporary file.
func TestInterruptedSTOR(t *testing.T) {
	old := []byte("the old content")
	for _, nw := range networks {
		for _, how := range []string{"control-drop", "data-reset"} {
			if how == "data-reset" && nw.name == "mem" {
				continue // gonet has no RST-on-close; the kernel run covers it
			}
			for _, prof := range []ftp.Profile{ftp.ProfileNetXDuo, ftp.ProfileExtended} {
				t.Run(nw.name+"/"+how+"/"+string(prof), func(t *testing.T) {
					fsys, dir := newHostFS(t)
					writeFile(t, dir, "keep.bin", old)
					srv := baseServer(fsys, prof)
					e := nw.start(t, srv, v4)
					c := e.connect(t)
					c.read()
					c.login("u", "p")
					c.do("TYPE I", 200, nx(c, "Type Binary"))
					d := c.pasvData()
					c.send("STOR keep.bin")
					c.expect(150, nx(c, "File Open for Write"))
					d.Write(bytes.Repeat([]byte("new!"), 256<<10))
					if how == "control-drop" {
						reset(c.c)
						waitSessions(t, srv, 0)
						reset(d)
					} else {
						reset(d)
						code, _ := c.read()
						if code != 426 {
							t.Fatalf("reset data connection: reply %d, want 426", code)
						}
						c.do("QUIT", 221, nx(c, "Logging Off"))
						waitSessions(t, srv, 0)
					}
					got, err := os.ReadFile(filepath.Join(dir, "keep.bin"))
					if err != nil || !bytes.Equal(got, old) {
						t.Fatalf("old file: %d bytes (want the old %d), %v", len(got), len(old), err)
					}
					if names := dirNames(t, dir); names != "keep.bin" {
						t.Fatalf("debris left: %s", names)
					}
				})
			}
		}
	}
}

// TestTempNamesHidden: an upload in progress is not visible in listings.
func TestTempNamesHidden(t *testing.T) {
	fsys, dir := newHostFS(t)
	writeFile(t, dir, ".netxsim-upload-0123.part", []byte("x"))
	writeFile(t, dir, "a", []byte("x"))
	e := startNet(t, baseServer(fsys, ftp.ProfileExtended), v4)
	c := e.connect(t)
	c.read()
	c.login("u", "p")
	if got := string(c.pasvRead("NLST")); got != "a\r\n" {
		t.Fatalf("NLST: %q", got)
	}
	c.do("RETR .netxsim-upload-0123.part", 550, "File Open Fail")
	c.do("DELE x", 550, "Delete Failed")
	if !strings.Contains(dirNames(t, dir), "a") {
		t.Fatal("lost a")
	}
}
