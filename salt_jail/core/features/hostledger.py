"""What jailprov wrote to the host's shared files, so that ``clean`` can give the administrator's back.

rc.conf, jail.conf (and jail.conf.d), pw.conf are shared with the administrator, and what jailprov sets
there (``jail_enable="YES"``, ``jail_list``, ``jail_conf``, alias lines, a block, an ``.include``, pw.conf's
ranges) cannot be told apart from the same line written by hand.  So the first time jailprov changes such a
file it records the text it found (``original``, None: the file did not exist) and, at every change, the text
it left (``written``).  :mod:`~salt_jail.core.features.clean` restores ``original`` only while the file still
holds exactly what jailprov last wrote and nobody else changed it in between (``diverged``); a file
someone else edited since is left as it is, and ``clean`` says so.  Directories jailprov created for such
files (``/etc/jail.conf.d``, ``/etc/rc.conf.d``) are recorded too.

The ledger is :data:`LEDGER` on the host, mode 0600 in a 0700 directory (it holds copies of rc.conf), written
atomically through the chroot-safe file layer, only in a real run (``test=True`` never records).
"""

import json
import os
import posixpath

from ..errors import JailprovError, MissingError
from ..io import textedit

#: The ledger of the host files jailprov changed: ``{"format": 1, "files": {path: {original, written,
#: diverged}}, "dirs": [path, ...]}``.
LEDGER = "/var/db/jailprov/host-files.json"
FORMAT = 1


def _root(host):
    return textedit.Root.of_host(host)


def load(host):
    """The ledger as a dict (an empty one when there is none)."""
    try:
        state = textedit.read_text(_root(host), LEDGER.lstrip("/"), missing_ok=True)
    except MissingError:            # no /var/db/jailprov: nothing recorded
        state = None
    if state is None:
        return {"format": FORMAT, "files": {}, "dirs": []}
    try:
        data = json.loads(state.text)
    except ValueError as err:
        raise JailprovError(f"{LEDGER} is not jailprov's ledger ({err}); move it away") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("files"), dict):
        raise JailprovError(f"{LEDGER} is not a format-{FORMAT} jailprov ledger; move it away")
    data.setdefault("dirs", [])
    return data


def save(host, data, test=False):
    """Write ``data`` (or, when it records nothing, remove the ledger); returns the :class:`EditResult`."""
    rel = LEDGER.lstrip("/")
    if not data["files"] and not data["dirs"]:
        if not os.path.lexists(host.path(LEDGER)):
            return textedit.EditResult(rel, LEDGER, None, None)
        return textedit.ensure_absent(_root(host), rel, test=test)
    if not test:
        directory = host.path(posixpath.dirname(LEDGER))
        os.makedirs(directory, mode=0o700, exist_ok=True)
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    return textedit.edit(_root(host), rel, lambda _old: (text, ""), test=test, create=True, mode=0o600)


def note(host, edits, create=True):
    """Record the changed ``edits`` (:class:`~salt_jail.core.io.textedit.EditResult` of host files, just
    written).  ``create=False`` only follows files already recorded (destroy's edits: a file jailprov never
    recorded keeps no ledger entry, so its text before is never mistaken for the administrator's)."""
    changed = [e for e in edits if e.changed]
    if not changed:
        return
    data = load(host)
    files = data["files"]
    touched = False
    for edit in changed:
        entry = files.get(edit.shown)
        if entry is None:
            if not create:
                continue
            files[edit.shown] = {"original": edit.old, "written": edit.new, "diverged": False}
        else:
            if entry["written"] != edit.old:
                entry["diverged"] = True      # someone else changed it since jailprov last wrote it
            entry["written"] = edit.new
        touched = True
    if touched:
        save(host, data)


def note_dir(host, path):
    """Record directory ``path`` (a host path) as created by jailprov."""
    data = load(host)
    if path not in data["dirs"]:
        data["dirs"].append(path)
        save(host, data)
