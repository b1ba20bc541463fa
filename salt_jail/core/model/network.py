"""The pillar's ``network:`` key of a prisoner: a VNET prisoner's bridge, uplink, addresses and MAC.

The pillar half of the VNET feature (:mod:`salt_jail.core.features.vnet` plans and applies it: jail.conf hooks,
the prisoner's rc.conf, live changes): what the model validates, and the names and MACs it derives from the
prisoner's name, which every prisoner must hold alone (:func:`identities`, checked here and fleet-wide in
:mod:`salt_jail.core.features.fleet`).  See that module for FreeBSD's rules and the peers' bugs this avoids.
"""

import base64
import dataclasses
import hashlib
import ipaddress
import re
import typing

MODES = ("shared", "vnet")
KEYS = ("mode", "bridge", "uplink", "ip4", "gateway", "ip6", "gateway6", "mac")
#: jail.conf parameters the VNET feature writes for a VNET prisoner; pillar ``params`` must not set them.
MANAGED = ("vnet", "vnet.interface")
IFNAMSIZ = 16
#: Host and jail halves: jib's ``e0a_``/``e0b_`` prefixes, then at most 11 characters.
HOST_PREFIX, JAIL_PREFIX = "e0a_", "e0b_"
SHORT_MAX = IFNAMSIZ - 1 - len(HOST_PREFIX)
_IFNAME_CHARS = re.compile(r"^[A-Za-z0-9_]+$")
_UPLINK_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.]*[0-9]$")
_BRIDGE_RE = re.compile(r"^bridge(0|[1-9][0-9]*)$")
_MAC_RE = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")


@dataclasses.dataclass(frozen=True)
class Network:
    """A VNET prisoner's network (shared-IP prisoners have ``Prisoner.network`` None)."""

    bridge: str
    uplink: typing.Optional[str]
    ip4: typing.Optional[str]        # "192.0.2.10/24"
    gateway: typing.Optional[str]
    ip6: typing.Optional[str]        # "2001:db8::10/64"
    gateway6: typing.Optional[str]
    host_if: str                      # e0a_<short>, stays on the host, member of the bridge
    jail_if: str                      # e0b_<short>, moved into the jail by vnet.interface
    host_mac: str
    jail_mac: str

    @property
    def address4(self):
        return str(ipaddress.ip_interface(self.ip4).ip) if self.ip4 else None

    @property
    def address6(self):
        return str(ipaddress.ip_interface(self.ip6).ip) if self.ip6 else None


# --------------------------------------------------------------------------------------------------
# Names and MACs


def short_name(name):
    """The prisoner's part of its interface names: ``name`` itself when it has at most 11 characters of
    ``[A-Za-z0-9_]``, else its first three such characters, ``_`` and 7 characters of a SHA-256 of the whole
    name (deterministic; a counter would give a prisoner another name after a rename or a reorder)."""
    if len(name) <= SHORT_MAX and _IFNAME_CHARS.match(name):
        return name
    stem = re.sub(r"[^A-Za-z0-9_]", "_", name)[:3]
    digest = base64.b32encode(hashlib.sha256(name.encode()).digest()).decode().lower()
    return f"{stem}_{digest[:SHORT_MAX - len(stem) - 1]}"


def interface_names(name):
    """``(host half, jail half)`` of prisoner ``name``'s epair, each at most 15 characters."""
    short = short_name(name)
    return HOST_PREFIX + short, JAIL_PREFIX + short


def derived_macs(name, hostname=""):
    """``(host MAC, jail MAC)``: locally administered unicast (02:...), 4 bytes of SHA-256 of the prisoner's
    name and FQDN, ``0a``/``0b`` last.  The FQDN is in it because two hosts often have a prisoner of the same
    name (``web``) bridged onto one LAN, while hostnames are unique across the fleet (checked)."""
    digest = hashlib.sha256(f"jailprov-epair:{name}:{hostname.lower()}".encode()).digest()
    stem = "02:" + ":".join(f"{b:02x}" for b in digest[:4])
    return stem + ":0a", stem + ":0b"


# --------------------------------------------------------------------------------------------------
# Pillar


