"""Symlink-safe, atomic file I/O under a root, and the unified diffs the steps report.

A prisoner's root user controls every file below the prisoner root, symbolic links included.  A host
process that opens ``<prisoner>/etc/hosts`` the host's way follows the links the host's way, so a
prisoner whose ``etc/hosts`` points at ``/etc/master.passwd`` (or whose ``etc`` is ``../../../../etc``)
would have the host edit its own files.  Everything here therefore resolves paths **with chroot
semantics**, as the prisoner's own processes see them:

* the path is walked one component at a time from a directory descriptor of the root
  (``openat(2)``-style, no string joins);
* an absolute symlink restarts the walk at the root, a relative one continues where it was found;
* ``..`` pops the walk's own stack of opened directories and stays put at the root, so nothing ever
  climbs above the root (the filesystem's ``..`` entry is never used);
* at most :data:`MAXSYMLINKS` links are followed, like ``namei()``.

This one portable walk is used on FreeBSD and Linux alike (Linux ``openat2(RESOLVE_IN_ROOT)`` would do
the same, but is not available on FreeBSD, and two implementations would behave differently at the
edges).  Host files (``/etc/pw.conf``, ``/etc/resolv.conf``) go through the same code with
``Root(host.root, "/")``.

Reading follows a final symlink inside the root and accepts only regular files holding UTF-8 text
without NUL bytes.  Writing never follows the final component: the new content goes to a temporary file
in the same real directory, is ``fsync``-ed and renamed over the name, so **a final symlink is replaced
by a regular file** (the link is never written through).  Its content, mode and owner are taken from
what the link resolved to inside the root.  Nothing is written when the content and mode already match,
so a link whose in-root target already has the wanted content is left alone.
"""

import contextlib
import dataclasses
import difflib
import errno
import os
import secrets
import stat
import typing

from ..errors import JailprovError, MissingError

#: Links followed during one resolution before giving up (FreeBSD's MAXSYMLINKS, sys/param.h).
MAXSYMLINKS = 32

#: Largest file read as text.  Configuration files are far smaller; the limit keeps a prisoner from
#: making the host read a huge file into memory.
MAX_TEXT_BYTES = 16 * 1024 * 1024

#: Mode of a file created where none existed.
DEFAULT_MODE = 0o644

_O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
# open() on a symlink with O_NOFOLLOW fails with ELOOP on Linux and EMLINK on FreeBSD.
_NOFOLLOW_ERRNOS = (errno.ELOOP, errno.EMLINK)


@dataclasses.dataclass(frozen=True)
class Root:
    """A directory tree seen with chroot semantics.

    ``real`` is the real path of the directory (``host.path(prisoner.path)``); ``shown`` is how
    messages name it, the host path (``/home/jail/web``, or ``/`` for the host itself).
    """

    real: str
    shown: str = "/"

    @classmethod
    def of_host(cls, host):
        """The host's own filesystem, for host files such as ``/etc/pw.conf``."""
        return cls(host.path("/"), "/")

    def show(self, rel):
        """The host path of ``rel`` for messages: ``etc/hosts`` → ``/home/jail/web/etc/hosts``."""
        return self.shown.rstrip("/") + "/" + rel.lstrip("/")


@dataclasses.dataclass(frozen=True)
class FileState:
    """A text file as read: content plus the permission bits and owner to keep when replacing it."""

    text: str
    mode: int
    uid: int
    gid: int


@dataclasses.dataclass(frozen=True)
class EditResult:
    """One file's old and new state.

    ``old``/``new`` are the text (``None``: the file does not exist, before or after).  For entries that
    are not text files (symlinks), they hold a one-line description such as
    ``symbolic link to /usr/share/zoneinfo/UTC``.  ``path`` is the root-relative label used in the diff
    (``etc/hosts``); ``shown`` is the host path used in comments.
    """

    path: str
    shown: str
    old: typing.Optional[str]
    new: typing.Optional[str]
    old_mode: typing.Optional[int] = None
    new_mode: typing.Optional[int] = None
    note: str = ""

    @property
    def changed(self):
        return self.old != self.new or self.old_mode != self.new_mode

    @property
    def diff(self):
        """A unified diff with ``a/<path>``/``b/<path>`` labels; git-style mode lines when modes differ."""
        if not self.changed:
            return ""
        return unified_diff(self.path, self.old, self.new, self.old_mode, self.new_mode)


