"""chflags(1): BSD file flags, recorded in the simulated kernel and enforced with Linux attributes
(bin/chflags/chflags.c; see :mod:`~salt_jail.rehearsal.fileflags` for what Linux enforces).  The flags
a file has are read from its inode as well as the kernel record, so ``chflags -R 0`` clears what bsdtar
restored from an archive's ``SCHILY.fflags`` records (``i`` for ``schg``), as it does on FreeBSD.

``chflags [-fhvx] [-R [-H | -L | -P]] flags file ...``.  ``flags`` is an octal number (it replaces all
flags: ``0`` clears every one) or comma-separated keywords (``schg,uunlnk``; a ``no`` prefix clears one:
``noschg`` clears only schg and leaves sunlnk, uchg, sappnd ... set).  Like FreeBSD, ``-R`` walks the tree
without following symbolic links (``-H``: those named on the command line; ``-L``: all), changes a
directory after its contents, and skips files whose flags would not change.  A change is refused with
``Operation not permitted`` when kern.securelevel > 0 and the file has schg, sappnd or sunlnk (any flag
change then fails, as in ufs_setattr()), when it would change the snapshot flag, and inside a jail without
``allow.chflags`` when it touches a system flag.  ``-f`` hides those errors, ``-v`` names each changed
file, ``-vv`` adds ``: 0OLD -> 0NEW``.  ``-x`` (do not cross mount points) has nothing to do: the
simulated mounts have no contents of their own.
"""

import errno
import os
import stat

from .. import fileflags
from ..bsdgetopt import BadOption, getopt
from ..context import Exit, strerror
from ..simkernel import FLAG_KEYWORDS, SF_LOCKING, SF_SETTABLE, SF_SNAPSHOT, UF_NODUMP

USAGE = "usage: chflags [-fhvx] [-R [-H | -L | -P]] flags file ...\n"


def parse_flags(ctx, text):
    """``(octal, set, clear)``: octal replaces all flags; keywords set and clear single flags."""
    if text[:1] in "01234567" and text:
        try:
            return True, int(text, 8), 0
        except ValueError:
            ctx.errx(1, f"invalid flags: {text}")
    setbits = clearbits = 0
    for word in text.replace("\t", ",").replace(" ", ",").split(","):
        if not word:
            continue
        for keyword, flag in FLAG_KEYWORDS:
            # The keyword of nodump names the flag being set: "dump" clears it.
            on, off = (keyword, "no" + keyword) if flag != UF_NODUMP else (keyword, keyword[2:])
            if word == on:
                setbits |= flag
                break
            if word == off:
                clearbits |= flag
                break
        else:
            ctx.errx(1, f"invalid flag: {word}")
    return False, setbits, clearbits


class _Walk:
    """fts(3) over the operands: ``(shown path, real path, lstat, is an unfollowed symlink)`` in
    post-order, following symbolic links as ``-H``/``-L``/``-h`` ask (always inside the scratch root)."""

    def __init__(self, ctx, recursive, follow_root, follow_all):
        self.ctx = ctx
        self.recursive = recursive
        self.follow_root = follow_root
        self.follow_all = follow_all
        self.visited = set()

    def entries(self, operand):
        yield from self._visit(operand, self.ctx.resolve(operand, follow=False)[1], root=True)

    def _visit(self, shown, real, root):
        try:
            st = os.lstat(real)
            if stat.S_ISLNK(st.st_mode) and (self.follow_all or (root and self.follow_root)):
                real = self.ctx.resolve(self.ctx.view_path(real))[1]
                st = os.lstat(real)
        except OSError as error:
            raise OSError(error.errno, error.strerror, shown) from None
        if stat.S_ISDIR(st.st_mode) and self.recursive:
            key = (st.st_dev, st.st_ino)
            if key not in self.visited:
                self.visited.add(key)
                for name in sorted(os.listdir(real)):
                    yield from self._visit(f"{shown.rstrip('/')}/{name}", os.path.join(real, name), root=False)
        yield shown, real, st


def _refusal(kernel, jail, old, new):
    """The errno chflags(2) fails with for ``old`` -> ``new``, or None."""
    level = max(kernel.securelevel, kernel.jail_param(jail, "securelevel")) if jail else kernel.securelevel
    if (old ^ new) & SF_SNAPSHOT:
        return errno.EPERM
    if jail and not kernel.jail_param(jail, "allow.chflags") and (old ^ new) & SF_SETTABLE:
        return errno.EPERM
    if level > 0 and old & SF_LOCKING:
        return errno.EPERM
    return None


def main(ctx, argv):
    try:
        opts, args = getopt(argv, "HLPRfhvx", ctx.prog, ctx.stderr)
    except BadOption:
        ctx.stderr.write(USAGE)
        raise Exit(1) from None
    recursive = force = hflag = False
    follow = None  # the last of -H/-L/-P
    verbose = 0
    for letter, _ in opts:
        if letter in "HLP":
            follow = letter
        elif letter == "R":
            recursive = True
        elif letter == "f":
            force = True
        elif letter == "h":
            hflag = True
        elif letter == "v":
            verbose += 1
    if len(args) < 2:
        ctx.stderr.write(USAGE)
        raise Exit(1)
    if recursive and hflag:
        ctx.errx(1, "the -R and -h options may not be specified together.")
    octal, setbits, clearbits = parse_flags(ctx, args[0])
    if recursive:
        walk = _Walk(ctx, True, follow_root=follow in ("H", "L"), follow_all=follow == "L")
    else:
        walk = _Walk(ctx, False, follow_root=not hflag, follow_all=False)
    status = 0
    with ctx.scratch.kernel() as kernel:
        jail = kernel.find_jail(jid=ctx.jail["jid"]) if ctx.jail else None
        for operand in args[1:]:
            try:
                for shown, real, st in walk.entries(operand):
                    host_path = ctx.scratch.to_host(real)
                    old = fileflags.current(kernel, host_path, real, st.st_ino)
                    new = setbits if octal else (old | setbits) & ~clearbits
                    if new == old:
                        continue
                    refused = _refusal(kernel, jail, old, new)
                    if refused:
                        if not force:
                            ctx.warn(shown, refused)
                            status = 1
                        continue
                    kernel.set_file_flags(host_path, st.st_ino, new)
                    fileflags.apply(kernel, host_path, real)
                    if verbose:
                        ctx.out(shown + (f": 0{old:o} -> 0{new:o}" if verbose > 1 else "") + "\n")
            except OSError as error:
                ctx.warnx(f"{error.filename or operand}: {strerror(error.errno)}")
                status = 1
    return status
