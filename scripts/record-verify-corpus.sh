#!/usr/bin/env bash
# Records ftp/ftpcheck/testdata/corpus/clients-{netxduo,extended}.pcapng: our server in both profiles
# driven by real Debian clients (curl -C - resumes and TYPE A, wget with and without passive mode,
# inetutils-ftp, tnftp, ncftpget, busybox ftpget -c/ftpput) while dumpcap captures on loopback.
# TestVerifyRecordedCorpus then checks them on any machine, without root or the clients.
# Needs root and the peers scripts/test.sh installs.
set -euo pipefail
cd "$(dirname "$0")/.."
NETXSIM_RECORD_CORPUS=1 go test ./ftp/ftpcheck/ -run 'TestVerifyRealClientCorpus' -count=1 -v | grep -E 'recorded|client runs|^(ok|FAIL|---)'
ls -l ftp/ftpcheck/testdata/corpus/
