"""The pillar's ZFS keys: ``jailprov:zfs`` and each prisoner's ``storage``, ``dataset``, ``zfs_properties``
and ``snapshots`` (declared in :mod:`.schema`; what they do is :mod:`salt_jail.core.features.zfsprov`'s).

Each parser takes the schema's context (``ctx``), the key path, the raw value and the declared default, and
reports through ``ctx.errs``.  Names and property values are checked with :mod:`salt_jail.core.tools.zfs`,
the pure knowledge of zfs(8).
"""

import dataclasses
import difflib

from ..tools.zfs import (
    MANAGED, RELEASES, SETTABLE, SIZES, dataset_problem, is_below, parse_size, property_kind, set_value,
    snapshot_problem,
)

STORAGES = ("directory", "dataset", "clone")


@dataclasses.dataclass(frozen=True)
class ZfsConfig:
    dataset: str                   # the prisoners' parent, e.g. zroot/jails

    @property
    def releases(self):
        return f"{self.dataset}/{RELEASES}"


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


# --------------------------------------------------------------------------------------------------
# A prisoner's keys.  ``ctx.own`` is the prisoner's own mapping, ``ctx.defaults`` the parsed
# ``jailprov:defaults`` (its ``zfs_properties`` already parsed): properties are merged key by key, the
# prisoner winning, and a ``null`` removes a default's; ``storage`` and ``snapshots`` are replaced whole.


def _directory_only(ctx, key, value):
    """A directory prisoner has no dataset: its own non-empty ``key`` is an error; the value is dropped."""
    if value and key in ctx.own:
        ctx.errs.add(f"{ctx.path}:{key}", "needs storage: dataset or clone (a directory prisoner has no dataset)")


def storage(ctx, path, _raw, default):
    data, defaults = ctx.own, ctx.defaults
    value = data.get("storage", defaults.get("storage", default))
    source = "storage" if "storage" in data else "storage (from jailprov:defaults)"
    if value not in STORAGES:
        ctx.errs.add(f"{ctx.path}:{source}", f"{value!r} is not valid (expected one of: {', '.join(STORAGES)})")
        value = default
    if value != "directory" and ctx.top.value("zfs") is None:
        ctx.errs.add(f"{ctx.path}:{source}", f"{value} needs jailprov:zfs:dataset (the prisoners' parent dataset, "
                                             "e.g. zfs: {dataset: zroot/jails})")
    if ctx.value("type") == "thin" and value == "clone" and not ctx.value("absent"):
        ctx.errs.add(path, "clone does not go with type: thin (a clone is a whole base; a thin prisoner shares "
                           "the release tree): use storage: dataset or directory")
    return value


def zfs_properties(ctx, path, _raw, _default):
    props = dict(ctx.defaults.get("zfs_properties") or {})
    own = ctx.own.get("zfs_properties")
    props.update(parse_properties(ctx.errs, path, own))
    for key in [k for k, v in own.items() if v is None] if isinstance(own, dict) else []:
        props.pop(key, None)
    if ctx.value("storage") == "directory":
        _directory_only(ctx, "zfs_properties", props)
        return {}
    return props


def snapshots(ctx, path, _raw, _default):
    value = ctx.own.get("snapshots", ctx.defaults.get("snapshots"))
    snaps = []
    if value is not None:
        if not isinstance(value, list):
            ctx.errs.add(path, "expected a list of snapshot names, e.g. [before-upgrade]")
        else:
            for i, snap in enumerate(value):
                problem = snapshot_problem(snap)
                if problem:
                    ctx.errs.add(f"{path}[{i}]", problem)
                elif snap not in snaps:
                    snaps.append(snap)
    if ctx.value("storage") == "directory":
        _directory_only(ctx, "snapshots", snaps)
        return ()
    return tuple(snaps)


def dataset(ctx, path, _raw, _default):
    value = ctx.own.get("dataset")
    if ctx.value("storage") == "directory":
        _directory_only(ctx, "dataset", value)
        return None
    zfs_cfg = ctx.top.value("zfs")
    if zfs_cfg is None:
        return None
    if value is None:
        return f"{zfs_cfg.dataset}/{ctx.name}"
    problem = dataset_problem(value)
    if problem:
        ctx.errs.add(path, f"{value!r} is not a dataset name: {problem}")
        return None
    if not is_below(value, zfs_cfg.dataset):
        ctx.errs.add(path, f"{value!r} is outside the parent dataset {zfs_cfg.dataset} "
                           "(jailprov:zfs:dataset); a prisoner's dataset must lie below it")
        return None
    if value == zfs_cfg.releases or is_below(value, zfs_cfg.releases):
        ctx.errs.add(path, f"{value!r} is inside {zfs_cfg.releases}, where the release datasets live")
        return None
    return value


def releases_overlap(zfs_cfg, jail_root, releases_dir):
    """Why the thin prisoners' ``releases_dir`` cannot be where the release datasets of ``jailprov:zfs`` are
    mounted, or None."""
    if zfs_cfg is None or not releases_dir or not jail_root:
        return None
    area = f"{jail_root.rstrip('/')}/{RELEASES}"
    if releases_dir == area or releases_dir.startswith(area + "/") or area.startswith(releases_dir.rstrip("/") + "/"):
        return (f"{releases_dir!r} overlaps {area}, where the release datasets of jailprov:zfs are mounted; "
                "choose another directory")
    return None
