"""ifconfig(8) for the simulated interfaces: list them, add and remove addresses (sbin/ifconfig).

Forms: ``ifconfig [-a]``, ``ifconfig -l``, ``ifconfig IF``, and
``ifconfig IF [inet|inet6] ADDR[/LEN] [netmask MASK|prefixlen LEN] [broadcast ADDR] [alias|-alias|delete]``
(jail(8) runs ``ifconfig em0 inet 192.168.11.31 netmask 255.255.255.255 alias`` and the same with
``-alias``).  Adding an address the interface already has replaces it, as SIOCAIFADDR does; removing one
it does not have fails with ``ioctl (SIOCDIFADDR): Can't assign requested address``; an address without
``alias`` replaces the interface's first address of that family.  Inside a jail the listing shows the
jail's addresses only and changes fail with ``Operation not permitted``.  The listing follows the
FreeBSD 14 layout; the ``options``, ``media`` and ``nd6`` lines are fixed, plausible values.
"""

import errno
import ipaddress

from ..bsdgetopt import BadOption, getopt
from ..context import Exit
from ..simkernel import prefix_to_mask

USAGE = ("usage: ifconfig [-j jail] [-f type:format] [-L] [-C] [-g groupname] interface address_family\n"
         "                [address [dest_address]] [parameters]\n"
         "       ifconfig [-j jail] interface create\n"
         "       ifconfig [-j jail] -a [-L] [-C] [-g groupname] [-d] [-m] [-u] [-v] [address_family]\n"
         "       ifconfig [-j jail] -l [-d] [-u] [address_family]\n"
         "       ifconfig [-j jail] [-L] [-C] [-g groupname] [-d] [-m] [-u] [-v]\n")
EX_SOFTWARE = 70

_HEADERS = {
    "ether": ("flags=1008843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST,LOWER_UP> metric 0 mtu {mtu}",
              "\toptions=4e527bb<RXCSUM,TXCSUM,VLAN_MTU,VLAN_HWTAGGING,JUMBO_MTU,VLAN_HWCSUM,TSO4,TSO6,LRO,"
              "WOL_MAGIC,VLAN_HWFILTER,VLAN_HWTSO,RXCSUM_IPV6,TXCSUM_IPV6,HWSTATS,MEXTPG>"),
    "loopback": ("flags=1008049<UP,LOOPBACK,RUNNING,MULTICAST,LOWER_UP> metric 0 mtu {mtu}",
                 "\toptions=680003<RXCSUM,TXCSUM,LINKSTATE,RXCSUM_IPV6,TXCSUM_IPV6>"),
}
_TRAILERS = {
    "ether": ["\tmedia: Ethernet autoselect (1000baseT <full-duplex>)", "\tstatus: active",
              "\tnd6 options=29<PERFORMNUD,IFDISABLED,AUTO_LINKLOCAL>"],
    "loopback": ["\tgroups: lo", "\tnd6 options=21<PERFORMNUD,AUTO_LINKLOCAL>"],
}


def _describe(name, iface, visible):
    """The ifconfig(8) block of one interface, showing only the addresses in ``visible`` (None: all)."""
    head, options = _HEADERS[iface["kind"]]
    lines = [f"{name}: {head.format(mtu=iface['mtu'])}", options]
    if iface["kind"] == "ether":
        lines.append(f"\tether 58:9c:fc:00:00:{iface['index']:02x}")
    for entry in iface["inet"]:
        if visible is None or entry["addr"] in visible:
            net = ipaddress.IPv4Interface(f"{entry['addr']}/{entry['prefixlen']}").network
            line = f"\tinet {entry['addr']} netmask {prefix_to_mask(entry['prefixlen'])}"
            if iface["kind"] == "ether":
                line += f" broadcast {net.broadcast_address}"
            lines.append(line)
    for entry in iface["inet6"]:
        if visible is None or entry["addr"] in visible:
            lines.append(f"\tinet6 {entry['addr']} prefixlen {entry['prefixlen']}")
    return "\n".join(lines + _TRAILERS[iface["kind"]]) + "\n"


def _parse_change(ctx, words):
    """``(family, address, prefixlen, action)`` from ``[inet|inet6] ADDR[/LEN] [netmask M|prefixlen N] ...``."""
    family = "inet"
    if words and words[0] in ("inet", "inet6"):
        family = words.pop(0)
    if not words:
        ctx.stderr.write(USAGE)
        raise Exit(1)
    text, _, length = words.pop(0).partition("/")
    action = "set"
    prefixlen = None
    while words:
        word = words.pop(0)
        if word in ("alias", "add"):
            action = "alias"
        elif word in ("-alias", "delete", "remove"):
            action = "-alias"
        elif word in ("netmask", "prefixlen", "broadcast") and words:
            value = words.pop(0)
            if word == "netmask":
                mask = str(ipaddress.IPv4Address(int(value, 16))) if value.startswith("0x") else value
                prefixlen = ipaddress.IPv4Network(f"0.0.0.0/{mask}").prefixlen
            elif word == "prefixlen":
                prefixlen = int(value)
        else:
            ctx.errx(EX_SOFTWARE, f"parameter {word!r} is not simulated by the rehearsal host")
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        ctx.errx(1, f"{text}: bad value")
    if (address.version == 4) != (family == "inet"):
        ctx.errx(1, f"{text}: bad value")
    if length:
        prefixlen = int(length)
    if prefixlen is None:
        prefixlen = 32 if family == "inet" else 64
    return family, str(address), prefixlen, action


def main(ctx, argv):
    try:
        opts, args = getopt(argv, "aCdf:g:G:j:klLmnuv", ctx.prog, ctx.stderr)
    except BadOption:
        ctx.stderr.write(USAGE)
        raise Exit(1) from None
    flags = {letter for letter, _ in opts}
    unsupported = flags - {"a", "l"}
    if unsupported:
        ctx.errx(EX_SOFTWARE, f"option -{sorted(unsupported)[0]} is not simulated by the rehearsal host")
    change = len(args) > 1
    with ctx.scratch.kernel(write=change) as kernel:
        visible = None
        if ctx.jail:
            jail = kernel.find_jail(jid=ctx.jail["jid"])
            visible = set(kernel.jail_param(jail, "ip4.addr")) | set(kernel.jail_param(jail, "ip6.addr"))
        interfaces = kernel.interfaces
        if "l" in flags:
            ctx.out(" ".join(interfaces) + "\n")
            return 0
        if not args:
            ctx.out("".join(_describe(name, iface, visible) for name, iface in interfaces.items()))
            return 0
        name = args[0]
        if name not in interfaces:
            ctx.errx(1, f"interface {name} does not exist")
        if not change:
            ctx.out(_describe(name, interfaces[name], visible))
            return 0
        family, address, prefixlen, action = _parse_change(ctx, args[1:])
        request = "SIOCDIFADDR" if action == "-alias" else ("SIOCAIFADDR" if family == "inet" else "SIOCAIFADDR_IN6")
        if ctx.jail:
            ctx.err(1, f"ioctl ({request})", errno.EPERM)
        if action == "-alias":
            if not kernel.remove_address(name, family, address):
                ctx.err(1, f"ioctl ({request})", errno.EADDRNOTAVAIL)
        else:
            entries = kernel.data["interfaces"][name][family]
            if action == "set" and entries:
                entries.pop(0)
            kernel.add_address(name, family, address, prefixlen)
            if action == "set":
                entries.insert(0, entries.pop())
    return 0
