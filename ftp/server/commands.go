package server

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/netxsim/netxsim/ftp"
)

const featText = "Features:\n EPRT\n EPSV\n MDTM\n MLST type*;size*;modify*;\n PASV\n REST STREAM\n SIZE\n TVFS\n UTF8\nEnd"

func (ss *session) dispatch(cmd ftp.Command) {
	verb, arg := cmd.Verb, cmd.Arg
	// Which commands a profile answers, before login and to a read-only user: ftp.Commands, the
	// table ftpcheck reads too.
	spec, _ := ftp.LookupCommand(verb)
	known := spec.Implemented(ss.extended())
	if !ss.loggedIn {
		allowed := verb == "USER" || verb == "PASS" || (ss.extended() && spec.PreLogin)
		if !allowed {
			ss.reply(530, "Not logged in")
			return
		}
	}
	if !known {
		ss.reply(502, "Not Implemented")
		return
	}
	if verb != "RNTO" && verb != "RNFR" {
		ss.rnfr = ""
	}
	if ss.readOnly && spec.Writes {
		ss.reply(532, "Need account for storing files")
		return
	}
	switch verb {
	case "USER":
		ss.cmdUSER(arg)
	case "PASS":
		ss.cmdPASS(arg)
	case "QUIT":
		ss.reply(221, "Logging Off")
		ss.quitting = true
	case "NOOP":
		ss.reply(200, "NOOP Success")
	case "TYPE":
		ss.cmdTYPE(arg)
	case "MODE":
		ss.cmdMODE(arg)
	case "PWD", "XPWD":
		ss.reply(257, quote(ss.cwd)+" is current Directory")
	case "CWD", "XCWD":
		ss.cmdCWD(arg)
	case "CDUP", "XCUP":
		if ss.shipped() && ss.cwd == "/" { // the shipped code fails to go above the root
			ss.reply(550, "Change Dir Fail")
			return
		}
		ss.cmdCWD("..")
	case "MKD", "XMKD":
		ss.cmdMKD(arg)
	case "RMD", "XRMD":
		ss.cmdRMD(arg)
	case "DELE":
		ss.cmdDELE(arg)
	case "RNFR":
		ss.cmdRNFR(arg)
	case "RNTO":
		ss.cmdRNTO(arg)
	case "PORT":
		ss.cmdPORT(arg)
	case "EPRT":
		ss.cmdEPRT(arg)
	case "PASV":
		ss.cmdPASV()
	case "EPSV":
		ss.cmdEPSV(arg)
	case "RETR":
		ss.cmdRETR(arg)
	case "STOR":
		ss.cmdSTOR(arg, false)
	case "APPE":
		ss.cmdSTOR(arg, true)
	case "LIST":
		ss.cmdList(arg, listLIST)
	case "NLST":
		ss.cmdList(arg, listNLST)
	case "MLSD":
		ss.cmdList(arg, listMLSD)
	case "MLST":
		ss.cmdMLST(arg)
	case "FEAT":
		ss.reply(211, featText)
	case "OPTS":
		ss.cmdOPTS(arg)
	case "SYST":
		ss.reply(215, "UNIX Type: L8")
	case "HELP":
		ss.cmdHELP()
	case "STAT":
		ss.cmdSTAT(arg)
	case "SIZE":
		ss.cmdSIZE(arg)
	case "MDTM":
		ss.cmdMDTM(arg)
	case "REST":
		ss.cmdREST(arg)
	case "ABOR":
		ss.reply(225, "No transfer to abort")
	case "ALLO":
		ss.reply(202, "No storage allocation necessary")
	case "STRU":
		if strings.EqualFold(strings.TrimSpace(arg), "F") {
			ss.reply(200, "Structure set to F")
		} else {
			ss.reply(504, "Only file structure (F) is supported")
		}
	}
}

func (ss *session) cmdUSER(arg string) {
	if ss.extended() && arg == "" {
		ss.reply(501, "USER needs a user name")
		return
	}
	ss.logout() // USER mid-session starts a new login, as on NetX
	ss.user, ss.userGiven, ss.readOnly = arg, true, false
	ss.reply(331, "Enter password")
}

