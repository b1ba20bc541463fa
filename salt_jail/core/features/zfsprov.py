"""ZFS prisoners: the parent dataset, release datasets, a dataset or a clone per prisoner, properties,
snapshots, rollback, and what destroy needs to know.

Every change is read first and written only on a difference; ``test=True`` runs the same code and stops
before the first write.  Reads are the ones the issue names: existence by ``zfs list -H -o name``, origin
and properties by ``zfs get -H[p] -o property,value,source`` (one call per dataset for all of them).  A
second run therefore makes no zfs write call at all.

**Ownership.**  Every dataset jailprov creates carries the user property ``jailprov:prisoner`` (the
prisoner's name, or ``release``).  Properties are enforced, and datasets destroyed, only where it is set
locally to the expected value: a dataset jailprov did not create is reported, never changed (adopt one with
``zfs set jailprov:prisoner=NAME DATASET``).  Of the properties only the pillar's are owned, and a value
counts as set only when its source is ``local`` (an inherited ``compression=gzip`` is set locally once so
that it survives a change of the parent).

**Clones and their origin.**  A clone pins its origin snapshot (openzfs/zfs#11316): the release snapshot
cannot be destroyed while a clone exists, and jailprov never ``zfs promote``s a clone behind the user's
back.  :func:`destroy_release` refuses with the clones' names; a prisoner's destroy refuses while clones of
its own snapshots exist.  One release snapshot serves every clone of that extraction, and its name derives
from the extracted archives' digests (never a timestamp), so snapshots never pile up.

**Compared with Bastille.**  Bastille's clone branch (usr/local/share/bastille/create.sh, ``CLONE_JAIL``)
runs ``zfs snapshot …/releases/${RELEASE}@bastille-clone-$(date +%Y-%m-%d-%H%M%S)`` then ``zfs clone -p`` for
every jail: one more snapshot per clone, each pinned by its clone, and nothing ever removes them.  Here the
snapshot is taken once per extraction and every clone shares it; a re-run takes none.

**Cost.**  A clone is O(1): ``zfs clone -p`` of the release snapshot (one command per prisoner; iocage
spends ~4.4 s per cloned jail, iocage_legacy#247).  The release is extracted once per release/arch/dists.
"""

import os
import posixpath

from . import lifecycle
from .. import release
from ..tools import zfs
from ..errors import CommandError, JailprovError, MissingError, ValidationError
from ..result import StepResult

#: Properties read for a prisoner's dataset besides the pillar's.
_STATE_PROPS = ("origin", "mountpoint", "mounted", zfs.MARKER)


# --------------------------------------------------------------------------------------------------
# Reading


def exists(host, name):
    """Whether dataset (or snapshot) ``name`` exists: ``zfs list -H -o name NAME``.

    Reads go through :meth:`Host.query` (kept for the state run until a command changes something), so
    they never empty the run's memo of ``jls`` and ``mount -p`` answers.
    """
    try:
        host.query(zfs.list_argv(name), what=f"cannot look up dataset {name}")
    except CommandError as err:
        if "does not exist" in (err.stderr + err.stdout):
            return False
        raise
    return True


def properties(host, name, props):
    """``{property: (value, source)}`` of ``name`` as ``zfs get -Hp -o property,value,source`` prints them."""
    res = host.query(zfs.get_argv(name, props), what=f"cannot read the properties of {name}")
    return zfs.parse_properties_output(res.stdout)


def snapshots(host, name):
    """The snapshot names (after ``@``) of ``name``, oldest first."""
    res = host.query(zfs.snapshots_argv(name), what=f"cannot list the snapshots of {name}")
    return [line.split("@", 1)[1] for line in zfs.parse_names(res.stdout) if "@" in line]


def dependents(host, snapshot_prefix):
    """``{clone: origin}`` of every dataset in the pool whose origin is a snapshot of ``snapshot_prefix``
    (a dataset name: its snapshots are ``NAME@…``), or exactly ``snapshot_prefix`` when it names a snapshot."""
    pool = snapshot_prefix.split("/", 1)[0].split("@", 1)[0]
    res = host.query(zfs.origins_argv(pool), what=f"cannot read the origins in pool {pool}")
    found = zfs.parse_origins(res.stdout)
    if "@" in snapshot_prefix:
        return {n: o for n, o in found.items() if o == snapshot_prefix}
    return {n: o for n, o in found.items() if o.startswith(snapshot_prefix + "@")}