def unified_diff(path, old, new, old_mode=None, new_mode=None):
    """Unified diff of two texts (``None`` = absent, shown as ``/dev/null``).

    A last line without a newline gets the usual ``\\ No newline at end of file`` marker, so a diff that
    only adds the final newline is not empty.
    """
    header = []
    if old is None and new_mode is not None:
        header.append(f"new file mode {new_mode:04o}\n")
    elif new is None and old_mode is not None:
        header.append(f"deleted file mode {old_mode:04o}\n")
    elif old_mode is not None and new_mode is not None and old_mode != new_mode:
        header += [f"old mode {old_mode:04o}\n", f"new mode {new_mode:04o}\n"]
    body = []
    for line in difflib.unified_diff(
        (old or "").splitlines(keepends=True),
        (new or "").splitlines(keepends=True),
        fromfile="/dev/null" if old is None else f"a/{path}",
        tofile="/dev/null" if new is None else f"b/{path}",
    ):
        body.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    if not body and (old is None or new is None):
        # Creating or removing an empty file: difflib prints nothing, the header must still say so.
        body = [
            "--- " + ("/dev/null" if old is None else f"a/{path}") + "\n",
            "+++ " + ("/dev/null" if new is None else f"b/{path}") + "\n",
        ]
    return "".join(header + body)


def split_lines(text):
    """``text`` as a list of lines without their ``\\n``, plus whether it ended with one.

    Only ``\\n`` separates lines, so every other byte (``\\r``, form feeds) survives a round trip through
    :func:`join_lines` unchanged.
    """
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
        return lines, True
    return lines, False


def join_lines(lines, trailing_newline=True):
    """Inverse of :func:`split_lines`."""
    text = "\n".join(lines)
    return text + "\n" if (lines and trailing_newline) else text


# --------------------------------------------------------------------------------------------------
# Resolution


