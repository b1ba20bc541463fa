"""Addresses a prisoner must not take: the host's own, and those of jails the pillar does not manage.

A jail started with the host's own address turns it into an alias of itself: jail(8) runs
``ifconfig em0 inet 192.168.11.30 netmask 255.255.255.255 alias`` (the host's /24 becomes a /32) and,
when the jail stops, ``-alias`` removes the address from the interface altogether.  The pillar alone cannot
tell, so this looks at the host, read-only:

* rc.conf (the files rc.d/netif reads): ``ifconfig_IF`` and ``ifconfig_IF_ipv6`` are the host's; aliases
  (``ifconfig_IF_aliasN``, ``ifconfig_IF_aliases``, ``ipv4_addrs_IF``) are the host's too, except a
  host-route alias (/32, /128) of a pillar prisoner's own address: that is the prisoner's alias, written by
  ``host.rc_aliases`` or by hand as the tutorial does;
* the interfaces (``ifconfig -a``): an address with a real netmask/prefix is the host's; a host-route alias
  is the host's unless a running jail holds it or it is a pillar prisoner's (its rc.conf alias is up while
  the prisoner is stopped);
* jails the pillar does not manage: running ones (``jls``) and those jail.conf defines.

:func:`conflicts` returns one error per clash, naming the prisoner's key path and the holder.
"""

import ipaddress
import re

from ..formats import jailconf, rcconf
from ..io import textedit
from ..errors import JailprovError, ParseError

IFCONFIG_ARGV = ("ifconfig", "-a")

_INET = re.compile(r"\s+inet6?\s+(?P<addr>[0-9A-Fa-f:.%a-z0-9]+)(?:\s+(?:netmask\s+(?P<mask>\S+)|"
                   r"prefixlen\s+(?P<plen>\d+)))?")
_ALIAS_VAR = re.compile(r"ifconfig_(?P<if>.+?)(?:_alias\d+|_aliases)\Z|ipv4_addrs_(?P<if4>.+)\Z")
_PRIMARY_VAR = re.compile(r"ifconfig_(?P<if>.+?)(?:_ipv6)?\Z")


def _address(text):
    """The address in ``text`` (``192.0.2.5``, ``192.0.2.5/24``, ``fe80::1%em0``), or None."""
    try:
        return str(ipaddress.ip_interface(text.split("%", 1)[0]).ip)
    except ValueError:
        return None


def _rc_addresses(text):
    """``[(address, host_route)]`` an rc.conf ifconfig value configures (``inet A netmask M``,
    ``inet6 A prefixlen L``, CIDRs); ``host_route``: a /32 or /128, the shape of a jail's alias."""
    words = text.split()
    found = []
    for i, word in enumerate(words):
        if word in ("inet", "inet6") and i + 1 < len(words):
            addr, spec = _address(words[i + 1]), words[i + 1]
            rest = words[i + 2:i + 4]
        elif "/" in word or word.count(".") == 3:
            addr, spec, rest = _address(word), word, []
        else:
            continue
        if addr is None or any(a == addr for a, _ in found):
            continue
        length = spec.rpartition("/")[2] if "/" in spec else None
        if rest[:1] in (["netmask"], ["prefixlen"]) and len(rest) == 2:
            length = rest[1]
        host_route = length in ("32", "128", "255.255.255.255", "0xffffffff") or (length is None and ":" in addr)
        found.append((addr, host_route))
    return found


def rc_conf_addresses(host, managed):
    """``{address: holder}`` of the addresses rc.conf gives the host's interfaces (``managed``: the pillar
    prisoners' addresses, whose aliases are jailprov's own)."""
    root = textedit.Root.of_host(host)
    found = {}
    for path in rcconf.NETIF_RC_FILES:
        state = textedit.read_text(root, path.lstrip("/"), missing_ok=True)
        if state is None:
            continue
        conf = rcconf.parse(state.text, path)
        for key in conf.names():
            alias = _ALIAS_VAR.match(key)
            primary = None if alias else _PRIMARY_VAR.match(key)
            if not alias and not primary:
                continue
            try:
                value = conf.get(key) or ""
            except ParseError:
                continue
            for addr, host_route in _rc_addresses(value):
                if alias and host_route and addr in managed:
                    continue  # the prisoner's own alias (host.rc_aliases, or the tutorial's lines by hand)
                found.setdefault(addr, f"the host's own address ({key} in {path})")
    return found


