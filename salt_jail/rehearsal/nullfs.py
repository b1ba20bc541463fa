"""FreeBSD's read-only nullfs played by its real Linux equivalent: a bind mount remounted read-only.

``mount -t nullfs -o ro SRC DST`` on the rehearsal host does what ``mount --bind SRC DST`` then
``mount -o remount,bind,ro DST`` do (mount(2) with ``MS_BIND``, then ``MS_REMOUNT|MS_BIND|MS_RDONLY``), so
a write below a thin prisoner's ``/bin`` really fails with EROFS, and ``umount`` really unmounts.  Only
paths below the scratch root are ever mounted on (the stand-ins resolve every path there).

:func:`unmount_all` is the clean-up every scratch root gets before it is removed (tests' teardown,
``make clean``, the bench): whatever is still mounted below it, deepest first.

Needs the right to mount (root, or CAP_SYS_ADMIN); :func:`available` says whether this process has it.
"""

import ctypes
import errno
import os

MS_RDONLY = 0x1
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MNT_DETACH = 0x2

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p)
_libc.umount2.argtypes = (ctypes.c_char_p, ctypes.c_int)


def _check(result, what):
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), what)


def mount(source, target, readonly=True):
    """Bind ``source`` (a real path) on ``target``, then make that mount read-only when ``readonly``."""
    src, dst = os.fsencode(source), os.fsencode(target)
    _check(_libc.mount(src, dst, None, MS_BIND, None), target)
    if readonly:
        if _libc.mount(None, dst, None, MS_REMOUNT | MS_BIND | MS_RDONLY, None) != 0:
            code = ctypes.get_errno()
            _libc.umount2(dst, 0)
            raise OSError(code, os.strerror(code), target)


def unmount(target, lazy=False):
    """Unmount the file system mounted on ``target`` (a real path); EINVAL: nothing is mounted there."""
    _check(_libc.umount2(os.fsencode(target), MNT_DETACH if lazy else 0), target)


def _unescape(field):
    """/proc/self/mountinfo writes space, tab, newline and backslash in octal (``\\040``)."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mounted_below(top):
    """Real mount points at or below the real directory ``top``, deepest (latest mounted) first."""
    top = os.path.realpath(top)
    found = []
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as fh:
            for line in fh:
                point = _unescape(line.split()[4])
                if point == top or point.startswith(top.rstrip("/") + "/"):
                    found.append(point)
    except FileNotFoundError:
        return []
    order = {point: index for index, point in enumerate(found)}
    return sorted(set(found), key=lambda p: (p.count("/"), order[p]), reverse=True)


def unmount_all(top):
    """Unmount everything mounted at or below the real directory ``top``, deepest first; returns the
    mount points.  A mount still busy is detached (it goes once its last user does)."""
    done = []
    for _ in range(64):                      # stacked mounts: a mount point can appear more than once
        points = mounted_below(top)
        if not points:
            break
        for point in points:
            try:
                unmount(point)
            except OSError as err:
                if err.errno == errno.EINVAL:
                    continue
                if err.errno != errno.EBUSY:
                    raise
                unmount(point, lazy=True)
            done.append(point)
    return done


def available():
    """Whether this process may make bind mounts (tries one on a private scratch directory)."""
    import tempfile  # pylint: disable=import-outside-toplevel
    with tempfile.TemporaryDirectory(prefix="salt-jail-nullfs-probe-") as tmp:
        src, dst = os.path.join(tmp, "src"), os.path.join(tmp, "dst")
        os.mkdir(src)
        os.mkdir(dst)
        try:
            mount(src, dst)
        except OSError:
            return False
        unmount(dst)
        return True
