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
import re

from .. import netns, vnet
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
    "epair": ["\tgroups: epair", "\tmedia: Ethernet 10Gbase-T (10Gbase-T <full-duplex>)", "\tstatus: active",
              "\tnd6 options=29<PERFORMNUD,IFDISABLED,AUTO_LINKLOCAL>"],
    "bridge": ["\tgroups: bridge", "\tnd6 options=9<PERFORMNUD,IFDISABLED>"],
}
#: Cloned interfaces (sys/net/if_epair.c, if_bridge.c): flags when up and when down.
_CLONED_FLAGS = {
    True: "flags=1008843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST,LOWER_UP> metric 0 mtu {mtu}",
    False: "flags=1008802<BROADCAST,SIMPLEX,MULTICAST,LOWER_UP> metric 0 mtu {mtu}",
}
_CLONED_OPTIONS = {"epair": "\toptions=8<VLAN_MTU>", "bridge": "\toptions=0"}
#: A VNET jail's own loopback (its vnet has its own lo0).
_JAIL_LO0 = {"index": 1, "kind": "loopback", "mtu": 16384,
             "inet": [{"addr": "127.0.0.1", "prefixlen": 8}], "inet6": [{"addr": "::1", "prefixlen": 128}]}


def _describe(name, iface, visible):
    """The ifconfig(8) block of one interface, showing only the addresses in ``visible`` (None: all)."""
    if iface.get("cloned"):
        head, options = _CLONED_FLAGS[bool(iface["up"])], _CLONED_OPTIONS[iface["kind"]]
    else:
        head, options = _HEADERS[iface["kind"]]
    lines = [f"{name}: {head.format(mtu=iface['mtu'])}", options]
    if iface.get("cloned"):
        lines.append(f"\tether {iface['ether']}")
    elif iface["kind"] == "ether":
        lines.append(f"\tether 58:9c:fc:00:00:{iface['index']:02x}")
    for entry in iface["inet"]:
        if visible is None or entry["addr"] in visible:
            net = ipaddress.IPv4Interface(f"{entry['addr']}/{entry['prefixlen']}").network
            line = f"\tinet {entry['addr']} netmask {prefix_to_mask(entry['prefixlen'])}"
            if iface["kind"] != "loopback":
                line += f" broadcast {net.broadcast_address}"
            lines.append(line)
    for entry in iface["inet6"]:
        if visible is None or entry["addr"] in visible:
            lines.append(f"\tinet6 {entry['addr']} prefixlen {entry['prefixlen']}")
    for member in iface.get("members", ()):
        lines += [f"\tmember: {member} flags=143<LEARNING,DISCOVER,AUTOEDGE,AUTOPTP>",
                  "\t        port 0 priority 128 path cost 2000"]
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
    if change and not ctx.jail and _link_level(args):
        netns.ensure_host(ctx.scratch.root)  # before the kernel lock: creating a namespace may take a while
    with ctx.scratch.kernel(write=change) as kernel:
        visible = None
        jail = kernel.find_jail(jid=ctx.jail["jid"]) if ctx.jail else None
        if jail and vnet.is_vnet_jail(jail):
            interfaces = {"lo0": _JAIL_LO0, **kernel.vnet_interfaces(jail["jid"])}
            if change:
                return _change(ctx, kernel, interfaces, args, jail)
        elif change and (_link_level(args) or args[0] in kernel.interfaces
                         and kernel.interfaces[args[0]].get("cloned")):
            if jail:
                ctx.err(1, "ioctl (SIOCSIFFLAGS)", errno.EPERM)
            return _change(ctx, kernel, kernel.interfaces, args, None)
        else:
            if jail:
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


# -- cloned interfaces and VNET (salt_jail.rehearsal.vnet) -------------------------------------------------

#: Parameters of the link level the rehearsal plays (sbin/ifconfig: ifconfig.c, ifclone.c, ifbridge.c).
_LINK_WORDS = ("create", "destroy", "name", "up", "down", "ether", "lladdr", "addm", "deletem", "vnet", "-vnet",
               "description", "descr")
