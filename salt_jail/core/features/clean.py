"""The inverse of the formula (``state.apply jail.clean``): every prisoner jailprov manages goes, and the host
configuration jailprov wrote goes back to the administrator's.

In order:

1. **The prisoners** — the pillar's (present and absent, last first) and every tree below ``jail_root`` with
   jailprov's install stamp that the pillar no longer names — are destroyed as
   :func:`~salt_jail.core.features.lifecycle.destroy` destroys one: stopped, unmounted, file flags cleared,
   tree (or its own ZFS dataset) removed, its jail.conf block, jail_list entry, alias lines and fstab removed.
   A name jailprov did not build (an administrator's own jail or directory, without the install stamp) is left
   untouched and reported; any other refusal stops the clean before the host files are touched.
2. **The host files** jailprov changed (rc.conf, jail.conf, jail.conf.d, pw.conf: its
   :mod:`~salt_jail.core.features.hostledger`) get back the text they had before jailprov first wrote them —
   byte for byte, or removed when jailprov created them — when they still hold exactly what jailprov last wrote.
   A file someone else changed since is left as it is, and reported.  Then the directories jailprov created
   for them, when empty, and the ledger itself.
3. **Shared release data** jailprov made: the pillar's thin release tree when no jail outside the clean uses
   it, and with ``jailprov:zfs`` the release dataset jailprov marked, when no clone outside the clean
   depends on it.

Left, and said so in the comment: the release download cache (``cache_dir``: a cache, not configuration;
``jailprov.release_cache prune=True`` empties it), ``jail_root`` and ``releases_dir`` when not empty, the
prisoners' parent ZFS dataset (jailprov does not mark it, so it cannot tell it made it).

:func:`plan` makes every check and computes every change without writing (``test=True``); :func:`apply`
carries the plan out, re-planning each prisoner just before destroying it.
"""

import dataclasses
import os
import posixpath

from . import hostledger, lifecycle, ownership, thin
from ..errors import JailprovError, MissingError, PartialError
from ..io import textedit
from ..result import StepResult


def _gone(cfg):
    """``cfg`` with every prisoner marked absent: nothing is added back to rc.conf while prisoners go."""
    return dataclasses.replace(cfg, prisoners={n: dataclasses.replace(p, absent=True)
                                               for n, p in cfg.prisoners.items()})


def managed_names(host, cfg):
    """The prisoners clean destroys, in order: the pillar's, last first, then the stamped trees below
    ``jail_root`` the pillar does not name (sorted).  A name starting with ``.`` (``releases_dir``) is none."""
    names = list(reversed(list(cfg.prisoners)))
    top = host.path(cfg.jail_root)
    if os.path.isdir(top):
        for entry in sorted(os.listdir(top)):
            path = posixpath.join(cfg.jail_root, entry)
            real = host.path(path)
            if (entry.startswith(".") or entry in cfg.prisoners or os.path.islink(real)
                    or not os.path.isdir(real)):
                continue
            if ownership.has_stamp(host, path):
                names.append(entry)
    return names


@dataclasses.dataclass
class CleanPlan:
    """What :func:`plan` found: the destroy plans of the prisoners, the names left alone (not jailprov's)
    with why, the host-file restorations (EditResult, computed without writing), the files left (someone
    else changed them) and the release data to remove."""

    destroys: list
    not_ours: dict
    restores: list
    left: list
    dirs: list
    tree: object
    release_dataset: object
    releases_dir: object = None


def _restore_edit(host, path, original, test):
    root = textedit.Root.of_host(host)
    if original is None:
        return textedit.ensure_absent(root, path.lstrip("/"), test=test)
    return textedit.edit(root, path.lstrip("/"), lambda _old: (original, ""), test=test, create=True)


def _current(host, path):
    try:
        state = textedit.read_text(textedit.Root.of_host(host), path.lstrip("/"), missing_ok=True)
    except MissingError:            # a directory on the way is gone
        return None
    return None if state is None else state.text


