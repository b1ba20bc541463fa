"""sysctl(8), for the few OIDs the simulated kernel has (sbin/sysctl/sysctl.c).

Prints ``name: value`` (``name=value`` with ``-e``, the value alone with ``-n``, the name alone with
``-N``); ``-a`` lists every simulated OID.  ``name=value`` sets a writable OID and prints
``name: old -> new``.  ``kern.securelevel`` can only be raised (``Operation not permitted`` otherwise),
as init(8) enforces; inside a jail it reads and raises the jail's own securelevel, never below the
host's.  An unknown OID is ``sysctl: unknown oid 'NAME'`` (silenced by ``-q``; exit 1 unless ``-i``).
Not simulated: ``-b -B -d -f -F -h -J -o -t -T -W -x -A -X`` (refused with a message).
"""

import errno

from .. import simkernel as kmod
from ..bsdgetopt import BadOption, getopt
from ..context import Exit

USAGE = ("usage: sysctl [-bdeFhiJNnoqTtWx] [ -B <bufsize> ] [-f filename] name[=value] ...\n"
         "       sysctl [-bdeFhJNnoqTtWx] [ -B <bufsize> ] -a\n")
OPTIONS = "AabB:def:FhiJNnoqtTwWxX"
NOT_SIMULATED = "AbBdfFhJotTWxX"
EX_SOFTWARE = 70

#: Simulated OIDs in the order ``sysctl -a`` prints them.
OIDS = ("kern.ostype", "kern.osrelease", "kern.osreldate", "kern.hostname", "kern.securelevel",
        "kern.features.inet", "kern.features.inet6", "net.inet6.ip6.dad_count", "security.jail.jailed")


def _values(kernel, jail):
    """Every simulated OID's value as this process sees it."""
    host_level = kernel.securelevel
    return {
        "kern.ostype": "FreeBSD",
        "kern.osrelease": kmod.OSRELEASE,
        "kern.osreldate": kmod.OSRELDATE,
        "kern.hostname": kernel.jail_param(jail, "host.hostname") if jail else kernel.hostname,
        "kern.securelevel": max(host_level, kernel.jail_param(jail, "securelevel")) if jail else host_level,
        "kern.features.inet": 1,
        "kern.features.inet6": 1,
        "net.inet6.ip6.dad_count": 1,
        "security.jail.jailed": 1 if jail else 0,
    }


def _set(ctx, kernel, jail, name, text, old):
    """Set OID ``name`` to ``text``; returns the new value."""
    if name == "kern.securelevel":
        try:
            level = int(text, 0)
        except ValueError:
            ctx.errx(1, f"invalid integer '{text}'")
        if level < old:
            ctx.err(1, f"{name}={text}", errno.EPERM)  # the securelevel never goes down
        if jail:
            kernel.find_jail(jid=jail["jid"])["params"]["securelevel"] = level
        else:
            kernel.securelevel = level
        return level
    if name == "kern.hostname":
        if jail and not kernel.jail_param(jail, "allow.set_hostname"):
            ctx.err(1, f"{name}={text}", errno.EPERM)
        if jail:
            kernel.find_jail(jid=jail["jid"])["params"]["host.hostname"] = text
        else:
            kernel.data["hostname"] = text
        return text
    ctx.errx(1, f"oid '{name}' is read only")
    return None


def main(ctx, argv):
    try:
        opts, args = getopt(argv, OPTIONS, ctx.prog, ctx.stderr)
    except BadOption:
        ctx.stderr.write(USAGE)
        raise Exit(1) from None
    flags = "".join(letter for letter, _ in opts)
    for letter in flags:
        if letter in NOT_SIMULATED:
            ctx.errx(EX_SOFTWARE, f"option -{letter} is not simulated by the rehearsal host")
    show_all = "a" in flags
    if show_all == bool(args):
        ctx.stderr.write(USAGE)
        raise Exit(1)
    status = 0
    with ctx.scratch.kernel(write=True) as kernel:
        jail = kernel.find_jail(jid=ctx.jail["jid"]) if ctx.jail else None
        values = _values(kernel, jail)
        for arg in OIDS if show_all else args:
            name, eq, text = arg.partition("=")
            if name not in values:
                if "q" not in flags:
                    ctx.warnx(f"unknown oid '{name}'")
                if "i" not in flags:
                    status = 1
                continue
            old = values[name]
            new = _set(ctx, kernel, jail, name, text, old) if eq else None
            shown = f"{old} -> {new}" if eq else str(old)
            if "N" in flags:
                ctx.out(f"{name}\n")
            elif "n" in flags:
                ctx.out(f"{shown}\n")
            else:
                ctx.out(f"{name}{'=' if 'e' in flags else ': '}{shown}\n")
    return status
