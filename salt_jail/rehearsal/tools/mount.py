"""mount(8) and umount(8) over the simulated mount table (sbin/mount/mount.c, sbin/umount/umount.c).

The mount table lives in the simulated kernel.  A devfs, fdescfs or procfs mount point is made immutable
while "mounted" (see :mod:`~salt_jail.rehearsal.fileflags`), so removing a jail tree that still has one
fails as on FreeBSD.  A nullfs mount is real: Linux's equivalent, a bind mount (read-only with ``-o ro``,
:mod:`~salt_jail.rehearsal.nullfs`), so a write below a read-only one fails with EROFS and ``umount`` really
unmounts it (``Device busy`` while in use).

mount: ``mount [-t type] [-o options] special node`` for devfs (``-o ruleset=N``: an unloaded ruleset is
created empty), nullfs (``-o ro``), fdescfs, procfs and tmpfs; ``mount -p`` prints the table in fstab(5)
layout as putfsent() does, ``mount`` (``-t`` filters) lists ``special on node (type, flags)`` as
prmount() does.  The mount point is resolved like realpath(3) and must be a directory
(``mount: /x: No such file or directory``).  Inside a jail mounting fails (``Operation not permitted``).

umount: ``umount [-fv] [-t type] node|special ...``, looked up in the table as checkname() does (with
``-t`` a file system of another type is left mounted, silently, exit 1; jail(8) unmounts ``mount`` and
``mount.fstab`` entries with ``umount -t TYPE node``);
``not a file system root directory`` for a directory that is not a mount point, ``Device busy`` while
something is mounted below it.  Not simulated: ``mount -a``/``-u``/``-F``/``-d``,
``umount -a``/``-A``/``-h``/``-N``/``-n`` (refused with a message).
"""

import errno
import os

from .. import fileflags, nullfs
from ..bsdgetopt import BadOption, getopt
from ..context import Exit

MOUNT_USAGE = ("usage: mount [-adflpruvw] [-F fstab] [-o options] [-t [no]type[,type ...]]\n"
               "       mount [-dfpruvw] special | node\n"
               "       mount [-dfpruvw] [-o options] [-t [no]type[,type ...]] special node\n")
UMOUNT_USAGE = ("usage: umount [-fNnv] special ... | node ... | fsid ...\n"
                "       umount -a | -A [-F fstab] [-fnv] [-h host] [-t type]\n")
EX_SOFTWARE = 70
#: Filesystem types the rehearsal can mount, and the visible flags prmount() shows for each.
FILESYSTEMS = {"devfs": [], "fdescfs": [], "nullfs": ["local"], "procfs": ["local"], "tmpfs": ["local"],
               "zfs": ["local", "nfsv4acls"]}  # zfs: listed only (the zfs stand-in mounts datasets)


def _type_matches(fstype, typelist):
    """checkvfsname(): ``-t devfs,nullfs`` keeps those, ``-t nodevfs`` keeps the others."""
    if typelist is None:
        return True
    negate = typelist.startswith("no")
    names = (typelist[2:] if negate else typelist).split(",")
    return (fstype in names) != negate


def _fstab_line(entry):
    """putfsent(): device, mount point, type, options, dump and pass, with mount.c's tab arithmetic."""
    def pad(text):
        n = len(text)
        return text + ("\t" if n < 8 else "") + ("\t" if n < 16 else "") + ("\t" if n < 24 else " ")

    options = "ro" if entry["readonly"] else "rw"
    dump = ("1 1" if entry["node"] == "/" else "2 2") if entry["fstype"] == "ufs" else "0 0"
    return (pad(entry["special"]) + pad(entry["node"]) + entry["fstype"] + "\t" + options
            + ("\t" if len(options) < 8 else " ") + "\t" + dump + "\n")


def _mount_line(entry):
    """prmount(): ``special on node (type, flag, ...)``."""
    flags = list(FILESYSTEMS.get(entry["fstype"], ["local", "journaled soft-updates"]))
    if entry["readonly"]:
        flags.append("read-only")
    return f"{entry['special']} on {entry['node']} ({', '.join([entry['fstype'], *flags])})\n"


def _existing(ctx, path, code, directory):
    """checkpath(): ``(canonical, real)`` of an existing path (a directory if ``directory``), or exit."""
    try:
        canonical, real = ctx.resolve(path)
    except OSError as error:
        ctx.err(code, path, error)
    if not os.path.exists(real):
        ctx.err(code, canonical, errno.ENOENT)
    if directory and not os.path.isdir(real):
        ctx.err(code, canonical, errno.ENOTDIR)
    return canonical, real


def _parse_options(text):
    """``-o`` options: ``{name: value}``, ``ro``/``rw`` folded into ``readonly``."""
    options = {}
    for option in filter(None, text.split(",")):
        name, _, value = option.partition("=")
        options[name] = value
    return options


