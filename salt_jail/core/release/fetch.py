"""Where a release's files come from: the mirrors, tried in order, and what proves a download intact.

``{mirror}/{arch-path}/{release}/{file}`` in the layout of download.freebsd.org
(``amd64/amd64/14.2-RELEASE/base.txz``), ``MANIFEST`` beside the archives.  http, https, ftp and file://
URLs are fetched here with :func:`urllib_fetch` (idle timeout, overall deadline, minimum rate); any other
scheme (salt://) goes to the fetcher the Salt module passes.  :class:`Mirrors` downloads one file to
``<dest>.part``, checks its sha256 (and optionally its content), and only then renames it to ``dest``; a
mirror that fails, or delivers other bytes, is skipped for the next one, and when all fail the error names
every URL tried and where FreeBSD keeps the release (archive mirror, snapshots).

Nothing here knows the cache's layout (:mod:`.store`) or what is done with the files (:mod:`.extract`).
"""

import dataclasses
import functools
import hashlib
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request

from .. import model
from ..errors import JailprovError, ParseError, ValidationError
from .progress import Progress

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

CHUNK = 1 << 20
TIMEOUT = 60
#: Default jailprov:download_min_rate (bytes per second) from which a download's deadline follows.
MIN_RATE = 65536
# Schemes urllib_fetch handles; any other (salt://) goes to the caller's fetcher.
URL_SCHEMES = ("http", "https", "ftp", "file")

_HEX64 = re.compile(r"[0-9a-f]{64}")


class FetchError(JailprovError):
    """A download failed; ``status`` is the HTTP status when the server answered with one."""

    def __init__(self, url, reason, status=None):
        self.url = url
        self.reason = reason
        self.status = status
        super().__init__(f"{url}: {reason}")


class MirrorsFailed(JailprovError):
    """No mirror delivered a file intact; ``failures`` is ``[(url, error)]``, ``mismatch`` whether one of
    them delivered bytes of another sha256 than expected."""

    def __init__(self, message, failures):
        self.failures = failures
        self.mismatch = any(getattr(err, "mismatch", False) for _, err in failures)
        super().__init__(message)


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


def read_text(path):
    """A downloaded text file (MANIFEST), bytes that are not UTF-8 replaced (parse_manifest then names them)."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        return fh.read()


def sha256_file(path):
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(functools.partial(fh.read, CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


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
            report = Progress(progress, total, what="release/download", url=url)
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


def remove(*paths):
    """Unlink each path that exists."""
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


class Mirrors:
    """The files of one release (``cfg.release``, ``cfg.arch``) on ``cfg.mirrors``, tried in order.

    ``cfg`` is a validated :class:`~salt_jail.core.model.Config` (the model guarantees the release name, the
    architecture and a non-empty list of mirror URLs).  ``fetcher(url, dest, progress)`` downloads URLs of
    other schemes than :data:`URL_SCHEMES` (salt://) and raises a JailprovError when it cannot.
    """

    def __init__(self, cfg, fetcher=None, progress=None):
        self.release = cfg.release
        self.arch = cfg.arch
        self.mirrors = tuple(cfg.mirrors)
        self.deadline = cfg.download_deadline
        self.min_rate = cfg.download_min_rate
        self.fetcher = fetcher
        self.progress = progress

    def download(self, name, dest, expected=None, validate=None):
        """Fetch ``name`` from the first mirror that delivers it intact into the local file ``dest``.

        The bytes go to ``dest.part`` and are renamed to ``dest`` only once their sha256 equals ``expected``
        (when given) and ``validate(part)`` (when given) did not raise.  Returns ``(url, sha256)``; raises
        :class:`MirrorsFailed` naming every URL tried and why.
        """
        part = dest + ".part"
        failures = []
        for mirror in self.mirrors:
            url = release_url(mirror, self.release, self.arch, name)
            remove(part)
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
                remove(part)
                failures.append((url, err))
                continue
            os.replace(part, dest)
            return url, digest
        raise MirrorsFailed(self.failure(name, failures), failures)

    def manifest(self, dest):
        """Download ``MANIFEST`` into ``dest``, kept only when it parses; returns ``(url, sha256)``."""
        return self.download("MANIFEST", dest, validate=lambda part: parse_manifest(read_text(part)))

    def _fetch(self, url, part):
        if urllib.parse.urlsplit(url).scheme in URL_SCHEMES:
            urllib_fetch(url, part, self.progress, deadline=self.deadline, min_rate=self.min_rate)
        elif self.fetcher is None:
            raise FetchError(url, "salt:// (and other non-URL) mirrors are fetched through Salt: use "
                                  "jailprov.fetch_release / jailprov.install_base")
        else:
            self.fetcher(url, part, self.progress)
        if not os.path.isfile(part):
            raise FetchError(url, "the fetcher returned without writing the file")

    def failure(self, name, failures):
        """The message when no mirror delivered ``name``: each URL and its error, then where FreeBSD keeps
        the release when a mirror said 404 (archive mirror past end of life, snapshots/ for snapshot builds)."""
        lines = [f"cannot fetch {name} of {self.release} ({self.arch}) from any mirror:"]
        lines += [f"  - {err}" if isinstance(err, FetchError) else f"  - {url}: {err}" for url, err in failures]
        archive = ARCHIVE_MIRROR.rstrip("/")
        if not any(getattr(err, "status", None) == 404 and urllib.parse.urlsplit(url).scheme in ("http", "https", "ftp")
                   for url, err in failures):
            return "\n".join(lines)
        tried = [m.rstrip("/") for m in self.mirrors]
        if model.release_kind(self.release) == "snapshot":
            where = release_url(SNAPSHOT_MIRROR, self.release, self.arch, "")
            if SNAPSHOT_MIRROR in tried:
                lines.append(f"{self.release} is not on {SNAPSHOT_MIRROR} (it keeps the last few snapshot builds "
                             "only): check jailprov:release and jailprov:arch.")
            else:
                lines.append(f"{self.release} is a snapshot build (ALPHA, CURRENT and STABLE builds are published "
                             f"under snapshots/, not releases/): FreeBSD keeps it at {where} — set jailprov:mirror "
                             f"to {SNAPSHOT_MIRROR}.")
        elif archive in tried:
            lines.append(f"{self.release} is not on the archive mirror either: check jailprov:release "
                         "and jailprov:arch.")
        else:
            lines.append(
                f"{self.release} may be past its end of life: FreeBSD then removes a release from the "
                f"main mirrors and keeps it at {release_url(archive, self.release, self.arch, '')} "
                f"— add {archive} to jailprov:mirrors.")
        return "\n".join(lines)
