"""ZFS for prisoners, the pure part: names, property values, argv builders and output parsers.

Nothing here runs a command or touches a file (:mod:`salt_jail.core.features.zfsprov` does, through the host's
runner).  What the product asks zfs(8) is limited to what both FreeBSD 14's OpenZFS and the rehearsal's
zfs-fuse (pool version 23) answer the same way: ``zfs list -H -o name``, ``zfs list -H -t snapshot -o name
-d 1`` (snapshots in creation order), ``zfs get -H[p] -o property,value,source`` and ``-o name,value``, and
``create``/``clone``/``snapshot``/``rollback``/``set``/``destroy`` with their plain options (no ``zfs list
-p``, no ``zfs get -t``).

Pillar keys (declared in :mod:`salt_jail.core.model.schema`, parsed by :mod:`salt_jail.core.model.zfs`)::

    jailprov:
      zfs: {dataset: zroot/jails}     # the prisoners' parent dataset, mounted on jail_root
      defaults: {storage: clone}      # directory (default) | dataset | clone
      prisoners:
        web1:
          storage: dataset
          dataset: zroot/jails/web1   # optional; default <zfs:dataset>/<name>; must lie below zfs:dataset
          zfs_properties: {refquota: 10G, compression: gzip}
          snapshots: [before-upgrade]

Release datasets live below ``<zfs:dataset>/.zfs-releases`` (a name no prisoner can take: prisoner names never
start with a dot), one per release/arch/dists, with one snapshot named after the digests of what was
extracted (:func:`release_snapshot`): the same extraction always has the same name, so re-running never
piles up snapshots (Bastille makes a new timestamped one for every clone).
"""

import hashlib
import re

STORAGES = ("directory", "dataset", "clone")
#: Below the parent: where the release datasets live (mounted on jail_root/.zfs-releases: apart from the thin
#: prisoners' release trees, jail_root/.releases by default).
RELEASES = ".zfs-releases"
#: The user property jailprov sets on every dataset it creates (value: the prisoner's name, or
#: ``release`` on a release dataset).  Destroy and property enforcement act only on datasets that carry it.
MARKER = "jailprov:prisoner"
RELEASE_MARKER = "release"
#: Prefix of the release snapshots' names.
SNAPSHOT_PREFIX = "jailprov-"

#: Properties a prisoner's ``zfs_properties`` may set (OpenZFS, FreeBSD 14), besides user properties
#: (``module:property``) and ``userquota@…``-style ones.
SETTABLE = (
    "aclinherit", "aclmode", "atime", "checksum", "compression", "copies", "dedup", "devices", "dnodesize",
    "exec", "filesystem_limit", "logbias", "nbmand", "primarycache", "quota", "readonly", "recordsize",
    "redundant_metadata", "refquota", "refreservation", "relatime", "reservation", "secondarycache", "setuid",
    "sharenfs", "sharesmb", "snapdev", "snapdir", "snapshot_limit", "special_small_blocks", "sync", "volmode",
    "vscan", "xattr", "casesensitivity", "normalization", "utf8only", "version",
)
#: Properties jailprov sets itself, or that would break a prisoner root, with the reason.
MANAGED = {
    "mountpoint": "a prisoner's dataset is mounted on its path (jail_root/<name>), inherited from "
                  "jailprov:zfs:dataset",
    "canmount": "a prisoner's root must be mounted",
    "jailed": "jailed=on is for a dataset delegated to a jail (zfs jail), never for a prisoner's root, "
              "which the host mounts",
    "zoned": "it is the Solaris/Linux form of 'jailed'",
}
#: Read-only (statistics) properties: zfs reports them, nobody sets them.
READONLY = (
    "available", "avail", "compressratio", "creation", "createtxg", "clones", "defer_destroy", "guid",
    "logicalreferenced", "logicalused", "mounted", "objsetid", "origin", "receive_resume_token", "referenced",
    "refer", "refcompressratio", "type", "used", "usedbychildren", "usedbydataset", "usedbyrefreservation",
    "usedbysnapshots", "userrefs", "written", "encryptionroot", "keystatus",
)
#: Properties whose values are sizes (compared as the bytes ``zfs get -p`` prints; ``none`` is 0).
SIZES = ("quota", "refquota", "reservation", "refreservation", "recordsize", "special_small_blocks",
         "volsize")
COUNTS = ("filesystem_limit", "snapshot_limit")
_QUOTA_RE = re.compile(r"^(user|group|project)(obj)?quota@[^\s=,]+$")
_USER_PROP_RE = re.compile(r"^[a-z0-9_.+-]*[a-z0-9_.+-]:[a-z0-9_.:+-]+$")
_COMPONENT_RE = re.compile(r"^[A-Za-z0-9_.:-]+$")
_SIZE_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*([BKMGTPEZ]?)(?:I?B)?$", re.IGNORECASE)


# --------------------------------------------------------------------------------------------------
# Names and values


def dataset_problem(name):
    """Why ``name`` is not a dataset name zfs accepts (``pool/a/b``), or None."""
    if not isinstance(name, str) or not name:
        return "expected a dataset name such as zroot/jails"
    if len(name) >= 256:
        return "is longer than 255 characters"
    parts = name.split("/")
    if any(p == "" for p in parts):
        return "has an empty component (a leading, trailing or doubled '/')"
    if not re.match(r"^[A-Za-z]", parts[0]):
        return f"pool name {parts[0]!r} must begin with a letter"
    for part in parts:
        if part in (".", "..") or not _COMPONENT_RE.match(part):
            return (f"component {part!r} may hold only letters, digits, '_', '-', '.' and ':' "
                    "(no '@', '#', spaces)")
    return None


