"""A release archive into a prisoner's tree: decompressed once, its members checked, extracted with system tar.

**Decompress once.**  :func:`decompress` turns a verified ``.txz`` into a ``.tar`` with :mod:`lzma`,
streaming, while a thread checks the members of the ``.tar`` as it is written (:class:`ScanWhileWriting`):
no absolute path, no ``..``, no hard link leaving the root, no member written through a symbolic link, no
device node (:func:`member_problem`).  An unsafe archive's ``.tar`` is not kept; its verdict is.

**Extract.**  Every prisoner then costs one ``tar -xpf <dist>.tar --numeric-owner -C <root>`` (:func:`extract_into`)
— the system tar, which on FreeBSD restores owners, modes, setuid bits and file flags (Python's tarfile cannot
restore flags); ``--numeric-owner`` keeps the archive's uid/gid as they are: they are the prisoner's own ids,
not names to look up in the host's user database.  Extraction only ever goes into an empty root (fresh, or
emptied by :func:`clear_root` after ``chflags -R 0``), and reports progress while tar runs
(:class:`ExtractWatch`).
"""

import contextvars
import functools
import hashlib
import lzma
import os
import posixpath
import shutil
import tarfile
import threading

from ..errors import CommandError, JailprovError
from .fetch import CHUNK, remove

#: While tar extracts, how often (seconds) the extraction's progress is estimated and reported.
EXTRACT_POLL_SECONDS = 2.0


# --- the member check ------------------------------------------------------------------------------

def member_problem(member, symlinks):
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
                problem = member_problem(member, symlinks)
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


class ScanWhileWriting:
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


def decompress(src, dest, report, label):
    """Decompress the ``.txz`` ``src`` once, streaming, into ``dest``; hash it and check its members meanwhile.

    Returns the build ``{"sha256", "members", "problem"}`` (``problem``: why the archive must not be
    extracted, or None).  The bytes go to ``dest.part``, renamed to ``dest`` only when the archive is safe: an
    unsafe archive's tar is removed.  ``report``: a :class:`.progress.Progress` over the bytes of ``src``.
    ``label``: ``src`` as the user knows it (its host path), for the errors.
    """
    part = dest + ".part"
    total = os.path.getsize(src)
    h = hashlib.sha256()
    scan = None
    try:
        with open(src, "rb") as raw, lzma.open(raw) as xz, open(part, "wb") as dst:
            scan = ScanWhileWriting(part)
            for chunk in iter(functools.partial(xz.read, CHUNK), b""):
                h.update(chunk)
                dst.write(chunk)
                dst.flush()
                scan.grew(len(chunk))
                report(raw.tell())
            members, problem = scan.result()
    except (lzma.LZMAError, EOFError) as err:
        remove(part)
        raise JailprovError(f"{label} matches its sha256 but is not a valid xz archive: {err}") from err
    except OSError as err:
        remove(part)
        raise JailprovError(f"decompressing {label} into {posixpath.dirname(label)}: {err}") from err
    finally:
        if scan is not None:
            scan.stop()
    built = {"sha256": h.hexdigest(), "members": members, "problem": problem}
    if problem:
        remove(part)
        return built
    report(total, final=True)
    os.replace(part, dest)
    return built


# --- extraction into a prisoner ------------------------------------------------------------------------

def contents(real_root):
    try:
        return [e for e in os.listdir(real_root) if e != "lost+found"]
    except FileNotFoundError:
        return []


def clear_flags(host, root):
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


def clear_root(host, root, name):
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
    clear_flags(host, root)
    try:
        for entry in contents(real):
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


class ExtractWatch:
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


def extract_into(host, tar, root, dist, release, report):
    """``tar -xpf <cached tar> --numeric-owner -C root``; a failure leaves the ``extracting`` stamp.
    ``report`` is told 0, estimates while tar runs (:class:`ExtractWatch`), then the total."""
    argv = ["tar", "-xpf", tar, "--numeric-owner", "-C", root]
    report(0, final=True)
    with ExtractWatch(host.path(root), report):
        res = host.run(argv)
    if not res.ok:
        raise JailprovError(
            f"extracting {dist} of {release} into {root} failed (`{' '.join(argv)}` exited {res.retcode}: "
            f"{_tail(res.stderr or res.stdout)}). The prisoner stays marked incomplete; the next run clears "
            "it and extracts again.")
    report(report.total, final=True)
