"""A release made ready in the cache: each dist's ``.txz`` verified and its ``.tar`` built — planned, then applied.

:func:`plan` reads the cache (:mod:`.store`) and says, per dist, what a run does: nothing, refresh a record's
fingerprints, fetch the archive again (it is missing, or no longer matches), decompress it again (the ``.tar``
is missing or changed).  :func:`apply` does it: the MANIFEST first when a dist is not pinned and none is
cached, the downloads from the mirrors (:mod:`.fetch`), the decompression (:mod:`.extract`).  ``test=True``
is :func:`plan` alone: the same decisions, nothing downloaded or written.

The expected sha256 of a dist is its pin (``jailprov:sha256:<dist>``, which wins), else its MANIFEST line.
An archive that does not match MANIFEST is kept by neither: both are removed, so that the next run fetches
both again and converges once the mirror is fixed.
"""

import dataclasses
import os
import typing

from ..errors import JailprovError
from . import extract, fetch
from .progress import Progress
from .store import Store, fingerprint


@dataclasses.dataclass
class DistPlan:
    """What a run does for one dist, and the facts it knows beforehand."""

    dist: str
    expected: typing.Optional[str]      # the sha256 the archive must have (None: MANIFEST not fetched yet)
    verified_by: str                    # where ``expected`` comes from
    record: dict                        # the record as the run leaves it (fingerprints refreshed)
    save: bool = False                  # the record changed (a fingerprint: the files did not)
    stale: bool = False                 # the cached archive does not match: removed with its tar and record
    download: bool = False
    decompress: bool = False
    sha256: typing.Optional[str] = None  # of the archive: cached, or expected when it is to be downloaded
    built: typing.Optional[dict] = None  # the tar build that stands, when it is not to be decompressed
    source: typing.Optional[str] = None  # the URL the archive came from (after a download)
    notes: list = dataclasses.field(default_factory=list)

    def report(self, store):
        """The dist's entry in :func:`~salt_jail.core.release.fetch_release`'s ``dists``."""
        out = {"archive": f"{store.hdir}/{self.dist}.txz", "tar": f"{store.hdir}/{self.dist}.tar",
               "verified_by": self.verified_by, "downloaded": self.download, "decompressed": self.decompress,
               "notes": self.notes, "sha256": self.sha256}
        if self.download:
            out["source"] = self.source
        if self.built is not None:
            out["members"] = self.built.get("members")
        return out


@dataclasses.dataclass
class ReleasePlan:
    store: Store
    fetch_manifest: bool                # no MANIFEST cached, and a dist is not pinned
    dists: dict                         # dist -> DistPlan


def plan(cfg, store, manifest=None):
    """What :func:`apply` would do for ``cfg.dists``; reads the cache, writes nothing.

    Raises when a dist cannot be had: no MANIFEST line for it, or its cached build was found unsafe.
    """
    manifest = manifest if manifest is not None else store.manifest()
    pins = cfg.sha256 or {}
    fetch_manifest = manifest is None and any(d not in pins for d in cfg.dists)
    dists = {}
    for dist in cfg.dists:
        expected, source = _expected(cfg, store, dist, pins, manifest)
        dists[dist] = _plan_dist(store, dist, expected, source)
    return ReleasePlan(store, fetch_manifest, dists)


def _expected(cfg, store, dist, pins, manifest):
    """``(sha256 or None, source)``: the pin, else the MANIFEST line (None while MANIFEST is not fetched)."""
    if dist in pins:
        return pins[dist], f"pinned in jailprov:sha256:{dist}"
    if manifest is None:
        return None, "MANIFEST (not fetched yet)"
    entry = manifest.get(f"{dist}.txz")
    if entry is None:
        # The names jailprov:dists takes are file stems (base-dbg for base-dbg.txz), not MANIFEST's
        # distnames (base_dbg, release/scripts/make-manifest.sh turns "-" into "_").
        listed = ", ".join(sorted(f[:-len(".txz")] for f in manifest if f.endswith(".txz"))) or "none"
        raise JailprovError(f"{store.hdir}/MANIFEST has no line for {dist}.txz ({cfg.release}, "
                            f"{cfg.arch}); jailprov:dists can name: {listed}")
    return entry.sha256, f"MANIFEST ({store.hdir}/MANIFEST)"


def _plan_dist(store, dist, expected, source):
    txz, tar = f"{dist}.txz", f"{dist}.tar"
    p = DistPlan(dist, expected, source, store.load_record(dist))
    if store.exists(txz):
        digest, entry = store.sha256(txz, p.record.get("txz"), fetch.sha256_file)
        if expected is not None and digest != expected:
            p.notes.append(f"cached {txz} does not match (expected {expected}, actual {digest}); fetching it again")
            p.stale = True
        else:
            p.sha256 = digest
            if entry != p.record.get("txz"):
                p.record, p.save = dict(p.record, txz=entry), True
    if p.sha256 is None:
        p.download = p.decompress = True
        p.sha256 = expected
        return p
    built = p.record.get("tar")
    if built and built.get("from") == p.sha256:
        built = _check_tar(store, tar, p)
        if built is None and store.exists(tar):
            p.notes.append(f"cached {tar} changed since it was built; decompressing {txz} again")
    else:
        built = None
    if built is None:
        p.decompress = True
        return p
    p.built = built
    _refuse_unsafe(store, p)
    return p


