"""master.passwd(5) and group(5) parsing, and the UID/GID audit behind ``jailprov.audit_ids`` (step 7).

The tutorial warns that the host and every prisoner start from the same base system: their preinstalled
accounts (``root``, ``daemon``, ``operator`` …) and the accounts ports create have the same UIDs
everywhere, so files shared between them (nullfs mounts, NFS, backups restored elsewhere) look owned by
"the same" user.  Giving the host and each prisoner its own pw.conf range keeps the accounts an
administrator adds apart.  The audit checks that this holds:

* ids below :data:`FIRST_REGULAR_ID` (1000, pw's default ``minuid``/``mingid``) belong to the base
  system and ports, are the same in every base by design, and are not reported;
* ``nobody``/``nogroup`` (65534, 65533) exist everywhere and are not reported;
* any other id used by more than one owner (the host or a prisoner) is reported as shared;
* any other id outside its owner's pw.conf range is reported as out of range (owners without a range
  are skipped for this check).
"""

import collections
import dataclasses

from ..errors import ParseError
from ..io.textedit import split_lines

#: Lowest id of accounts an administrator adds (pw's default minuid/mingid).
FIRST_REGULAR_ID = 1000
#: Ids present in every FreeBSD base that are not system ids: nogroup (65533) and nobody (65534).
UNIVERSAL_IDS = frozenset({65533, 65534})


@dataclasses.dataclass(frozen=True)
class User:
    """One master.passwd entry.  ``password`` (the crypt(3) hash) never shows in ``repr``."""

    name: str
    password: str = dataclasses.field(repr=False)
    uid: int
    gid: int
    login_class: str
    change: str
    expire: str
    gecos: str
    home: str
    shell: str


@dataclasses.dataclass(frozen=True)
class Group:
    """One group(5) entry."""

    name: str
    gid: int
    members: tuple


def _records(text, filename, nfields):
    """Split ``text`` into colon-separated records of ``nfields`` fields, skipping comments, blank lines
    and NIS compat (``+``/``-``) lines; yields ``(line_number, fields)``."""
    for number, line in enumerate(split_lines(text)[0], start=1):
        if not line.strip() or line.startswith(("#", "+", "-")):
            continue
        fields = line.split(":")
        if len(fields) != nfields:
            raise ParseError(f"expected {nfields} colon-separated fields, found {len(fields)}", filename, number)
        yield number, fields


def _id(value, what, filename, number):
    if not value.isdigit():
        raise ParseError(f"{what} {value!r} is not a number", filename, number)
    return int(value)


def parse_master_passwd(text, filename="master.passwd"):
    """The :class:`User` entries of master.passwd ``text`` (10 fields each)."""
    users = []
    for number, f in _records(text, filename, 10):
        users.append(
            User(f[0], f[1], _id(f[2], "uid", filename, number), _id(f[3], "gid", filename, number), *f[4:])
        )
    return users


def parse_group(text, filename="group"):
    """The :class:`Group` entries of group ``text`` (4 fields each)."""
    return [
        Group(f[0], _id(f[2], "gid", filename, number), tuple(m for m in f[3].split(",") if m))
        for number, f in _records(text, filename, 4)
    ]


def find_user(users, name):
    """The :class:`User` called ``name``, or ``None``."""
    return next((u for u in users if u.name == name), None)


def _audited(ident):
    return ident >= FIRST_REGULAR_ID and ident not in UNIVERSAL_IDS


def audit_ids(owners):
    """Report shared and out-of-range ids.  Pure: reads nothing, changes nothing.

    ``owners`` maps an owner label (``"host"``, a prisoner name) to ``(pw_range, users, groups)`` where
    ``pw_range`` is a :class:`~salt_jail.core.model.PwRange` or ``None``.  Returns::

        {"shared_uids": [{"id": 1001, "accounts": [{"owner": "host", "name": "alice"}, ...]}, ...],
         "shared_gids": [...],
         "uids_out_of_range": [{"owner": "web", "name": "bob", "id": 1001, "range": [2000, 2999]}, ...],
         "gids_out_of_range": [...]}

    Lists are sorted by id, then in ``owners`` order.
    """
    tables = {
        "uid": {o: (r.uid if r else None, [(u.name, u.uid) for u in users]) for o, (r, users, _) in owners.items()},
        "gid": {o: (r.gid if r else None, [(g.name, g.gid) for g in groups]) for o, (r, _, groups) in owners.items()},
    }
    report = {}
    for kind, table in tables.items():
        report[f"shared_{kind}s"], report[f"{kind}s_out_of_range"] = _audit(table)
    return report


def _audit(table):
    """``table``: owner -> (IdRange or None, [(name, id)]).  Returns (shared, out_of_range) lists."""
    by_id = collections.defaultdict(list)
    outside = []
    for owner, (limits, entries) in table.items():
        for name, ident in entries:
            if not _audited(ident):
                continue
            by_id[ident].append({"owner": owner, "name": name})
            if limits is not None and not limits.lo <= ident <= limits.hi:
                outside.append({"owner": owner, "name": name, "id": ident, "range": [limits.lo, limits.hi]})
    shared = [
        {"id": ident, "accounts": accounts}
        for ident, accounts in sorted(by_id.items())
        if len({a["owner"] for a in accounts}) > 1
    ]
    return shared, sorted(outside, key=lambda o: o["id"])
