"""Seed step 2, the base system: fetch each release once, verify it, decompress it once, extract it everywhere.

**Source.**  ``{mirror}/{arch-path}/{release}/{dist}.txz`` and ``MANIFEST`` beside it, in the layout of
download.freebsd.org (``amd64/amd64/14.2-RELEASE/base.txz``).  Mirrors are tried in order.  The core fetches
http, https, ftp and file:// URLs itself with :func:`urllib_fetch`; other schemes (salt://) go to the
fetcher the Salt module passes (see :func:`fetch_release`).

**Cache.**  ``{cache_dir}/{release}/{arch}/`` holds, per dist, the verified ``<dist>.txz``, its
decompressed ``<dist>.tar`` and a record ``<dist>.json``; ``MANIFEST`` is shared.  The record keeps the
sha256 of both files with their (size, mtime, ctime, inode), so re-verifying before every use costs one
``stat`` while nothing changed and a real sha256 otherwise (ctime cannot be set back, so a file rewritten
and ``touch``-ed to its old mtime is still re-hashed).  Downloads go to ``<name>.part`` and are renamed only
once complete and verified.  A pinned ``sha256`` (pillar ``jailprov:sha256:<dist>``) wins over MANIFEST.

**Decompress once.**  The ``.txz`` is decompressed with :mod:`lzma`, streaming, into ``<dist>.tar``; the
members are checked once per build (no absolute path, no ``..``, no hard link leaving the root, no member
written through a symbolic link, no device node), in a thread reading the ``.tar`` as it is written, and the
verdict is recorded.  Every prisoner then costs
one ``tar -xpf <dist>.tar`` — the system tar, which on FreeBSD restores owners, modes, setuid bits and
file flags (Python's tarfile cannot restore flags).  ``--numeric-owner`` keeps the archive's uid/gid as
they are: they are the prisoner's own ids, not names to look up in the host's user database.

**Stamp.**  ``<root>/var/db/jailprov-base.json`` (``/var/db`` is where FreeBSD keeps such state, e.g.
``/var/db/zoneinfo``) says ``"state": "extracting"`` while tar runs and ``"state": "installed"`` — with
release, arch, dists, digests and time — once it is done; the complete stamp is written last.  Only an
``extracting`` stamp makes a later run clear the root (after ``chflags -R 0``) and extract again: a
non-empty root without a stamp is not ours to wipe, so it is an error unless ``force=True``.  Extraction
only ever goes into an empty root (fresh or just cleared).  The stamp is read and written through
:mod:`.textedit` (chroot semantics: the prisoner's root user owns that tree and its symbolic links).
"""

import contextvars
import dataclasses
import datetime
import fcntl
import functools
import hashlib
import json
import lzma
import os
import posixpath
import re
import shutil
import tarfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from .. import model
from ..io import textedit
from ..errors import CommandError, JailprovError, ParseError, ValidationError
from ..result import StepResult

# FreeBSD's release directory for each supported TARGET (download.freebsd.org/releases/<path>/<release>/).
ARCH_PATHS = {
    "amd64": "amd64/amd64",
    "arm64": "arm64/aarch64",
    "i386": "i386/i386",
    "riscv64": "riscv/riscv64",
    "armv7": "arm/armv7",
}
MAIN_MIRROR = model.DEFAULT_MIRROR
# Where releases past end of life live (same <arch-path>/<release>/ layout below it).
ARCHIVE_MIRROR = model.ARCHIVE_MIRROR
# Where ALPHA, CURRENT and STABLE builds live (same layout).
SNAPSHOT_MIRROR = model.SNAPSHOT_MIRROR

STAMP = "var/db/jailprov-base.json"
STAMP_FORMAT = 1
RECORD_FORMAT = 1
CHUNK = 1 << 20
PROGRESS_BYTES = 8 << 20
PROGRESS_PERCENT = 5
#: While tar extracts, how often (seconds) the extraction's progress is estimated and reported.
EXTRACT_POLL_SECONDS = 2.0
TIMEOUT = 60
#: Default jailprov:download_min_rate (bytes per second) from which a download's deadline follows.
MIN_RATE = 65536
# Schemes urllib_fetch handles; any other (salt://) goes to the caller's fetcher.
URL_SCHEMES = ("http", "https", "ftp", "file")

_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_USERLAND = re.compile(r'^USERLAND_VERSION="([^"]+)"', re.M)


class FetchError(JailprovError):
    """A download failed; ``status`` is the HTTP status when the server answered with one."""

    def __init__(self, url, reason, status=None):
        self.url = url
        self.reason = reason
        self.status = status
        super().__init__(f"{url}: {reason}")


