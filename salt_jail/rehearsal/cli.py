"""Entry point of the stand-in wrappers, and in-process dispatch between stand-ins.

Each wrapper in ``<root>/.rehearsal/bin`` calls :func:`main` with its FreeBSD name, its arguments and the
scratch root it was generated for.  A stand-in that runs another FreeBSD tool itself (jail(8) running
``ifconfig`` and ``mount``, service(8) running ``jail``) does it with :func:`run_nested`, in the same
process, the way the real tool execs the other one.
"""

import importlib
import sys

from .context import Context, Exit

#: FreeBSD tool name -> (module in salt_jail.rehearsal.tools, function).
TOOLS = {
    "chflags": ("chflags", "main"),
    "devfs": ("devfs", "main"),
    "ifconfig": ("ifconfig", "main"),
    "jail": ("jail", "main"),
    "jexec": ("jexec", "main"),
    "jls": ("jls", "main"),
    "mount": ("mount", "mount_main"),
    "ping": ("ping", "main"),
    "ping6": ("ping", "main"),
    "pw": ("pw", "main"),
    "route": ("route", "main"),
    "service": ("service", "main"),
    "sysctl": ("sysctl", "main"),
    "tar": ("tar", "main"),
    "umount": ("mount", "umount_main"),
    "zfs": ("zfs", "zfs_main"),
    "zpool": ("zfs", "zpool_main"),
}


def run(ctx, argv):
    """Run stand-in ``ctx.prog`` with ``argv``; returns its exit status."""
    module, function = TOOLS[ctx.prog]
    entry = getattr(importlib.import_module(f".tools.{module}", __package__), function)
    try:
        return entry(ctx, list(argv)) or 0
    except Exit as done:
        return done.code
    finally:
        ctx.stdout.flush()
        ctx.stderr.flush()


def run_nested(ctx, prog, argv):
    """Run stand-in ``prog`` on behalf of ``ctx``'s tool, logged to nested.log; returns its exit status."""
    ctx.scratch.log_nested(ctx.prog, [prog, *argv])
    return run(ctx.nested(prog), argv)


def main(prog, argv, root):
    """The wrapper's whole job: log the command line, run the stand-in, return its exit status."""
    ctx = Context.from_environment(root, prog)
    if ctx.by:
        ctx.scratch.log_nested(ctx.by, [prog, *argv])
    else:
        ctx.scratch.log_command([prog, *argv])
    try:
        return run(ctx, argv)
    except BrokenPipeError:
        sys.stderr.close()
        return 1
