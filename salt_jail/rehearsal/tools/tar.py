"""tar: the system's tar (bsdtar when installed, else GNU tar) on mapped paths, confined to the scratch root.

The host paths given to ``-f``/``--file``, ``-C``/``--cd``/``--directory``, ``-T``/``-I``/``--files-from``
and ``-X``/``--exclude-from`` (also bundled, ``-xpf FILE``, and in the old ``xpf FILE`` form) are mapped below
the scratch root; everything else is passed through unchanged.  The real tar runs with write access to
the scratch root only (:func:`salt_jail.rehearsal.sandbox.start_confined`), so an archive member or a
symlink in the tree can never make it write elsewhere.

File flags: FreeBSD's tar (bsdtar) stores them as ``SCHILY.fflags`` pax records and, run by root,
restores them on extraction unless given ``--no-fflags``.  When the system tar is GNU tar (which ignores
those records; the rehearsal silences its warning about them), the stand-in restores the recorded flags
itself after a successful extraction, through the simulated kernel and Linux attributes as ``chflags``
would (see :mod:`~salt_jail.rehearsal.fileflags`).  The records are read while GNU tar extracts and kept
per archive in ``.rehearsal/fflags-cache/``, so the pass costs about what bsdtar's own costs: nothing per
extraction.  Not simulated: recording flags when creating an archive with GNU tar.
"""

import hashlib
import json
import os
import shutil
import tarfile
import threading

from .. import fileflags
from ..sandbox import HOST_PATH, start_confined
from ..simkernel import FLAG_KEYWORDS

#: Option letters taking an argument (bsdtar's and GNU tar's, so arguments are never read as options).
_WITH_ARGUMENT = "bCfFgHIKLNsTVX"
#: Options whose argument is a host path to map.
_PATH_LETTERS = "CfITX"
_PATH_LONG = ("--file", "--cd", "--directory", "--files-from", "--exclude-from")


def _system_tar():
    """``(path, is_gnu)`` of the host's tar, never a rehearsal stand-in."""
    found = shutil.which("bsdtar", path=HOST_PATH)
    if found:
        return found, False
    return shutil.which("tar", path=HOST_PATH), True


class _Args:
    """The tar command line with its path arguments mapped, and what the stand-in needs to know of it."""

    def __init__(self, ctx, argv):
        self.ctx = ctx
        self.argv = []
        self.archive = None  # real path of -f FILE
        self.directory = None  # real path of the last -C DIR
        self.extract = False
        self.no_fflags = False
        self.strip = 0
        queue = []  # options still waiting for their argument, in command-line order
        for index, arg in enumerate(argv):
            if queue:
                self.argv.append(self._value(queue.pop(0), arg))
            elif index == 0 and arg and not arg.startswith("-"):
                self.argv.append(arg)  # the old form: "xpf FILE", every argument follows the word
                queue.extend(self._letters(arg))
            elif arg.startswith("--"):
                self._long(arg, queue)
            elif arg.startswith("-") and arg != "-":
                self._short(arg, queue)
            else:
                self.argv.append(arg)

    def _letters(self, letters):
        """Note the mode; return the letters that take an argument."""
        if "x" in letters:
            self.extract = True
        return [letter for letter in letters if letter in _WITH_ARGUMENT]

    def _short(self, arg, queue):
        letters = arg[1:]
        for position, letter in enumerate(letters):
            self._letters(letter)
            if letter in _WITH_ARGUMENT:
                rest = letters[position + 1:]
                if rest:  # -fFILE, -xpfFILE
                    self.argv.append("-" + letters[:position + 1] + self._value(letter, rest))
                    return
                queue.append(letter)
                break
        self.argv.append(arg)

    def _long(self, arg, queue):
        name, eq, value = arg.partition("=")
        if name in ("--extract", "--get"):
            self.extract = True
        elif name == "--no-fflags":
            self.no_fflags = True
        if name in _PATH_LONG or name == "--strip-components":
            if eq:
                self.argv.append(f"{name}={self._value(name, value)}")
                return
            queue.append(name)
        self.argv.append(arg)

    def _value(self, option, value):
        """The argument of ``option``, with a host path mapped below the scratch root."""
        if option == "--strip-components":
            self.strip = int(value) if value.isdigit() else 0
            return value
        if option not in _PATH_LETTERS and option not in _PATH_LONG:
            return value
        real = value if value == "-" or not value.startswith("/") else self.ctx.resolve(value)[1]
        if option in ("f", "--file"):
            self.archive = real
        elif option in ("C", "--cd", "--directory"):
            self.directory = real
        return real


