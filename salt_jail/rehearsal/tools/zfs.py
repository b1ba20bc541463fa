"""zfs(8) and zpool(8): the real ones (Debian's zfs-fuse) on the scratch root's own pools.

Nothing about ZFS is simulated here: every command runs the machine's real ``zfs`` on a real pool (see
:mod:`salt_jail.rehearsal.zfspool`), so a wrong option, a missing dataset, a snapshot that clones depend
on or a rollback past later snapshots fail exactly as ZFS makes them fail.  The stand-in only translates
between the FreeBSD host the product sees and the machine:

* pool names: a dataset operand in pool ``zroot`` goes to the scratch root's own pool (``sjr_zroot_…``)
  and the real name is written back as ``zroot`` in the output.  An operand in a pool the rehearsal host
  does not have fails as on a host without that pool ("dataset does not exist"): the stand-in never
  reaches another pool of the machine.  A listing without operands lists the scratch root's pools only.
* paths: a ``mountpoint=/home/jail`` value becomes the path below the scratch root, and mount points in
  the output are host paths again.
* the kernel's mount table: after a command that may mount or unmount a dataset the simulated kernel is
  told (``mount -p`` lists datasets as FreeBSD's does).

zfs-fuse is ZFS pool version 23, older than FreeBSD 14's OpenZFS: options OpenZFS added later (``zfs
list -p``, ``zfs get -t``, ``zfs create -u``) are refused by the real tool, so the product must not use
them.  FreeBSD-only parts are stand-ins that say so: ``zfs jail``/``zfs unjail`` and the ``jailed``
property (jails do not exist on Linux) fail with a message naming the rehearsal.  Subcommands that would
reach beyond one scratch root (``zpool create/destroy/import/export``, ``zfs send/receive``) are refused
the same way.
"""

import re
import subprocess
import time

from ..bsdgetopt import BadOption, getopt
from ..context import Exit
from .. import zfspool

#: Subcommand -> getopt(3) option string of FreeBSD 14's zfs(8) (only what zfs-fuse also knows passes the
#: real tool), and how many leading operands are not datasets (``get PROPS``, ``set PROP=VALUE``).
ZFS_SUBCOMMANDS = {
    "create": ("po:sV:b:", 0),
    "clone": ("po:", 0),
    "snapshot": ("ro:", 0),
    "snap": ("ro:", 0),
    "rollback": ("rRf", 0),
    "destroy": ("dfnpRrv", 0),
    "list": ("rHpd:o:t:s:S:", 0),
    "get": ("rHpd:o:s:t:", 1),
    "set": ("", 1),
    "inherit": ("rS", 1),
    "promote": ("", 0),
    "rename": ("rfpu", 0),
    "mount": ("vo:Oa", 0),
    "unmount": ("fa", 0),
    "umount": ("fa", 0),
}
#: Subcommands after which a dataset may have been mounted or unmounted.
_MOUNTING = {"create", "clone", "destroy", "rename", "mount", "unmount", "umount", "set", "inherit", "promote",
             "rollback"}
_FREEBSD_ONLY = ("jail", "unjail")
_POOL_SUBCOMMANDS = {"list": ("Hgo:pPTv", 0), "status": ("vxDgLPT", 0), "get": ("Hpo:", 1)}

#: Retries of a destroy/rollback that zfs-fuse calls busy (about 4.5 s in all).
BUSY_RETRIES = 9

ZFS_USAGE = "usage: zfs command args ...\n"
ZPOOL_USAGE = "usage: zpool command args ...\n"


def _mapping(ctx):
    pools = zfspool.Pools(ctx.scratch)
    known = pools.mapping()
    if all(name in known for name in zfspool.DEFAULT_POOLS):
        return known                        # made earlier: zfs-fuse answered then (a failure now is its own)
    reason = zfspool.unavailable_reason()
    if reason:
        ctx.errx(1, f"not available on this rehearsal host: {reason}")
    try:
        return pools.ensure()
    except zfspool.Unavailable as exc:
        ctx.errx(1, str(exc))
    return None  # not reached


def _to_real(name, mapping):
    """The real name of dataset ``name`` (``zroot/jails@s`` -> ``sjr_zroot_…/jails@s``), or None."""
    match = re.match(r"^([^/@#]+)(.*)$", name)
    if not match or match.group(1) not in mapping:
        return None
    return mapping[match.group(1)] + match.group(2)


def _rewrite_value(ctx, token):
    """``mountpoint=/x`` (as an option argument or a ``set`` operand) with /x below the scratch root."""
    name, sep, value = token.partition("=")
    if sep and name == "mountpoint" and value.startswith("/"):
        return f"{name}={ctx.scratch.real(value)}"
    if sep and name == "jailed":
        ctx.errx(1, "the 'jailed' property is FreeBSD's (a dataset delegated to a jail); the rehearsal host's "
                    "zfs-fuse has no jails: not played by the rehearsal")
    return token


