package ftp

// CommandSpec is what the project knows of one command verb, in one table that the server (which
// commands a profile answers, before login, to a read-only user, during a transfer) and ftpcheck
// (what may succeed before login, which commands move data) both read, so they cannot disagree.
type CommandSpec struct {
	Verb string
	// Func is what the command does (RFC 959, 2389, 2428, 3659), for documentation and reports.
	Func string
	// NetX: NetX Duo's server implements it (every profile answers it). Extended: only the extended
	// profile does. Neither: a command of the RFCs this server does not implement (502).
	NetX, Extended bool
	// PreLogin: the extended server answers it before login (a netxduo server answers only USER and
	// PASS there). MayPreLogin: a server may accept it before login (ftpcheck does not flag a success).
	PreLogin, MayPreLogin bool
	// Writes: it changes the file system, so a read-only login gets 532 (as NetX answers).
	Writes bool
	// Transfer: it moves data over a data connection.
	Transfer bool
	// DuringTransfer: the extended server runs it at once while a transfer runs (anything else waits
	// for the transfer's end, as RFC 959 allows).
	DuringTransfer bool
}

// Commands is the command table, in RFC order within each group.
var Commands = []CommandSpec{
	// Access control.
	{Verb: "USER", Func: "user name", NetX: true, PreLogin: true, MayPreLogin: true},
	{Verb: "PASS", Func: "password", NetX: true, PreLogin: true, MayPreLogin: true},
	{Verb: "ACCT", Func: "account", MayPreLogin: true},
	{Verb: "CWD", Func: "change working directory", NetX: true},
	{Verb: "XCWD", Func: "CWD (RFC 775)", Extended: true},
	{Verb: "CDUP", Func: "change to parent directory", NetX: true},
	{Verb: "XCUP", Func: "CDUP (RFC 775)", Extended: true},
	{Verb: "QUIT", Func: "logout", NetX: true, PreLogin: true, MayPreLogin: true},
	// Transfer parameters.
	{Verb: "PORT", Func: "active data connection to an IPv4 address", NetX: true},
	{Verb: "EPRT", Func: "active data connection to any address (RFC 2428)", NetX: true},
	{Verb: "PASV", Func: "passive data connection on IPv4", NetX: true},
	{Verb: "EPSV", Func: "passive data connection on any family (RFC 2428)", NetX: true},
	{Verb: "TYPE", Func: "representation type", NetX: true},
	{Verb: "STRU", Func: "file structure", Extended: true},
	{Verb: "MODE", Func: "transfer mode (stream, block)", NetX: true},
	// Service commands.
	{Verb: "RETR", Func: "download a file", NetX: true, Transfer: true},
	{Verb: "STOR", Func: "upload a file", NetX: true, Writes: true, Transfer: true},
	{Verb: "STOU", Func: "upload under a unique name", Writes: true, Transfer: true},
	{Verb: "APPE", Func: "append to a file", Extended: true, Writes: true, Transfer: true},
	{Verb: "ALLO", Func: "allocate storage", Extended: true},
	{Verb: "REST", Func: "restart offset (RFC 3659 stream mode)", Extended: true},
	{Verb: "RNFR", Func: "rename from", NetX: true, Writes: true},
	{Verb: "RNTO", Func: "rename to", NetX: true, Writes: true},
	{Verb: "ABOR", Func: "abort the transfer", Extended: true, DuringTransfer: true},
	{Verb: "DELE", Func: "delete a file", NetX: true, Writes: true},
	{Verb: "RMD", Func: "remove a directory", NetX: true, Writes: true},
	{Verb: "XRMD", Func: "RMD (RFC 775)", NetX: true, Writes: true},
	{Verb: "MKD", Func: "make a directory", NetX: true, Writes: true},
	{Verb: "XMKD", Func: "MKD (RFC 775)", NetX: true, Writes: true},
	{Verb: "PWD", Func: "print working directory", NetX: true},
	{Verb: "XPWD", Func: "PWD (RFC 775)", Extended: true},
	{Verb: "LIST", Func: "directory listing", NetX: true, Transfer: true},
	{Verb: "NLST", Func: "name list", NetX: true, Transfer: true},
	{Verb: "SYST", Func: "system type", Extended: true, PreLogin: true, MayPreLogin: true},
	{Verb: "STAT", Func: "status", Extended: true, MayPreLogin: true},
	{Verb: "HELP", Func: "help", Extended: true, PreLogin: true, MayPreLogin: true},
	{Verb: "NOOP", Func: "no operation", NetX: true, PreLogin: true, MayPreLogin: true},
	// Extensions.
	{Verb: "FEAT", Func: "feature list (RFC 2389)", Extended: true, PreLogin: true, MayPreLogin: true},
	{Verb: "OPTS", Func: "options (RFC 2389)", Extended: true, PreLogin: true, MayPreLogin: true},
	{Verb: "SIZE", Func: "file size (RFC 3659)", Extended: true},
	{Verb: "MDTM", Func: "modification time (RFC 3659)", Extended: true},
	{Verb: "MLSD", Func: "machine listing of a directory (RFC 3659)", Extended: true, Transfer: true},
	{Verb: "MLST", Func: "machine listing of one entry (RFC 3659)", Extended: true},
	{Verb: "AUTH", Func: "security mechanism (RFC 2228, 4217)", MayPreLogin: true},
	{Verb: "PBSZ", Func: "protection buffer size (RFC 2228)", MayPreLogin: true},
	{Verb: "PROT", Func: "data channel protection (RFC 2228)", MayPreLogin: true},
	{Verb: "HOST", Func: "virtual host (RFC 7151)", MayPreLogin: true},
	{Verb: "CLNT", Func: "client name", MayPreLogin: true},
	{Verb: "LANG", Func: "language (RFC 2640)", MayPreLogin: true},
}

var commandIndex = func() map[string]CommandSpec {
	m := make(map[string]CommandSpec, len(Commands))
	for _, c := range Commands {
		m[c.Verb] = c
	}
	return m
}()

// LookupCommand returns the table's entry for an upper-case verb.
func LookupCommand(verb string) (CommandSpec, bool) {
	c, ok := commandIndex[verb]
	return c, ok
}

// Implemented reports whether the server answers the command in a profile (extended: the extended
// profile; otherwise a NetX one).
func (c CommandSpec) Implemented(extended bool) bool { return c.NetX || extended && c.Extended }
