#!/usr/bin/env bash
# Runs every netxsim test, TAP and interop tests included.
# It first installs the Debian peers the tests need when they are missing (as root, e.g. on CI);
# without root it runs what it can and the tests that need a missing tool skip with a reason.
#
#   scripts/test.sh            # everything (go test ./...)
#   scripts/test.sh ./ftp/...  # just some packages; extra args go to `go test`
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian package -> a command it provides, to tell whether it is installed.
declare -A need=(
  [curl]=curl [lftp]=lftp [python3]=/usr/bin/python3 [vsftpd]=/usr/sbin/vsftpd
  [python3-pyftpdlib]=/usr/lib/python3/dist-packages/pyftpdlib [tshark]=tshark
  [dosfstools]=mkfs.fat [mtools]=mcopy [iproute2]=ip [iputils-ping]=ping [netcat-openbsd]=nc.openbsd
  # more FTP clients: each has its own PORT/EPRT/REST/QUIT habits (verify corpus, link-local interop)
  [inetutils-ftp]=inetutils-ftp [tnftp]=tnftp [wget]=wget [ncftp]=ncftpget [busybox]=busybox
  [ethtool]=ethtool  # the Linux vxlan interop test: checksum offload off on its underlay veth
)
missing=()
for pkg in "${!need[@]}"; do
  probe=${need[$pkg]}
  if [[ $probe == /* ]]; then [[ -e $probe ]] || missing+=("$pkg")
  else command -v "$probe" >/dev/null 2>&1 || missing+=("$pkg"); fi
done

# pure-ftpd conflicts with vsftpd as a package, so it is unpacked, not installed.
peers=${NETXSIM_PEERS:-/opt/netxsim-peers}
pureftpd="$peers/pure-ftpd/usr/sbin/pure-ftpd"

if [[ $(id -u) -eq 0 ]]; then
  export DEBIAN_FRONTEND=noninteractive
  if ((${#missing[@]})) || [[ ! -x $pureftpd ]]; then
    apt-get update -qq
  fi
  if ((${#missing[@]})); then
    echo "test.sh: installing ${missing[*]}"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  if [[ ! -x $pureftpd ]]; then
    tmp=$(mktemp -d)
    (cd "$tmp" && apt-get download -qq pure-ftpd >/dev/null)
    mkdir -p "$peers/pure-ftpd"
    dpkg-deb -x "$tmp"/pure-ftpd_*.deb "$peers/pure-ftpd"
    rm -rf "$tmp"
  fi
elif ((${#missing[@]})); then
  echo "test.sh: not root, so not installing ${missing[*]}: tests that need them will skip" >&2
fi
export NETXSIM_PUREFTPD="$pureftpd"

go vet ./...
if (($#)); then
  exec go test -timeout 45m "$@"
fi
exec go test -timeout 45m ./...
