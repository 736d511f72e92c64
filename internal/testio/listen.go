package testio

import (
	"bufio"
	"io"
	"net"
	"strings"
)

// ListenAddr reads r line by line until one reads "listening on ADDR" (what `netxsim serve` prints
// once it is ready) and returns ADDR, or "" if r ends first. The rest of r is drained in the
// background, so the writer never blocks on a full pipe.
func ListenAddr(r io.Reader) string {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if a, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "listening on "); ok {
			go io.Copy(io.Discard, r)
			return a
		}
	}
	return ""
}

// AcceptOne accepts one connection on ln in the background: the channel yields it, or closes without
// one if Accept fails.
func AcceptOne(ln net.Listener) <-chan net.Conn {
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	return accepted
}

// ServeOne accepts one connection on ln in the background, runs serve on it and closes it; the
// channel yields serve's error, or Accept's.
func ServeOne(ln net.Listener, serve func(net.Conn) error) <-chan error {
	errc := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		errc <- serve(c)
	}()
	return errc
}

// Send accepts one connection on ln in the background, copies r to it and closes it: a peer that
// only talks. The channel yields the copy's error, or Accept's.
func Send(ln net.Listener, r io.Reader) <-chan error {
	return ServeOne(ln, func(c net.Conn) error {
		_, err := io.Copy(c, r)
		return err
	})
}

// Greet accepts one connection on ln in the background, writes msg to it and closes it: the peer
// a test dials to read a known greeting from.
func Greet(ln net.Listener, msg string) { Send(ln, strings.NewReader(msg)) }
