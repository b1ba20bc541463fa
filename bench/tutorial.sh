#!/bin/sh
# The FreeBSD 14.2 jail tutorial's steps as a plain shell script: the baseline of bench/run.py.
#
#   tutorial.sh ROOT BIN RELEASE_URL SPEC
#
# ROOT         prefix of every host path the script edits itself ("" on a real host; the scratch root in a
#              rehearsal)
# BIN          prefix of the FreeBSD tools pw and jail ("" on a real host; "<root>/.rehearsal/bin/" in a
#              rehearsal, whose stand-ins take host paths and map them below the scratch root themselves)
# RELEASE_URL  the release directory holding base.txz (.../amd64/amd64/14.2-RELEASE)
# SPEC         first line:          host INTERFACE UID_LO UID_HI GID_LO GID_HI
#              then one per jail:   NAME JID IPV4 FQDN UID_LO UID_HI GID_LO GID_HI TIMEZONE ROOT_HASH
#              ('-' for no root password hash)
#
# tar is the host's own bsdtar (FreeBSD's tar; Debian's libarchive-tools in a rehearsal, where the formula's
# tar stand-in runs the same bsdtar), on ROOT-prefixed paths like cp and sed; plain tar where bsdtar is absent.
#
# What a careful admin types, once per prisoner, with no checks: fetch base.txz once, then per prisoner
# mkdir, tar -xpf (one decompression each), cp resolv.conf, comment out the console rule and adjkerntz
# with sed, append to /etc/hosts, write pw.conf, touch wall_cmos_clock, link localtime, set root's
# password with pw; then the host's pw.conf, rc.conf and jail.conf, and start every jail.  Not idempotent:
# run it on a fresh host only.
set -eu

ROOT=$1
BIN=$2
RELEASE_URL=$3
SPEC=$4
TAR=$(command -v bsdtar || echo tar)

pw_conf() {
    cat <<EOF
#
# pw.conf - user/group configuration defaults
#

# Password for new users? no=nologin yes=loginid none=blank random=random
defaultpasswd = "no"

# Range of valid default user ids
minuid = $1
maxuid = $2

# Range of valid default group ids
mingid = $3
maxgid = $4
EOF
}

# sed -i spelt so that FreeBSD's sed and GNU sed both accept it.
sed_in_place() {
    sed -i.orig -e "$1" "$2"
    rm "$2.orig"
}

# Step 2, first half: fetch the release once.
if command -v fetch >/dev/null 2>&1; then
    fetch -q -o "$ROOT/tmp/base.txz" "$RELEASE_URL/base.txz"
else
    curl -fsS -o "$ROOT/tmp/base.txz" "$RELEASE_URL/base.txz"
fi

read -r _ IFACE UID_LO UID_HI GID_LO GID_HI <"$SPEC"

# Steps 1-9 for each prisoner, and its lines in the host's rc.conf and jail.conf (step 10).
echo 'jail_enable="YES"' >>"$ROOT/etc/rc.conf"
: >"$ROOT/etc/jail.conf"
alias=0
tail -n +2 "$SPEC" | while read -r name jid ip fqdn uid_lo uid_hi gid_lo gid_hi tz hash; do
    jail=/home/jail/$name
    etc=$ROOT$jail/etc
    mkdir -p "$ROOT$jail"
    "$TAR" -xpf "$ROOT/tmp/base.txz" -C "$ROOT$jail"
    cp "$ROOT/etc/resolv.conf" "$etc/resolv.conf"
    sed_in_place 's/^\*\.err;kern\.warning;auth\.notice;mail\.crit[[:blank:]]/#&/' "$etc/syslog.conf"
    sed_in_place 's/^[^#].*[[:blank:]]adjkerntz -a$/#&/' "$etc/crontab"
    printf '%s\t\t%s %s\n' "$ip" "$fqdn" "${fqdn%%.*}" >>"$etc/hosts"
    pw_conf "$uid_lo" "$uid_hi" "$gid_lo" "$gid_hi" >"$etc/pw.conf"
    touch "$etc/wall_cmos_clock"
    ln -s "/usr/share/zoneinfo/$tz" "$etc/localtime"
    if [ "$hash" != - ]; then
        printf '%s\n' "$hash" | "${BIN}pw" -R "$jail" usermod root -H 0
    fi

    echo "ifconfig_${IFACE}_alias${alias}=\"inet $ip netmask 255.255.255.255\"" >>"$ROOT/etc/rc.conf"
    [ "$alias" -eq 0 ] || echo >>"$ROOT/etc/jail.conf"
    cat >>"$ROOT/etc/jail.conf" <<EOF
$name {
    jid = $jid;
    path = "$jail";
    ip4.addr = $ip;
    host.hostname = $fqdn;
    interface = $IFACE;
    allow.chflags;
    allow.raw_sockets;
    exec.start = "/bin/sh /etc/rc";
    exec.stop = "/bin/sh /etc/rc.shutdown jail";
    exec.clean;
    mount.devfs;
    devfs_ruleset = 4;
}
EOF
    alias=$((alias + 1))
done

# Step 7 on the host, then step 12: start the prisoners.
pw_conf "$UID_LO" "$UID_HI" "$GID_LO" "$GID_HI" >"$ROOT/etc/pw.conf"
tail -n +2 "$SPEC" | while read -r name _; do
    "${BIN}jail" -f /etc/jail.conf -c "$name"
done