def mount_main(ctx, argv):
    try:
        opts, args = getopt(argv, "adF:fLlno:prt:uvw", ctx.prog, ctx.stderr)
    except BadOption:
        ctx.stderr.write(MOUNT_USAGE)
        raise Exit(1) from None
    option_text, typelist, fstab_style = "", None, False
    for letter, value in opts:
        if letter in "adFLlu":
            ctx.errx(EX_SOFTWARE, f"option -{letter} is not simulated by the rehearsal host")
        if letter == "o":
            option_text += ("," if option_text else "") + value
        elif letter == "r":
            option_text += ("," if option_text else "") + "ro"
        elif letter == "w":
            option_text += ("," if option_text else "") + "rw"
        elif letter == "t":
            if typelist is not None:
                ctx.errx(1, "only one -t option may be specified")
            typelist = value
        elif letter == "p":
            fstab_style = True
    if not args:
        with ctx.scratch.kernel(write=False) as kernel:
            shown = [m for m in kernel.mounts if _type_matches(m["fstype"], typelist)]
        ctx.out("".join((_fstab_line if fstab_style else _mount_line)(m) for m in shown))
        return 0
    if len(args) != 2 or (typelist and "," in typelist):
        ctx.stderr.write(MOUNT_USAGE)
        raise Exit(1)
    fstype = typelist or "ufs"
    special, node = args
    if fstype not in FILESYSTEMS:
        ctx.errx(EX_SOFTWARE, f"{fstype} file systems are not simulated by the rehearsal host")
    options = _parse_options(option_text)
    code = 64 if fstype == "nullfs" else 1  # mount_nullfs exits EX_USAGE; mount itself 1
    ctx.prog = ctx.prog if fstype in ("devfs", "fdescfs", "procfs", "tmpfs") else f"mount_{fstype}"
    node_canonical, node_real = _existing(ctx, node, code, directory=True)
    if fstype == "nullfs":
        special = ctx.host_path(_existing(ctx, special, code, directory=False)[0])
    else:
        special = fstype
    if ctx.jail:
        ctx.err(1, special, errno.EPERM)
    entry = {"special": special, "node": ctx.host_path(node_canonical), "fstype": fstype,
             "readonly": "ro" in options and "rw" not in options}
    with ctx.scratch.kernel() as kernel:
        if fstype == "devfs":
            ruleset = options.get("ruleset")
            if ruleset is not None:
                if not ruleset.isdigit() or int(ruleset) > 65535:
                    ctx.err(1, special, errno.EINVAL)
                kernel.ruleset(int(ruleset), create=True)
            entry["ruleset"] = int(ruleset or 0)
        fileflags.sync(kernel, entry["node"], node_real)  # an i set by bsdtar comes back at unmount
        if fstype == "nullfs":
            try:
                nullfs.mount(ctx.scratch.resolve(special)[1], node_real, readonly=entry["readonly"])
            except OSError as error:
                ctx.err(code, node_canonical, error)
        kernel.mount(entry)
        if fstype != "nullfs":              # the flags of what a nullfs shows are the lower file system's
            fileflags.apply(kernel, entry["node"], node_real)
        if any(letter == "v" for letter, _ in opts):
            ctx.out(_fstab_line(entry) if fstab_style else _mount_line(entry))
    return 0


def _find(kernel, name):
    """checkmntlist(): the mount whose mount point, then whose special, is ``name`` (latest first)."""
    for key in ("node", "special"):
        for entry in reversed(kernel.mounts):
            if entry[key] == name:
                return entry
    return None


def umount_main(ctx, argv):
    try:
        opts, args = getopt(argv, "AaF:fh:Nnt:v", ctx.prog, ctx.stderr)
    except BadOption:
        ctx.stderr.write(UMOUNT_USAGE)
        raise Exit(1) from None
    flags = {letter for letter, _ in opts}
    if flags & set("AaFhNn"):
        ctx.errx(EX_SOFTWARE, f"option -{sorted(flags & set('AaFhNn'))[0]} is not simulated by the rehearsal host")
    typelists = [value for letter, value in opts if letter == "t"]
    if len(typelists) > 1:
        ctx.errx(1, "only one -t option may be specified")
    typelist = typelists[0] if typelists else None
    if not args:
        ctx.stderr.write(UMOUNT_USAGE)
        raise Exit(1)
    status = 0
    for name in args:
        name = name.rstrip("/") or "/"
        with ctx.scratch.kernel() as kernel:
            entry = _find(kernel, ctx.host_path(name) if name.startswith("/") else name)
            real = None
            if entry is None:
                try:
                    canonical, real = ctx.resolve(name)
                except OSError as error:
                    ctx.warn(f"{name}: statfs", error)
                else:
                    if not os.path.exists(real):
                        ctx.warn(f"{name}: statfs", errno.ENOENT)
                    elif os.path.isdir(real):
                        entry = kernel.mounted_on(ctx.host_path(canonical))
                        if entry is None:
                            ctx.warnx(f"{name}: not a file system root directory")
                            status = 1
                            continue
                if entry is None:
                    ctx.warnx(f"{name}: unknown file system")
                    status = 1
                    continue
            if not _type_matches(entry["fstype"], typelist):
                status = 1  # checkname(): a file system of another type is silently left alone
                continue
            if ctx.jail:
                ctx.warn(f"unmount of {entry['node']} failed", errno.EPERM)
                status = 1
                continue
            below = entry["node"].rstrip("/") + "/"
            if any(m["node"].startswith(below) for m in kernel.mounts):
                ctx.warn(f"unmount of {entry['node']} failed", errno.EBUSY)
                status = 1
                continue
            if entry["fstype"] == "nullfs":
                try:
                    nullfs.unmount(ctx.scratch.real(entry["node"]))   # as mounted: never through a link
                except OSError as error:
                    if error.errno != errno.EINVAL:      # EINVAL: not mounted on the real host any more
                        ctx.warn(f"unmount of {entry['node']} failed", error)
                        status = 1
                        continue
            kernel.unmount(entry)
            fileflags.apply(kernel, entry["node"], ctx.scratch.resolve(entry["node"])[1])
            if "v" in flags:
                ctx.out(f"{entry['special']}: unmount from {entry['node']}\n")
    return status