def _interface(value, version):
    """``(interface, error)`` for ``addr/len``."""
    if not isinstance(value, str) or "/" not in value:
        return None, (f"{value!r} needs a prefix length (expected e.g. "
                      f"{'192.0.2.10/24' if version == 4 else '2001:db8::10/64'})")
    try:
        iface = ipaddress.ip_interface(value)
    except ValueError:
        return None, f"{value!r} is not an IPv{version} address with a prefix length"
    if iface.version != version:
        return None, f"{value!r} is not an IPv{version} address"
    net = iface.network
    if version == 4 and net.prefixlen <= 30 and iface.ip in (net.network_address, net.broadcast_address):
        return None, f"{value!r} is the {'network' if iface.ip == net.network_address else 'broadcast'} " \
                     f"address of {net}, not a host address"
    if version == 4 and net.prefixlen == 0:
        return None, f"{value!r}: a /0 prefix would put the whole Internet on the bridge"
    return iface, None


def _gateway(value, iface, version, key):
    """Error text for gateway ``value`` of interface ``iface`` (None when fine)."""
    try:
        gw = ipaddress.ip_address(value) if isinstance(value, str) else None
    except ValueError:
        gw = None
    if gw is None or gw.version != version:
        return f"{value!r} is not an IPv{version} address"
    if iface is None:
        return f"needs {'ip4' if version == 4 else 'ip6'} (the prisoner's own address)"
    if gw == iface.ip:
        return f"{value} is the prisoner's own address"
    if version == 6 and gw.is_link_local:
        return None
    if gw not in iface.network:
        return (f"{value} is outside the prisoner's prefix {iface.network} (a {key} must be reachable on the "
                f"bridge: widen the prefix length or pick a router inside it)")
    return None


def parse(name, raw, addresses, hostname=""):
    """``(Network or None, [(subkey, message), ...])`` of prisoner ``name``'s merged ``network`` mapping.

    ``addresses`` tells whether the prisoner also sets the shared-IP keys ``ip4``/``ip6``.
    """
    errors = []
    if raw is None:
        return None, errors
    if not isinstance(raw, dict):
        return None, [("", f"expected a mapping such as {{mode: vnet, bridge: bridge0, ip4: 192.0.2.10/24}}, "
                           f"got {type(raw).__name__}")]
    for key in raw:
        if key not in KEYS:
            errors.append((str(key), f"unknown key {key!r}; expected one of: {', '.join(KEYS)}"))
    mode = raw.get("mode", "shared")
    if mode not in MODES:
        errors.append(("mode", f"{mode!r} is not a network mode (expected 'shared': the host's stack, "
                               "addresses in ip4/ip6; or 'vnet': its own stack on an epair and a bridge)"))
        return None, errors
    if mode == "shared":
        for key in ("ip4", "ip6", "gateway", "gateway6", "mac"):
            if raw.get(key) is not None:
                errors.append((key, "is only for mode: vnet (a shared-IP prisoner's addresses are the "
                                    "prisoner keys ip4/ip6)"))
        return None, errors
    if addresses:
        errors.append(("mode", "a VNET prisoner has its own network stack and jail(8) refuses ip4.addr/ip6.addr "
                               "on it (\"vnet jails cannot have IP address restrictions\", kern_jail.c): move the "
                               "address to network:ip4/ip6 and remove the prisoner's ip4/ip6"))
    bridge = raw.get("bridge")
    if bridge is None:
        errors.append(("bridge", "is required with mode: vnet (expected e.g. bridge0)"))
    elif not isinstance(bridge, str) or not _BRIDGE_RE.match(bridge) or len(bridge) >= IFNAMSIZ:
        errors.append(("bridge", f"{bridge!r} is not a bridge(4) interface name (expected bridgeN, e.g. bridge0)"))
    uplink = raw.get("uplink")
    if uplink is not None and (not isinstance(uplink, str) or not _UPLINK_RE.match(uplink)
                               or len(uplink) >= IFNAMSIZ or _BRIDGE_RE.match(uplink)):
        errors.append(("uplink", f"{uplink!r} is not a network interface name (expected e.g. em0 or "
                                 "vlan0, at most 15 characters)"))
    ifaces = {}
    for key, version in (("ip4", 4), ("ip6", 6)):
        value = raw.get(key)
        if value is None:
            ifaces[version] = None
            continue
        ifaces[version], err = _interface(value, version)
        if err:
            errors.append((key, err))
    if ifaces[4] is None and ifaces[6] is None and raw.get("ip4") is None and raw.get("ip6") is None:
        errors.append(("ip4", "a VNET prisoner needs an address: set network:ip4 (e.g. 192.0.2.10/24) "
                              "or network:ip6"))
    for key, version, addr_key in (("gateway", 4, "ip4"), ("gateway6", 6, "ip6")):
        value = raw.get(key)
        if value is not None:
            err = _gateway(value, ifaces[version], version, key)
            if err and not (ifaces[version] is None and raw.get(addr_key) is not None):
                errors.append((key, err))
    host_mac, jail_mac = derived_macs(name, hostname or "")
    mac = raw.get("mac")
    if mac is not None:
        if not isinstance(mac, str) or not _MAC_RE.match(mac):
            errors.append(("mac", f"{mac!r} is not a MAC address (expected six hex pairs, e.g. 02:00:5e:10:00:01)"))
        elif int(mac[:2], 16) & 1 or mac.replace(":", "") == "0" * 12:
            errors.append(("mac", f"{mac!r} is a multicast or zero address (expected a unicast MAC; "
                                  "02:xx:... is locally administered)"))
        else:
            jail_mac = mac.lower()
    if errors:
        return None, errors
    host_if, jail_if = interface_names(name)
    return Network(
        bridge=bridge, uplink=uplink, ip4=str(ifaces[4]) if ifaces[4] else None, gateway=raw.get("gateway"),
        ip6=str(ifaces[6]) if ifaces[6] else None, gateway6=raw.get("gateway6"),
        host_if=host_if, jail_if=jail_if, host_mac=host_mac, jail_mac=jail_mac,
    ), errors


