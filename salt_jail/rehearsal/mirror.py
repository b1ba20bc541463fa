"""A synthetic FreeBSD release mirror for tests, the demo and the benchmarks.

:func:`make_release` writes ``<dest>/<arch-path>/<release>/{base.txz,MANIFEST}`` in the layout of
download.freebsd.org (``amd64/amd64/14.2-RELEASE/``).  The archive is generated, never copied: it holds
the files the provisioning steps edit (``etc/syslog.conf`` with the FreeBSD 14 console rule on line 7,
``etc/crontab`` with ``adjkerntz -a`` on line 22, ``etc/hosts``, ``etc/master.passwd``, ``etc/group``,
``usr/share/zoneinfo/Asia/Tokyo``…), a setuid file, symbolic links, hard links (``rescue/``, the
``clang`` family) and the empty ``dev/``, ``tmp/`` and ``var/`` directories.  Members are named
``./path`` and owned by root:wheel (uid/gid 0) as in a real base.txz.

Files FreeBSD marks ``schg`` (:data:`SCHG_FILES`) carry a ``SCHILY.fflags=schg`` pax record, which is how
bsdtar stores file flags.  The rehearsal's ``tar`` is bsdtar, which restores them on Linux as the immutable
attribute (``chattr +i``); GNU tar ignores the record (with a warning), so tests that run it directly set
the attribute after extraction.  ``etc/login.conf`` holds a ``default`` class whose ``path`` is the stock one.

``size="realistic"`` builds ≥ 20 000 entries and ≥ 150 MB extracted, with content that compresses about
as well as a real base.txz, for the benchmarks.  Generation is deterministic (same arguments, same bytes,
same sha256) and cached under :func:`default_cache_dir`, so it runs once per machine.

:func:`serve` runs a threaded HTTP server on 127.0.0.1 (random port) over a directory.  (The tests' mirror
that fails on purpose — 404/500, cut or slow bodies, a request log — is a :class:`Handler` of their own, in
``tests/support/faulty_mirror.py``.)

Command line (for the demo)::

    python -m salt_jail.rehearsal.mirror DEST [--release 14.2-RELEASE] [--arch amd64] [--size small] [--serve]
"""

import argparse
import copy
import dataclasses
import functools
import hashlib
import http.server
import io
import lzma
import os
import random
import shutil
import struct
import sys
import tarfile
import tempfile
import threading


# Bump when the generated content changes, so cached trees are rebuilt.
GENERATOR_VERSION = 3

# download.freebsd.org's release directory of each platform: <TARGET>/<TARGET_ARCH>.
ARCH_PATHS = {"amd64": "amd64/amd64", "arm64": "arm64/aarch64", "i386": "i386/i386", "riscv64": "riscv/riscv64",
              "armv7": "arm/armv7"}

# All members share one mtime: 2024-12-03 00:00 UTC, the 14.2-RELEASE announcement date.
MTIME = 1733184000

# Files a real base.txz marks ``schg`` (set after extraction in the rehearsal; see the module docstring).
SCHG_FILES = (
    "lib/libc.so.7",
    "libexec/ld-elf.so.1",
    "sbin/init",
    "usr/bin/su",
    "usr/bin/passwd",
    "var/empty",
)

# MANIFEST description and default per distribution (release/scripts/make-manifest.sh).
DIST_INFO = {
    "base": ("Base system (MANDATORY)", "on"),
    "kernel": ("Kernel (MANDATORY)", "on"),
    "lib32": ("32-bit compatibility libraries", "on"),
}

SIZES = ("small", "realistic")