@dataclasses.dataclass(frozen=True)
class ManifestEntry:
    """One line of a release MANIFEST (release/scripts/make-manifest.sh)."""

    file: str          # base.txz
    sha256: str
    count: int         # number of archive members (tar tvf | wc -l)
    dist: str          # distname: base, base_dbg, lib32 ...
    description: str
    default_on: bool


def arch_path(arch):
    """``amd64`` → ``amd64/amd64``; raises ValidationError for an architecture FreeBSD does not release."""
    try:
        return ARCH_PATHS[arch]
    except KeyError:
        raise ValidationError(f"jailprov:arch: unknown architecture {arch!r}; expected one of "
                              f"{', '.join(ARCH_PATHS)}") from None


def release_url(mirror, release, arch, filename):
    """``{mirror}/{arch-path}/{release}/{filename}``."""
    return f"{mirror.rstrip('/')}/{arch_path(arch)}/{release}/{filename}"


def parse_manifest(text, filename="MANIFEST"):
    """Parse a MANIFEST into ``{file: ManifestEntry}``; a malformed line raises ParseError naming it."""
    entries = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 6:
            raise ParseError(f"expected 6 tab-separated fields (file, sha256, count, dist, \"description\", "
                             f"on/off), found {len(fields)}", filename, lineno)
        file, digest, count, dist, desc, default = fields
        if not _HEX64.fullmatch(digest.lower()):
            raise ParseError(f"{file}: sha256 {digest!r} is not 64 hexadecimal digits", filename, lineno)
        if not count.isdigit():
            raise ParseError(f"{file}: file count {count!r} is not a number", filename, lineno)
        if len(desc) < 2 or not (desc.startswith('"') and desc.endswith('"')):
            raise ParseError(f"{file}: description {desc!r} is not in double quotes", filename, lineno)
        if default not in ("on", "off"):
            raise ParseError(f"{file}: last field {default!r} should be on or off", filename, lineno)
        if file in entries:
            raise ParseError(f"{file} is listed twice", filename, lineno)
        entries[file] = ManifestEntry(file, digest.lower(), int(count), dist, desc[1:-1], default == "on")
    return entries