def _mountpoint(props, name):
    value = props.get("mountpoint", ("-", ""))[0]
    if not value.startswith("/"):
        raise JailprovError(f"dataset {name} has mountpoint={value}; a prisoner's dataset must be mounted on "
                            "its path")
    return posixpath.normpath(value)


def _same_path(host, a, b):
    """``a`` and ``b`` name the same host directory (FreeBSD's /home is a link to /usr/home)."""
    if a == b:
        return True
    return os.path.realpath(host.path(a)) == os.path.realpath(host.path(b))


def _prisoner(cfg, name):
    prisoner = cfg.prisoners.get(name)
    if prisoner is None:
        known = ", ".join(cfg.prisoners) or "none"
        raise ValidationError(f"jailprov:prisoners: no prisoner named {name!r} in the pillar (known: {known})")
    return prisoner


def _zfs_prisoner(cfg, name):
    prisoner = _prisoner(cfg, name)
    if prisoner.storage == "directory" or not prisoner.dataset:
        raise ValidationError(f"jailprov:prisoners:{name}:storage: prisoner {name} is stored in a directory, not "
                              "a dataset (storage: dataset or clone gives it snapshots and rollback)")
    return prisoner


def _verb(test):
    return "would be" if test else "was"


# --------------------------------------------------------------------------------------------------
# Host: the parent dataset and the release dataset


def _digests(host, cfg, test, fetcher, progress):
    """``{dist: sha256}`` of the verified cache (the release state fetched it), None where not known yet."""
    cache = release.fetch_release(host, cfg, test=test, fetcher=fetcher, progress=progress)
    return {d: info.get("sha256") for d, info in cache["dists"].items()}, cache


def _ensure_parent(host, cfg, test, actions):
    parent = cfg.zfs.dataset
    if exists(host, parent):
        props = properties(host, parent, ("mountpoint",))
        mountpoint = props.get("mountpoint", ("-", ""))[0]
        if not mountpoint.startswith("/") or not _same_path(host, mountpoint, cfg.jail_root):
            raise JailprovError(
                f"jailprov:zfs:dataset {parent} is mounted on {mountpoint}, but jailprov:jail_root is "
                f"{cfg.jail_root}: prisoners live in jail_root/<name>. Set jail_root: {mountpoint}, or "
                f"`zfs set mountpoint={cfg.jail_root} {parent}`")
        return
    real = host.path(cfg.jail_root)
    if os.path.isdir(real) and [e for e in os.listdir(real) if e != "lost+found"]:
        raise JailprovError(
            f"jail_root {cfg.jail_root} holds files and jailprov:zfs:dataset {parent} does not exist: a dataset "
            "mounted there would hide them. Move them away (or create the dataset yourself and move them in)")
    argv = zfs.create_argv(parent, {"mountpoint": cfg.jail_root})
    actions.append(" ".join(argv))
    if not test:
        host.check(argv, what=f"cannot create the prisoners' parent dataset {parent}")


def _ensure_release(host, cfg, test, fetcher, progress, actions):
    """The release dataset holds the extraction, snapshotted once under its stable name."""
    name = zfs.release_dataset(cfg)
    digests, cache = _digests(host, cfg, test, fetcher, progress)
    snap = zfs.release_snapshot(digests)
    present = exists(host, name)
    taken = snapshots(host, name) if present else []
    if snap is not None and snap in taken:
        return f"{name}@{snap}"
    others = [s for s in taken if s.startswith(zfs.SNAPSHOT_PREFIX)]
    if others:
        raise JailprovError(
            f"release dataset {name} holds another extraction ({', '.join(f'@{s}' for s in others)}), not the "
            f"verified cache's (@{snap}): the cached archives changed. Clones of the old snapshot keep it; "
            f"remove the release with jailprov.destroy_release once no clone uses it")
    if present:
        props = properties(host, name, ("mountpoint", zfs.MARKER))
        if props.get(zfs.MARKER, ("-", ""))[0] != zfs.RELEASE_MARKER:
            raise JailprovError(f"{name} exists but jailprov did not create it (no {zfs.MARKER}=release); "
                                "remove or rename it")
        mountpoint = _mountpoint(props, name)
        stamp = release.read_stamp(host, mountpoint)
        if stamp is None or stamp.get("state") != "installed" or \
                {d: v.get("sha256") for d, v in stamp.get("dists", {}).items()} != digests:
            # an interrupted extraction (no snapshot yet, so no clone): start it again
            actions.append(" ".join(zfs.destroy_argv(name, recursive=False)))
            if not test:
                host.check(zfs.destroy_argv(name, recursive=False),
                           what=f"cannot remove the incomplete release dataset {name}")
            present = False
    if not present:
        argv = zfs.create_argv(name, {zfs.MARKER: zfs.RELEASE_MARKER})
        actions.append(" ".join(argv))
        actions.append(f"extract {cfg.release} ({cfg.arch}) {'+'.join(cfg.dists)} into it")
        if not test:
            host.check(argv, what=f"cannot create the release dataset {name}")
            mountpoint = _mountpoint(properties(host, name, ("mountpoint",)), name)
            _extract(host, cfg, cache, mountpoint, progress)
    shown = f"{name}@{snap}" if snap else f"{name}@{zfs.SNAPSHOT_PREFIX}<digest of the archives>"
    actions.append(f"zfs snapshot {shown}")
    actions.append(f"zfs set readonly=on {name}")
    if not test:
        host.check(zfs.snapshot_argv(name, snap), what=f"cannot snapshot the release dataset {name}")
        host.check(zfs.set_argv(name, "readonly", "on"), what=f"cannot make {name} read-only")
    return shown