def _plan_files(host, ledger):
    """``(restores, left)`` for the ledger's files, as they are now."""
    restores, left = [], []
    for path, entry in sorted(ledger["files"].items()):
        current = _current(host, path)
        if current == entry["original"]:
            continue
        if entry["diverged"] or current != entry["written"]:
            left.append(f"{path}: changed by someone else since jailprov last wrote it, so it is kept as it is "
                        "(jailprov's lines there are yours to remove)")
            continue
        restores.append(_restore_edit(host, path, entry["original"], test=True))
    return restores, left


def _plan_dirs(host, ledger, restores):
    """The recorded directories that would be empty once ``restores`` removed their files (deepest first)."""
    removed = {e.shown for e in restores if e.new is None}
    dirs = []
    for path in sorted(ledger["dirs"], key=lambda p: p.count("/"), reverse=True):
        real = host.path(path)
        if os.path.isdir(real) and not os.path.islink(real):
            if all(posixpath.join(path, entry) in removed for entry in os.listdir(real)):
                dirs.append(path)
    return dirs


def plan(host, cfg):
    """Every check of the clean and every change it would make, writing nothing (a :class:`CleanPlan`)."""
    gone = _gone(cfg)
    destroys, not_ours, failures = [], {}, []
    for name in managed_names(host, cfg):
        try:
            found = lifecycle.plan_destroy(host, gone, name)
        except lifecycle.NotJailprovsError as exc:
            not_ours[name] = str(exc)
            continue
        except JailprovError as exc:
            failures.append(str(exc))
            continue
        if found.exists:
            destroys.append(found)
    if failures:
        raise JailprovError("clean refused, nothing was changed: " + "; ".join(failures))
    ledger = hostledger.load(host)
    restores, left = _plan_files(host, ledger)
    dirs = _plan_dirs(host, ledger, restores)
    cleaned = {d.name for d in destroys}
    tree = None
    tree_path = thin.tree_path(cfg)
    if cfg.releases_dir and os.path.isdir(host.path(tree_path)) and not os.path.islink(host.path(tree_path)):
        users = [u for u in thin.tree_users(host, gone, tree_path) if u not in cleaned]
        if users:
            left.append(f"release tree {tree_path}: used by {', '.join(users)}")
        else:
            tree = tree_path
    release_dataset = _plan_release_dataset(host, cfg, destroys, left)
    return CleanPlan(destroys, not_ours, restores, left, dirs, tree, release_dataset,
                     _plan_releases_dir(host, cfg, tree))


def _plan_releases_dir(host, cfg, tree):
    """``releases_dir`` when it would hold nothing but jailprov's own lock once ``tree`` (with its writable-part
    archive and record) is gone: jailprov made it (thin.py) and nothing else lives there."""
    real = host.path(cfg.releases_dir) if cfg.releases_dir else None
    if real is None or not os.path.isdir(real) or os.path.islink(real):
        return None
    mine = posixpath.basename(tree) if tree else None
    rest = [e for e in os.listdir(real) if e != ".lock" and not (mine and e.startswith(mine))]
    return None if rest else cfg.releases_dir


def _plan_release_dataset(host, cfg, destroys, left):
    """The release dataset jailprov made, when no clone outside the clean depends on it (else a note)."""
    if cfg.zfs is None:
        return None
    from . import zfsprov  # pylint: disable=import-outside-toplevel  (zfsprov uses lifecycle)
    from ..tools import zfs  # pylint: disable=import-outside-toplevel

    name = zfs.release_dataset(cfg)
    if not zfsprov.exists(host, name):
        return None
    if zfsprov.properties(host, name, (zfs.MARKER,)).get(zfs.MARKER, ("-", "-")) != (zfs.RELEASE_MARKER, "local"):
        left.append(f"release dataset {name}: jailprov did not create it")
        return None
    going = {d.dataset for d in destroys if d.dataset}
    clones = sorted(c for c in zfsprov.dependents(host, name) if c not in going)
    if clones:
        left.append(f"release dataset {name}: clones depend on it ({', '.join(clones)})")
        return None
    return name