def _flagged_members(archive, strip):
    """``[(relative path parts, flags)]`` of the members with SCHILY.fflags records."""
    keyword_flags = dict(FLAG_KEYWORDS)
    flagged = []
    with tarfile.open(archive, "r:*") as tar:
        while (member := tar.next()) is not None:
            tar.members.clear()
            words = member.pax_headers.get("SCHILY.fflags")
            if words:
                parts = [p for p in member.name.split("/") if p not in ("", ".")][strip:]
                if parts:
                    flags = 0
                    for word in words.split(","):
                        flags |= keyword_flags.get(word, 0)
                    flagged.append((parts, flags))
    return flagged


class _FlagScan:
    """The archive's flagged members, read while the real tar extracts (on another core) or taken from
    the scratch root's cache, keyed by the archive's identity: a release extracted into many prisoners is
    read once for its flags, not once per prisoner — bsdtar reads them while extracting, at no extra cost,
    so the rehearsal should not add one per extraction either."""

    def __init__(self, ctx, args):
        self.result, self.error, self.thread = None, None, None
        st = os.stat(args.archive)
        key = f"{os.path.realpath(args.archive)}|{st.st_size}|{st.st_mtime_ns}|{st.st_ctime_ns}|{st.st_ino}|{args.strip}"
        self.cache = os.path.join(ctx.scratch.dir, "fflags-cache",
                                  hashlib.sha256(key.encode()).hexdigest() + ".json")
        try:
            with open(self.cache, encoding="utf-8") as fh:
                cached = json.load(fh)
            if isinstance(cached, list) and all(isinstance(e, list) and len(e) == 2 and isinstance(e[0], list)
                                                and isinstance(e[1], int) for e in cached):
                self.result = [(parts, flags) for parts, flags in cached]
                return
        except (OSError, ValueError):
            pass                      # no cache yet, or one that cannot be read: read the archive again
        self.thread = threading.Thread(target=self._scan, args=(args.archive, args.strip), daemon=True)
        self.thread.start()

    def _scan(self, archive, strip):
        try:
            self.result = _flagged_members(archive, strip)
        except Exception as err:  # pylint: disable=broad-except  (re-raised in the main thread)
            self.error = err

    def get(self):
        if self.thread is not None:
            self.thread.join()
            self.thread = None
            if self.error is not None:
                raise self.error
            os.makedirs(os.path.dirname(self.cache), exist_ok=True)
            part = f"{self.cache}.{os.getpid()}"
            with open(part, "w", encoding="utf-8") as fh:
                json.dump(self.result, fh)
            os.replace(part, self.cache)
        return self.result


def _restore_flags(ctx, args, scan):
    """Set the flags recorded in the archive's SCHILY.fflags records on the extracted files."""
    target = args.directory or os.getcwd()
    flagged = scan.get()
    if not flagged:
        return
    with ctx.scratch.kernel() as kernel:
        for parts, flags in flagged:
            real = os.path.join(target, *parts)
            if os.path.lexists(real) and not os.path.islink(real):
                host_path = ctx.scratch.to_host(real)
                kernel.set_file_flags(host_path, os.lstat(real).st_ino, flags)
                fileflags.apply(kernel, host_path, real)


def _restores_flags(args):
    return (args.extract and args.archive not in (None, "-") and not args.no_fflags and os.geteuid() == 0
            and os.path.isfile(args.archive))


def main(ctx, argv):
    tar, gnu = _system_tar()
    args = _Args(ctx, argv)
    command = [tar, *args.argv]
    if gnu:
        command = [a for a in command if a not in ("--no-fflags", "--fflags")]
        if args.extract:
            command.insert(command.index("--") if "--" in command else len(command), "--warning=no-unknown-keyword")
    ctx.stdout.flush()
    ctx.stderr.flush()
    with start_confined(command, root=ctx.scratch.root) as proc:
        # the flag scan thread starts only once tar is forked (its confinement runs between fork and exec)
        scan = _FlagScan(ctx, args) if gnu and _restores_flags(args) else None
        status = proc.wait()
    if status == 0 and scan is not None:
        _restore_flags(ctx, args, scan)
    return status