def merge(defaults_value, own_value):
    """A prisoner's ``network`` over ``defaults:network`` (one level deep: keys of its own win)."""
    if isinstance(defaults_value, dict) and isinstance(own_value, dict):
        return {**defaults_value, **own_value}
    return own_value if own_value is not None else defaults_value


def identities(prisoner):
    """``[(kind, value, subkey)]`` a VNET prisoner must not share with another (validation and fleet)."""
    return network_identities(getattr(prisoner, "network", None))


def network_identities(net):
    """:func:`identities` of a prisoner whose ``network`` is ``net`` (None: a shared-IP prisoner)."""
    if net is None:
        return []
    out = [("interface name", net.host_if, "network"), ("interface name", net.jail_if, "network"),
           ("MAC address", net.host_mac, "network"), ("MAC address", net.jail_mac, "network:mac")]
    if net.address4:
        out.append(("address", net.address4, "network:ip4"))
    if net.address6:
        out.append(("address", net.address6, "network:ip6"))
    return out


def own_params(params, own, network):
    """A VNET prisoner gets devfs ruleset 5 unless its own ``params`` set ``devfs_ruleset``: a value inherited
    from ``defaults:params`` (often 4, meant for the shared-IP prisoners) is dropped for it."""
    if network is not None and "devfs_ruleset" not in (own or {}):
        return {k: v for k, v in params.items() if k != "devfs_ruleset"}
    return params


def check_params(prisoner_params, network):
    """``[(param, message)]`` for pillar ``params`` that clash with ``network``."""
    if network is None:
        return []
    return [(key, "is written from jailprov's own key 'network' for a VNET prisoner; remove it from params")
            for key in MANAGED if key in prisoner_params]


def check_bridges(prisoners):
    """``[(prisoner, subkey, message)]``: prisoners on one bridge must agree on its uplink."""
    uplinks, errors = {}, []
    for p in prisoners:
        net = getattr(p, "network", None)
        if net is None or p.absent or net.uplink is None:
            continue
        first = uplinks.setdefault(net.bridge, (p.name, net.uplink))
        if first[1] != net.uplink:
            errors.append((p.name, "network:uplink",
                           f"{net.uplink!r} differs from {first[1]!r}, the uplink prisoner {first[0]!r} gives "
                           f"{net.bridge} (one bridge has one uplink)"))
    return errors
