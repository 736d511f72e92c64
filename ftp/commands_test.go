package ftp

import "testing"

// The command table is consistent: one entry a verb, upper case, what the server answers before
// login is what a checker accepts there, and what runs during a transfer is a command it answers.
func TestCommandTable(t *testing.T) {
	seen := map[string]bool{}
	netx := 0
	for _, c := range Commands {
		if seen[c.Verb] {
			t.Errorf("%s twice", c.Verb)
		}
		seen[c.Verb] = true
		if c.Func == "" || len(c.Verb) < 3 || len(c.Verb) > MaxVerbLen {
			t.Errorf("%s: needs a function and a 3..%d letter verb", c.Verb, MaxVerbLen)
		}
		if cmd, err := ParseCommand(c.Verb); err != nil || cmd.Verb != c.Verb {
			t.Errorf("%s does not parse to itself: %v", c.Verb, err)
		}
		if c.NetX && c.Extended {
			t.Errorf("%s: NetX commands are in every profile; Extended is for the extended ones only", c.Verb)
		}
		if c.PreLogin && !c.MayPreLogin {
			t.Errorf("%s: the server answers it before login but the checker would flag that", c.Verb)
		}
		if (c.PreLogin || c.DuringTransfer || c.Writes && c.Transfer) && !c.Implemented(true) && c.Verb != "STOU" {
			t.Errorf("%s: a property the server acts on, but no profile implements it", c.Verb)
		}
		if c.NetX {
			netx++
		}
	}
	// NetX Duo's nx_ftp_server command set (nxd_ftp_server.c): 24 verbs.
	if netx != 24 {
		t.Errorf("%d NetX commands, want 24", netx)
	}
	if c, ok := LookupCommand("ABOR"); !ok || !c.DuringTransfer || c.Implemented(false) {
		t.Errorf("ABOR: %+v", c)
	}
	if _, ok := LookupCommand("XYZZ"); ok {
		t.Error("XYZZ found")
	}
}
