#!/bin/sh
# What Bastille's `bastille create` runs for a thin jail, as a plain shell script: the baseline of bench/bench_thin.py.
#
#   bastille_thin.sh ROOT BIN RELEASE_URL SPEC
#
# Arguments as bench/tutorial.sh's (ROOT prefixes host paths the script touches itself; BIN prefixes the FreeBSD
# tools, the rehearsal's stand-ins; SPEC: the same file, first line the host, then one line per jail).
#
# Reproduced from BastilleBSD/bastille, usr/local/share/bastille/create.sh at commit 040f8061f6c6 (create_jail and
# post_create_jail, the thin branch: THICK_JAIL=0, CLONE_JAIL=0, no ZFS, no VNET, no template):
#   - once, what `bastille bootstrap` leaves: the release extracted into releases/RELEASE;
#   - per jail: the paths (lines 407-412); mkdir -p jails/NAME/root (438); the log directory (449-452);
#     mkdir .bastille and .template (685-692) and usr/local (694-696); post_create_jail: the fstab line
#     `RELEASE_DIR ROOT/.bastille nullfs ro 0 0` (390-392) and jail.conf from generate_jail_conf (235-263);
#     the LINK_LIST symlinks `ln -sf /.bastille/X X` (701-706); the FILE_LIST copies `cp -a` (717-727);
#     home (803-806); etc/localtime (808-820); touch etc/fstab and the adjkerntz sed (822-826);
#   - then `bastille start NAME`: jail -f jails/NAME/jail.conf -c NAME.
# Bastille's default thin template (resolv.conf etc.) runs after the start and is not reproduced: the formula's
# thin build is compared with the jail creation itself.
set -eu

ROOT=$1
BIN=$2
RELEASE_URL=$3
SPEC=$4
TAR=$(command -v bsdtar || command -v tar)

prefix=/usr/local/bastille
releases=$prefix/releases
jails=$prefix/jails
logs=/var/log/bastille
release=14.2-RELEASE

# bastille bootstrap (once): fetch and extract the release.
mkdir -p "$ROOT$releases/$release" "$ROOT/tmp"
if command -v fetch >/dev/null 2>&1; then
    fetch -q -o "$ROOT/tmp/base.txz" "$RELEASE_URL/base.txz"
else
    curl -fsS -o "$ROOT/tmp/base.txz" "$RELEASE_URL/base.txz"
fi
"$TAR" -xpf "$ROOT/tmp/base.txz" -C "$ROOT$releases/$release"

tail -n +2 "$SPEC" | while read -r name _jid ip _fqdn _ _ _ _ tz _hash; do
    # create.sh 407-412
    jail=$jails/$name
    base=$jail/root/.bastille
    template=$jail/root/.template
    path=$jail/root
    fstab=$jail/fstab
    conf=$jail/jail.conf
    log=$logs/$name/console.log
    mkdir -p "$ROOT$path"                                                      # 438
    mkdir -p "$ROOT$logs/$name"                                                # 449-452
    mkdir -p "$ROOT$base"                                                      # 685-692
    mkdir -p "$ROOT$template"
    mkdir -p "$ROOT$path/usr/local"                                            # 694-696
    cd "$ROOT$path"                                                            # 376
    echo "$releases/$release $base nullfs ro 0 0" >"$ROOT$fstab"               # 390-392
    cat >"$ROOT$conf" <<EOF
$name {
  enforce_statfs = 2;
  devfs_ruleset = 4;
  exec.clean;
  exec.consolelog = $log;
  exec.start = '/bin/sh /etc/rc';
  exec.stop = '/bin/sh /etc/rc.shutdown';
  host.hostname = $name;
  mount.devfs;
  mount.fstab = $fstab;
  path = $path;
  securelevel = 2;
  osrelease = "$release";

  ip4.addr = em0|$ip;

  ip6 = disable;
}
EOF
    for link in bin boot lib libexec rescue sbin usr/bin usr/include usr/lib usr/lib32 usr/libdata usr/libexec \
                usr/sbin usr/share usr/src; do                                 # 701-706
        ln -sf "/.bastille/$link" "$link"
    done
    for files in .cshrc .profile COPYRIGHT dev etc media mnt net proc root tmp var usr/obj usr/tests; do   # 717-727
        if [ -f "$ROOT$releases/$release/$files" ] || [ -d "$ROOT$releases/$release/$files" ]; then
            cp -a "$ROOT$releases/$release/$files" "$ROOT$path/$files"
        fi
    done
    [ -d "$ROOT$path/home" ] || mkdir -p "$ROOT$path/home"                     # 803-806
    ln -s "/usr/share/zoneinfo/$tz" etc/localtime                              # 808-820
    touch etc/fstab                                                            # 822-824
    sed -i.orig 's|[0-9],[0-9]\{2\}.*[0-9]-[0-9].*root.*kerntz -a|#& # Disabled by bastille|' etc/crontab   # 826
    rm etc/crontab.orig
    "${BIN}jail" -f "$conf" -c "$name"                                          # bastille start
done