def interface_addresses(text):
    """``[(interface, address, host_route)]`` from ``ifconfig -a`` output (``host_route``: a /32 or /128)."""
    found = []
    interface = None
    for line in text.splitlines():
        if line and not line[0].isspace():
            interface = line.split(":", 1)[0]
            continue
        match = _INET.match(line)
        if not match or interface is None:
            continue
        addr = _address(match.group("addr"))
        if addr is None:
            continue
        mask, plen = match.group("mask"), match.group("plen")
        if mask is not None:
            host_route = mask.lower() in ("0xffffffff", "255.255.255.255")
        else:
            host_route = plen == "128"
        found.append((interface, addr, host_route))
    return found


def conflicts(host, cfg, running=None):
    """Error messages for every present prisoner address the host or an unmanaged jail already uses.

    ``running`` is the jls list when the caller has it (``lifecycle.running_jails``).
    """
    from . import lifecycle  # pylint: disable=import-outside-toplevel  (lifecycle imports this module's users)

    if running is None:
        running = lifecycle.running_jails(host)
    managed = {}
    for prisoner in cfg.present:
        for kind in ("ip4", "ip6"):
            for i, addr in enumerate(getattr(prisoner, kind)):
                managed[addr] = (prisoner.name, f"{kind}[{i}]")
    for prisoner in cfg.prisoners.values():
        if prisoner.absent:
            for addr in prisoner.ip4 + prisoner.ip6:
                managed.setdefault(addr, (prisoner.name, None))
    holders = {}
    for jail in running:
        if jail["name"] in cfg.prisoners:
            continue
        for addr in list(jail.get("ipv4") or []) + list(jail.get("ipv6") or []):
            holders.setdefault(_address(addr) or addr, f"the running jail {jail['name']} (jid {jail['jid']}), "
                                                       "which the pillar does not manage")
    holders.update({a: h for a, h in _conf_jail_addresses(host, cfg).items() if a not in holders})
    held_by_jails = {(_address(a) or a) for j in running for a in list(j.get("ipv4") or []) + list(j.get("ipv6") or [])}
    for interface, addr, host_route in interface_addresses(
            host.query(IFCONFIG_ARGV, what="cannot list the host's interface addresses").stdout):
        if host_route and (addr in held_by_jails or addr in managed):
            continue
        holders.setdefault(addr, f"the host's own address (on {interface})")
    for addr, holder in rc_conf_addresses(host, managed).items():
        holders.setdefault(addr, holder)
    errors = []
    for addr, (name, sub) in managed.items():
        if sub is not None and addr in holders:
            errors.append(f"jailprov:prisoners:{name}:{sub}: {addr} is already used by {holders[addr]}; "
                          "a prisoner needs an address of its own (starting it would take the address over "
                          "and stopping it would remove it)")
    return errors


def _conf_jail_addresses(host, cfg):
    """``{address: holder}`` of the jails jail.conf defines that the pillar does not manage."""
    from . import lifecycle  # pylint: disable=import-outside-toplevel
    read = jailconf.fs_reader(host.root)
    if not read(cfg.jail_conf):
        return {}
    found = {}
    try:
        names = jailconf.defined_jails(cfg.jail_conf, read=read)
    except JailprovError:
        return {}
    for name in names:
        if name in cfg.prisoners:
            continue
        try:
            params = jailconf.effective_params(cfg.jail_conf, name, read=read)
        except JailprovError:
            continue
        ip4, ip6 = lifecycle.addresses_of(params)
        for addr in ip4 + ip6:
            found.setdefault(addr, f"the jail {name} defined in {cfg.jail_conf}, which the pillar does not manage")
    return found