SYSLOG_CONF = """\
#
#	Spaces are accepted as field separators here, but other systems
#	still insist on tabs; if this file is shared with them, keep to
#	tabs between the selector and the action.
#	Logging to a file requires the file to exist (see newsyslog.conf).
#	Consult the syslog.conf(5) manual page.
*.err;kern.warning;auth.notice;mail.crit		/dev/console
*.notice;authpriv.none;kern.debug;lpr.info;mail.crit;news.err	/var/log/messages
security.*					/var/log/security
auth.info;authpriv.info				/var/log/auth.log
mail.info					/var/log/maillog
cron.*						/var/log/cron
!-devd
*.=debug					/var/log/debug.log
*.emerg						*
daemon.info					/var/log/daemon.log
# to log every console write, create /var/log/console.log (mode 600)
# and uncomment the next line
#console.info					/var/log/console.log
# to keep every message, create /var/log/all.log (mode 600)
# and uncomment the next line
#*.*						/var/log/all.log
# to forward everything to a central host called loghost:
#*.*						@loghost
# news server logs, if inn is installed:
# news.crit					/var/log/news/news.crit
# news.err					/var/log/news/news.err
# news.notice					/var/log/news/news.notice
# devd(8) messages, if wanted:
# !devd
# *.>=notice					/var/log/devd.log
!*
include						/etc/syslog.d
include						/usr/local/etc/syslog.d
"""

CRONTAB = """\
# /etc/crontab - root's crontab for FreeBSD
#
#
SHELL=/bin/sh
PATH=/etc:/bin:/sbin:/usr/bin:/usr/sbin
#
#minute	hour	mday	month	wday	who	command
#
# Keep some entropy for /dev/random to reseed from at boot.
*/11	*	*	*	*	operator /usr/libexec/save-entropy
#
# Rotate the logs each hour when they need it.
0	*	*	*	*	root	newsyslog
#
# Daily, weekly and monthly housekeeping.
1	3	*	*	*	root	periodic daily
15	4	*	*	6	root	periodic weekly
30	5	1	*	*	root	periodic monthly
#
# Adjust the time zone if the CMOS clock keeps local time, as opposed to
# UTC time.  See adjkerntz(8) for details.
1,31	0-5	*	*	*	root	adjkerntz -a
"""

HOSTS = """\
#
# Host Database
#
# Addresses and names of hosts this machine needs before (or without)
# the name server.  See hosts(5).
#
::1			localhost localhost.my.domain
127.0.0.1		localhost localhost.my.domain
#
# Imaginary network.
#10.0.0.2		myname.my.domain myname
#10.0.0.3		myfriend.my.domain myfriend
#
# RFC 1918 private networks, never routed on the Internet:
#
#	10.0.0.0	-   10.255.255.255
#	172.16.0.0	-   172.31.255.255
#	192.168.0.0	-   192.168.255.255
#
"""

# name, uid, gid, gecos, home, shell  (root has an empty password, as shipped)
USERS = (
    ("root", 0, 0, "Charlie &", "/root", "/bin/sh"),
    ("toor", 0, 0, "Bourne-again Superuser", "/root", ""),
    ("daemon", 1, 1, "Owner of many system processes", "/root", "/usr/sbin/nologin"),
    ("operator", 2, 5, "System &", "/", "/usr/sbin/nologin"),
    ("bin", 3, 7, "Binaries Commands and Source", "/", "/usr/sbin/nologin"),
    ("tty", 4, 65533, "Tty Sandbox", "/", "/usr/sbin/nologin"),
    ("kmem", 5, 65533, "KMem Sandbox", "/", "/usr/sbin/nologin"),
    ("games", 7, 13, "Games pseudo-user", "/", "/usr/sbin/nologin"),
    ("news", 8, 8, "News Subsystem", "/", "/usr/sbin/nologin"),
    ("man", 9, 9, "Mister Man Pages", "/usr/share/man", "/usr/sbin/nologin"),
    ("sshd", 22, 22, "Secure Shell Daemon", "/var/empty", "/usr/sbin/nologin"),
    ("smmsp", 25, 25, "Sendmail Submission User", "/var/spool/clientmqueue", "/usr/sbin/nologin"),
    ("mailnull", 26, 26, "Sendmail Default User", "/var/spool/mqueue", "/usr/sbin/nologin"),
    ("bind", 53, 53, "Bind Sandbox", "/", "/usr/sbin/nologin"),
    ("unbound", 59, 59, "Unbound DNS Resolver", "/var/unbound", "/usr/sbin/nologin"),
    ("proxy", 62, 62, "Packet Filter pseudo-user", "/nonexistent", "/usr/sbin/nologin"),
    ("_pflogd", 64, 64, "pflogd privsep user", "/var/empty", "/usr/sbin/nologin"),
    ("_dhcp", 65, 65, "dhcp programs", "/var/empty", "/usr/sbin/nologin"),
    ("uucp", 66, 66, "UUCP pseudo-user", "/var/spool/uucppublic", "/usr/local/libexec/uucp/uucico"),
    ("pop", 68, 6, "Post Office Owner", "/nonexistent", "/usr/sbin/nologin"),
    ("auditdistd", 78, 77, "Auditdistd unprivileged user", "/var/empty", "/usr/sbin/nologin"),
    ("www", 80, 80, "World Wide Web Owner", "/nonexistent", "/usr/sbin/nologin"),
    ("ntpd", 123, 123, "NTP Daemon", "/var/db/ntp", "/usr/sbin/nologin"),
    ("_ypldap", 160, 160, "YP LDAP unprivileged user", "/var/empty", "/usr/sbin/nologin"),
    ("hast", 845, 845, "HAST unprivileged user", "/var/empty", "/usr/sbin/nologin"),
    ("tests", 977, 977, "Unprivileged user for tests", "/nonexistent", "/usr/sbin/nologin"),
    ("nobody", 65534, 65534, "Unprivileged user", "/nonexistent", "/usr/sbin/nologin"),
)

