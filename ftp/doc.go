// Package ftp is the FTP protocol vocabulary shared by netxsim's server, client and capture checker:
// command lines, replies, the PORT/EPRT/PASV/EPSV address codecs, NetX's LIST line, MLSx facts, the
// RFC 959 command/reply table and the two behaviour profiles.
//
// It does no I/O of its own beyond reading lines and replies from an io.Reader, so every function
// here can be tested and fuzzed alone.
package ftp
