"""ZFS for prisoners, the pure part: pillar keys, names, property values, argv builders and output parsers.

Nothing here runs a command or touches a file (:mod:`salt_jail.core.features.zfsprov` does, through the host's
runner).  What the product asks zfs(8) is limited to what both FreeBSD 14's OpenZFS and the rehearsal's
zfs-fuse (pool version 23) answer the same way: ``zfs list -H -o name``, ``zfs list -H -t snapshot -o name
-d 1`` (snapshots in creation order), ``zfs get -H[p] -o property,value,source`` and ``-o name,value``, and
``create``/``clone``/``snapshot``/``rollback``/``set``/``destroy`` with their plain options (no ``zfs list
-p``, no ``zfs get -t``).

Pillar keys (see pillar.example)::

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

import dataclasses
import difflib
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


@dataclasses.dataclass(frozen=True)
class ZfsConfig:
    dataset: str                   # the prisoners' parent, e.g. zroot/jails

    @property
    def releases(self):
        return f"{self.dataset}/{RELEASES}"


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
# Pillar: called by salt_jail.core.model with its error collector (``errs.add(path, message)``)


def parse_zfs(errs, path, value):
    """``jailprov:zfs`` -> :class:`ZfsConfig` or None."""
    if value is None:
        return None
    if not isinstance(value, dict):
        errs.add(path, "expected a mapping such as {dataset: zroot/jails}")
        return None
    for key in value:
        if key != "dataset":
            errs.add(f"{path}:{key}", "unknown key (expected: dataset)")
    dataset = value.get("dataset")
    if dataset is None:
        errs.add(f"{path}:dataset", "is required (the prisoners' parent dataset, e.g. zroot/jails)")
        return None
    problem = dataset_problem(dataset)
    if problem:
        errs.add(f"{path}:dataset", f"{dataset!r} is not a dataset name: {problem}")
        return None
    return ZfsConfig(dataset=dataset)


def parse_properties(errs, path, value):
    """``zfs_properties`` -> ``{property: value as given to zfs set}``."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        errs.add(path, "expected a mapping of zfs properties, e.g. {refquota: 10G, compression: gzip}")
        return {}
    out = {}
    for prop, val in value.items():
        ppath = f"{path}:{prop}"
        kind = property_kind(prop) if isinstance(prop, str) else None
        if kind is None:
            hint = difflib.get_close_matches(str(prop), SETTABLE, n=1)
            errs.add(ppath, "is not a zfs property" + (f"; did you mean {hint[0]!r}?" if hint else
                                                       " (user properties are written module:name)"))
            continue
        if kind == "managed":
            errs.add(ppath, f"is set by jailprov, not by the pillar: {MANAGED[prop]}")
            continue
        if kind == "readonly":
            errs.add(ppath, "is a read-only zfs property (a statistic zfs reports); it cannot be set")
            continue
        if val is None:
            continue                          # removes a default's property
        if not isinstance(val, (bool, int, str)) or (isinstance(val, str) and (not val or "\n" in val)):
            errs.add(ppath, f"expected a value such as on, gzip or 10G, got {val!r}")
            continue
        if (prop in SIZES or kind == "quota") and parse_size(val) is None:
            errs.add(ppath, f"{val!r} is not a size (expected e.g. 10G, 512M, none)")
            continue
        out[prop] = set_value(val)
    return out


def parse_prisoner(errs, path, name, data, defaults, zfs_cfg):
    """The ZFS keys of one prisoner: ``(storage, dataset or None, properties, snapshots)``.

    ``data`` is the prisoner's own mapping, ``defaults`` the parsed ``jailprov:defaults`` (its
    ``zfs_properties`` already parsed): properties are merged key by key, the prisoner winning, and a
    ``null`` removes a default's; ``storage`` and ``snapshots`` are replaced whole.
    """
    storage = data.get("storage", defaults.get("storage", "directory"))
    source = "storage" if "storage" in data else "storage (from jailprov:defaults)"
    if storage not in STORAGES:
        errs.add(f"{path}:{source}", f"{storage!r} is not valid (expected one of: {', '.join(STORAGES)})")
        storage = "directory"
    if storage != "directory" and zfs_cfg is None:
        errs.add(f"{path}:{source}", f"{storage} needs jailprov:zfs:dataset (the prisoners' parent dataset, "
                                     "e.g. zfs: {dataset: zroot/jails})")
    props = dict(defaults.get("zfs_properties") or {})
    own = data.get("zfs_properties")
    props.update(parse_properties(errs, f"{path}:zfs_properties", own))
    for key in [k for k, v in own.items() if v is None] if isinstance(own, dict) else []:
        props.pop(key, None)
    snapshots = data.get("snapshots", defaults.get("snapshots"))
    snaps = []
    if snapshots is not None:
        if not isinstance(snapshots, list):
            errs.add(f"{path}:snapshots", "expected a list of snapshot names, e.g. [before-upgrade]")
        else:
            for i, snap in enumerate(snapshots):
                problem = snapshot_problem(snap)
                if problem:
                    errs.add(f"{path}:snapshots[{i}]", problem)
                elif snap not in snaps:
                    snaps.append(snap)
    dataset = data.get("dataset")
    if storage == "directory":
        for key, value in (("zfs_properties", props), ("snapshots", snaps), ("dataset", dataset)):
            if value and key in data:
                errs.add(f"{path}:{key}", "needs storage: dataset or clone (a directory prisoner has no dataset)")
        return storage, None, {}, ()
    if zfs_cfg is None:
        return storage, None, props, tuple(snaps)
    if dataset is None:
        dataset = f"{zfs_cfg.dataset}/{name}"
    else:
        problem = dataset_problem(dataset)
        if problem:
            errs.add(f"{path}:dataset", f"{dataset!r} is not a dataset name: {problem}")
            return storage, None, props, tuple(snaps)
        if not is_below(dataset, zfs_cfg.dataset):
            errs.add(f"{path}:dataset", f"{dataset!r} is outside the parent dataset {zfs_cfg.dataset} "
                                        "(jailprov:zfs:dataset); a prisoner's dataset must lie below it")
            return storage, None, props, tuple(snaps)
        if dataset == zfs_cfg.releases or is_below(dataset, zfs_cfg.releases):
            errs.add(f"{path}:dataset", f"{dataset!r} is inside {zfs_cfg.releases}, where the release "
                                        "datasets live")
            return storage, None, props, tuple(snaps)
    return storage, dataset, props, tuple(snaps)


def check_combinations(errs, kp, zfs_cfg, jail_root, releases_dir, prisoners):
    """What ZFS storage cannot share with the rest of the pillar: a thin prisoner is not a clone (a clone holds
    a whole base; a thin prisoner's base is the shared tree: ``storage: dataset`` gives it a dataset), and the
    thin prisoners' ``releases_dir`` is not where the release datasets are mounted."""
    for p in prisoners:
        if getattr(p, "type", "thick") == "thin" and p.storage == "clone" and not p.absent:
            errs.add(kp("prisoners", p.name, "storage"), "clone does not go with type: thin (a clone is a whole "
                     "base; a thin prisoner shares the release tree): use storage: dataset or directory")
    if zfs_cfg is None or not releases_dir or not jail_root:
        return
    area = f"{jail_root.rstrip('/')}/{RELEASES}"
    if releases_dir == area or releases_dir.startswith(area + "/") or area.startswith(releases_dir.rstrip("/") + "/"):
        errs.add(kp("releases_dir"), f"{releases_dir!r} overlaps {area}, where the release datasets of "
                                     "jailprov:zfs are mounted; choose another directory")


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
