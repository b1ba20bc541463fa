"""Step ``root``: the prisoner's root directory under ``jail_root``."""

import os
import stat

from . import ownership, prisoner as prisoner_
from ..errors import JailprovError
from ..result import StepResult

#: Mode and owner (root:wheel) of a prisoner root.
ROOT_MODE = 0o755


def ensure_root(host, cfg, name, test=False):
    """Step 1: ``jail_root/NAME`` is a directory owned by root:wheel with mode 0755.

    A missing jail_root is created (mode 0755).  An existing jail_root writable by everyone is an error,
    not something fixed silently: any local user could then replace a prisoner root with a symbolic
    link, and the mode of a directory the administrator chose is theirs to change.  A prisoner root
    that is a symbolic link (or a file) is refused, and so is an existing non-empty directory without
    jailprov's install stamp (:mod:`~salt_jail.core.features.ownership`): jailprov adopts nothing silently, so
    ``jail_root: /home`` with a prisoner ``alice`` leaves the user's /home/alice as it was.
    """
    prisoner = prisoner_.present(cfg, name)
    actions = []
    jail_root = host.path(cfg.jail_root, follow=True)
    try:
        st = os.stat(jail_root)  # host-side links (/home -> /usr/home) are the host admin's
    except FileNotFoundError:
        actions.append(f"create {cfg.jail_root}")
    else:
        if not stat.S_ISDIR(st.st_mode):
            raise JailprovError(f"jail_root {cfg.jail_root} exists and is not a directory")
        if st.st_mode & stat.S_IWOTH:
            raise JailprovError(
                f"jail_root {cfg.jail_root} is writable by everyone (mode {stat.S_IMODE(st.st_mode):04o}): any "
                f"local user could swap a prisoner root for a symbolic link; run `chmod o-w {cfg.jail_root}`"
            )
    real = host.path(prisoner.path)
    try:
        st = os.lstat(real)
    except FileNotFoundError:
        st = None
        actions.append(f"create {prisoner.path} (mode {ROOT_MODE:04o}, root:wheel)")
    else:
        if stat.S_ISLNK(st.st_mode):
            raise JailprovError(
                f"prisoner root {prisoner.path} is a symbolic link to {os.readlink(real)}; refusing to use it "
                "(a prisoner root must be a real directory — remove the link)"
            )
        if not stat.S_ISDIR(st.st_mode):
            raise JailprovError(f"prisoner root {prisoner.path} exists and is not a directory; remove it")
        ownership.refuse_adoption(host, prisoner.path, name, ownership.listing(host, prisoner.path))
        if stat.S_IMODE(st.st_mode) != ROOT_MODE:
            actions.append(f"chmod {stat.S_IMODE(st.st_mode):04o} -> {ROOT_MODE:04o}")
        if (st.st_uid, st.st_gid) != (0, 0):
            actions.append(f"chown {st.st_uid}:{st.st_gid} -> root:wheel")
    if actions and not test:
        try:
            os.makedirs(jail_root, mode=0o755, exist_ok=True)
            if st is None:
                os.mkdir(real, ROOT_MODE)
            fd = os.open(real, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
            try:
                os.fchmod(fd, ROOT_MODE)
                os.fchown(fd, 0, 0)
            finally:
                os.close(fd)
        except OSError as err:
            raise JailprovError(f"cannot set up prisoner root {prisoner.path}: {err.strerror}") from None
    if not actions:
        return StepResult(False, f"prisoner root {prisoner.path} is already correct")
    verb = "would be" if test else "was"
    return StepResult(True, f"prisoner root {prisoner.path} {verb} changed: {'; '.join(actions)}",
                      data={"actions": actions})
