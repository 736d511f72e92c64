// Package client is the FTP client of the simulated device: NetX Duo's nx_ftp_client_* services in Go
// form, over any network that can listen and dial (the device's *stack.IP, or stack.Kernel for the
// host's own stack).
//
// A Client is made by Dial (which reads the greeting) and Login; then Mkdir, Rmdir, Chdir, Pwd,
// NameList/Names, List, Retr, Stor, Delete, Rename and Quit map to the NetX services (see
// docs/ftp-client.md for the table). Size, ModTime and resumed transfers (RetrFrom, StorFrom) are used
// only with servers that announce SIZE, MDTM and REST STREAM in their FEAT reply.
//
// Data connections are active by default, as in NetX: PORT on an IPv4 control connection, EPRT on an
// IPv6 one, with the listener on the same network as the control connection. Passive mode uses PASV
// (IPv4) or EPSV (IPv6). Transfers are in stream mode or, as nx_ftp_client_transfer_mode_set allows,
// block mode (MODE B, RFC 959 3.4.2) with an optional declared size (Upload.SetSize, as
// nx_ftp_client_file_size_set).
//
// With ftp.ProfileNetXDuo the client sends byte for byte what NetX's client sends (TYPE I before every
// file transfer and none before NLST, zero-padded PORT numbers, EPRT with the full upper-case IPv6
// form, MODE B after the data connection is set up). The default, ftp.ProfileExtended, sends what a
// modern client sends (TYPE only when it changes, TYPE A for listings, compact PORT/EPRT).
//
// Every call takes a context whose deadline and cancellation apply to the control connection and,
// for transfers, to the data connection until the Download, Upload or Lines is closed. A Client is
// used by one goroutine at a time; any number of Clients may run concurrently.
//
// Errors: a negative reply (4xx, 5xx) is returned wrapped around an *ftp.Error (errors.As finds it;
// Temporary reports 4xx). A transfer that ends early (an error reply, a data connection that closes
// before a block-mode end-of-file marker or before the size the server announced, a control
// connection that closes before the completion reply) is always an error, never a short success.
package client
