"""tar: the system's tar (bsdtar when installed, else GNU tar) on mapped paths, confined to the scratch root.

The host paths given to ``-f``/``--file``, ``-C``/``--cd``/``--directory``, ``-T``/``-I``/``--files-from``
and ``-X``/``--exclude-from`` (also bundled, ``-xpf FILE``, and in the old ``xpf FILE`` form) are mapped below
the scratch root; everything else is passed through unchanged.  The real tar runs with write access to
the scratch root only (:func:`salt_jail.rehearsal.sandbox.start_confined`), so an archive member or a
symlink in the tree can never make it write elsewhere.

File flags: FreeBSD's tar is bsdtar (libarchive), and so is Debian's ``bsdtar`` (libarchive-tools): it
stores flags as ``SCHILY.fflags`` pax records and, run by root, restores them on extraction unless given
``--no-fflags`` -- on Linux as inode attributes (``schg`` -> ``i``), which the rehearsal's ``chflags``
reads and clears like any other flag (see :mod:`~salt_jail.rehearsal.fileflags`).  Nothing is simulated
here.  Without bsdtar the stand-in falls back to GNU tar, which ignores those records (its warning about
them is silenced): the extracted tree then carries no flags, so a forgotten ``chflags -R 0`` goes unnoticed
-- install libarchive-tools (``.ci/run`` does) for the faithful rehearsal.
"""

import shutil

from ..sandbox import HOST_PATH, start_confined

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
        self.extract = False
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
        if name in _PATH_LONG or name == "--strip-components":
            if eq:
                self.argv.append(f"{name}={self._value(name, value)}")
                return
            queue.append(name)
        self.argv.append(arg)

    def _value(self, option, value):
        """The argument of ``option``, with a host path mapped below the scratch root."""
        if option not in _PATH_LETTERS and option not in _PATH_LONG:
            return value  # --strip-components N, -s PATTERN, ...
        return value if value == "-" or not value.startswith("/") else self.ctx.resolve(value)[1]


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
        return proc.wait()