func (ss *session) cmdPASS(arg string) {
	if ss.extended() && !ss.userGiven {
		ss.reply(503, "Login with USER first")
		return
	}
	ss.logout()
	access := Deny
	lockedFor := ss.srv.budget.locked(ss.peer.Addr())
	if lockedFor > 0 {
		// not even asked: while an address is locked out, guessing learns nothing
		ss.log.Warn("ftp: login refused unchecked: this address spent its failed-login budget", "user", ss.user, "lockedFor", lockedFor.Round(time.Second))
	} else if !ss.userGiven {
		// Deliberate exception to NetX 6.4.2, which logs such a PASS in with the user name the
		// previous connection left in the session slot (a security defect).
		ss.log.Info("ftp: PASS without USER refused (NetX Duo 6.4.2 would log in with the previous session's user name)")
	} else if ss.srv.Login != nil {
		access = ss.srv.Login(ss.ctx, ss.peer, ss.user, arg)
	}
	if access != ReadWrite && access != ReadOnly {
		ss.failures++
		// a PASS refused unchecked is no guess and does not count: the lock-out runs its course
		if lockedFor == 0 {
			if lock := ss.srv.budget.fail(ss.peer.Addr()); lock > 0 {
				lockedFor = lock
				ss.log.Warn("ftp: address locked out after too many failed logins", "user", ss.user, "for", lock)
			}
		}
		ss.log.Info("ftp: login failed", "user", ss.user, "failures", ss.failures)
		failText := "Login Fail"
		if lockedFor > 0 && ss.extended() {
			failText = fmt.Sprintf("Login Fail: too many failed logins from your address, try again in %v", lockedFor.Round(time.Second))
		}
		if ss.shipped() { // the shipped code never delays and never disconnects
			ss.reply(530, failText)
			return
		}
		if d := ss.srv.loginFailDelay(); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ss.ctx.Done():
				t.Stop()
				return
			}
		}
		ss.reply(530, failText)
		if limit := ss.srv.maxLoginFailures(); limit > 0 && ss.failures >= limit {
			if ss.extended() {
				ss.reply(421, "Too many failed logins, closing control connection")
			}
			ss.quitting = true
		}
		return
	}
	ss.failures = 0
	ss.srv.budget.succeed(ss.peer.Addr())
	ss.loggedIn, ss.readOnly = true, access == ReadOnly
	ss.binary, ss.block, ss.cwd, ss.rest = false, false, "/", 0 // NetX resets the type to ASCII
	ss.log.Info("ftp: login", "user", ss.user, "readOnly", ss.readOnly)
	ss.srv.setState(ss.conn, StateLoggedIn)
	ss.reply(230, "Logged in")
}

func (ss *session) cmdTYPE(arg string) {
	a := strings.ToUpper(strings.TrimSpace(arg))
	if ss.extended() {
		switch a {
		case "I", "L 8", "L8":
			ss.binary = true
			ss.reply(200, "Type Binary")
		case "A", "A N":
			ss.binary = false
			ss.reply(200, "Type ASCII")
		default:
			ss.reply(504, "Type Non ASCII or Binary")
		}
		return
	}
	if ss.shipped() { // only the first letter counts, and it must be upper case
		a = arg
	}
	switch {
	case strings.HasPrefix(a, "I"):
		ss.binary = true
		ss.reply(200, "Type Binary")
	case strings.HasPrefix(a, "A"):
		ss.binary = false
		ss.reply(200, "Type ASCII")
	default:
		ss.reply(504, "Type Non ASCII or Binary")
	}
}

func (ss *session) cmdMODE(arg string) {
	a := strings.ToUpper(strings.TrimSpace(arg))
	if ss.shipped() && arg != "" { // only the first letter counts, and it must be upper case
		a = arg[:1]
	}
	switch a {
	case "S":
		ss.block = false
		ss.reply(200, "Mode Stream")
	case "B":
		ss.block = true
		ss.reply(200, "Mode Block")
	default:
		ss.reply(504, "Mode Non Stream or Block")
	}
}

func (ss *session) cmdCWD(arg string) {
	if ss.shipped() && arg == "." {
		ss.reply(550, "Change Dir Fail")
		return
	}
	p := ss.abs(arg)
	fi, err := ss.fs.Stat(fsName(p))
	if err != nil || !fi.IsDir() {
		ss.reply(550, "Change Dir Fail")
		return
	}
	ss.cwd = p
	ss.reply(250, quote(p)+" set successfully")
}