def _check_tar(store, tar, p):
    """The recorded build of ``<dist>.tar`` if the file is still that build (or the archive was rejected: an
    unsafe tar is not kept, its verdict is), else None.  Same bytes under a new inode or ctime: the record
    takes the new fingerprint."""
    built = p.record["tar"]
    if built.get("problem"):
        return built
    if not store.exists(tar):
        return None
    digest, entry = store.sha256(tar, built, fetch.sha256_file)
    if digest != built["sha256"]:
        return None
    if entry is not built:
        p.record, p.save = dict(p.record, tar=dict(built, fingerprint=entry["fingerprint"])), True
    return p.record["tar"]


def _refuse_unsafe(store, p):
    if p.built.get("problem"):
        raise JailprovError(f"refusing to extract {store.release} {p.dist}.txz (sha256 {p.sha256}): "
                            f"{p.built['problem']}")


def apply(cfg, release_plan, mirrors, progress=None):
    """Do what ``release_plan`` says, under the cache's lock; returns the plan as it was carried out."""
    store = release_plan.store
    if release_plan.fetch_manifest:
        mirrors.manifest(store.real("MANIFEST"))
        release_plan = plan(cfg, store)
    for p in release_plan.dists.values():
        _apply_dist(store, p, mirrors, progress)
    return release_plan


def _apply_dist(store, p, mirrors, progress):
    txz, tar = f"{p.dist}.txz", f"{p.dist}.tar"
    if p.stale:
        store.remove(txz, tar, f"{p.dist}.json")
    if p.download:
        try:
            p.source, p.sha256 = mirrors.download(txz, store.real(txz), p.expected)
        except fetch.MirrorsFailed as err:
            if "MANIFEST" in p.verified_by and err.mismatch:
                # the archive does not match MANIFEST: either may be wrong, so neither is kept; the next
                # run fetches MANIFEST again and converges once the mirror is fixed
                store.remove("MANIFEST")
                raise JailprovError(f"{err}\n{store.hdir}/MANIFEST was removed with it: the next run fetches "
                                    "both again") from None
            raise
        p.record, p.save = {"txz": {"sha256": p.sha256, "fingerprint": fingerprint(store.real(txz))}}, True
    if p.save:
        store.save_record(p.dist, p.record)
    if p.decompress:
        report = Progress(progress, os.path.getsize(store.real(txz)), what="release/decompress", dist=p.dist,
                          release=store.release)
        built = extract.decompress(store.real(txz), store.real(tar), report, f"{store.hdir}/{txz}")
        built = {"from": p.sha256, **built}
        if not built["problem"]:
            built["fingerprint"] = fingerprint(store.real(tar))
        p.record = dict(p.record, tar=built)
        store.save_record(p.dist, p.record)
        p.built = built
        _refuse_unsafe(store, p)


def fetch_release(host, cfg, test=False, fetcher=None, progress=None):
    """Download and verify ``cfg.dists`` of ``cfg.release``/``cfg.arch`` into the cache, decompressed once.

    http, https, ftp and file:// mirrors are fetched with :func:`.fetch.urllib_fetch`; any other scheme
    (salt://) goes to ``fetcher(url, dest, progress)``, which downloads one URL to the local file ``dest`` and
    raises a JailprovError when it cannot (the Salt module passes one built on the master's file server).
    ``progress(event)`` receives dicts with ``what`` (``release/download``, ``release/decompress``,
    ``release/extract``), ``done``, ``total`` and ``percent``: at most every 8 MiB or 5 %.

    Returns ``{"release", "arch", "cache", "changed", "downloaded", "comment", "dists": {dist: {archive,
    tar, sha256, verified_by, downloaded, decompressed, members, notes, source?}}}`` (host paths).  With
    ``test=True`` the plan alone: nothing is downloaded or written; the dists say what would be.
    """
    store = Store(host, cfg.cache_dir, cfg.release, cfg.arch)
    with store.locked(write=not test):
        release_plan = plan(cfg, store)
        if not test:
            release_plan = apply(cfg, release_plan, fetch.Mirrors(cfg, fetcher, progress), progress)
    dists = {d: p.report(store) for d, p in release_plan.dists.items()}
    downloaded = [d for d, info in dists.items() if info["downloaded"]]
    decompressed = [d for d, info in dists.items() if info["decompressed"]]
    what = f"{cfg.release} ({cfg.arch}) {', '.join(f'{d}.txz' for d in cfg.dists)}"
    if downloaded or decompressed:
        verb = ("would be " if test else "") + " and ".join(
            v for v, items in (("downloaded", downloaded), ("decompressed", decompressed)) if items)
        comment = f"{what}: {verb} into {store.hdir}"
    else:
        comment = f"{what}: already in {store.hdir} and verified"
    notes = [n for info in dists.values() for n in info["notes"]]
    if notes:
        comment += "\n" + "\n".join(notes)
    return {"release": cfg.release, "arch": cfg.arch, "cache": store.hdir, "changed": bool(downloaded or decompressed),
            "downloaded": bool(downloaded), "comment": comment, "dists": dists}
