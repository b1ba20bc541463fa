"""The release cache on disk (``cache_dir``, default ``/var/cache/jailprov``): layout, lock, records, pruning.

Layout: ``<cache_dir>/<release>/<arch>/`` holds ``MANIFEST`` and, per distribution set, ``<dist>.txz`` (as
downloaded and verified), ``<dist>.tar`` (decompressed once, so that each prisoner's extraction skips xz:
~4x faster per prisoner) and ``<dist>.json``, the record of what was verified and built::

    {"format": 1,
     "txz": {"sha256": ..., "fingerprint": [size, mtime_ns, ctime_ns, inode]},
     "tar": {"from": <sha256 of the txz>, "sha256": ..., "fingerprint": [...], "members": N, "problem": null}}

The fingerprint makes re-verifying a file before every use cost one ``stat`` while nothing changed and a real
sha256 otherwise (ctime cannot be set back, so a file rewritten and ``touch``-ed to its old mtime is still
re-hashed).  ``.lock`` is held (``flock``) while a run downloads or decompresses into the directory, and by
pruning, which leaves a locked release alone.

What is kept and when it is deleted (:func:`release_cache`):

- the pillar's release (``jailprov:release``/``arch``) is kept whole, ``.tar`` included, while the pillar has
  prisoners: every new prisoner is extracted from the ``.tar``, and the formula's ``jailprov-release`` state
  keeps it there (deleting it would only make the next highstate decompress it again);
- any other release — the one the pillar moved away from, or one no prisoner uses — is deleted whole by
  ``jailprov.release_cache prune=True``, its decompressed ``.tar`` with it.  Prisoners already extracted from it
  do not need it: a prisoner is upgraded with freebsd-update(8), never re-extracted.
"""

import contextlib
import fcntl
import json
import os
import posixpath
import shutil

from ..errors import JailprovError
from .fetch import parse_manifest, read_text, remove
from .stamp import read_stamp

RECORD_FORMAT = 1


def fingerprint(path):
    """``[size, mtime_ns, ctime_ns, inode]`` of ``path``: equal while the file was not touched."""
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def sha256_of(path, entry, hasher):
    """``(sha256, entry)`` of ``path``: the recorded ``entry["sha256"]`` (and ``entry`` itself) while its
    fingerprint matches, else ``hasher(path)`` with a new entry ``{"sha256", "fingerprint"}``."""
    now = fingerprint(path)
    if entry and entry.get("fingerprint") == now:
        return entry["sha256"], entry
    digest = hasher(path)
    return digest, {"sha256": digest, "fingerprint": now}