def _extract(host, cfg, cache, root, progress):
    """Extract the verified cache into the release dataset mounted on ``root`` (stamped like a prisoner)."""
    import datetime  # pylint: disable=import-outside-toplevel

    real = host.path(root)
    stamp = {"format": release.STAMP_FORMAT, "release": cfg.release, "arch": cfg.arch,
             "dists": {d: {"sha256": info["sha256"], "verified_by": info["verified_by"]}
                       for d, info in cache["dists"].items()}}
    release.mark_extracting(real, root, stamp)
    for dist, info in cache["dists"].items():
        release.extract_into(host, info["tar"], root, dist, cfg.release,
                             release.Progress(progress, 0, what="release/extract", dist=dist, prisoner=zfs.RELEASES))
    stamp.update(state="installed",
                 installed_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    release.write_stamp(real, root, stamp)


def host_datasets(host, cfg, test=False, fetcher=None, progress=None):
    """The parent dataset ``jailprov:zfs:dataset`` mounted on jail_root, and — when a prisoner is a clone —
    the release dataset with its snapshot.  No ``zfs`` key: nothing to do."""
    if cfg.zfs is None:
        return StepResult(False, "no jailprov:zfs in the pillar: prisoners live in directories")
    actions = []
    _ensure_parent(host, cfg, test, actions)
    snapshot = None
    if any(p.storage == "clone" for p in cfg.present):
        snapshot = _ensure_release(host, cfg, test, fetcher, progress, actions)
    what = f"parent dataset {cfg.zfs.dataset} on {cfg.jail_root}"
    if snapshot:
        what += f", release snapshot {snapshot}"
    if not actions:
        return StepResult(False, f"{what}: already correct", data={"snapshot": snapshot} if snapshot else {})
    return StepResult(True, f"{what}: {_verb(test)} made: " + "; ".join(actions),
                      data={"actions": actions, **({"snapshot": snapshot} if snapshot else {})})


# --------------------------------------------------------------------------------------------------
# A prisoner's dataset


def _wanted_props(prisoner, cfg):
    props = {zfs.MARKER: prisoner.name}
    if posixpath.dirname(prisoner.dataset) != cfg.zfs.dataset or \
            posixpath.basename(prisoner.dataset) != prisoner.name:
        props["mountpoint"] = prisoner.path        # not the parent's child of the same name: set it
    props.update(prisoner.zfs_properties)
    return props


def dataset(host, cfg, name, test=False, fetcher=None, progress=None):
    """Prisoner ``name``'s root is its own dataset (``storage: dataset``: created empty, the base step
    extracts into it) or a clone of the release snapshot (``storage: clone``), mounted on its path, with
    the pillar's properties set locally.  ``storage: directory``: nothing to do."""
    prisoner = _prisoner(cfg, name)
    if prisoner.absent:
        raise ValidationError(f"jailprov:prisoners:{name}: the prisoner is marked absent")
    if prisoner.storage == "directory" or cfg.zfs is None:
        return StepResult(False, f"prisoner {name} is stored in a directory (storage: directory)")
    ds = prisoner.dataset
    if not exists(host, ds):
        return _create(host, cfg, prisoner, test, fetcher, progress)
    wanted = dict(prisoner.zfs_properties)
    current = properties(host, ds, _STATE_PROPS + tuple(p for p in wanted if p not in _STATE_PROPS))
    marker = current.get(zfs.MARKER, ("-", "-"))
    if marker != (name, "local"):
        raise JailprovError(
            f"dataset {ds} exists but jailprov did not create it for prisoner {name} ({zfs.MARKER} is "
            f"{marker[0]!r}, source {marker[1]}); jailprov changes only its own datasets — adopt it with "
            f"`zfs set {zfs.MARKER}={name} {ds}` or choose another jailprov:prisoners:{name}:dataset")
    source = current.get("origin", ("-", "-"))[0]
    is_clone = source not in ("", "-")
    if prisoner.storage == "clone" and not is_clone:
        raise JailprovError(f"prisoner {name} is storage: clone, but {ds} is a dataset of its own (no origin); "
                            "converting is not done: destroy and rebuild the prisoner, or set storage: dataset")
    if prisoner.storage == "dataset" and is_clone:
        raise JailprovError(f"prisoner {name} is storage: dataset, but {ds} is a clone of {source}; converting "
                            "is not done (that would need zfs promote): set storage: clone, or destroy and "
                            "rebuild the prisoner")
    mountpoint = _mountpoint(current, ds)
    mounted = current.get("mounted", ("no",))[0] == "yes"
    if not _same_path(host, mountpoint, prisoner.path) or not mounted:
        state = "mounted on" if mounted else "not mounted; its mountpoint is"
        raise JailprovError(f"dataset {ds} is {state} {mountpoint}, but prisoner {name} lives in {prisoner.path}")
    changes = []
    for prop, value in wanted.items():
        have, src = current.get(prop, ("-", "-"))
        if src == "local" and have == zfs.normal_value(prop, value):
            continue
        changes.append((prop, value, have, src))
    if not changes:
        what = f"clone of {source}" if is_clone else "dataset"
        return StepResult(False, f"prisoner {name}: {ds} ({what}) is already correct",
                          data={"dataset": ds, **({"origin": source} if is_clone else {})})
    for prop, value, _have, _src in changes:
        if not test:
            host.check(zfs.set_argv(ds, prop, value), what=f"cannot set {prop} on {ds}")
    shown = "; ".join(f"{p}: {h} ({s}) -> {v} (local)" for p, v, h, s in changes)
    return StepResult(True, f"prisoner {name}: properties of {ds} {_verb(test)} set: {shown}",
                      data={"dataset": ds, "properties": {p: v for p, v, _h, _s in changes}})


def provision_dataset(host, cfg, name, test=False, fetcher=None, progress=None):
    """:func:`host_datasets` then :func:`dataset`: the ``dataset`` step of ``jailprov.provision``, which runs
    one prisoner's steps on their own (the formula runs the host part once, as state ``jailprov-zfs``)."""
    prisoner = _prisoner(cfg, name)
    if prisoner.storage == "directory" or cfg.zfs is None:
        return dataset(host, cfg, name, test=test)
    first = host_datasets(host, cfg, test=test, fetcher=fetcher, progress=progress)
    second = dataset(host, cfg, name, test=test, fetcher=fetcher, progress=progress)
    if not first.changed:
        return second
    return StepResult(True, f"{first.comment}\n{second.comment}", data={**first.data, **second.data})


def _create(host, cfg, prisoner, test, fetcher, progress):
    name, ds = prisoner.name, prisoner.dataset
    real = host.path(prisoner.path)
    if os.path.isdir(real) and [e for e in os.listdir(real) if e != "lost+found"]:
        raise JailprovError(
            f"prisoner {name} is storage: {prisoner.storage}, but {prisoner.path} is a directory holding files "
            f"and {ds} does not exist; a dataset mounted there would hide them. Converting a directory "
            f"prisoner is not done: destroy it (jailprov.destroy {name} force=True) and build it again")
    if os.path.lexists(real) and not os.path.isdir(real):
        raise JailprovError(f"{prisoner.path} exists and is not a directory; remove it")
    props = _wanted_props(prisoner, cfg)
    if prisoner.storage == "clone":
        digests, _cache = _digests(host, cfg, True, fetcher, progress)
        snap = zfs.release_snapshot(digests)
        source = f"{zfs.release_dataset(cfg)}@{snap}" if snap else None
        if source is None or not exists(host, source):
            if test:
                shown = source or f"{zfs.release_dataset(cfg)}@{zfs.SNAPSHOT_PREFIX}<digest>"
                return StepResult(True, f"prisoner {name}: {ds} would be cloned from {shown} once the release "
                                        "dataset is made (jailprov-zfs)", data={"dataset": ds, "origin": shown})
            raise MissingError(f"the release snapshot {source or zfs.release_dataset(cfg)} does not exist; the "
                               "host state jailprov-zfs (jailprov.zfs_host) makes it")
        argv = zfs.clone_argv(source, ds, props)
        what = f"cloned from {source}"
    else:
        argv = zfs.create_argv(ds, props)
        what = "created (empty: the base step extracts the release into it)"
    if not test:
        host.check(argv, what=f"cannot create the dataset of prisoner {name}")
    data = {"dataset": ds, "argv": argv}
    if prisoner.storage == "clone":
        data["origin"] = source
    return StepResult(True, f"prisoner {name}: {ds} {_verb(test)} {what}", data=data)


# --------------------------------------------------------------------------------------------------
# Snapshots and rollback


def declared_snapshots(host, cfg, name, test=False):
    """The pillar's ``snapshots`` of prisoner ``name`` exist (taken once; never retaken, never removed)."""
    prisoner = _prisoner(cfg, name)
    if prisoner.absent:
        raise ValidationError(f"jailprov:prisoners:{name}: the prisoner is marked absent")
    if not prisoner.snapshots:
        return StepResult(False, f"prisoner {name} declares no snapshots")
    ds = prisoner.dataset
    if not exists(host, ds):
        raise MissingError(f"dataset {ds} of prisoner {name} does not exist; its dataset step makes it")
    have = snapshots(host, ds)
    missing = [s for s in prisoner.snapshots if s not in have]
    if not missing:
        return StepResult(False, f"snapshots of prisoner {name} are already there: "
                                 + ", ".join(f"{ds}@{s}" for s in prisoner.snapshots))
    if not test:
        for snap in missing:
            host.check(zfs.snapshot_argv(ds, snap), what=f"cannot snapshot {ds}")
    return StepResult(True, f"{', '.join(f'{ds}@{s}' for s in missing)} {_verb(test)} taken",
                      data={"snapshots": [f"{ds}@{s}" for s in missing]})


def snapshot(host, cfg, name, snap, test=False):
    """Take snapshot ``snap`` of prisoner ``name``'s dataset (no change when it exists)."""
    prisoner = _zfs_prisoner(cfg, name)
    problem = zfs.snapshot_problem(snap)
    if problem:
        raise ValidationError(f"snapshot: {problem}")
    ds = prisoner.dataset
    if not exists(host, ds):
        raise MissingError(f"dataset {ds} of prisoner {name} does not exist")
    if snap in snapshots(host, ds):
        return StepResult(False, f"snapshot {ds}@{snap} already exists")
    if not test:
        host.check(zfs.snapshot_argv(ds, snap), what=f"cannot snapshot {ds}")
    return StepResult(True, f"snapshot {ds}@{snap} {_verb(test)} taken", data={"snapshot": f"{ds}@{snap}"})


def list_snapshots(host, cfg, name):
    """Prisoner ``name``'s snapshots, oldest first: ``[{name, snapshot, creation, used, referenced}]``."""
    prisoner = _zfs_prisoner(cfg, name)
    ds = prisoner.dataset
    names = snapshots(host, ds)
    out = []
    for snap in names:
        props = properties(host, f"{ds}@{snap}", ("creation", "used", "referenced"))
        out.append({"name": snap, "snapshot": f"{ds}@{snap}",
                    **{k: int(v[0]) if v[0].isdigit() else v[0] for k, v in props.items()}})
    return out


def rollback(host, cfg, name, snap, test=False, destroy_later=False):
    """Roll prisoner ``name`` back to ``snap``: stop it when it runs, ``zfs rollback``, start it again.

    Refused while snapshots newer than ``snap`` exist unless ``destroy_later`` (``zfs rollback -r``,
    which destroys them), and always while a newer snapshot has clones (``-R`` would destroy those
    clones: never done).  The check comes before the prisoner is stopped.
    """
    prisoner = _zfs_prisoner(cfg, name)
    ds = prisoner.dataset
    if not exists(host, ds):
        raise MissingError(f"dataset {ds} of prisoner {name} does not exist")
    have = snapshots(host, ds)
    if snap not in have:
        raise JailprovError(f"{ds} has no snapshot {snap!r} (it has: {', '.join(have) or 'none'})")
    later = have[have.index(snap) + 1:]
    if later and not destroy_later:
        raise JailprovError(f"refusing to roll {ds} back to @{snap}: newer snapshots exist "
                            f"({', '.join('@' + s for s in later)}) and zfs rollback would destroy them; "
                            "pass destroy_later=True to destroy them")
    clones = {c: o for c, o in dependents(host, ds).items() if o.split("@", 1)[1] in later} if later else {}
    if clones:
        raise JailprovError(f"refusing to roll {ds} back to @{snap}: newer snapshots have clones "
                            f"({', '.join(f'{c} from {o}' for c, o in sorted(clones.items()))}); rolling back "
                            "would destroy them (zfs rollback -R), which jailprov never does")
    running = lifecycle.find_running(host, name) is not None
    argv = zfs.rollback_argv(ds, snap, destroy_later=bool(later))
    steps = ([f"stop {name}"] if running else []) + [" ".join(argv)] + ([f"start {name}"] if running else [])
    if not test:
        if running:
            lifecycle.stop(host, cfg, name)
        host.check(argv, what=f"cannot roll {ds} back to @{snap}")
        if running:
            lifecycle.start(host, cfg, name)
    return StepResult(True, f"prisoner {name} {_verb(test)} rolled back to {ds}@{snap}: " + "; ".join(steps),
                      data={"restarted": running, "destroyed": [f"{ds}@{s}" for s in later]})


# --------------------------------------------------------------------------------------------------
# Destroy


def destroy_target(host, cfg, name, root):
    """The dataset destroy removes for prisoner ``name`` (root ``root``), or None for a directory prisoner.

    A dataset is destroyed only when jailprov created it for this prisoner (``jailprov:prisoner=NAME``,
    set locally), it is mounted on the prisoner's root, and no clone depends on its snapshots.
    """
    if cfg.zfs is None:
        return None
    prisoner = cfg.prisoners.get(name)
    ds = (prisoner.dataset if prisoner is not None and prisoner.dataset else None) or f"{cfg.zfs.dataset}/{name}"
    if not exists(host, ds):
        return None
    current = properties(host, ds, ("mountpoint", "mounted", zfs.MARKER))
    mountpoint = current.get("mountpoint", ("-", ""))[0]
    if not mountpoint.startswith("/") or not _same_path(host, mountpoint, root):
        return None                                   # not this prisoner's root: the directory rules apply
    if current.get(zfs.MARKER, ("-", "-")) != (name, "local"):
        raise JailprovError(f"refusing to destroy {name}: its root {root} is dataset {ds}, which jailprov did "
                            f"not create ({zfs.MARKER} is not {name}); destroy it yourself")
    clones = dependents(host, ds)
    if clones:
        raise JailprovError(f"refusing to destroy {name}: clones depend on snapshots of {ds}: "
                            + ", ".join(f"{c} (from {o})" for c, o in sorted(clones.items()))
                            + "; destroy them first (jailprov never runs zfs promote behind your back)")
    return ds


def destroy_dataset(host, name, ds, root):
    """``zfs destroy -r DS`` (its snapshots go with it), then the empty mount point directory if left."""
    host.check(zfs.destroy_argv(ds), what=f"cannot destroy dataset {ds} of prisoner {name}")
    try:
        os.rmdir(host.path(root))
    except FileNotFoundError:
        pass
    except OSError as err:
        raise JailprovError(f"{ds} was destroyed, but {root} is left: {err.strerror}") from None


def destroy_release(host, cfg, test=False):
    """Remove the pillar's release dataset and its snapshot — refused while clones depend on it (named)."""
    if cfg.zfs is None:
        raise ValidationError("jailprov:zfs: not set; there is no release dataset")
    name = zfs.release_dataset(cfg)
    if not exists(host, name):
        return StepResult(False, f"release dataset {name} does not exist")
    marker = properties(host, name, (zfs.MARKER,)).get(zfs.MARKER, ("-", "-"))
    if marker != (zfs.RELEASE_MARKER, "local"):
        raise JailprovError(f"refusing to destroy {name}: jailprov did not create it")
    clones = dependents(host, name)
    if clones:
        raise JailprovError(
            f"refusing to destroy release dataset {name}: its snapshot is the origin of "
            + ", ".join(f"{c} (from {o})" for c, o in sorted(clones.items()))
            + ". A clone pins its origin snapshot; destroy those prisoners first. jailprov does not zfs "
              "promote a clone behind your back (that would move the snapshot into the clone)")
    argv = zfs.destroy_argv(name)
    if not test:
        host.check(argv, what=f"cannot destroy release dataset {name}")
    return StepResult(True, f"release dataset {name} {_verb(test)} destroyed: {' '.join(argv)}")

