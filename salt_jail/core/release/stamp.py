"""The base stamp in a prisoner's tree: what jailprov extracted there, and whether it finished.

``<root>/var/db/jailprov-base.json`` (``/var/db`` is where FreeBSD keeps such state, e.g.
``/var/db/zoneinfo``) says ``"state": "extracting"`` while tar runs and ``"state": "installed"`` — with
release, arch, dists, digests and time — once it is done; the complete stamp is written last.  The stamp
and ``bin/freebsd-version`` are read and written through :mod:`..io.textedit` (chroot semantics: the
prisoner's root user owns that tree and its symbolic links, so no link is followed out of it).
"""

import json
import os
import re

from ..errors import JailprovError
from ..io import textedit

STAMP = "var/db/jailprov-base.json"
STAMP_FORMAT = 1

_USERLAND = re.compile(r'^USERLAND_VERSION="([^"]+)"', re.M)


def read_stamp(host, root):
    """The base stamp of the prisoner at host path ``root``: a dict, or None when there is none."""
    real = host.path(root)
    if not os.path.isdir(real):
        return None
    state = textedit.read_text(textedit.Root(real, root), STAMP, missing_ok=True)
    if state is None:
        return None
    try:
        stamp = json.loads(state.text)
    except ValueError:
        stamp = None
    if not isinstance(stamp, dict) or stamp.get("state") not in ("extracting", "installed"):
        raise JailprovError(f"{root}/{STAMP} is not a jailprov base stamp (unreadable JSON or unknown "
                            "state); remove it and pass force=True to reinstall the base")
    return stamp


def write_stamp(real, root, stamp):
    """Write ``stamp`` as the root's base stamp (``real``: the root's path on this host, ``root``: its name)."""
    text = json.dumps(stamp, indent=1, sort_keys=True) + "\n"
    textedit.edit(textedit.Root(real, root), STAMP, lambda _old: (text, ""), create=True, mode=0o644)


def mark_extracting(real, root, stamp):
    """Write the ``extracting`` stamp into the empty root; on failure leave the root empty again."""
    parent = os.path.dirname(STAMP).split("/")          # var, db: created here, replaced by tar's own
    os.makedirs(os.path.join(real, *parent), mode=0o755, exist_ok=True)
    try:
        write_stamp(real, root, dict(stamp, state="extracting"))
    except JailprovError:
        for i in range(len(parent), 0, -1):
            try:
                os.rmdir(os.path.join(real, *parent[:i]))
            except OSError:
                break
        raise


def userland_version(host, root):
    """``USERLAND_VERSION`` of the prisoner's ``bin/freebsd-version``, without ``-pN``; None if unknown."""
    try:
        state = textedit.read_text(textedit.Root(host.path(root), root), "bin/freebsd-version", missing_ok=True)
    except JailprovError:          # not a text file, a symlink loop...: no version to trust
        return None
    match = _USERLAND.search(state.text) if state else None
    return re.sub(r"-p\d+$", "", match.group(1)) if match else None
