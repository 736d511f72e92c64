#!/usr/bin/env bash
# tap-setup.sh: create or delete a persistent, user-owned TAP for netxsim,
# optionally inside a network namespace, with the kernel side addressed.
# In the spirit of Zephyr's net-setup.sh. Run once as root; afterwards the
# owner runs `netxsim up --tap NAME` without root.
set -euo pipefail

prog=${0##*/}
action=
tap=nxs0
user=${SUDO_USER:-$(id -un)}
group=
netns=
ipv4=198.51.100.1/24
ipv6=2001:db8::1/64
mtu=1500

usage() {
	cat <<EOF
Usage: $prog add|del|show [options]

Create (add), delete (del) or describe (show) a persistent TAP that a normal
user can open without root, with the kernel side addressed.

Options:
  --tap NAME        TAP name, at most 15 characters (default: $tap)
  --user USER       owner of the TAP (default: $user)
  --group GROUP     group that may open the TAP too (default: none)
  --netns NAME      put the TAP in this network namespace, created if missing
                    (deleted again by 'del' when it is empty)
  --ipv4 CIDR       kernel-side IPv4 address (default: $ipv4; 'none' for none)
  --ipv6 CIDR       kernel-side IPv6 address, no DAD (default: $ipv6; 'none')
  --mtu N           MTU (default: $mtu)
  -h, --help        this help

Addresses must be documentation ranges (198.51.100.0/24, 203.0.113.0/24,
2001:db8::/32); 192.0.2.0/24 is refused. The device side then uses
198.51.100.2/24 and 2001:db8::2/64:

  sudo $prog add --tap nxs0 --user \$USER
  netxsim up --tap nxs0 --ipv4 198.51.100.2/24 --ipv6 2001:db8::2/64
  ping 198.51.100.2
  sudo $prog del --tap nxs0

Without --netns the kernel side lives in your root namespace: the addresses
are documentation ranges and route only to the TAP, but prefer --netns on a
shared machine and reach the device with 'ip netns exec NAME ...'.
EOF
}

die() { echo "$prog: $*" >&2; exit 1; }
usage_error() { echo "$prog: $*" >&2; echo "Try '$prog --help'." >&2; exit 2; }

[ $# -gt 0 ] || { usage >&2; exit 2; }
case $1 in
-h|--help) usage; exit 0 ;;
add|del|show) action=$1; shift ;;
*) usage_error "unknown action '$1' (want add, del or show)" ;;
esac

while [ $# -gt 0 ]; do
	case $1 in
	-h|--help) usage; exit 0 ;;
	--tap|--user|--group|--netns|--ipv4|--ipv6|--mtu)
		[ $# -ge 2 ] || usage_error "$1 needs a value"
		v=$2
		case $1 in
		--tap) tap=$v ;;
		--user) user=$v ;;
		--group) group=$v ;;
		--netns) netns=$v ;;
		--ipv4) ipv4=$v ;;
		--ipv6) ipv6=$v ;;
		--mtu) mtu=$v ;;
		esac
		shift 2 ;;
	*) usage_error "unknown option '$1'" ;;
	esac
done

[[ $tap =~ ^[A-Za-z0-9_.-]{1,15}$ ]] || usage_error "invalid TAP name '$tap' (1-15 of A-Z a-z 0-9 _ . -)"
[ -z "$netns" ] || [[ $netns =~ ^[A-Za-z0-9_.-]{1,64}$ ]] || usage_error "invalid namespace name '$netns'"
[[ $mtu =~ ^[0-9]+$ ]] && [ "$mtu" -ge 1280 ] && [ "$mtu" -le 65521 ] || usage_error "invalid MTU '$mtu' (1280..65521)"