GROUPS = (
    ("wheel", 0, "root"), ("daemon", 1, ""), ("kmem", 2, ""), ("sys", 3, ""), ("tty", 4, ""),
    ("operator", 5, "root"), ("mail", 6, ""), ("bin", 7, ""), ("news", 8, ""), ("man", 9, ""),
    ("games", 13, ""), ("ftp", 14, ""), ("staff", 20, ""), ("sshd", 22, ""), ("smmsp", 25, ""),
    ("mailnull", 26, ""), ("guest", 31, ""), ("video", 44, ""), ("realtime", 47, ""), ("bind", 53, ""),
    ("unbound", 59, ""), ("proxy", 62, ""), ("authpf", 63, ""), ("_pflogd", 64, ""), ("_dhcp", 65, ""),
    ("uucp", 66, ""), ("dialer", 68, ""), ("network", 69, ""), ("audit", 77, ""), ("www", 80, ""),
    ("ntpd", 123, ""), ("_ypldap", 160, ""), ("hast", 845, ""), ("tests", 977, ""),
    ("nogroup", 65533, ""), ("nobody", 65534, ""),
)

RC = """\
#!/bin/sh
#
# Rehearsal stand-in for /etc/rc: the real one runs rc.d scripts; this one only succeeds.
exit 0
"""

RC_SHUTDOWN = """\
#!/bin/sh
#
# Rehearsal stand-in for /etc/rc.shutdown ("jail" as $1 when a jail stops).
exit 0
"""

DEFAULTS_RC_CONF = """\
#!/bin/sh
#
# Default settings (synthetic excerpt).  Override them in /etc/rc.conf, never here.
hostname=""
syslogd_enable="YES"
syslogd_flags="-s"
sendmail_enable="NONE"
cron_enable="YES"
jail_enable="NO"
jail_conf="/etc/jail.conf"
jail_confwarn="YES"
jail_parallel_start="NO"
jail_list=""
jail_reverse_stop="NO"
"""

# Time zones: path -> (abbreviation, UTC offset in seconds, POSIX TZ string for the footer).
ZONES = {
    "Asia/Tokyo": ("JST", 9 * 3600, "JST-9"),
    "UTC": ("UTC", 0, "UTC0"),
    "Etc/UTC": ("UTC", 0, "UTC0"),
    "Europe/London": ("GMT", 0, "GMT0BST,M3.5.0/1,M10.5.0"),
    "Europe/Berlin": ("CET", 3600, "CET-1CEST,M3.5.0,M10.5.0/3"),
    "America/New_York": ("EST", -5 * 3600, "EST5EDT,M3.2.0,M11.1.0"),
}

RESCUE_TOOLS = (
    "sh", "ls", "cp", "mv", "rm", "ln", "cat", "chflags", "chmod", "chown", "mkdir", "mount",
    "umount", "ifconfig", "route", "ping", "fsck", "fsck_ffs", "newfs", "tar", "vi", "zfs", "zpool",
)


@dataclasses.dataclass(frozen=True)
class _Body:
    """File content generated when the archive is written, so memory stays flat."""

    make: object    # callable(size) -> bytes
    size: int