def _output(ctx, text, mapping):
    for name, real in mapping.items():
        text = re.sub(rf"\b{re.escape(real)}\b", name, text)
    return text.replace(ctx.scratch.root + "/", "/")


def _run(ctx, argv, mapping, mounting=False):
    """Run the real tool; its output is translated back; returns its exit status."""
    ctx.scratch.log_nested(ctx.prog, argv)
    for attempt in range(BUSY_RETRIES + 1):
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        # zfs-fuse: the kernel's FUSE layer may hold a just-mounted dataset for a moment ("dataset is busy"
        # where FreeBSD's unmount succeeds); a few short retries, never for another error
        if proc.returncode == 0 or argv[1] not in ("destroy", "rollback") or "is busy" not in proc.stderr:
            break
        time.sleep(0.1 * (attempt + 1))
    ctx.out(_output(ctx, proc.stdout, mapping))
    ctx.stderr.write(_output(ctx, proc.stderr, mapping))
    if mounting:
        zfspool.sync_mounts(ctx.scratch, mapping)
    return proc.returncode


def _missing(ctx, name):
    ctx.stderr.write(f"cannot open '{name}': dataset does not exist\n")
    raise Exit(1)


def _command(ctx, argv, table, usage, refuse):
    """``(subcommand, options, operands, leading operand count)`` of a zfs/zpool command line;
    ``refuse(sub)`` exits for a subcommand not in ``table``."""
    if not argv:
        ctx.stderr.write(usage)
        raise Exit(2)
    sub, args = argv[0], argv[1:]
    if sub not in table:
        refuse(sub)
    optstring, leading = table[sub]
    try:
        opts, operands = getopt(args, optstring, ctx.prog, ctx.stderr)
    except BadOption:
        ctx.stderr.write(usage)
        raise Exit(2) from None
    return sub, opts, operands, leading


def _refuse_zfs(ctx, sub):
    if sub in _FREEBSD_ONLY:
        ctx.errx(1, f"'zfs {sub}' attaches a dataset to a FreeBSD jail; the rehearsal host's zfs-fuse has no "
                    "jails: not played by the rehearsal (the FreeBSD tier tests it)")
    ctx.errx(1, f"'zfs {sub}' is not played by the rehearsal host (it reaches beyond one scratch root's pools)")


def zfs_main(ctx, argv):
    sub, opts, operands, leading = _command(ctx, argv, ZFS_SUBCOMMANDS, ZFS_USAGE,
                                            lambda sub: _refuse_zfs(ctx, sub))
    mapping = _mapping(ctx)
    real = [zfspool.real_tool("zfs"), sub]
    for letter, value in opts:
        real += [f"-{letter}"] + ([_rewrite_value(ctx, value)] if value is not None else [])
    head, datasets = operands[:leading], operands[leading:]
    if sub == "get" and head and "jailed" in head[0].split(","):
        _rewrite_value(ctx, "jailed=")
    if sub == "set":
        head = [_rewrite_value(ctx, token) for token in head]
    mapped = []
    for name in datasets:
        if sub in ("unmount", "umount", "mount") and name.startswith("/"):
            mapped.append(ctx.scratch.real(name))
            continue
        if sub == "snapshot" and "@" not in name:
            mapped.append(name)         # the real tool explains what a snapshot name looks like
            continue
        target = _to_real(name, mapping)
        if target is None:
            _missing(ctx, name)
        mapped.append(target)
    if not datasets and sub in ("list", "get") and (sub == "list" or head):
        # no operand: every dataset of the machine; here, every dataset of this scratch root's pools
        if not any(letter in "rd" for letter, _ in opts):
            real.append("-r")
        mapped = list(mapping.values())
    return _run(ctx, real + head + mapped, mapping, mounting=sub in _MOUNTING)


def zpool_main(ctx, argv):
    sub, opts, operands, leading = _command(ctx, argv, _POOL_SUBCOMMANDS, ZPOOL_USAGE, lambda sub: ctx.errx(
        1, f"'zpool {sub}' is not played by the rehearsal host: its pools are made and removed by "
           "salt_jail.rehearsal (one set per scratch root)"))
    mapping = _mapping(ctx)
    real = [zfspool.real_tool("zpool"), sub]
    for letter, value in opts:
        real += [f"-{letter}"] + ([value] if value is not None else [])
    head, pools = operands[:leading], operands[leading:]
    mapped = []
    for name in pools:
        if name not in mapping:
            ctx.stderr.write(f"cannot open '{name}': no such pool\n")
            raise Exit(1)
        mapped.append(mapping[name])
    return _run(ctx, real + head + (mapped or list(mapping.values())), mapping)