def _actions(found, verb):
    """The sentences of the comment, for ``found`` (a :class:`CleanPlan`)."""
    actions = [f"prisoner {d.name} {verb} destroyed ({d.result(test=True).comment.split(': ', 1)[1]})"
               for d in found.destroys]
    actions += [f"{e.shown} {verb} {'removed (jailprov created it)' if e.new is None else 'restored to the text it had before jailprov'}"
                for e in found.restores]
    actions += [f"directory {d} {verb} removed (jailprov created it)" for d in found.dirs]
    if found.tree:
        actions.append(f"release tree {found.tree} {verb} removed")
    if found.releases_dir:
        actions.append(f"directory {found.releases_dir} {verb} removed (jailprov's releases_dir, empty)")
    if found.release_dataset:
        actions.append(f"release dataset {found.release_dataset} {verb} destroyed")
    return actions


def _notes(found, cfg):
    notes = [f"{name} left alone: {why}" for name, why in found.not_ours.items()]
    notes += [f"left: {why}" for why in found.left]
    notes.append(f"left: the release download cache {cfg.cache_dir} (jailprov.release_cache prune=True empties it)")
    return notes


def _result(found, cfg, test, diff):
    actions = _actions(found, "would be" if test else "was")
    notes = "".join(f"\nNote: {n}" for n in _notes(found, cfg))
    if not actions:
        return StepResult(False, "nothing of jailprov's is left on this host" + notes)
    data = {"destroyed": [d.name for d in found.destroys], "files": [e.shown for e in found.restores]}
    if found.not_ours:
        data["left_alone"] = sorted(found.not_ours)
    return StepResult(True, "; ".join(actions) + notes, diff, data=data)


def _diff(found):
    """The prisoners' config edits (files the restore does not cover), then each restored file's diff from
    its text before the clean."""
    restored = {e.shown for e in found.restores}
    parts = [e.diff for d in found.destroys for e in d.edits if e.shown not in restored]
    return "".join(parts + [e.diff for e in found.restores])


def apply(host, cfg, found):
    """Carry out ``found``: destroy the prisoners (each re-planned first), restore the files, remove the
    directories, the release tree and dataset, and the ledger.  A failure after a change is a PartialError."""
    gone = _gone(cfg)
    done = {}
    try:
        for destroy in found.destroys:
            again = lifecycle.plan_destroy(host, gone, destroy.name)
            if again.exists:
                lifecycle.apply_destroy(host, gone, again)
            done.setdefault("destroyed", []).append(destroy.name)
        ledger = hostledger.load(host)
        for edit in found.restores:
            entry = ledger["files"][edit.shown]
            if _current(host, edit.shown) != entry["written"]:
                raise JailprovError(f"{edit.shown} changed while the clean ran; it is kept as it is")
            _restore_edit(host, edit.shown, entry["original"], test=False)
            del ledger["files"][edit.shown]
            done.setdefault("files", []).append(edit.shown)
        for directory in found.dirs:
            os.rmdir(host.path(directory))
            ledger["dirs"].remove(directory)
        ledger["dirs"] = [d for d in ledger["dirs"] if os.path.isdir(host.path(d))]
        hostledger.save(host, ledger)
        _drop_ledger_dir(host)
        if found.tree:
            thin.remove_tree(host, gone)
        if found.releases_dir:
            lock = host.path(posixpath.join(found.releases_dir, ".lock"))
            if os.path.lexists(lock):
                os.unlink(lock)
            _drop_empty(host, found.releases_dir)
        if found.release_dataset:
            from . import zfsprov  # pylint: disable=import-outside-toplevel

            zfsprov.destroy_release(host, gone)
    except (JailprovError, OSError) as exc:
        message = exc.strerror if isinstance(exc, OSError) else str(exc)
        if not done:
            raise JailprovError(f"clean failed, nothing was changed: {message}") from None
        raise PartialError(f"clean failed: {message}", done, left="apply jail.clean again") from None


def _drop_empty(host, path):
    real = host.path(path)
    if os.path.isdir(real) and not os.path.islink(real) and not os.listdir(real):
        os.rmdir(real)


def _drop_ledger_dir(host):
    if not os.path.lexists(host.path(hostledger.LEDGER)):
        _drop_empty(host, posixpath.dirname(hostledger.LEDGER))


def clean(host, cfg, test=False):
    """Remove every prisoner jailprov manages and give the host files back (see the module docstring).

    ``test`` plans through the same checks and changes nothing; the second run reports no change."""
    found = plan(host, cfg)
    diff = _diff(found)
    if not test:
        apply(host, cfg, found)
    return _result(found, cfg, test, diff)
