package ftp

import "strings"

// replyTable is RFC 959 section 5.4 ("Command-Reply Sequences"), with RFC 2428 (EPRT, EPSV),
// RFC 2389 (FEAT, OPTS) and RFC 3659 (SIZE, MDTM, REST, MLST, MLSD) added, and the X-forms of RFC 775.
// Codes any command may get (421, 500, 501, 502) are in anyCommand rather than repeated here.
var replyTable = map[string][]int{
	"":     {120, 220, 421}, // connection greeting
	"USER": {230, 530, 331, 332},
	"PASS": {230, 202, 530, 503, 332},
	"ACCT": {230, 202, 530, 503},
	"CWD":  {250, 530, 550},
	"CDUP": {200, 250, 530, 550}, // RFC 959 lists 200, its text says "as CWD": both are seen
	"SMNT": {202, 250, 530, 550},
	"REIN": {120, 220},
	"QUIT": {221},
	"PORT": {200, 530},
	"PASV": {227, 530},
	"MODE": {200, 504, 530},
	"TYPE": {200, 504, 530},
	"STRU": {200, 504, 530},
	"ALLO": {200, 202, 504, 530},
	"REST": {350, 530},
	"STOR": {110, 125, 150, 226, 250, 425, 426, 451, 551, 552, 532, 450, 452, 553, 530},
	"STOU": {110, 125, 150, 226, 250, 425, 426, 451, 551, 552, 532, 450, 452, 553, 530},
	"APPE": {110, 125, 150, 226, 250, 425, 426, 451, 551, 552, 532, 450, 550, 452, 553, 530},
	"RETR": {110, 125, 150, 226, 250, 425, 426, 451, 450, 550, 530},
	"LIST": {125, 150, 226, 250, 425, 426, 451, 450, 530},
	"NLST": {125, 150, 226, 250, 425, 426, 451, 450, 530},
	"RNFR": {450, 550, 530, 350},
	"RNTO": {250, 532, 553, 503, 530},
	"DELE": {250, 450, 550, 530},
	"RMD":  {250, 530, 550},
	"MKD":  {257, 530, 550},
	"PWD":  {257, 550},
	"ABOR": {225, 226},
	"SYST": {215},
	"STAT": {211, 212, 213, 450, 530},
	"HELP": {211, 214},
	"SITE": {200, 202, 530},
	"NOOP": {200},
	"EPRT": {200, 522, 530},
	"EPSV": {229, 522, 530},
	"FEAT": {211},
	"OPTS": {200, 451},
	"SIZE": {213, 550, 530},
	"MDTM": {213, 550, 530},
	"MLST": {250, 550, 530},
	"MLSD": {125, 150, 226, 250, 425, 426, 451, 450, 550, 530},
}

// xForms maps the RFC 775 experimental verbs to their RFC 959 equivalents.
var xForms = map[string]string{"XCWD": "CWD", "XCUP": "CDUP", "XMKD": "MKD", "XRMD": "RMD", "XPWD": "PWD"}

var anyCommand = []int{421, 500, 501, 502}

// ReplyCodeAllowed reports whether code is a reply RFC 959 (and the extension RFCs) allow for verb.
// The verb "" stands for the connection greeting. An unknown verb may only be refused (4xx/5xx).
// NetX's own deviations are deliberately NOT allowed, so a checker can report them: MKD answered with
// 200, 532 for a read-only RNFR/DELE/RMD/MKD, and 530 for QUIT or NOOP before login.
func ReplyCodeAllowed(verb string, code int) bool {
	for _, c := range anyCommand {
		if c == code {
			return true
		}
	}
	v := strings.ToUpper(verb)
	if x, ok := xForms[v]; ok {
		v = x
	}
	codes, ok := replyTable[v]
	if !ok {
		return code >= 400 && code < 600 && code != 425 && code != 426
	}
	for _, c := range codes {
		if c == code {
			return true
		}
	}
	return false
}