@contextlib.contextmanager
def _resolve(root, rel, follow):
    """Resolve ``rel`` below ``root`` with chroot semantics.

    Yields ``(dir_fd, name)``: an open descriptor of the real directory that holds the final component
    and the component's name (which need not exist).  With ``follow`` a final symlink is resolved
    further; without it the final component is returned as is.  Raises :class:`JailprovError` for a
    missing root or intermediate directory, a non-directory in the middle, or a symlink loop.
    """
    where = root.show(rel)
    try:
        root_fd = os.open(root.real, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        raise JailprovError(f"{root.shown} is not an accessible directory: {err.strerror}") from None
    stack = []  # descriptors of the directories entered below the root, innermost last
    pending = rel.split("/")[::-1]  # reversed: pop() yields the next component
    links = 0

    def count_link():
        nonlocal links
        links += 1
        if links > MAXSYMLINKS:
            raise JailprovError(
                f"{where}: more than {MAXSYMLINKS} symbolic links while resolving it inside {root.shown} "
                "(a symlink loop?)"
            )
    try:
        while True:
            comp = pending.pop() if pending else None
            if comp in ("", "."):
                continue
            if comp == "..":
                if stack:
                    os.close(stack.pop())
                continue
            if comp is None:
                raise JailprovError(f"{where}: the path names the root directory itself, not a file")
            cur = stack[-1] if stack else root_fd
            final = all(c in ("", ".") for c in pending)
            if final and not follow:
                yield cur, comp
                return
            try:
                target = os.readlink(comp, dir_fd=cur)
            except OSError as err:
                if err.errno == errno.EINVAL:  # exists and is not a symlink
                    target = None
                elif err.errno == errno.ENOENT and final:
                    yield cur, comp
                    return
                else:
                    raise _walk_error(where, comp, err) from None
            if target is not None:
                count_link()
                if target.startswith("/"):
                    while stack:
                        os.close(stack.pop())
                pending.extend(target.split("/")[::-1])
                continue
            if final:
                yield cur, comp
                return
            try:
                stack.append(os.open(comp, _O_DIR, dir_fd=cur))
            except OSError as err:
                if err.errno in _NOFOLLOW_ERRNOS:  # replaced by a symlink since readlink: look again
                    count_link()
                    pending.append(comp)
                    continue
                raise _walk_error(where, comp, err) from None
    finally:
        for fd in stack:
            os.close(fd)
        os.close(root_fd)


class _MissingDirectory(MissingError):
    """A directory on the way does not exist: for reading, the file does not exist either."""


def _walk_error(where, comp, err):
    if err.errno == errno.ENOENT:
        return _MissingDirectory(f"{where}: directory {comp!r} on the way does not exist")
    if err.errno == errno.ENOTDIR:
        return JailprovError(f"{where}: {comp!r} on the way is not a directory")
    return JailprovError(f"{where}: cannot open {comp!r}: {err.strerror}")


def _lstat(dir_fd, name):
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _read_regular(dir_fd, name, where):
    """Read a regular file (never a FIFO, device or directory) without following a symlink."""
    st = _lstat(dir_fd, name)
    if st is None:
        return None
    if not stat.S_ISREG(st.st_mode):
        raise JailprovError(f"{where} is not a regular file ({_kind(st)}); refusing to read it")
    if st.st_size > MAX_TEXT_BYTES:
        raise JailprovError(f"{where} is {st.st_size} bytes, larger than any configuration file should be")
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(name, flags, dir_fd=dir_fd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # swapped between lstat and open
            raise JailprovError(f"{where} changed while it was being read; try again")
        chunks, size = [], 0
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_TEXT_BYTES:
                raise JailprovError(f"{where} is larger than any configuration file should be")
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks), st


def _kind(st):
    mode = st.st_mode
    for test, name in (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "a regular file" if stat.S_ISREG(mode) else "an unknown file type"


def _decode(data, where):
    if b"\0" in data:
        raise JailprovError(f"{where} is a binary file (it contains NUL bytes), not a text configuration file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise JailprovError(f"{where} is not valid UTF-8 text (byte offset {err.start}); refusing to edit it") from None


# --------------------------------------------------------------------------------------------------
# Reading


def read_text(root, rel, missing_ok=False, hint=""):
    """Read ``rel`` below ``root`` as the prisoner would see it (final symlink followed inside the root).

    Returns a :class:`FileState`, or ``None`` for a missing file when ``missing_ok``.  A missing file
    otherwise raises :class:`JailprovError` ending with ``hint`` (e.g. the step that creates it); a
    non-regular, binary or non-UTF-8 file always raises.
    """
    where = root.show(rel)
    try:
        with _resolve(root, rel, follow=True) as (dir_fd, name):
            got = _read_regular(dir_fd, name, where)
    except _MissingDirectory:
        got = None
    if got is None:
        if missing_ok:
            return None
        raise MissingError(f"{where} does not exist" + (f"; {hint}" if hint else ""))
    data, st = got
    return FileState(_decode(data, where), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)


def is_regular_file(root, rel):
    """Whether ``rel`` resolves, inside ``root``, to an existing regular file."""
    try:
        with _resolve(root, rel, follow=True) as (dir_fd, name):
            st = _lstat(dir_fd, name)
    except _MissingDirectory:
        return False
    return st is not None and stat.S_ISREG(st.st_mode)


def _final(root, rel):
    """The final component itself, unfollowed: ``(lstat or None, link target or None)``."""
    with _resolve(root, rel, follow=False) as (dir_fd, name):
        st = _lstat(dir_fd, name)
        target = os.readlink(name, dir_fd=dir_fd) if st is not None and stat.S_ISLNK(st.st_mode) else None
    return st, target


# --------------------------------------------------------------------------------------------------
# Writing


def edit(root, rel, transform, test=False, mode=None, create=False, hint=""):
    """Bring ``rel`` below ``root`` to ``transform(old_text)`` and return the :class:`EditResult`.

    ``transform(old)`` gets the current text (``None`` when the file does not exist and ``create`` is
    true) and returns ``(new_text, note)``.  ``mode`` is the wanted permission bits; ``None`` keeps the
    current ones (:data:`DEFAULT_MODE` for a new file).  The owner of a replaced file is kept.  A missing
    file without ``create`` raises :class:`JailprovError` ending with ``hint``.  With ``test`` everything
    is computed and nothing is written, so the result is the same as a real run's.
    """
    where = root.show(rel)
    st, link = _final(root, rel)
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise JailprovError(f"{where} is a directory, expected a file")
    current = read_text(root, rel, missing_ok=True)
    if current is None and not create:
        if link is not None:
            raise MissingError(
                f"{where} is a symbolic link to {link}, which does not exist inside {root.shown}"
                + (f"; {hint}" if hint else "")
            )
        raise MissingError(f"{where} does not exist" + (f"; {hint}" if hint else ""))
    new_text, note = transform(current.text if current else None)
    old_mode = current.mode if current else None
    new_mode = mode if mode is not None else (old_mode if current else DEFAULT_MODE)
    if current and new_mode != old_mode:
        note = _join(note, f"mode {old_mode:04o} -> {new_mode:04o}")
    result = EditResult(rel, where, current.text if current else None, new_text, old_mode, new_mode, note)
    if result.changed and link is not None:
        result = dataclasses.replace(result, note=_join(note, f"replaced the symbolic link to {link} by a file"))
    if result.changed and not test:
        owner = (current.uid, current.gid) if current else None
        _replace(root, rel, lambda dir_fd, tmp: _write_file(dir_fd, tmp, new_text, new_mode, owner))
    elif not test and current is not None:
        with _resolve(root, rel, follow=False) as (dir_fd, name):
            _sweep(dir_fd, name)
    return result


def ensure_symlink(root, rel, target, test=False):
    """Make ``rel`` a symbolic link to ``target`` (replacing a file or another link atomically)."""
    where = root.show(rel)
    st, link = _final(root, rel)
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise JailprovError(f"{where} is a directory, expected a symbolic link")
    new = _describe_link(target)
    old = None if st is None else (_describe_link(link) if link is not None else f"{_kind(st)}, {st.st_size} bytes\n")
    result = EditResult(rel, where, old, new)
    if result.changed and not test:
        _replace(root, rel, lambda dir_fd, tmp: os.symlink(target, tmp, dir_fd=dir_fd))
    return result


def ensure_absent(root, rel, test=False):
    """Remove ``rel`` (a file or a symlink, never followed).  A directory there is an error."""
    where = root.show(rel)
    st, link = _final(root, rel)
    if st is None:
        return EditResult(rel, where, None, None)
    if stat.S_ISDIR(st.st_mode):
        raise JailprovError(f"{where} is a directory; refusing to remove it")
    if link is not None:
        result = EditResult(rel, where, _describe_link(link), None)
    else:
        try:
            old = read_text(root, rel).text
        except JailprovError:  # not text: describe it instead of showing it
            old = f"{_kind(st)}, {st.st_size} bytes\n"
        result = EditResult(rel, where, old, None, stat.S_IMODE(st.st_mode), None)
    if not test:
        with _resolve(root, rel, follow=False) as (dir_fd, name):
            os.unlink(name, dir_fd=dir_fd)
            os.fsync(dir_fd)
    return result


def _describe_link(target):
    return f"symbolic link to {target}\n"


def _join(*notes):
    return "; ".join(n for n in notes if n)


def _write_file(dir_fd, tmp, text, mode, owner):
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(tmp, flags, 0o600, dir_fd=dir_fd)
    try:
        view = memoryview(text.encode("utf-8"))
        while view:
            view = view[os.write(fd, view):]
        os.fchmod(fd, mode)
        if owner is not None:
            st = os.fstat(fd)
            if (st.st_uid, st.st_gid) != owner:
                os.fchown(fd, *owner)
        os.fsync(fd)
    finally:
        os.close(fd)


def _sweep(dir_fd, name):
    """Remove the temporary files an interrupted write of ``name`` left beside it (``.NAME.jailprov-<hex>``).

    The Salt module holds the host-wide jailprov lock around every write, so no other run is writing them."""
    prefix = f".{name}.jailprov-"
    try:
        entries = os.listdir(dir_fd)
    except OSError:
        return
    for entry in entries:
        tail = entry[len(prefix):]
        if entry.startswith(prefix) and len(tail) == 12 and all(c in "0123456789abcdef" for c in tail):
            with contextlib.suppress(OSError):
                os.unlink(entry, dir_fd=dir_fd)


def _replace(root, rel, make):
    """Create the new entry with ``make(dir_fd, tmp_name)`` beside ``rel`` and rename it over ``rel``; temporary
    files an interrupted write left there are removed first (:func:`_sweep`)."""
    where = root.show(rel)
    with _resolve(root, rel, follow=False) as (dir_fd, name):
        _sweep(dir_fd, name)
        tmp = f".{name}.jailprov-{secrets.token_hex(6)}"
        try:
            make(dir_fd, tmp)
            os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except OSError as err:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dir_fd)
            raise JailprovError(f"cannot write {where}: {err.strerror}") from None
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dir_fd)
            raise
        os.fsync(dir_fd)