def sha256_file(path):
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(functools.partial(fh.read, CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


class _Progress:
    """Calls ``progress(event)`` at most every 8 MiB or 5 %, and for ``final`` reports not yet sent."""

    def __init__(self, progress, total, **event):
        self.progress = progress
        self.total = total
        self.event = event
        self.last = None

    def __call__(self, done, final=False):
        if self.progress is None or done == self.last:
            return
        step = done - (self.last or 0)
        if final or step >= PROGRESS_BYTES or (self.total and 100 * step >= PROGRESS_PERCENT * self.total):
            self.last = done
            percent = 100 * done // self.total if self.total else None
            self.progress(dict(self.event, done=done, total=self.total, percent=percent))


def download_deadline(total, min_rate=None):
    """The default overall deadline (seconds) of a download of ``total`` bytes: the idle timeout plus the time
    the transfer takes at ``min_rate`` bytes per second (jailprov:download_min_rate)."""
    return TIMEOUT + -(-int(total) // int(min_rate or MIN_RATE))


def urllib_fetch(url, dest, progress=None, deadline=None, min_rate=None):
    """Download ``url`` (http, https, ftp, file) to the local file ``dest``, streaming in 1 MiB chunks.

    Raises FetchError with the HTTP status, on a refused connection, and when the body is shorter than
    the announced Content-Length.  ``progress(event)`` receives ``what`` (``release/download``), ``url``,
    ``done``, ``total`` and ``percent``.

    Besides the idle timeout (:data:`TIMEOUT` seconds without a byte), the whole download has a deadline:
    ``deadline`` seconds when given (jailprov:download_deadline), else :func:`download_deadline` of the
    announced size; without a Content-Length the transfer must keep ``min_rate`` bytes per second on average
    after the first :data:`TIMEOUT` seconds.  Past it the download fails with the URL, the bytes received and
    the deadline.
    """
    started = time.monotonic()
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in URL_SCHEMES:
        raise FetchError(url, f"no fetcher for {scheme}:// URLs here (salt:// is fetched through Salt: "
                              "use jailprov.fetch_release / jailprov.install_base)")
    request = urllib.request.Request(url, headers={"User-Agent": "salt-jailprov"})
    try:
        idle = min(TIMEOUT, deadline) if deadline else TIMEOUT
        with urllib.request.urlopen(request, timeout=idle) as resp, open(dest, "wb") as out:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            limit = deadline or (download_deadline(total, min_rate) if total is not None else None)
            report = _Progress(progress, total, what="release/download", url=url)
            done = 0
            read = getattr(resp, "read1", resp.read)      # what has arrived, not a full chunk
            for chunk in iter(functools.partial(read, CHUNK), b""):
                out.write(chunk)
                done += len(chunk)
                report(done)
                _check_deadline(url, started, done, total, limit, min_rate)
            report(done, final=True)
    except urllib.error.HTTPError as err:
        raise FetchError(url, f"HTTP {err.code} {err.reason}", status=err.code) from err
    except urllib.error.URLError as err:
        raise FetchError(url, f"cannot connect: {err.reason}") from err
    except OSError as err:
        raise FetchError(url, f"download failed: {err}") from err
    if total is not None and done != total:
        raise FetchError(url, f"download truncated: received {done} of {total} bytes")


def _check_deadline(url, started, done, total, limit, min_rate):
    elapsed = time.monotonic() - started
    if limit is not None and elapsed > limit:
        of = f" of {total}" if total is not None else ""
        raise FetchError(url, f"download deadline of {limit} s passed: received {done}{of} bytes in "
                              f"{elapsed:.0f} s (jailprov:download_deadline, or the default from "
                              "jailprov:download_min_rate); the partial file was removed")
    rate = int(min_rate or MIN_RATE)
    if limit is None and elapsed > TIMEOUT and done < rate * (elapsed - TIMEOUT):
        raise FetchError(url, f"download too slow: received {done} bytes in {elapsed:.0f} s, below "
                              f"jailprov:download_min_rate ({rate} bytes/s) after the first {TIMEOUT} s; the partial "
                              "file was removed")


# --- the release cache -------------------------------------------------------------------------------

def _fingerprint(path):
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _member_problem(member, symlinks):
    """Why ``member`` must not be extracted into a prisoner, or None.  ``symlinks``: links seen so far."""
    name = member.name
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if name.startswith("/"):
        return f"member {name!r} has an absolute path"
    if ".." in parts:
        return f"member {name!r} has a '..' component"
    if member.islnk() and (member.linkname.startswith("/") or ".." in member.linkname.split("/")):
        return f"hard link {name!r} points to {member.linkname!r}, outside the archive"
    if member.ischr() or member.isblk():
        return f"member {name!r} is a device node (a prisoner's devices come from devfs)"
    for i in range(1, len(parts)):
        prefix = "/".join(parts[:i])
        if prefix in symlinks:
            return f"member {name!r} would be written through the symbolic link {prefix!r}"
    path = "/".join(parts)
    if member.issym():
        symlinks.add(path)
    else:
        symlinks.discard(path)
    return None


def scan_tar(path):
    """Check every member of an uncompressed tar once; returns ``(members, problem or None)``.

    Memory stays flat whatever the archive size: TarFile's list of seen members is emptied as we go.
    TarFile silently stops at a header it cannot read, where tar would skip ahead and extract what
    follows; so everything after the last member must be the zero blocks that end an archive.
    """
    with open(path, "rb") as fh:
        return _scan(fh)


def _scan(fh):
    """:func:`scan_tar` over an open binary file (read and seeked forward only)."""
    count = 0
    symlinks = set()
    try:
        with tarfile.open(fileobj=fh, mode="r:") as tar:
            while (member := tar.next()) is not None:
                tar.members.clear()
                count += 1
                problem = _member_problem(member, symlinks)
                if problem:
                    return count, problem
            end = tar.offset
    except tarfile.TarError as err:
        return count, f"not a valid tar archive after member {count}: {err}"
    fh.seek(end)
    for chunk in iter(functools.partial(fh.read, CHUNK), b""):
        if chunk.strip(b"\0"):
            return count, f"not a valid tar archive after member {count}: unreadable header at byte {end}"
    return count, None


class _GrowingFile:
    """A reader of a file another thread is writing: a read waits until the bytes it asks for are written
    (or the writer is done).  Lets :func:`_scan` check the members of a tar while it is being decompressed."""

    def __init__(self, path):
        self._fh = open(path, "rb")  # pylint: disable=consider-using-with  (closed by close())
        self._cond = threading.Condition()
        self._written = 0
        self._done = False

    def grew(self, size):
        with self._cond:
            self._written += size
            self._cond.notify_all()

    def done(self):
        with self._cond:
            self._done = True
            self._cond.notify_all()

    def read(self, size=-1):
        want = self._fh.tell() + size
        with self._cond:
            while not self._done and (size < 0 or self._written < want):
                self._cond.wait()
        return self._fh.read(size)

    def seek(self, offset, whence=os.SEEK_SET):
        return self._fh.seek(offset, whence)

    def tell(self):
        return self._fh.tell()

    def close(self):
        self._fh.close()


class _ScanWhileWriting:
    """:func:`_scan` of ``path`` in a thread while the caller writes it (:meth:`grew` after each write,
    :meth:`result` once every byte is written).  Decompression (lzma and sha256 release the GIL) and the
    member check, in Python, then run side by side: on two cores the check costs no wall time."""

    def __init__(self, path):
        self._file = _GrowingFile(path)
        self._out, self._error = None, None
        self._thread = threading.Thread(target=self._run, name="jailprov-tar-scan", daemon=True)
        self._thread.start()

    def _run(self):
        try:
            self._out = _scan(self._file)
        except BaseException as err:  # pylint: disable=broad-except  (handed to the caller in result())
            self._error = err

    def grew(self, size):
        self._file.grew(size)

    def stop(self):
        """The writer is done (or gave up): let the scan reach the end, wait for it."""
        self._file.done()
        self._thread.join()
        self._file.close()

    def result(self):
        """``(members, problem or None)`` once every byte is written."""
        self.stop()
        if self._error is not None:
            raise self._error
        return self._out


def _remove(*paths):
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


class _Cache:
    """``{cache_dir}/{release}/{arch}/`` for one Config: expected digests, downloads, decompression."""

    def __init__(self, host, cfg, fetcher, progress, test):
        for what, value in (("release", cfg.release), ("arch", cfg.arch)):
            if not _SAFE_NAME.fullmatch(value or ""):
                raise ValidationError(f"jailprov:{what}: {value!r} cannot name a directory")
        arch_path(cfg.arch)
        for dist in cfg.dists:
            if not _SAFE_NAME.fullmatch(dist):
                raise ValidationError(f"jailprov:dists: {dist!r} is not a distribution name (base, lib32, ...)")
        for dist, digest in (cfg.sha256 or {}).items():
            if not _HEX64.fullmatch(str(digest).lower()):
                raise ValidationError(f"jailprov:sha256:{dist}: expected 64 hexadecimal digits, got {digest!r}")
        if not cfg.mirrors:
            raise ValidationError("jailprov:mirrors: no mirror to fetch the release from")
        self.host = host
        self.cfg = cfg
        self.fetcher = fetcher
        self.progress = progress
        self.test = test
        self.hdir = posixpath.join(cfg.cache_dir, cfg.release, cfg.arch)
        self.dir = host.path(self.hdir)
        self.manifest = None

    def real(self, name):
        return os.path.join(self.dir, name)

    def load_record(self, dist):
        try:
            with open(self.real(f"{dist}.json"), encoding="utf-8") as fh:
                record = json.load(fh)
        except (FileNotFoundError, ValueError):
            return {}
        return record if record.get("format") == RECORD_FORMAT else {}

    def save_record(self, dist, record):
        tmp = self.real(f"{dist}.json.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(dict(record, format=RECORD_FORMAT), fh, indent=1, sort_keys=True)
        os.replace(tmp, self.real(f"{dist}.json"))

    def digest(self, name, entry):
        """sha256 of cached ``name``: the recorded one while the fingerprint matches, else hashed anew."""
        fingerprint = _fingerprint(self.real(name))
        if entry and entry.get("fingerprint") == fingerprint:
            return entry["sha256"], entry
        digest = sha256_file(self.real(name))
        return digest, {"sha256": digest, "fingerprint": fingerprint}

    # -- expected digests ------------------------------------------------------------------------------

    def expected(self, dist):
        """``(sha256 or None, source)``: the pin, else the MANIFEST line (None in test mode when not cached)."""
        pinned = (self.cfg.sha256 or {}).get(dist)
        if pinned:
            return str(pinned).lower(), f"pinned in jailprov:sha256:{dist}"
        if self.manifest is None:
            self.manifest = self._manifest()
            if self.manifest is None:
                return None, "MANIFEST (not fetched yet)"
        entry = self.manifest.get(f"{dist}.txz")
        if entry is None:
            # The names jailprov:dists takes are file stems (base-dbg for base-dbg.txz), not MANIFEST's
            # distnames (base_dbg, release/scripts/make-manifest.sh turns "-" into "_").
            listed = ", ".join(sorted(f[:-len(".txz")] for f in self.manifest if f.endswith(".txz"))) or "none"
            raise JailprovError(f"{self.hdir}/MANIFEST has no line for {dist}.txz ({self.cfg.release}, "
                                f"{self.cfg.arch}); jailprov:dists can name: {listed}")
        return entry.sha256, f"MANIFEST ({self.hdir}/MANIFEST)"

    def _manifest(self):
        path = self.real("MANIFEST")
        if not os.path.exists(path):
            if self.test:
                return None
            self._download("MANIFEST", None, validate=lambda part: parse_manifest(_read_text(part)))
        return parse_manifest(_read_text(path), f"{self.hdir}/MANIFEST")

    # -- downloads -------------------------------------------------------------------------------------

    def _download(self, name, expected, validate=None):
        """Fetch ``name`` from the first mirror that delivers it intact; returns ``(url, sha256)``."""
        part = self.real(name + ".part")
        failures = []
        for mirror in self.cfg.mirrors:
            url = release_url(mirror, self.cfg.release, self.cfg.arch, name)
            _remove(part)
            try:
                self._fetch(url, part)
                digest = sha256_file(part)
                if expected is not None and digest != expected:
                    mismatch = FetchError(url, f"sha256 mismatch: expected {expected}, actual {digest} "
                                               "(the download was removed)")
                    mismatch.mismatch = True
                    raise mismatch
                if validate:
                    validate(part)
            except JailprovError as err:     # FetchError, ParseError, or the Salt fetcher's own
                _remove(part)
                failures.append((url, err))
                continue
            os.replace(part, self.real(name))
            return url, digest
        raise JailprovError(self._fetch_failure(name, failures))

    def _fetch(self, url, part):
        if urllib.parse.urlsplit(url).scheme in URL_SCHEMES:
            urllib_fetch(url, part, self.progress, deadline=getattr(self.cfg, "download_deadline", None),
                         min_rate=getattr(self.cfg, "download_min_rate", None))
        elif self.fetcher is None:
            raise FetchError(url, "salt:// (and other non-URL) mirrors are fetched through Salt: use "
                                  "jailprov.fetch_release / jailprov.install_base")
        else:
            self.fetcher(url, part, self.progress)
        if not os.path.isfile(part):
            raise FetchError(url, "the fetcher returned without writing the file")

    def _fetch_failure(self, name, failures):
        lines = [f"cannot fetch {name} of {self.cfg.release} ({self.cfg.arch}) from any mirror:"]
        lines += [f"  - {err}" if isinstance(err, FetchError) else f"  - {url}: {err}" for url, err in failures]
        archive = ARCHIVE_MIRROR.rstrip("/")
        if not any(getattr(err, "status", None) == 404 and urllib.parse.urlsplit(url).scheme in ("http", "https", "ftp")
                   for url, err in failures):
            return "\n".join(lines)
        tried = [m.rstrip("/") for m in self.cfg.mirrors]
        if model.release_kind(self.cfg.release) == "snapshot":
            where = release_url(SNAPSHOT_MIRROR, self.cfg.release, self.cfg.arch, "")
            if SNAPSHOT_MIRROR in tried:
                lines.append(f"{self.cfg.release} is not on {SNAPSHOT_MIRROR} (it keeps the last few snapshot builds "
                             "only): check jailprov:release and jailprov:arch.")
            else:
                lines.append(f"{self.cfg.release} is a snapshot build (ALPHA, CURRENT and STABLE builds are published "
                             f"under snapshots/, not releases/): FreeBSD keeps it at {where} — set jailprov:mirror "
                             f"to {SNAPSHOT_MIRROR}.")
        elif archive in tried:
            lines.append(f"{self.cfg.release} is not on the archive mirror either: check jailprov:release "
                         "and jailprov:arch.")
        else:
            lines.append(
                f"{self.cfg.release} may be past its end of life: FreeBSD then removes a release from the "
                f"main mirrors and keeps it at {release_url(archive, self.cfg.release, self.cfg.arch, '')} "
                f"— add {archive} to jailprov:mirrors.")
        return "\n".join(lines)

    # -- one distribution ------------------------------------------------------------------------------

    def ensure(self, dist):
        """Make ``<dist>.txz`` verified and ``<dist>.tar`` built and checked; returns what was (or would be) done."""
        expected, source = self.expected(dist)
        txz, tar = f"{dist}.txz", f"{dist}.tar"
        record = self.load_record(dist)
        out = {"archive": f"{self.hdir}/{txz}", "tar": f"{self.hdir}/{tar}", "verified_by": source,
               "downloaded": False, "decompressed": False, "notes": []}
        digest = None
        if os.path.exists(self.real(txz)):
            digest, entry = self.digest(txz, record.get("txz"))
            if expected is not None and digest != expected:
                out["notes"].append(f"cached {txz} does not match (expected {expected}, actual {digest}); "
                                    "fetching it again")
                digest = None
                if not self.test:
                    _remove(self.real(txz), self.real(tar), self.real(f"{dist}.json"))
                    record = {}
            elif not self.test and entry != record.get("txz"):
                record = dict(record, txz=entry)
                self.save_record(dist, record)
        if digest is None:
            out["downloaded"] = out["decompressed"] = True
            if self.test:
                out.update(sha256=expected, source=None)
                return out
            try:
                out["source"], digest = self._download(txz, expected)
            except JailprovError as err:
                if "MANIFEST" in source and "sha256 mismatch" in str(err):
                    # the archive does not match MANIFEST: either may be wrong, so neither is kept; the next
                    # run fetches MANIFEST again and converges once the mirror is fixed
                    _remove(self.real("MANIFEST"))
                    self.manifest = None
                    raise JailprovError(f"{err}\n{self.hdir}/MANIFEST was removed with it: the next run fetches "
                                        "both again") from None
                raise
            record = {"txz": {"sha256": digest, "fingerprint": _fingerprint(self.real(txz))}}
            self.save_record(dist, record)
        out["sha256"] = digest
        built = record.get("tar")
        if built and built.get("from") == digest:
            checked = self._check_tar(dist, record)
            if checked is None and os.path.exists(self.real(tar)):
                out["notes"].append(f"cached {tar} changed since it was built; decompressing {txz} again")
            built = checked
        else:
            built = None
        if built is None:
            out["decompressed"] = True
            if self.test:
                return out
            record["tar"] = built = self._build_tar(dist, digest)
            self.save_record(dist, record)
        out["members"] = built.get("members")
        if built.get("problem"):
            raise JailprovError(f"refusing to extract {self.cfg.release} {txz} (sha256 {digest}): "
                                f"{built['problem']}")
        return out

    def _check_tar(self, dist, record):
        """The recorded build of ``<dist>.tar`` if the file is still that build (or the archive was
        rejected: an unsafe tar is not kept, its verdict is), else None."""
        built, tar = record["tar"], f"{dist}.tar"
        if built.get("problem"):
            return built
        if not os.path.exists(self.real(tar)):
            return None
        digest, entry = self.digest(tar, built)
        if digest != built["sha256"]:
            return None
        if entry is not built and not self.test:        # same bytes, new inode or ctime: remember it
            record["tar"] = dict(built, fingerprint=entry["fingerprint"])
            self.save_record(dist, record)
        return record["tar"]

    def _build_tar(self, dist, txz_digest):
        """Decompress ``<dist>.txz`` once, streaming, into ``<dist>.tar``; hash it and check its members.

        Returns the build record; an unsafe archive's tar is removed and its verdict kept in the record.
        """
        src_path, part = self.real(f"{dist}.txz"), self.real(f"{dist}.tar.part")
        total = os.path.getsize(src_path)
        report = _Progress(self.progress, total, what="release/decompress", dist=dist,
                           release=self.cfg.release)
        h = hashlib.sha256()
        scan = None
        try:
            with open(src_path, "rb") as raw, lzma.open(raw) as src, open(part, "wb") as dst:
                scan = _ScanWhileWriting(part)
                for chunk in iter(functools.partial(src.read, CHUNK), b""):
                    h.update(chunk)
                    dst.write(chunk)
                    dst.flush()
                    scan.grew(len(chunk))
                    report(raw.tell())
            members, problem = scan.result()
        except (lzma.LZMAError, EOFError) as err:
            _remove(part)
            raise JailprovError(f"{self.hdir}/{dist}.txz matches its sha256 but is not a valid xz archive: "
                                f"{err}") from err
        except OSError as err:
            _remove(part)
            raise JailprovError(f"decompressing {self.hdir}/{dist}.txz into {self.hdir}: {err}") from err
        finally:
            if scan is not None:
                scan.stop()
        built = {"from": txz_digest, "sha256": h.hexdigest(), "members": members, "problem": problem}
        if problem:
            _remove(part)
            return built
        report(total, final=True)
        os.replace(part, self.real(f"{dist}.tar"))
        built["fingerprint"] = _fingerprint(self.real(f"{dist}.tar"))
        return built

    def ensure_all(self):
        if self.test:
            return {dist: self.ensure(dist) for dist in self.cfg.dists}
        os.makedirs(self.dir, mode=0o755, exist_ok=True)
        with open(self.real(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)      # one download/decompression at a time per release
            return {dist: self.ensure(dist) for dist in self.cfg.dists}


def _read_text(path):
    with open(path, encoding="utf-8", errors="replace") as fh:
        return fh.read()


def fetch_release(host, cfg, test=False, fetcher=None, progress=None):
    """Download and verify ``cfg.dists`` of ``cfg.release``/``cfg.arch`` into the cache, decompressed once.

    http, https, ftp and file:// mirrors are fetched with :func:`urllib_fetch`; any other scheme (salt://)
    goes to ``fetcher(url, dest, progress)``, which downloads one URL to the local file ``dest`` and raises
    a JailprovError when it cannot (the Salt module passes one built on the master's file server).
    ``progress(event)`` receives dicts with ``what`` (``release/download``, ``release/decompress``,
    ``release/extract``), ``done``, ``total`` and ``percent``: at most every 8 MiB or 5 %.

    Returns ``{"release", "arch", "cache", "changed", "downloaded", "comment", "dists": {dist: {archive,
    tar, sha256, verified_by, downloaded, decompressed, members, notes, source?}}}`` (host paths).  With
    ``test=True`` nothing is downloaded or written; the dists say what would be.
    """
    cache = _Cache(host, cfg, fetcher, progress, test)
    dists = cache.ensure_all()
    downloaded = [d for d, info in dists.items() if info["downloaded"]]
    decompressed = [d for d, info in dists.items() if info["decompressed"]]
    what = f"{cfg.release} ({cfg.arch}) {', '.join(f'{d}.txz' for d in cfg.dists)}"
    if downloaded or decompressed:
        verb = ("would be " if test else "") + " and ".join(
            v for v, items in (("downloaded", downloaded), ("decompressed", decompressed)) if items)
        comment = f"{what}: {verb} into {cache.hdir}"
    else:
        comment = f"{what}: already in {cache.hdir} and verified"
    notes = [n for info in dists.values() for n in info["notes"]]
    if notes:
        comment += "\n" + "\n".join(notes)
    return {"release": cfg.release, "arch": cfg.arch, "cache": cache.hdir, "changed": bool(downloaded or decompressed),
            "downloaded": bool(downloaded), "comment": comment, "dists": dists}


# --- install into a prisoner -------------------------------------------------------------------------

def read_stamp(host, root):
    """The base stamp of the prisoner at host path ``root``: a dict, or None when there is none."""
    real = host.path(root)
    if not os.path.isdir(real):
        return None
    state = textedit.read_text(textedit.Root(real, root), STAMP, missing_ok=True)
    if state is None:
        return None
    try:
        stamp = json.loads(state.text)
    except ValueError:
        stamp = None
    if not isinstance(stamp, dict) or stamp.get("state") not in ("extracting", "installed"):
        raise JailprovError(f"{root}/{STAMP} is not a jailprov base stamp (unreadable JSON or unknown "
                            "state); remove it and pass force=True to reinstall the base")
    return stamp


def userland_version(host, root):
    """``USERLAND_VERSION`` of the prisoner's ``bin/freebsd-version``, without ``-pN``; None if unknown."""
    try:
        state = textedit.read_text(textedit.Root(host.path(root), root), "bin/freebsd-version", missing_ok=True)
    except JailprovError:          # not a text file, a symlink loop...: no version to trust
        return None
    match = _USERLAND.search(state.text) if state else None
    return re.sub(r"-p\d+$", "", match.group(1)) if match else None


def _contents(real_root):
    try:
        return [e for e in os.listdir(real_root) if e != "lost+found"]
    except FileNotFoundError:
        return []


def _clear_flags(host, root):
    """``chflags -R 0 root``; explains when kern.securelevel forbids it."""
    argv = ["chflags", "-R", "0", root]
    res = host.run(argv)
    if res.ok:
        return
    level = host.run(["sysctl", "-n", "kern.securelevel"])
    value = level.stdout.strip() if level.ok else ""
    if value.lstrip("-").isdigit() and int(value) > 0:
        raise JailprovError(
            f"cannot clear file flags under {root}: kern.securelevel is {value}, and system flags such as "
            "schg cannot be removed while it is above 0. Lower it at boot (kern_securelevel_enable=\"NO\" "
            f"in /etc/rc.conf, then reboot) and run again. chflags said: {_tail(res.stderr or res.stdout)}")
    raise CommandError(argv, res.retcode, res.stdout, res.stderr, what="clearing file flags before re-extracting")


def _clear_root(host, root, name):
    """Empty the prisoner root (keeping the directory itself and lost+found) after ``chflags -R 0``.

    Refuses while the prisoner runs or while a file system is mounted below the root (devfs, nullfs):
    removing files there would reach into the mounted tree.
    """
    real = host.path(root)
    running = host.run(["jls", "-j", name, "jid"])
    if running.ok and running.stdout.strip():
        raise JailprovError(f"prisoner {name} is running (jid {running.stdout.strip()}); stop it before its "
                            "base is reinstalled")
    dev = os.lstat(real).st_dev
    for dirpath, dirnames, _ in os.walk(real):
        for d in dirnames:
            if os.lstat(os.path.join(dirpath, d)).st_dev != dev:
                mounted = posixpath.join(root, os.path.relpath(os.path.join(dirpath, d), real))
                raise JailprovError(f"a file system is mounted on {mounted} inside prisoner {name}; unmount it "
                                    "before the base is reinstalled")
    _clear_flags(host, root)
    try:
        for entry in _contents(real):
            path = os.path.join(real, entry)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
    except OSError as err:
        raise JailprovError(f"cannot empty {root} before re-extracting: {err.strerror}: {err.filename} "
                            "(a file flag that chflags -R 0 did not clear?)") from err


def _tail(text, lines=5):
    """The first lines of a tool's error output (tar repeats ENOSPC once per file)."""
    rows = [r for r in (text or "").strip().splitlines() if r]
    more = f" (+{len(rows) - lines} more lines)" if len(rows) > lines else ""
    return "; ".join(rows[:lines]) + more


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
    clear, why = _plan(host, cfg, root, real, stamp, force)
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
        _clear_root(host, root, name)
    os.makedirs(real, mode=0o755, exist_ok=True)
    stamp = {"format": STAMP_FORMAT, "release": cfg.release, "arch": cfg.arch, "dists": plan["dists"]}
    _mark_extracting(real, root, stamp)
    for dist, info in cache["dists"].items():
        _extract(host, info["tar"], root, dist, cfg.release, _Progress(
            progress, os.path.getsize(host.path(info["tar"])), what="release/extract", dist=dist, prisoner=name))
    stamp.update(state="installed",
                 installed_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    _write_stamp(real, root, stamp)
    steps = ([f"cleared {root} ({why})"] if clear else []) + [f"extracted {wanted} into {root}"]
    return StepResult(True, "\n".join(fetched + [", then ".join(steps)]), data=dict(plan, stamp=f"{root}/{STAMP}"))


def _plan(host, cfg, root, real, stamp, force):
    """``(clear, reason)``: ``clear`` is None for no change, else whether the root is emptied first."""
    if stamp is not None and stamp["state"] == "extracting":
        return True, "an earlier extraction was interrupted"
    if stamp is not None and (stamp.get("release"), stamp.get("arch"), sorted(stamp.get("dists", {}))) == \
            (cfg.release, cfg.arch, sorted(cfg.dists)):
        return None, (f"{cfg.release} ({cfg.arch}) {'+'.join(cfg.dists)} is already installed in {root} "
                      f"(since {stamp.get('installed_at')})")
    if stamp is None and not _contents(real):
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


def _write_stamp(real, root, stamp):
    text = json.dumps(stamp, indent=1, sort_keys=True) + "\n"
    textedit.edit(textedit.Root(real, root), STAMP, lambda _old: (text, ""), create=True, mode=0o644)


def _mark_extracting(real, root, stamp):
    """Write the ``extracting`` stamp into the empty root; on failure leave the root empty again."""
    parent = os.path.dirname(STAMP).split("/")          # var, db: created here, replaced by tar's own
    os.makedirs(os.path.join(real, *parent), mode=0o755, exist_ok=True)
    try:
        _write_stamp(real, root, dict(stamp, state="extracting"))
    except JailprovError:
        for i in range(len(parent), 0, -1):
            try:
                os.rmdir(os.path.join(real, *parent[:i]))
            except OSError:
                break
        raise


class _ExtractWatch:
    """Reports an extraction's progress while tar runs, every :data:`EXTRACT_POLL_SECONDS`.

    tar says nothing until it exits, so the bytes done are estimated from what already is in the root, counted
    as the archive stores it: a 512-byte header per entry plus its data rounded up to 512 bytes.  Below the
    total until tar exits (the caller reports the total then).  The walk never follows a link, and reads
    nothing but sizes.  The thread runs in the caller's context (``contextvars``), so a ``report`` that
    needs Salt's loader context (``event.send``) works from it.
    """

    def __init__(self, real_root, report):
        self.real_root = real_root
        self.report = report
        self.stop = threading.Event()
        self.thread = None

    def estimate(self):
        done = 0
        stack = [self.real_root]
        while stack:
            try:
                with os.scandir(stack.pop()) as entries:
                    for entry in entries:
                        done += 512
                        try:
                            if entry.is_dir(follow_symlinks=False):
                                stack.append(entry.path)
                            elif entry.is_file(follow_symlinks=False):
                                done += -(-entry.stat(follow_symlinks=False).st_size // 512) * 512
                        except OSError:
                            continue
            except OSError:
                continue
        return done

    def _loop(self):
        while not self.stop.wait(EXTRACT_POLL_SECONDS):
            total = self.report.total or 0
            self.report(max(0, min(self.estimate(), total - 1)))

    def __enter__(self):
        if self.report.progress is not None and self.report.total:
            self.thread = threading.Thread(target=contextvars.copy_context().run, args=(self._loop,),
                                           name="jailprov-extract-progress", daemon=True)
            self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        if self.thread is not None:
            self.thread.join()


def _extract(host, tar, root, dist, release, report):
    """``tar -xpf <cached tar> --numeric-owner -C root``; a failure leaves the ``extracting`` stamp.
    ``report`` is told 0, estimates while tar runs (:class:`_ExtractWatch`), then the total."""
    argv = ["tar", "-xpf", tar, "--numeric-owner", "-C", root]
    report(0, final=True)
    with _ExtractWatch(host.path(root), report):
        res = host.run(argv)
    if not res.ok:
        raise JailprovError(
            f"extracting {dist} of {release} into {root} failed (`{' '.join(argv)}` exited {res.retcode}: "
            f"{_tail(res.stderr or res.stdout)}). The prisoner stays marked incomplete; the next run clears "
            "it and extracts again.")
    report(report.total, final=True)
