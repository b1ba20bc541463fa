"""Real Linux network namespaces behind the simulated host's VNET: bridges, epairs, VNET jails.

FreeBSD's VNET gives a jail its own network stack; Linux's network namespaces are the same idea.  So the
rehearsal plays VNET with the real thing (DESIGN.md rule 6), and a wrong prefix, a missing route or a
prisoner on the wrong bridge fails here as it would on FreeBSD:

* the simulated host's cloned interfaces (``bridgeN``, both halves of each ``epairN``) are Linux links
  (bridge, veth pair) in a namespace of the host's own, ``sjr-<tag>-host`` — **never the machine's own
  namespace**: every ``ip`` command runs after setns(2) into a namespace named here, so no link,
  address or route of the machine is ever touched and no packet can leave;
* a VNET jail is a namespace ``sjr-<tag>-j<jid>``, created with the jail and deleted with it (its
  interfaces first return to the host namespace, as FreeBSD returns them to the host's vnet);
* ``<tag>`` is the scratch root's directory name (shortened) and a hash of its path: two scratch roots
  never share a namespace, and :func:`cleanup` removes every namespace of one scratch root (test teardown).

Needs root (CAP_SYS_ADMIN) and iproute2's ``ip``; :func:`available` says whether they are there.
Namespaces are created by ``ip netns add`` (a bind mount under /run/netns): only from a process that may
mount, i.e. not from a Landlock-confined one.  :func:`ensure_host` is therefore called by jail(8) and
ifconfig(8) on the host before anything confined needs the host namespace.
"""

import ctypes
import errno
import hashlib
import json
import os
import re
import shutil
import subprocess

NETNS_DIR = "/run/netns"
PREFIX = "sjr-"
_CLONE_NEWNET = 0x40000000
_IP = "/usr/sbin/ip"


class NetnsError(Exception):
    """An ``ip`` command failed; ``errno`` is the closest errno for FreeBSD's message (or None)."""

    def __init__(self, message, code=None):
        super().__init__(message)
        self.errno = code


def ip_binary():
    return shutil.which("ip", path="/usr/sbin:/sbin:/usr/bin:/bin")


def available():
    """``(True, "")`` when namespaces can be created here, else ``(False, reason)``."""
    if os.geteuid() != 0:
        return False, "network namespaces need root"
    if ip_binary() is None:
        return False, "iproute2's ip is not installed"
    if not os.path.exists("/proc/self/ns/net"):
        return False, "this kernel has no network namespaces"
    return True, ""


def tag(scratch_root):
    """``<dir name, shortened>-<hash of the real path>``: unique per scratch root, readable in ``ip netns``."""
    real = os.path.realpath(scratch_root)
    base = re.sub(r"[^A-Za-z0-9_-]", "_", os.path.basename(real))[:24] or "root"
    return f"{base}-{hashlib.sha256(real.encode()).hexdigest()[:8]}"


def host_ns(scratch_root):
    return f"{PREFIX}{tag(scratch_root)}-host"


def jail_ns(scratch_root, jid):
    return f"{PREFIX}{tag(scratch_root)}-j{int(jid)}"


def jail_ns_path(scratch_root, jid):
    return _path(jail_ns(scratch_root, jid))


def _path(name):
    if not name.startswith(PREFIX) or "/" in name or name in (".", ".."):
        raise NetnsError(f"refusing namespace {name!r}: not one of the rehearsal's")
    return os.path.join(NETNS_DIR, name)


def exists(name):
    return os.path.exists(_path(name))


def _setns(fd):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        os.write(2, f"rehearsal: setns: {os.strerror(err)}\n".encode())
        os._exit(71)


def run_in(name, argv, *, check=True, input_text=None, timeout=60):
    """Run ``argv`` with its network namespace switched to ``name`` (setns(2) between fork and exec).

    The one way this package runs a network command: the namespace is always an explicit, existing one of
    the rehearsal's, never the caller's own.  Returns the CompletedProcess; with ``check`` a failure
    raises :class:`NetnsError` carrying ``ip``'s message.
    """
    path = _path(name)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as err:
        raise NetnsError(f"network namespace {name} does not exist ({err.strerror})", errno.ENXIO) from None
    try:
        proc = subprocess.run(argv, input=input_text, capture_output=True, text=True, check=False,
                              preexec_fn=lambda: _setns(fd), timeout=timeout)
    finally:
        os.close(fd)
    if check and proc.returncode != 0:
        raise NetnsError(proc.stderr.strip() or f"{' '.join(argv)} failed", _errno_of(proc.stderr))
    return proc


def ip(name, *args, check=True):
    """``ip ARGS`` inside namespace ``name``; its standard output."""
    return run_in(name, [ip_binary() or _IP, *args], check=check).stdout


def _errno_of(text):
    text = (text or "").lower()
    for needle, code in (("file exists", errno.EEXIST), ("no such device", errno.ENXIO),
                         ("cannot find device", errno.ENXIO), ("network is unreachable", errno.ENETUNREACH),
                         ("invalid gateway", errno.ENETUNREACH), ("no such process", errno.ESRCH),
                         ("cannot assign requested address", errno.EADDRNOTAVAIL),
                         ("operation not permitted", errno.EPERM), ("device or resource busy", errno.EBUSY)):
        if needle in text:
            return code
    return errno.EINVAL


def create(name):
    """Create namespace ``name`` (when missing) with its loopback up."""
    _path(name)
    if not exists(name):
        proc = subprocess.run([ip_binary() or _IP, "netns", "add", name], capture_output=True, text=True,
                              check=False)
        if proc.returncode != 0 and not exists(name):
            raise NetnsError(f"cannot create network namespace {name}: {proc.stderr.strip()}", errno.EPERM)
    ip(name, "link", "set", "lo", "up")


def delete(name):
    """Delete namespace ``name`` (missing is fine)."""
    if exists(name):
        subprocess.run([ip_binary() or _IP, "netns", "delete", name], capture_output=True, check=False)


def ensure_host(scratch_root):
    """The simulated host's namespace, created when missing; returns its name."""
    name = host_ns(scratch_root)
    if not exists(name):
        create(name)
    return name


def links(name):
    """``{ifname: {"kind", "mac", "up", "master", "inet": [...], "inet6": [...]}}`` in namespace ``name``."""
    out = {}
    for entry in json.loads(ip(name, "-json", "-details", "address", "show") or "[]"):
        ifname = entry.get("ifname")
        info = entry.get("linkinfo") or {}
        addrs = {"inet": [], "inet6": []}
        for a in entry.get("addr_info", []):
            if a.get("family") in addrs and a.get("scope") != "link":
                addrs[a["family"]].append(f"{a['local']}/{a['prefixlen']}")
        out[ifname] = {"kind": info.get("info_kind"), "mac": entry.get("address"),
                       "up": "UP" in entry.get("flags", []), "master": entry.get("master"), **addrs}
    return out


def namespaces(scratch_root):
    """The rehearsal namespaces of ``scratch_root`` that exist now."""
    prefix = f"{PREFIX}{tag(scratch_root)}-"
    try:
        return sorted(n for n in os.listdir(NETNS_DIR) if n.startswith(prefix))
    except FileNotFoundError:
        return []


def cleanup(scratch_root):
    """Delete every namespace of ``scratch_root`` (and with them its bridges and veth pairs)."""
    for name in namespaces(scratch_root):
        delete(name)