class Store:
    """``<cache_dir>/<release>/<arch>/`` on ``host`` (host paths in ``hdir``, this machine's in ``dir``).

    ``release`` and ``arch`` come from a validated Config: the model admits only release names such as
    ``14.2-RELEASE`` and the architectures of :data:`.fetch.ARCH_PATHS`, so they name one directory each.
    """

    def __init__(self, host, cache_dir, release, arch):
        self.release = release
        self.arch = arch
        self.hdir = posixpath.join(cache_dir, release, arch)
        self.dir = host.path(self.hdir)
        self._hashed = {}

    def sha256(self, name, entry, hasher):
        """:func:`sha256_of` the cached file ``name``; a file hashed once by this Store is not hashed again while
        its fingerprint stays (a run that plans twice, before and after fetching MANIFEST, hashes once)."""
        path = self.real(name)
        known = self._hashed.get(path)

        def memo(p):
            if known and known["fingerprint"] == fingerprint(p):
                return known["sha256"]
            return hasher(p)

        digest, entry = sha256_of(path, entry, memo)
        self._hashed[path] = {"sha256": digest, "fingerprint": entry["fingerprint"]}
        return digest, entry

    def real(self, name):
        """This machine's path of the cached file ``name``."""
        return os.path.join(self.dir, name)

    def exists(self, name):
        return os.path.exists(self.real(name))

    def remove(self, *names):
        remove(*(self.real(n) for n in names))

    def manifest(self):
        """The cached MANIFEST parsed (``{file: ManifestEntry}``), or None when there is none."""
        path = self.real("MANIFEST")
        if not os.path.exists(path):
            return None
        return parse_manifest(read_text(path), f"{self.hdir}/MANIFEST")

    def load_record(self, dist):
        """The record ``<dist>.json``; ``{}`` when missing, unreadable or of another format."""
        try:
            with open(self.real(f"{dist}.json"), encoding="utf-8") as fh:
                record = json.load(fh)
        except (FileNotFoundError, ValueError):
            return {}
        return record if record.get("format") == RECORD_FORMAT else {}

    def save_record(self, dist, record):
        """Replace ``<dist>.json`` atomically."""
        tmp = self.real(f"{dist}.json.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(dict(record, format=RECORD_FORMAT), fh, indent=1, sort_keys=True)
        os.replace(tmp, self.real(f"{dist}.json"))

    @contextlib.contextmanager
    def locked(self, write=True):
        """Hold ``.lock`` (one download/decompression at a time per release) for a run that writes; a run
        that only reads (test mode) creates nothing, not even the directory, and takes no lock."""
        if not write:
            yield self
            return
        os.makedirs(self.dir, mode=0o755, exist_ok=True)
        with open(self.real(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield self


# --- inventory and pruning ---------------------------------------------------------------------------

def _files(real):
    """``{name: bytes}`` of the regular files directly in ``real`` (never following a link; not ``.lock``)."""
    out = {}
    with os.scandir(real) as entries:
        for entry in entries:
            if entry.is_file(follow_symlinks=False) and not entry.name.startswith("."):
                out[entry.name] = entry.stat(follow_symlinks=False).st_size
    return dict(sorted(out.items()))


def _dirs(real):
    try:
        with os.scandir(real) as entries:
            return sorted(e.name for e in entries if e.is_dir(follow_symlinks=False))
    except FileNotFoundError:
        return []


def release_cache(host, cfg, prune=False, test=False):
    """List the cached releases with their sizes; with ``prune=True`` delete those no prisoner uses.

    Returns ``{"cache_dir", "bytes", "releases": [{release, arch, path, files: {name: bytes}, bytes, in_use,
    used_by, installed_in, removed}], "removed_bytes", "changed", "comment"}``.  ``in_use``: it is the
    pillar's release and the pillar has prisoners (``used_by``); ``installed_in``: prisoners whose base was
    extracted from it (informative: they do not need the cache).  ``test=True`` deletes nothing and says what
    would be deleted.  A release whose lock an extraction holds is left alone.
    """
    top = host.path(cfg.cache_dir)
    present = list(cfg.present)
    stamps = {p.name: read_stamp(host, p.path) or {} for p in present}
    report = {"cache_dir": cfg.cache_dir, "bytes": 0, "releases": [], "removed_bytes": 0, "changed": False}
    notes = []
    for rel in _dirs(top):
        for arch in _dirs(os.path.join(top, rel)):
            real = os.path.join(top, rel, arch)
            files = _files(real)
            in_use = (rel, arch) == (cfg.release, cfg.arch) and bool(present)
            entry = {
                "release": rel, "arch": arch, "path": f"{cfg.cache_dir.rstrip('/')}/{rel}/{arch}",
                "files": files, "bytes": sum(files.values()), "in_use": in_use,
                "used_by": [p.name for p in present] if in_use else [],
                "installed_in": [n for n, s in stamps.items()
                                 if (s.get("release"), s.get("arch")) == (rel, arch) and s.get("state") == "installed"],
                "removed": False,
            }
            report["bytes"] += entry["bytes"]
            report["releases"].append(entry)
            if not prune or in_use:
                continue
            if test:
                entry["removed"] = True
            elif _remove_release(real):
                entry["removed"] = True
                _rmdir_if_empty(os.path.join(top, rel))
            else:
                notes.append(f"{entry['path']}: an extraction holds its lock; left alone")
                continue
            report["removed_bytes"] += entry["bytes"]
            report["changed"] = True
    removed = [f"{e['release']} ({e['arch']}, {_size(e['bytes'])})" for e in report["releases"] if e["removed"]]
    kept = [f"{e['release']} ({e['arch']}, {_size(e['bytes'])}, used by {', '.join(e['used_by'])})"
            for e in report["releases"] if e["in_use"]]
    if removed:
        verb = "would be deleted" if test else "deleted"
        comment = f"{verb} from {cfg.cache_dir}: {', '.join(removed)}; {_size(report['removed_bytes'])} freed"
    elif prune:
        comment = f"no cached release to prune in {cfg.cache_dir}"
    else:
        unused = [e for e in report["releases"] if not e["in_use"]]
        comment = (f"{len(report['releases'])} cached release(s) in {cfg.cache_dir}, {_size(report['bytes'])}"
                   + (f"; {len(unused)} used by no prisoner ({_size(sum(e['bytes'] for e in unused))}): "
                      "prune=True deletes them" if unused else ""))
    if kept and prune:
        comment += f"; kept: {', '.join(kept)}"
    report["comment"] = "; ".join([comment] + notes)
    return report


def _remove_release(real):
    """Delete one ``<release>/<arch>`` directory unless an extraction holds its lock; True when deleted."""
    lock_path = os.path.join(real, ".lock")
    try:
        lock = open(lock_path, "a")  # pylint: disable=consider-using-with
    except FileNotFoundError:
        lock = None
    except OSError as err:
        raise JailprovError(f"cannot open {lock_path}: {err.strerror}") from err
    try:
        if lock is not None:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
        try:
            shutil.rmtree(real)
        except OSError as err:
            raise JailprovError(f"cannot delete {real}: {err.strerror}: {err.filename}") from err
        return True
    finally:
        if lock is not None:
            lock.close()


def _rmdir_if_empty(path):
    try:
        os.rmdir(path)
    except OSError:
        pass


def _size(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
