"""route(8) for a VNET jail's default routes (sbin/route/route.c, FreeBSD 14).

``route [-n] [-q] [-v] add|change|delete|get [-inet|-inet6|-4|-6] default [gateway]``.  Inside a VNET jail
the routing table is the jail's network namespace's (:mod:`salt_jail.rehearsal.netns`), so a gateway that
is not on a connected prefix really fails: ``route: writing to routing socket: Network is unreachable``
on standard error, ``add net default: gateway 192.0.2.1: Network is unreachable`` on standard output,
exit 1 (newroute(), rtmsg()).  Success prints ``add net default: gateway 192.0.2.1`` (nothing with ``-q``).
``delete`` of a missing route ends ``: not in table`` (ESRCH); ``get`` prints print_getmsg()'s block, or
``route: route has not been found``.  Inside a jail without VNET, changes fail with ``Operation not
permitted``; on the simulated host, and for destinations other than ``default``, route(8) is not
simulated (exit 70).
"""

import errno

from .. import netns, vnet
from ..bsdgetopt import BadOption, getopt
from ..context import Exit

USAGE = "usage: route [-46dnqtv] command [[modifiers] args]\n"
EX_SOFTWARE = 70
COMMANDS = ("add", "change", "delete", "get")


def _usage(ctx):
    ctx.stderr.write(USAGE)
    raise Exit(64)


def main(ctx, argv):
    try:
        opts, args = getopt(argv, "46dnqtvF:", ctx.prog, ctx.stderr)
    except BadOption:
        _usage(ctx)
    flags = {letter for letter, _ in opts}
    family = "inet6" if "6" in flags else "inet"
    if not args:
        _usage(ctx)
    command, words = args[0], args[1:]
    if command not in COMMANDS:
        if command in ("flush", "monitor", "show"):
            ctx.errx(EX_SOFTWARE, f"route {command} is not simulated by the rehearsal host")
        _usage(ctx)
    while words and words[0] in ("-inet", "-inet6", "-4", "-6", "-net"):
        word = words.pop(0)
        family = "inet6" if word in ("-inet6", "-6") else "inet" if word in ("-inet", "-4") else family
    if not words:
        _usage(ctx)
    if words[0] != "default":
        ctx.errx(EX_SOFTWARE, "the rehearsal host simulates default routes only")
    gateway = words[1] if len(words) > 1 else None
    jail = ctx.jail
    if not jail:
        ctx.errx(EX_SOFTWARE, "the simulated host's routing table is not simulated (only VNET jails have one)")
    if not vnet.is_vnet_jail(jail):
        if command == "get":
            ctx.errx(EX_SOFTWARE, "a jail without VNET shares the host's routing table, which is not simulated")
        ctx.err(1, "writing to routing socket", errno.EPERM)
    ns = netns.jail_ns(ctx.scratch.root, jail["jid"])
    fam = ["-6"] if family == "inet6" else ["-4"]
    if command == "get":
        return _get(ctx, ns, fam)
    if command in ("add", "change") and gateway is None:
        _usage(ctx)
    verb = {"add": "add", "change": "replace", "delete": "del"}[command]
    argv = [*fam, "route", verb, "default"] + (["via", gateway] if gateway and command != "delete" else [])
    try:
        if command == "change" and vnet.routes(ctx.scratch.root, jail["jid"], family) is None:
            raise netns.NetnsError("not in table", errno.ESRCH)
        netns.ip(ns, *argv)
    except netns.NetnsError as error:
        code = error.errno or errno.EINVAL
        ctx.warn("writing to routing socket", code)
        if "q" not in flags:
            reason = "not in table" if code == errno.ESRCH else None
            ctx.out(_line(command, gateway) + f": {reason or _strerror(code)}\n")
        return 1
    if "q" not in flags:
        ctx.out(_line(command, gateway) + "\n")
    return 0


def _strerror(code):
    from ..context import strerror  # pylint: disable=import-outside-toplevel

    return strerror(code)


def _line(command, gateway):
    return f"{command} net default" + (f": gateway {gateway}" if gateway else "")


def _get(ctx, ns, fam):
    words = netns.ip(ns, *fam, "route", "show", "default", check=False).split()
    if "via" not in words:
        ctx.errx(1, "route has not been found")
    gateway = words[words.index("via") + 1]
    interface = words[words.index("dev") + 1] if "dev" in words else "?"
    ctx.out("   route to: default\n"
            "destination: default\n"
            "       mask: default\n"
            f"    gateway: {gateway}\n"
            "        fib: 0\n"
            f"  interface: {interface}\n"
            "      flags: <UP,GATEWAY,DONE,STATIC>\n"
            " recvpipe  sendpipe  ssthresh  rtt,msec    mtu        weight    expire\n"
            "       0         0         0         0      1500         1         0 \n")
    return 0