func (ss *session) cmdMKD(arg string) {
	p := ss.abs(arg)
	if arg == "" || p == "/" || isTempName(path.Base(p)) {
		ss.reply(550, "Directory Create failed")
		return
	}
	if !ss.changed(ss.fs.Mkdir(fsName(p)), "Directory Create failed", "mkdir", "path", p) {
		return
	}
	code := 200 // NetX's code; RFC 959 says 257
	if ss.extended() {
		code = 257
	}
	ss.reply(code, quote(p)+" Directory Created")
}

func (ss *session) cmdRMD(arg string) {
	p := ss.abs(arg)
	fi, err := ss.fs.Stat(fsName(p))
	if arg == "" || p == "/" || err != nil || !fi.IsDir() {
		ss.reply(550, "Delete Directory Fail")
		return
	}
	if !ss.changed(ss.fs.Remove(fsName(p)), "Delete Directory Fail", "rmdir", "path", p) {
		return
	}
	if p == ss.cwd || strings.HasPrefix(ss.cwd, p+"/") {
		ss.cwd = path.Dir(p)
	}
	ss.reply(250, "Directory Deleted")
}

func (ss *session) cmdDELE(arg string) {
	p := ss.abs(arg)
	unlock, err := ss.lockFiles(ss.ctx, fsName(p))
	if err != nil {
		return // the session is ending
	}
	defer unlock()
	fi, err := ss.fs.Stat(fsName(p))
	if arg == "" || err != nil || fi.IsDir() {
		ss.reply(550, "Delete Failed")
		return
	}
	if ss.changed(ss.fs.Remove(fsName(p)), "Delete Failed", "delete", "path", p) {
		ss.reply(250, "File Deleted")
	}
}

func (ss *session) cmdRNFR(arg string) {
	p := ss.abs(arg)
	if _, err := ss.fs.Stat(fsName(p)); arg == "" || p == "/" || err != nil {
		ss.reply(550, "Rename File not found")
		return
	}
	ss.rnfr = p
	ss.reply(350, "Rename File From")
}

func (ss *session) cmdRNTO(arg string) {
	from := ss.rnfr
	ss.rnfr = ""
	if from == "" && ss.shipped() {
		ss.netxCrash("RNTO without a pending RNFR")
		return
	}
	if from == "" {
		if ss.extended() {
			ss.reply(503, "RNFR required first")
		} else {
			ss.reply(550, "Rename failed")
		}
		return
	}
	to := ss.abs(arg)
	if arg == "" || to == "/" || isTempName(path.Base(to)) || strings.HasPrefix(to, from+"/") {
		ss.reply(550, "Rename failed")
		return
	}
	unlock, err := ss.lockFiles(ss.ctx, fsName(from), fsName(to))
	if err != nil {
		return // the session is ending
	}
	defer unlock()
	if _, err := ss.fs.Stat(fsName(to)); err == nil && ss.shipped() { // FileX never replaces
		ss.reply(550, "Rename failed")
		return
	}
	if ss.changed(ss.fs.Rename(fsName(from), fsName(to)), "Rename failed", "rename", "from", from, "to", to) {
		ss.reply(250, "File Renamed")
	}
}

// netxCrash handles a command on which the shipped NetX Duo 6.4.2 server dereferences a NULL pointer
// and the device dies. Deliberate exception: the simulated server logs the defect and closes only this
// session, or, with Server.NetXCrash, stops the whole FTP server as the real device would.
func (ss *session) netxCrash(what string) {
	then := "closing this session"
	if ss.srv.NetXCrash {
		then = "stopping the FTP server (NetXCrash)"
	}
	ss.log.Error("ftp: "+what+": NetX Duo 6.4.2 dereferences a NULL rename pointer here and the real device crashes; "+then,
		"defect", "nx_ftp_server RNTO without RNFR", "stopServer", ss.srv.NetXCrash)
	ss.quitting = true
	if ss.srv.NetXCrash {
		ss.srv.mu.Lock()
		ss.srv.crashed = ErrNetXCrash
		ss.srv.mu.Unlock()
		go ss.srv.Close() // Close waits for this session: not from its own goroutine
	}
}