@dataclasses.dataclass
class _Tree:
    """Members of one distribution, in archive order (parents before children, link targets first)."""

    members: list = dataclasses.field(default_factory=list)
    _dirs: set = dataclasses.field(default_factory=set)

    def _info(self, path, kind, mode):
        info = tarfile.TarInfo("./" + path if path else ".")
        info.type = kind
        info.mode = mode
        info.uid = info.gid = 0
        info.uname, info.gname = "root", "wheel"
        info.mtime = MTIME
        if path in SCHG_FILES:
            info.pax_headers = {"SCHILY.fflags": "schg"}
        return info

    def dir(self, path, mode=0o755):
        """Add directory ``path`` (``""`` is the root) after any missing parent (mode 0755)."""
        if path in self._dirs:
            return
        if path:
            self.dir(path.rpartition("/")[0])
        self._dirs.add(path)
        self.members.append((self._info(path, tarfile.DIRTYPE, mode), None))

    def _add(self, path, kind, mode, data=None, linkname=""):
        self.dir(path.rpartition("/")[0])
        info = self._info(path, kind, mode)
        info.size = 0 if data is None else data.size if isinstance(data, _Body) else len(data)
        info.linkname = linkname
        self.members.append((info, data))

    def file(self, path, data, mode=0o644):
        self._add(path, tarfile.REGTYPE, mode, data.encode() if isinstance(data, str) else data)

    def symlink(self, path, target):
        self._add(path, tarfile.SYMTYPE, 0o755, linkname=target)

    def hardlink(self, path, target):
        self._add(path, tarfile.LNKTYPE, 0o755, linkname="./" + target)


