"""The tests' one snapshot of files: take it before, take it after, compare — equal snapshots mean nothing was
written, created, removed, renamed, re-linked, chmod'ed, chown'ed or touched."""

import os
import stat


def entry(path, contents=True):
    """``(mode, uid, gid, size, mtime_ns, content)`` of ``path``, a final symbolic link not followed: content
    is the bytes of a regular file (``None`` unless ``contents``: for trees too big to hold, size and mtime
    stand for it), ``"-> target"`` of a link, ``None`` otherwise.  ``None`` if it is missing."""
    try:
        st = os.lstat(path)
        if stat.S_ISREG(st.st_mode) and contents:
            with open(path, "rb") as fh:
                content = fh.read()
        elif stat.S_ISLNK(st.st_mode):
            content = "-> " + os.readlink(path)
        else:
            content = None
    except FileNotFoundError:
        return None
    return st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns, content


def snapshot(top, skip=(), contents=True):
    """``{relative path: entry}`` of ``top`` itself (``"."``) and of everything below it, symbolic links not
    followed; entries of ``top`` named in ``skip`` (e.g. the rehearsal's own ``.rehearsal`` logs) are left
    out with all they hold.  A missing ``top`` gives ``{}``.  ``contents``: see :func:`entry`."""
    top = os.fspath(top)
    found = {}
    if entry(top) is None:
        return found
    found["."] = entry(top, contents)
    for dirpath, dirnames, filenames in os.walk(top):
        if dirpath == top:
            dirnames[:] = [d for d in dirnames if d not in skip]
            filenames = [f for f in filenames if f not in skip]
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            found[os.path.relpath(path, top)] = entry(path, contents)
    return found



def timeless(snap):
    """``snap`` without the modification times: to assert that something *was* changed (content, mode, owner,
    an entry added or removed), not merely touched."""
    return {path: None if e is None else e[:4] + e[5:] for path, e in snap.items()}
