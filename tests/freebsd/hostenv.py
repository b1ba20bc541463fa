"""What the real-FreeBSD tier claims on the host, and plain-command helpers to inspect and clean it.

Nothing here imports salt_jail: the checks are independent of the code under test (``jls`` plain
output, ``mount -p``, ``ifconfig``) and :func:`reset_host` must work even when salt_jail is broken.
Importing this module runs nothing, so the tier is collected (then skipped) on any OS.
"""

import os
import re
import subprocess

#: The tier's own directory on the host; removed entirely at teardown.
WORK = "/var/tmp/salt-jail-tests"
JAIL_ROOT = f"{WORK}/jails"
#: The tier's dedicated jail.conf (never /etc/jail.conf).
JAIL_CONF = f"{WORK}/jail.conf"
RESOLV_CONF = f"{WORK}/resolv.conf"
#: Every jail and prisoner the tier creates is named PREFIX + something.
PREFIX = "sjtest_"
INTERFACE = "lo1"
#: The host's own address on lo1: what prisoner 1 pings.
HOST_IP = "127.0.1.1"
P1, P2 = f"{PREFIX}p1", f"{PREFIX}p2"
PRISONER_IPS = {P1: "127.0.1.11", P2: "127.0.1.12"}
HOSTNAMES = {P1: "bsd1.sjtest.example", P2: "bsd2.sjtest.example"}
#: An explicit jid for prisoner 1 (jail.conf ``jid``); prisoner 2 gets one from the kernel.
P1_JID = 990011

#: Commands by absolute path: the tier never depends on the caller's PATH.
JLS, JAIL, MOUNT, UMOUNT = "/usr/sbin/jls", "/usr/sbin/jail", "/sbin/mount", "/sbin/umount"
IFCONFIG, CHFLAGS, RM = "/sbin/ifconfig", "/bin/chflags", "/bin/rm"


def sh(*argv, check=True):
    """Run ``argv`` (text); with ``check``, a non-zero exit fails the test with the tool's own message."""
    proc = subprocess.run(list(argv), capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"`{' '.join(argv)}` exited {proc.returncode}: {(proc.stderr or proc.stdout).strip()}")
    return proc


def running_jails():
    """Names of the running jails, from ``jls name`` (one value per line)."""
    return sh(JLS, "name").stdout.split()


def jls_fields(jail, *params):
    """``jls -j JAIL PARAM...`` as ``{param: value}``, or None when no such jail runs.

    jls's plain output, independent of salt_jail's parser of ``jls --libxo json``; the values used here
    (jid, name, host.hostname, path, ip4.addr) never hold spaces.
    """
    proc = sh(JLS, "-j", jail, *params, check=False)
    if proc.returncode != 0:
        return None
    return dict(zip(params, proc.stdout.split()))


def mounts_below(path):
    """Mount points at or below ``path`` (as written and resolved), deepest first, from ``mount -p``."""
    tops = {path.rstrip("/"), os.path.realpath(path).rstrip("/")}
    found = []
    for line in sh(MOUNT, "-p").stdout.splitlines():
        fields = line.split()
        if len(fields) >= 3 and any(fields[1] == top or fields[1].startswith(top + "/") for top in tops):
            found.append((fields[1], fields[2]))
    return sorted(found, key=lambda entry: entry[0].count("/"), reverse=True)


def interface_addresses(interface=None):
    """IPv4 addresses on ``interface`` (every interface when None); empty when it does not exist."""
    proc = sh(IFCONFIG, *((interface,) if interface else ("-a",)), check=False)
    return re.findall(r"^\s*inet (\S+)", proc.stdout, re.M) if proc.returncode == 0 else []


def file_flags(path):
    """The file flags of ``path`` itself (``st_flags``; FreeBSD only)."""
    return os.lstat(path).st_flags


def reset_host():
    """Remove every trace of the tier's jails; returns the problems it could not fix (empty: clean).

    Stop each running ``sjtest_*`` jail with the tier's configuration (``jail -q -f JAIL_CONF -r``:
    exec.stop, alias removal, devfs unmount), else without one (``jail -R``); unmount what is left
    below WORK (forced, deepest first); take the prisoner addresses off lo1; then, only when nothing
    is mounted below WORK any more, ``chflags -R -x 0`` and ``rm -rfx`` the jail root and jail.conf
    (``-x``: never cross a mount point).  The release cache and the host's lo1 address stay.
    """
    problems = []
    for name in running_jails():
        if not name.startswith(PREFIX):
            continue
        if os.path.exists(JAIL_CONF):
            sh(JAIL, "-q", "-f", JAIL_CONF, "-r", name, check=False)
        if name in running_jails():
            proc = sh(JAIL, "-R", name, check=False)
            if proc.returncode != 0:
                problems.append(f"cannot remove jail {name}: {proc.stderr.strip()}")
    for mountpoint, _fstype in mounts_below(WORK):
        proc = sh(UMOUNT, "-f", mountpoint, check=False)
        if proc.returncode != 0:
            problems.append(f"cannot unmount {mountpoint}: {proc.stderr.strip()}")
    present = interface_addresses(INTERFACE)
    for address in PRISONER_IPS.values():
        if address in present:
            sh(IFCONFIG, INTERFACE, "inet", address, "-alias", check=False)
    left = mounts_below(WORK)
    if left:
        problems.append(f"not removing anything below {WORK}: still mounted: {', '.join(m for m, _ in left)}")
        return problems
    for path in (JAIL_ROOT, JAIL_CONF):
        problems += remove_tree(path)
    return problems


def remove_tree(path):
    """``chflags -R -x 0 PATH`` then ``rm -rfx PATH``; returns the problems (empty: removed or absent)."""
    if not os.path.lexists(path):
        return []
    sh(CHFLAGS, "-R", "-x", "0", path, check=False)
    proc = sh(RM, "-rfx", path, check=False)
    return [f"cannot remove {path}: {proc.stderr.strip()}"] if proc.returncode != 0 else []
