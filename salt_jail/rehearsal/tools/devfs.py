"""devfs(8): the devfs rulesets of the simulated kernel (sbin/devfs/devfs.c, rule.c).

``devfs [-m mount-point] rule [-s ruleset] show [rulenum] | showsets | add [rulenum] rulespec | del rulenum |
delset | apply ... | applyset`` and ``devfs [-m mount-point] ruleset N``.  ``show`` prints one rule per line
as rule.c's rulespec_outfp() does (``100 path null unhide``, ``100 include 1``) and prints nothing at all
for a ruleset that was never loaded.  The rulesets of ``/etc/defaults/devfs.rules`` (1-5) are loaded at
boot (:data:`~salt_jail.rehearsal.simkernel.DEFAULT_RULESETS`).  The mount point (default ``/dev``) must
be a devfs mount; inside a jail every ioctl fails with ``Operation not permitted``, as devfs(8) says
rules cannot be viewed or modified from a jail.  ``apply`` and ``applyset`` are accepted and change
nothing (there are no device nodes to hide).
"""

import errno
import os

from ..bsdgetopt import BadOption, getopt
from ..context import Exit

USAGE = "usage: devfs rule|ruleset arguments\n"
UINT16_MAX = 65535
_TYPES = ("disk", "mem", "tape", "tty")


def _usage(ctx):
    ctx.stderr.write(USAGE)
    raise Exit(1)


def _number(ctx, text):
    """eatonum(): a 16-bit rule or ruleset number."""
    if not text.isdigit() or int(text) > UINT16_MAX:
        ctx.errx(1, f"error converting to number: {text}")
    return int(text)


def _rulespec(ctx, words):
    """rulespec_intok(): ``(rule number or 0, canonical rule text)`` in rulespec_outfp() order."""
    rnum = 0
    if words and words[0].isdigit() and int(words[0]) <= UINT16_MAX:
        rnum = int(words.pop(0))
    if not words:
        ctx.errx(1, "unexpected end of rulespec")
    conditions, actions = {}, {}
    while words and words[0] in ("type", "path"):
        key = words.pop(0)
        if not words:
            ctx.errx(1, f"expecting argument for {key}")
        value = words.pop(0)
        if key == "type" and value not in _TYPES:
            ctx.errx(1, f"unknown type: {value}")
        conditions[key] = value
    while words:
        key = words.pop(0)
        if key in ("hide", "unhide"):
            actions[key] = None
            continue
        if key not in ("user", "group", "mode", "include"):
            ctx.errx(1, f"unknown argument: {key}")
        if not words:
            ctx.errx(1, f"expecting argument for {key}")
        value = words.pop(0)
        actions[key] = str(_number(ctx, value)) if key == "include" else value
    parts = [f"{k} {v}" for k, v in conditions.items()]
    for key in ("hide", "unhide", "user", "group", "mode", "include"):
        if key in actions:
            parts.append(key if actions[key] is None else f"{key} {actions[key]}")
    return rnum, " ".join(parts)


def _rule(ctx, kernel, words):
    """``rule [-s N] command ...`` (rule_main())."""
    ctx.prog = "devfs rule"
    try:
        opts, words = getopt(words, "s:", ctx.prog, ctx.stderr)
    except BadOption:
        _usage(ctx)
    rsnum = 0
    for _, value in opts:
        rsnum = _number(ctx, value)
    if not words:
        _usage(ctx)
    command, args = words[0], words[1:]
    if command == "show":
        rules = kernel.ruleset(rsnum) or []
        if args:
            if not args[0].lstrip("-").isdigit():
                ctx.errx(1, f"error converting to integer: {args[0]}")
            wanted = int(args[0])
            following = [r for r in rules if r[0] >= wanted]
            if not following:
                ctx.err(1, "ioctl DEVFSIO_RGETNEXT", errno.ENOENT)
            rules = [following[0]] if following[0][0] == wanted else []
        ctx.out("".join(f"{number} {text}\n" for number, text in rules))
    elif command == "showsets":
        if args:
            _usage(ctx)
        ctx.out("".join(f"{n}\n" for n in sorted(int(n) for n in kernel.data["devfs_rulesets"])))
    elif command == "add":
        if not args:
            _usage(ctx)
        rnum, text = _rulespec(ctx, list(args))
        if rsnum == 0:
            ctx.err(1, "ioctl DEVFSIO_RADD", errno.EINVAL)
        rules = kernel.ruleset(rsnum, create=True)
        if rnum == 0:
            rnum = (rules[-1][0] if rules else 0) + 100
        if any(number == rnum for number, _ in rules):
            ctx.err(1, "ioctl DEVFSIO_RADD", errno.EEXIST)
        rules.append([rnum, text])
        rules.sort()
    elif command == "del":
        if not args:
            _usage(ctx)
        rules = kernel.ruleset(rsnum) or []
        number = int(args[0]) if args[0].isdigit() else ctx.errx(1, f"error converting to integer: {args[0]}")
        if not any(n == number for n, _ in rules):
            ctx.err(1, "ioctl DEVFSIO_RDEL", errno.ENOENT)
        rules[:] = [r for r in rules if r[0] != number]
    elif command == "delset":
        if args:
            _usage(ctx)
        kernel.data["devfs_rulesets"].pop(str(rsnum), None)
    elif command in ("apply", "applyset"):
        if (command == "apply") != bool(args):
            _usage(ctx)
    else:
        ctx.errx(1, f"unknown command: {command}")


def main(ctx, argv):
    try:
        opts, words = getopt(argv, "m:", ctx.prog, ctx.stderr)
    except BadOption:
        _usage(ctx)
    mountpoint = "/dev"
    for _, value in opts:
        mountpoint = value
    if not words:
        _usage(ctx)
    try:
        canonical, real = ctx.resolve(mountpoint)
    except OSError as error:
        ctx.err(1, f"open: {mountpoint}", error)
    with ctx.scratch.kernel() as kernel:
        if not os.path.isdir(real):
            ctx.err(1, f"open: {mountpoint}", errno.ENOENT)
        mount = kernel.mounted_on(ctx.host_path(canonical))
        if words[0] == "rule":
            if ctx.jail or mount is None or mount["fstype"] != "devfs":
                ctx.prog = "devfs rule"
                ctx.err(1, "ioctl DEVFSIO_RGETNEXT", errno.EPERM if ctx.jail else errno.ENOTTY)
            _rule(ctx, kernel, words[1:])
        elif words[0] == "ruleset":
            ctx.prog = "devfs ruleset"
            if len(words) < 2:
                _usage(ctx)
            rsnum = _number(ctx, words[1])
            if ctx.jail or mount is None or mount["fstype"] != "devfs":
                ctx.err(1, "ioctl DEVFSIO_SUSE", errno.EPERM if ctx.jail else errno.ENOTTY)
            mount["ruleset"] = rsnum
        else:
            ctx.errx(1, f"unknown command: {words[0]}")
    return 0