def snapshot_problem(name):
    """Why ``name`` is not a snapshot name (the part after ``@``), or None."""
    if not isinstance(name, str) or not name:
        return "expected a snapshot name such as before-upgrade"
    if not _COMPONENT_RE.match(name) or name in (".", ".."):
        return f"{name!r} may hold only letters, digits, '_', '-', '.' and ':'"
    if len(name) > 200:
        return "is longer than 200 characters"
    return None


def is_below(name, parent):
    return name.startswith(parent + "/")


def parse_size(text):
    """Bytes of a zfs size (``10G``, ``1.5T``, ``512``, ``100M``, ``none``), or None when it is not one."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        return text if text >= 0 else None
    if not isinstance(text, str):
        return None
    if text.strip().lower() == "none":
        return 0
    match = _SIZE_RE.match(text.strip())
    if not match:
        return None
    number, unit = match.groups()
    scale = 1024 ** "BKMGTPEZ".index(unit.upper()) if unit else 1
    value = float(number) * scale
    return int(value)


def property_kind(prop):
    """``"settable"``, ``"user"``, ``"quota"``, ``"managed"``, ``"readonly"`` or None (unknown)."""
    if prop in MANAGED:
        return "managed"
    if prop in READONLY:
        return "readonly"
    if prop in SETTABLE:
        return "settable"
    if _QUOTA_RE.match(prop):
        return "quota"
    if ":" in prop:
        return "user" if _USER_PROP_RE.match(prop) else None
    return None


def normal_value(prop, value):
    """The value as ``zfs get -Hp`` prints it: sizes in bytes (none = 0), booleans on/off, else the text."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if prop in SIZES or property_kind(prop) == "quota":
        size = parse_size(value)
        return str(size) if size is not None else str(value)
    if prop in COUNTS and isinstance(value, str) and value.lower() == "none":
        return "18446744073709551615"
    return str(value)


def set_value(value):
    """The value as given to ``zfs set``/``-o`` (YAML booleans become on/off)."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


# --------------------------------------------------------------------------------------------------
# Release datasets


def release_dataset(cfg):
    """``<parent>/.zfs-releases/<release>_<arch>_<dist.dist…>`` (one per release/arch/dists)."""
    return f"{cfg.zfs.releases}/{cfg.release}_{cfg.arch}_{'.'.join(sorted(cfg.dists))}"


def release_snapshot(digests):
    """``jailprov-<12 hex>``: named after the sha256 of each extracted dist, never after a time.

    ``digests`` is ``{dist: sha256}``; None when a digest is not known yet (nothing fetched, test mode).
    """
    if not digests or any(not d for d in digests.values()):
        return None
    text = "".join(f"{dist}.txz {digests[dist]}\n" for dist in sorted(digests))
    return SNAPSHOT_PREFIX + hashlib.sha256(text.encode()).hexdigest()[:12]


# --------------------------------------------------------------------------------------------------
# argv builders


def list_argv(name):
    return ["zfs", "list", "-H", "-o", "name", name]


def snapshots_argv(name):
    """The snapshots of ``name`` itself, oldest first: without ``-s``, zfs list orders a dataset's snapshots by
    their hidden createtxg (zfs_iter.c ``zfs_compare``; zfs-fuse does the same)."""
    return ["zfs", "list", "-H", "-t", "snapshot", "-o", "name", "-d", "1", name]


def get_argv(name, props, parsable=True):
    return ["zfs", "get", "-Hp" if parsable else "-H", "-o", "property,value,source", ",".join(props), name]


def origins_argv(top):
    """Every dataset below ``top`` (a pool) with its origin: who depends on which snapshot."""
    return ["zfs", "get", "-H", "-o", "name,value", "-r", "origin", top]


def _options(props):
    out = []
    for prop, value in props.items():
        out += ["-o", f"{prop}={value}"]
    return out


def create_argv(name, props, parents=True):
    return ["zfs", "create"] + (["-p"] if parents else []) + _options(props) + [name]


def clone_argv(snapshot, name, props):
    return ["zfs", "clone", "-p"] + _options(props) + [snapshot, name]


def snapshot_argv(name, snap):
    return ["zfs", "snapshot", f"{name}@{snap}"]


def set_argv(name, prop, value):
    return ["zfs", "set", f"{prop}={value}", name]


def rollback_argv(name, snap, destroy_later=False):
    return ["zfs", "rollback"] + (["-r"] if destroy_later else []) + [f"{name}@{snap}"]


def destroy_argv(name, recursive=True):
    return ["zfs", "destroy"] + (["-r"] if recursive else []) + [name]


# --------------------------------------------------------------------------------------------------
# Parsers


def parse_properties_output(text):
    """``zfs get -H -o property,value,source`` -> ``{property: (value, source)}``."""
    out = {}
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) == 3:
            out[fields[0]] = (fields[1], fields[2])
    return out


def parse_names(text):
    return [line for line in text.splitlines() if line]


def parse_origins(text):
    """``zfs get -H -o name,value origin`` -> ``{dataset: origin snapshot}`` (clones only)."""
    out = {}
    for line in text.splitlines():
        name, _, origin = line.partition("\t")
        if "@" not in name and origin not in ("", "-"):
            out[name] = origin
    return out