check_v4() {
	[ "$1" = none ] && return 0
	[[ $1 =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})/([0-9]{1,2})$ ]] || usage_error "invalid IPv4 CIDR '$1' (want e.g. 198.51.100.1/24)"
	local o
	for o in "${BASH_REMATCH[@]:1:4}"; do [ "$o" -le 255 ] || usage_error "invalid IPv4 CIDR '$1'"; done
	[ "${BASH_REMATCH[5]}" -le 32 ] || usage_error "invalid IPv4 prefix length in '$1'"
	case $1 in
	198.51.100.*|203.0.113.*) ;;
	192.0.2.*) usage_error "192.0.2.0/24 is refused: build machines use it for their uplink" ;;
	*) usage_error "'$1' is not in a documentation range (198.51.100.0/24, 203.0.113.0/24)" ;;
	esac
}
check_v6() {
	[ "$1" = none ] && return 0
	[[ $1 =~ ^[0-9A-Fa-f:]+/[0-9]{1,3}$ ]] || usage_error "invalid IPv6 CIDR '$1' (want e.g. 2001:db8::1/64)"
	[ "${1##*/}" -le 128 ] || usage_error "invalid IPv6 prefix length in '$1'"
	case ${1,,} in
	2001:db8:*|2001:0db8:*) ;;
	*) usage_error "'$1' is not in 2001:db8::/32" ;;
	esac
}

need_root() { [ "$(id -u)" -eq 0 ] || die "must run as root (sudo $prog $action ...): creating a TAP needs CAP_NET_ADMIN"; }
command -v ip >/dev/null || die "ip (iproute2) not found: apt-get install iproute2"

ipn=(ip)
[ -z "$netns" ] || ipn=(ip -n "$netns")

case $action in
add)
	check_v4 "$ipv4"; check_v6 "$ipv6"
	need_root
	[ -e /dev/net/tun ] || die "/dev/net/tun is missing: modprobe tun"
	id -u "$user" >/dev/null 2>&1 || usage_error "no such user '$user'"
	[ -z "$group" ] || getent group "$group" >/dev/null || usage_error "no such group '$group'"
	made_ns=0
	if [ -n "$netns" ] && ! ip netns list | awk '{print $1}' | grep -qx -- "$netns"; then
		ip netns add "$netns"
		made_ns=1
		ip -n "$netns" link set lo up
	fi
	if "${ipn[@]}" link show dev "$tap" >/dev/null 2>&1; then
		[ "$made_ns" = 0 ] || ip netns del "$netns"
		die "a link named '$tap' exists${netns:+ in namespace $netns}: pick another --tap or '$prog del --tap $tap'"
	fi
	# Undo what this run made if a later step fails.
	cleanup() {
		"${ipn[@]}" link del "$tap" 2>/dev/null || true
		[ "$made_ns" = 0 ] || ip netns del "$netns" 2>/dev/null || true
	}
	trap 'cleanup; echo "$prog: failed; nothing left behind" >&2' ERR
	"${ipn[@]}" tuntap add dev "$tap" mode tap user "$user" ${group:+group "$group"}
	"${ipn[@]}" link set dev "$tap" mtu "$mtu"
	[ "$ipv4" = none ] || "${ipn[@]}" addr add "$ipv4" dev "$tap"
	[ "$ipv6" = none ] || "${ipn[@]}" addr add "$ipv6" dev "$tap" nodad
	"${ipn[@]}" link set dev "$tap" up
	trap - ERR
	echo "TAP $tap${netns:+ in namespace $netns} for user $user${group:+, group $group}: kernel side ${ipv4/none/-} ${ipv6/none/-}"
	if [ -n "$netns" ]; then
		echo "run: ip netns exec $netns netxsim up --tap $tap --ipv4 198.51.100.2/24 --ipv6 2001:db8::2/64"
	else
		echo "run: netxsim up --tap $tap --ipv4 198.51.100.2/24 --ipv6 2001:db8::2/64"
	fi
	;;
del)
	need_root
	if "${ipn[@]}" link show dev "$tap" >/dev/null 2>&1; then
		"${ipn[@]}" link del dev "$tap"
		echo "deleted TAP $tap${netns:+ in namespace $netns}"
	else
		echo "no TAP $tap${netns:+ in namespace $netns}"
	fi
	if [ -n "$netns" ] && ip netns list | awk '{print $1}' | grep -qx -- "$netns"; then
		# Remove the namespace only when nothing but loopback is left.
		if [ "$(ip -n "$netns" -o link show | grep -vc ': lo:')" = 0 ]; then
			ip netns del "$netns"
			echo "deleted namespace $netns"
		else
			echo "namespace $netns still holds links; left in place"
		fi
	fi
	;;
show)
	"${ipn[@]}" -d link show dev "$tap" || die "no TAP '$tap'${netns:+ in namespace $netns}"
	"${ipn[@]}" addr show dev "$tap"
	;;
esac