class _Content:
    """Deterministic file bodies that compress and decompress like a real base.txz.

    Binaries are 64-byte pieces of a shared pool (code and tables LZMA finds again) with 10 % fresh
    random pieces: about 5:1 with xz and ~80 MB/s to decompress, close to a real base.txz.  Random bytes
    alone would be unrealistic both ways (1:1, and LZMA decodes pure literals at ~20 MB/s).
    """

    PIECE = 64
    FRESH = 0.10

    def __init__(self, seed):
        self.rng = random.Random(seed)
        pool = self.rng.randbytes(192 << 10)
        self.pieces = [pool[i:i + self.PIECE] for i in range(0, len(pool) - self.PIECE, 8)]
        words = ["".join(self.rng.choices("abcdefghijklmnopqrstuvwxyz", k=self.rng.randint(2, 10)))
                 for _ in range(600)]
        self.lines = [" ".join(self.rng.choices(words, k=self.rng.randint(3, 12))) + "\n" for _ in range(2000)]

    def binary(self, size):
        return _Body(self._binary, size)

    def text(self, size):
        return _Body(self._text, size)

    def compressed(self, size):
        """A gzip'd man page: already compressed, so incompressible."""
        return _Body(self._compressed, size)

    def _binary(self, size):
        n = size // self.PIECE + 1
        parts = self.rng.choices(self.pieces, k=n)
        for i in self.rng.sample(range(n), int(n * self.FRESH)):
            parts[i] = self.rng.randbytes(self.PIECE)
        return (b"#synthetic FreeBSD binary (not executable)\n" + b"".join(parts))[:size]

    def _text(self, size):
        lines = self.rng.choices(self.lines, k=size // 9 + 1)     # a line has at least 9 bytes
        return "".join(lines).encode()[:size]

    def _compressed(self, size):
        return b"\x1f\x8b\x08\x00" + self.rng.randbytes(max(size - 4, 0))


# login.conf(5): the default class with the stock path capability (what jexec -l and exec.clean set as PATH),
# and root's class, which takes the rest from default (tc=).
LOGIN_CONF = """# login class capabilities (synthetic)
default:\\
\t:path=/sbin /bin /usr/sbin /usr/bin /usr/local/sbin /usr/local/bin ~/bin:\\
\t:umask=022:

root:\\
\t:ignorenologin:\\
\t:tc=default:
"""


def _tzif(abbr, offset, posix):
    """A minimal valid TZif version 2 file for a zone with one fixed type and a POSIX TZ footer."""
    chars = abbr.encode() + b"\0"
    counts = struct.pack(">6l", 0, 0, 0, 0, 1, len(chars))   # isut, isstd, leap, time, type, char
    block = b"TZif2" + b"\0" * 15 + counts + struct.pack(">lBB", offset, 0, 0) + chars
    return block + block + b"\n" + posix.encode() + b"\n"


def _passwd_files():
    master = ["# FreeBSD user database (synthetic)", "#"]
    passwd = list(master)
    for name, uid, gid, gecos, home, shell in USERS:
        pw = "" if name == "root" else "*"
        master.append(f"{name}:{pw}:{uid}:{gid}::0:0:{gecos}:{home}:{shell}")
        passwd.append(f"{name}:*:{uid}:{gid}:{gecos}:{home}:{shell}")
    group = [f"{name}:*:{gid}:{members}" for name, gid, members in GROUPS]
    return "\n".join(master) + "\n", "\n".join(passwd) + "\n", "\n".join(group) + "\n"


def _base_tree(release, size, content):
    tree = _Tree()
    for path, mode in (("dev", 0o555), ("tmp", 0o1777), ("var/tmp", 0o1777), ("var/log", 0o755),
                       ("var/run", 0o755), ("var/db", 0o755), ("var/empty", 0o555), ("root", 0o750),
                       ("usr/home", 0o755), ("boot", 0o755), ("mnt", 0o755), ("media", 0o755)):
        tree.dir(path, mode)
    master, passwd, group = _passwd_files()
    tree.file("etc/syslog.conf", SYSLOG_CONF)
    tree.file("etc/crontab", CRONTAB)
    tree.file("etc/hosts", HOSTS)
    tree.file("etc/master.passwd", master, 0o600)
    tree.file("etc/passwd", passwd)
    tree.file("etc/group", group)
    tree.file("etc/rc", RC)
    tree.file("etc/rc.shutdown", RC_SHUTDOWN)
    tree.file("etc/defaults/rc.conf", DEFAULTS_RC_CONF)
    tree.file("etc/login.conf", LOGIN_CONF)
    tree.file("etc/motd.template", f"FreeBSD {release} (synthetic rehearsal base)\n")
    tree.symlink("etc/termcap", "/usr/share/misc/termcap")
    tree.file("usr/share/misc/termcap", content.text(2048))
    for zone, (abbr, offset, posix) in ZONES.items():
        tree.file(f"usr/share/zoneinfo/{zone}", _tzif(abbr, offset, posix))
    tree.file("bin/freebsd-version", (
        "#!/bin/sh\n#\n# Print the installed userland version (synthetic).\n"
        f'USERLAND_VERSION="{release}"\necho "$USERLAND_VERSION"\n'), 0o555)
    tree.file("bin/sh", content.binary(160_000), 0o555)
    tree.file("lib/libc.so.7", content.binary(200_000), 0o444)
    tree.file("libexec/ld-elf.so.1", content.binary(90_000), 0o555)
    tree.file("sbin/init", content.binary(60_000), 0o500)
    tree.file("usr/bin/su", content.binary(20_000), 0o4555)          # setuid root
    tree.file("usr/bin/passwd", content.binary(20_000), 0o4555)
    tree.file("bin/test", content.binary(16_000), 0o555)
    tree.hardlink("bin/[", "bin/test")
    tree.symlink("sys", "usr/src/sys")
    tree.file("rescue/rescue", content.binary(600_000), 0o555)
    for tool in RESCUE_TOOLS:
        tree.hardlink(f"rescue/{tool}", "rescue/rescue")
    clang_size = 32 << 20 if size == "realistic" else 1200 << 10
    tree.file("usr/bin/clang", content.binary(clang_size), 0o555)
    for alias in ("cc", "c++", "cpp", "clang++", "clang-cpp"):
        tree.hardlink(f"usr/bin/{alias}", "usr/bin/clang")
    if size == "realistic":
        _bulk(tree, content)
    return tree


def _bulk(tree, content):
    """The bulk of a realistic base: ~20 000 more entries, ~150 MB of binaries, libraries and text."""
    rng = content.rng
    tree.file("usr/bin/ld.lld", content.binary(12 << 20), 0o555)
    tree.hardlink("usr/bin/ld", "usr/bin/ld.lld")
    tree.file("usr/bin/lldb", content.binary(8 << 20), 0o555)
    for d, count, mean in (("bin", 40, 40_000), ("sbin", 120, 50_000), ("usr/bin", 480, 45_000),
                           ("usr/sbin", 300, 50_000), ("usr/libexec", 120, 40_000)):
        for i in range(count):
            tree.file(f"{d}/tool{i:03d}", content.binary(int(rng.expovariate(1 / mean)) + 2048), 0o555)
    for i in range(360):
        lib = f"usr/lib/lib{i:03d}"
        tree.file(f"{lib}.so.{i % 7 + 1}", content.binary(int(rng.expovariate(1 / 60_000)) + 4096), 0o444)
        tree.symlink(f"{lib}.so", f"lib{i:03d}.so.{i % 7 + 1}")
        tree.file(f"{lib}.a", content.binary(int(rng.expovariate(1 / 50_000)) + 4096), 0o444)
    for i in range(3400):
        tree.file(f"usr/include/sub{i % 60:02d}/h{i:04d}.h", content.text(int(rng.expovariate(1 / 3500)) + 200))
    for i in range(7800):
        tree.file(f"usr/share/man/man{i % 9 + 1}/page{i:04d}.{i % 9 + 1}.gz",
                  content.compressed(int(rng.expovariate(1 / 1100)) + 300))
    for i in range(4500):
        tree.file(f"usr/tests/suite{i % 120:03d}/t{i:04d}", content.text(int(rng.expovariate(1 / 1500)) + 100), 0o555)
    for i in range(600):
        hours = i % 25 - 12
        tree.file(f"usr/share/zoneinfo/Region{i % 12}/City{i:03d}", _tzif("LMT", hours * 3600, f"LMT{-hours}"))
    for i in range(1500):
        locale = f"usr/share/locale/loc{i // 6:03d}"
        if i % 6 == 5:
            tree.symlink(f"{locale}/LC_TIME", "../loc000/LC_0")
        else:
            tree.file(f"{locale}/LC_{i % 6}", content.text(600))


def _other_tree(dist, content):
    tree = _Tree()
    if dist == "kernel":
        tree.file("boot/kernel/kernel", content.binary(400_000), 0o555)
        for mod in ("zfs", "if_bridge", "pf", "nullfs"):
            tree.file(f"boot/kernel/{mod}.ko", content.binary(30_000), 0o555)
    elif dist == "lib32":
        tree.file("usr/lib32/libc.so.7", content.binary(150_000), 0o444)
        tree.file("libexec/ld-elf32.so.1", content.binary(60_000), 0o555)
    else:
        raise ValueError(f"make_release: no generator for dist {dist!r}; known: {', '.join(DIST_INFO)}")
    return tree


def _tar_order(members):
    """Members in depth-first path order, as tar walks a tree; of the names of one hard-linked file,
    the first in that order carries the data and the others link to it (as bsdtar writes them)."""
    by_name = {info.name: (info, data) for info, data in members}
    holder = {}    # name the generator gave the data -> name that carries it in the archive
    for info, data in sorted(members, key=lambda m: m[0].name.split("/")):
        key = info.linkname if info.islnk() else info.name
        if key in holder:
            link = copy.copy(by_name[key][0])
            link.name, link.type, link.linkname, link.size = info.name, tarfile.LNKTYPE, holder[key], 0
            yield link, None
        elif info.islnk():
            target, body = by_name[key]
            first = copy.copy(target)
            first.name = info.name
            holder[key] = info.name
            yield first, body
        else:
            if info.isreg():
                holder[key] = info.name
            yield info, data


def _write_txz(tree, path):
    """Write the tree as a pax tar compressed by xz; returns the number of members (MANIFEST count)."""
    with lzma.open(path, "wb", preset=1) as xz, tarfile.open(fileobj=xz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in _tar_order(tree.members):
            if isinstance(data, _Body):
                data = data.make(data.size)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return len(tree.members)


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def default_cache_dir():
    """Where generated releases are kept: ``$SALT_JAIL_MIRROR_CACHE`` or ``<tmp>/salt_jail-mirror``."""
    return os.environ.get("SALT_JAIL_MIRROR_CACHE") or os.path.join(tempfile.gettempdir(), "salt_jail-mirror")


def _generate(out_dir, release, arch, dists, size):
    os.makedirs(out_dir)
    lines = []
    for dist in dists:
        content = _Content(f"{release}/{arch}/{dist}/{size}")
        tree = _base_tree(release, size, content) if dist == "base" else _other_tree(dist, content)
        txz = os.path.join(out_dir, f"{dist}.txz")
        count = _write_txz(tree, txz)
        desc, default = DIST_INFO[dist]
        distname = dist.replace("-", "_").replace(".", "_")
        lines.append(f'{dist}.txz\t{_sha256(txz)}\t{count}\t{distname}\t"{desc}"\t{default}\n')
    with open(os.path.join(out_dir, "MANIFEST"), "w", encoding="ascii") as fh:
        fh.writelines(lines)


def make_release(dest_dir, release="14.2-RELEASE", arch="amd64", dists=("base",), size="small", cache_dir=None):
    """Create ``<dest_dir>/<arch-path>/<release>/`` holding ``<dist>.txz`` for each dist and ``MANIFEST``.

    Returns the path of that release directory.  The tree is generated once into ``cache_dir``
    (default :func:`default_cache_dir`) and hard-linked (or copied, across file systems) into place.
    """
    if size not in SIZES:
        raise ValueError(f"make_release: size must be one of {SIZES}, not {size!r}")
    if arch not in ARCH_PATHS:
        raise ValueError(f"make_release: unknown arch {arch!r}; known: {', '.join(ARCH_PATHS)}")
    dists = tuple(dists)
    key = f"v{GENERATOR_VERSION}-{release}-{arch}-{size}-{'+'.join(dists)}"
    cache = os.path.join(cache_dir or default_cache_dir(), key)
    if not os.path.isfile(os.path.join(cache, "MANIFEST")):
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        scratch = tempfile.mkdtemp(prefix=key + ".", dir=os.path.dirname(cache))
        _generate(os.path.join(scratch, "out"), release, arch, dists, size)
        try:
            os.rename(os.path.join(scratch, "out"), cache)
        except OSError:
            if not os.path.isfile(os.path.join(cache, "MANIFEST")):   # not merely lost a race
                raise
        shutil.rmtree(scratch)
    target = os.path.join(dest_dir, ARCH_PATHS[arch], release)
    os.makedirs(target, exist_ok=True)
    for name in os.listdir(cache):
        dst = os.path.join(target, name)
        if os.path.lexists(dst):
            os.unlink(dst)
        try:
            os.link(os.path.join(cache, name), dst)
        except OSError:
            shutil.copyfile(os.path.join(cache, name), dst)
    return target


class Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the mirror directory, quietly."""

    def log_message(self, format, *args):  # noqa: A002 - signature fixed by BaseHTTPRequestHandler
        """Silence the per-request stderr line."""


def serve(directory, handler=Handler):
    """Serve ``directory`` over HTTP on 127.0.0.1 (random port) from a background thread, with ``handler``
    (a :class:`Handler`) answering each request.

    Returns ``(base_url, stop)``; ``stop()`` shuts the server down.
    """
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=os.fspath(directory)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="release-mirror",
                              daemon=True)
    thread.start()

    def stop():
        server.shutdown()
        server.server_close()
        thread.join()

    host, port = server.server_address[:2]
    return f"http://{host}:{port}", stop


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m salt_jail.rehearsal.mirror", description=__doc__.split("\n")[0])
    parser.add_argument("dest", help="directory to hold the mirror tree")
    parser.add_argument("--release", default="14.2-RELEASE")
    parser.add_argument("--arch", default="amd64", choices=sorted(ARCH_PATHS))
    parser.add_argument("--dists", default="base", help="comma-separated, e.g. base,lib32")
    parser.add_argument("--size", default="small", choices=SIZES)
    parser.add_argument("--serve", action="store_true", help="serve DEST over HTTP until interrupted")
    args = parser.parse_args(argv)
    print(make_release(args.dest, args.release, args.arch, args.dists.split(","), args.size))
    if args.serve:
        url, stop = serve(args.dest)
        print(url, flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
