"""Seed step 2, the base system in a prisoner's root: extracted once, with a stamp that says so.

The decision (:func:`plan_install`) reads the root's stamp (:mod:`.stamp`) and contents: no change when the
stamp says this release, arch and dists are installed, or when ``bin/freebsd-version`` already reports the
release; an ``extracting`` stamp (an interrupted run) makes the root be cleared and extracted again; a
non-empty root without a stamp is not ours to wipe, so it is an error unless ``force=True``.  Then the cache
is made ready (:func:`.prepare.fetch_release`) and, unless testing, the root is cleared when it must be, marked
``extracting``, extracted (:func:`.extract.extract_into`) and marked ``installed``, the complete stamp written last.
"""

import datetime
import os

from ..errors import JailprovError, ValidationError
from ..result import StepResult
from . import extract
from .prepare import fetch_release
from .progress import Progress
from .stamp import STAMP, STAMP_FORMAT, mark_extracting, read_stamp, userland_version, write_stamp


def install_base(host, cfg, name, test=False, force=False, fetcher=None, progress=None):
    """Step 2: extract ``cfg.dists`` of ``cfg.release`` into prisoner ``name``'s root, once.

    No change when the stamp says this release, arch and dists are installed, or when
    ``bin/freebsd-version`` in the root already reports ``cfg.release`` (a prisoner upgraded in place
    with freebsd-update, or extracted by hand before jailprov managed it).  A different release in the
    stamp, or a non-empty root without a stamp, is an error unless ``force=True``, which empties the
    root (``chflags -R 0``, then everything in it is removed, data included) and extracts anew.  An
    interrupted extraction (stamp still ``extracting``) is cleared and redone without ``force``.
    ``fetcher``/``progress``: see :func:`fetch_release`.  ``test=True`` reports what would happen and
    writes nothing.  Returns a :class:`StepResult`.
    """
    prisoner = cfg.prisoners.get(name)
    if prisoner is None:
        raise ValidationError(f"no prisoner {name!r} in jailprov:prisoners")
    if prisoner.absent:
        raise ValidationError(f"prisoner {name!r} is marked absent in the pillar; not installing a base into it")
    from ..features import thin  # pylint: disable=import-outside-toplevel  (thin prisoners build on this module)
    thin.refuse_conversion(host, cfg, prisoner)
    if prisoner.type == "thin":
        return thin.install_writable(host, cfg, name, test=test, force=force, fetcher=fetcher, progress=progress)
    return install_tree(host, cfg, prisoner.path, name, test=test, force=force, fetcher=fetcher, progress=progress)


def install_tree(host, cfg, root, name, test=False, force=False, fetcher=None, progress=None):
    """Extract ``cfg.dists`` of ``cfg.release`` into the directory ``root`` (a host path), once.

    The body of :func:`install_base` for any root: a thick prisoner's (``name`` is the prisoner) or the
    shared release tree of thin prisoners (:mod:`.thin`; ``name`` labels it in progress events).
    """
    real = host.path(root)
    stamp = read_stamp(host, root)
    clear, why = plan_install(host, cfg, root, real, stamp, force)
    if clear is None:
        return StepResult(False, why, data={"stamp": stamp} if stamp else {})

    cache = fetch_release(host, cfg, test=test, fetcher=fetcher, progress=progress)
    plan = {"release": cfg.release, "arch": cfg.arch, "root": root, "cleared": clear,
            "downloaded": cache["downloaded"],
            "decompressed": any(d["decompressed"] for d in cache["dists"].values()),
            "dists": {d: {"sha256": info["sha256"], "verified_by": info["verified_by"]}
                      for d, info in cache["dists"].items()}}
    wanted = f"{cfg.release} ({cfg.arch}) {'+'.join(cfg.dists)}"
    fetched = [cache["comment"]] if cache["changed"] else []
    if test:
        steps = ([f"clear {root} ({why})"] if clear else []) + [f"extract {wanted} into {root}"]
        return StepResult(True, "\n".join(fetched + ["would " + ", then ".join(steps)]), data=plan)

    if clear:
        extract.clear_root(host, root, name)
    os.makedirs(real, mode=0o755, exist_ok=True)
    stamp = {"format": STAMP_FORMAT, "release": cfg.release, "arch": cfg.arch, "dists": plan["dists"]}
    mark_extracting(real, root, stamp)
    for dist, info in cache["dists"].items():
        extract.extract_into(host, info["tar"], root, dist, cfg.release, Progress(
            progress, os.path.getsize(host.path(info["tar"])), what="release/extract", dist=dist, prisoner=name))
    stamp.update(state="installed",
                 installed_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    write_stamp(real, root, stamp)
    steps = ([f"cleared {root} ({why})"] if clear else []) + [f"extracted {wanted} into {root}"]
    return StepResult(True, "\n".join(fetched + [", then ".join(steps)]), data=dict(plan, stamp=f"{root}/{STAMP}"))


def plan_install(host, cfg, root, real, stamp, force):
    """``(clear, reason)``: ``clear`` is None for no change, else whether the root is emptied first."""
    if stamp is not None and stamp["state"] == "extracting":
        return True, "an earlier extraction was interrupted"
    if stamp is not None and (stamp.get("release"), stamp.get("arch"), sorted(stamp.get("dists", {}))) == \
            (cfg.release, cfg.arch, sorted(cfg.dists)):
        return None, (f"{cfg.release} ({cfg.arch}) {'+'.join(cfg.dists)} is already installed in {root} "
                      f"(since {stamp.get('installed_at')})")
    if stamp is None and not extract.contents(real):
        return False, "empty root"
    userland = userland_version(host, root)
    if userland == cfg.release and not force:
        origin = f"was extracted from {stamp['release']}" if stamp else f"has no {STAMP} (not installed by jailprov)"
        return None, f"{root} {origin} and bin/freebsd-version reports {userland}: nothing to extract"
    if force:
        return True, "force=True"
    if stamp is None:
        raise JailprovError(
            f"{root} is not empty and has no {STAMP}: it holds files jailprov did not install"
            f"{f' (bin/freebsd-version reports {userland})' if userland else ''}. Refusing to extract over "
            "them; pass force=True to empty it (all its files are removed) and install the base.")
    old = f"{stamp.get('release')} ({stamp.get('arch')}) {'+'.join(stamp.get('dists', {}))}"
    raise JailprovError(
        f"{root} holds {old}, but the pillar asks for {cfg.release} ({cfg.arch}) {'+'.join(cfg.dists)}. "
        "Extracting a base does not upgrade a prisoner: upgrade it with freebsd-update(8), e.g. "
        f"`freebsd-update -b {root} --currently-running {stamp.get('release')} -r {cfg.release} upgrade`, "
        "then `install`; or pass force=True to empty the root (all its files are removed) and extract "
        f"{cfg.release}.")
