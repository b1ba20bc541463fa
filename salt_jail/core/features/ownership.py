"""What jailprov built, and so may change or destroy: the rule behind step ``root`` and ``destroy``.

jailprov adopts nothing silently and destroys only what it made.  Its marks are:

* the **install stamp** (:data:`salt_jail.core.release.STAMP`, ``var/db/jailprov-base.json`` below the
  prisoner root), written by step ``base`` before the first file is extracted;
* a **jail.conf block of a prisoner the pillar names** (present, or listed absent) whose ``path`` is
  ``jail_root/NAME``: jailprov writes exactly such blocks (step ``jail_conf``).

A directory with neither is somebody else's (an administrator's home, a backup, a jail made by hand) and
is refused with its path and what to do.  An empty directory is nobody's work and may be taken over.
The stamp is read through the chroot-safe file layer: the prisoner's root user controls everything below
the prisoner root, so it can forge a stamp only for its own tree.
"""

import errno
import os
import stat

from .. import release
from ..errors import JailprovError


def listing(host, root):
    """The entries of the directory at host path ``root`` (opened without following a final link), or None
    when it does not exist.  Raises :class:`JailprovError` when it is a link or not a directory."""
    real = host.path(root)
    try:
        fd = os.open(real, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    except OSError as err:
        if err.errno in (errno.ELOOP, errno.EMLINK, errno.ENOTDIR):
            kind = "a symbolic link" if stat.S_ISLNK(os.lstat(real).st_mode) else "not a directory"
            raise JailprovError(f"{root} is {kind}; refusing to use it") from None
        raise JailprovError(f"cannot open {root}: {err.strerror}") from None
    try:
        return sorted(e for e in os.listdir(fd) if e != "lost+found")
    finally:
        os.close(fd)


def stamp(host, root):
    """The install stamp of the tree at ``root`` (a dict), or None: no stamp, or one that is not jailprov's."""
    try:
        return release.read_stamp(host, root)
    except JailprovError:
        return None


def has_stamp(host, root):
    """Whether jailprov's install stamp is in the tree at host path ``root``."""
    return stamp(host, root) is not None


def refuse_adoption(host, root, name, entries):
    """Step ``root``'s rule: a non-empty ``root`` without jailprov's stamp is refused, before any change."""
    if entries and not has_stamp(host, root):
        shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
        raise JailprovError(
            f"prisoner root {root} already exists and holds files jailprov did not install ({shown}; no "
            f"{release.STAMP}): jailprov adopts nothing and changed nothing. Move that directory away, or choose "
            f"another prisoner name or jail_root for {name}")