_TAKES_VALUE = ("name", "ether", "lladdr", "addm", "deletem", "vnet", "-vnet", "description", "descr")
_MAC_RE = re.compile(r"^[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2}){5}$")


def _link_level(args):
    return any(word in _LINK_WORDS for word in args[1:2]) or args[1:2] == ["create"]


def _fail(ctx, error):
    if error.message and error.errno == errno.EOPNOTSUPP:
        ctx.errx(EX_SOFTWARE, error.message)
    ctx.err(1, error.request, error.errno)


def _find_jail(kernel, text):
    return kernel.find_jail(jid=int(text)) if text.isdigit() else kernel.find_jail(name=text)


def _change(ctx, kernel, interfaces, args, jail):
    """``ifconfig IF [create] PARAM ...`` on the link level, or an address change of a cloned interface."""
    root = ctx.scratch.root
    name, words = args[0], list(args[1:])
    print_name = False
    try:
        if words[0] == "create":
            if jail:
                ctx.errx(EX_SOFTWARE, "creating interfaces inside a VNET jail is not simulated by the rehearsal host")
            words.pop(0)
            created = vnet.create(kernel, root, name)
            print_name = created != name
            name = created
        elif name not in interfaces and words[0] != "-vnet":
            ctx.errx(1, f"interface {name} does not exist")
        elif name in interfaces and (name == "lo0" or not interfaces[name].get("cloned")):
            if any(w in _LINK_WORDS for w in words):
                ctx.errx(EX_SOFTWARE, f"changing {name} this way is not simulated by the rehearsal host")
        while words:
            word = words.pop(0)
            if word in _TAKES_VALUE:
                if not words:
                    ctx.errx(1, f"missing argument for {word}")
                value = words.pop(0)
            if word == "destroy":
                vnet.destroy(kernel, root, name)
                return 0
            if word == "name":
                vnet.rename(kernel, root, name, value)
                name, print_name = value, True
            elif word in ("up", "down"):
                vnet.set_up(kernel, root, name, word == "up")
            elif word in ("ether", "lladdr"):
                if not _MAC_RE.match(value):
                    ctx.errx(1, "malformed link-level address")
                vnet.set_ether(kernel, root, name, ":".join(f"{int(x, 16):02x}" for x in value.split(":")))
            elif word in ("addm", "deletem"):
                if kernel.data["interfaces"].get(name, {}).get("kind") != "bridge":
                    ctx.err(1, f"{'BRDGADD' if word == 'addm' else 'BRDGDEL'} {value}", errno.EINVAL)
                (vnet.add_member if word == "addm" else vnet.delete_member)(kernel, root, name, value)
            elif word in ("vnet", "-vnet"):
                if jail:
                    ctx.errx(EX_SOFTWARE, "moving interfaces from inside a jail is not simulated by the rehearsal host")
                target = _find_jail(kernel, value)
                if target is None:
                    ctx.err(1, "SIOCSIFVNET", errno.ENXIO)
                if word == "vnet":
                    if not vnet.is_vnet_jail(target):
                        ctx.err(1, "SIOCSIFVNET", errno.EEXIST)
                    vnet.move(kernel, root, name, target["jid"])
                else:
                    if kernel.data["interfaces"].get(name, {}).get("vnet") != target["jid"]:
                        ctx.err(1, "SIOCSIFRVNET", errno.EINVAL)
                    vnet.move(kernel, root, name, 0)
            elif word in ("description", "descr"):
                kernel.data["interfaces"][name]["description"] = value
            else:
                words.insert(0, word)
                family, address, prefixlen, action = _parse_change(ctx, words)
                words = []
                if name == "lo0" and jail:
                    ctx.errx(EX_SOFTWARE, "changing lo0 of a VNET jail is not simulated by the rehearsal host")
                vnet.set_address(kernel, root, name, family, address, prefixlen, action)
    except vnet.IfError as error:
        _fail(ctx, error)
    except netns.NetnsError as error:
        ctx.errx(1, f"rehearsal network: {error}")
    if print_name:
        ctx.out(f"{name}\n")
    return 0