func (ss *session) cmdOPTS(arg string) {
	a := strings.ToUpper(strings.TrimSpace(arg))
	switch {
	case a == "UTF8" || a == "UTF8 ON" || a == "UTF-8 ON":
		ss.reply(200, "Always in UTF8 mode")
	case strings.HasPrefix(a, "MLST"):
		ss.reply(200, "MLST OPTS type;size;modify;")
	default:
		ss.reply(501, "Option not understood")
	}
}

func (ss *session) cmdHELP() {
	var b strings.Builder
	b.WriteString("The following commands are recognized:\n")
	var all []string
	for _, c := range ftp.Commands {
		if c.Implemented(true) { // HELP is an extended command: the extended set
			all = append(all, c.Verb)
		}
	}
	slices.Sort(all)
	for i := 0; i < len(all); i += 8 {
		b.WriteString(" " + strings.Join(all[i:min(i+8, len(all))], " ") + "\n")
	}
	b.WriteString("Help OK")
	ss.reply(214, b.String())
}

func (ss *session) cmdSTAT(arg string) {
	if arg == "" {
		mode := "ASCII"
		if ss.binary {
			mode = "BINARY"
		}
		who := "not logged in"
		if ss.loggedIn {
			who = "logged in as " + ss.user
		}
		xfer := "No data connection"
		if ss.xfer != nil {
			xfer = "A transfer is in progress"
		}
		ss.reply(211, fmt.Sprintf("netxsim FTP server status:\n Connected to %s\n %s\n TYPE: %s\n %s\nEnd of status", ss.peer.Addr(), who, mode, xfer))
		return
	}
	lines, _, err := ss.listing(stripListOptions(arg), listLIST)
	if err != nil {
		ss.reply(550, "Bad Directory")
		return
	}
	body := strings.ReplaceAll(strings.TrimRight(string(lines), "\r\n"), "\r\n", "\n ")
	if body != "" {
		body = " " + body + "\n"
	}
	ss.reply(213, "Status follows:\n"+body+"End of status")
}

func (ss *session) cmdSIZE(arg string) {
	fi, err := ss.fs.Stat(fsName(ss.abs(arg)))
	if arg == "" || err != nil || fi.IsDir() {
		ss.reply(550, "Could not get file size")
		return
	}
	ss.reply(213, strconv.FormatInt(fi.Size(), 10))
}

func (ss *session) cmdMDTM(arg string) {
	fi, err := ss.fs.Stat(fsName(ss.abs(arg)))
	if arg == "" || err != nil || fi.IsDir() {
		ss.reply(550, "Could not get file modification time")
		return
	}
	ss.reply(213, ftp.MLSTime(fi.ModTime()))
}

func (ss *session) cmdREST(arg string) {
	n, err := strconv.ParseInt(strings.TrimSpace(arg), 10, 64)
	if err != nil || n < 0 {
		ss.reply(501, "REST needs a non-negative byte offset")
		return
	}
	ss.rest = n
	ss.reply(350, fmt.Sprintf("Restarting at %d. Send STOR or RETR", n))
}

func (ss *session) cmdMLST(arg string) {
	p := ss.cwd
	if arg != "" {
		p = ss.abs(arg)
	}
	fi, err := ss.fs.Stat(fsName(p))
	if err != nil {
		ss.reply(550, "No such file or directory")
		return
	}
	facts := ftp.FormatMLSFacts(fi)
	facts = facts[:strings.Index(facts, "; ")+2] + p
	ss.reply(250, "Listing "+p+"\n "+facts+"\nEnd")
}

// sync flushes the back end after a change so a killed process leaves a consistent image.
// changed ends a command's change of the file system: a failure (err) is logged as what failed,
// with the attributes attrs, and answered 550 fail; a success is synced to the medium. It says
// whether the change was made.
func (ss *session) changed(err error, fail, what string, attrs ...any) bool {
	if err != nil {
		ss.log.Info("ftp: "+what+" failed", append(attrs, "err", err)...)
		ss.reply(550, fail)
		return false
	}
	ss.sync()
	return true
}

func (ss *session) sync() error {
	if s, ok := ss.srv.FS.(syncer); ok {
		if err := s.Sync(); err != nil {
			ss.log.Warn("ftp: file system sync failed", "err", err)
			return err
		}
	}
	return nil
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
