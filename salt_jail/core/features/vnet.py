"""VNET prisoners: their own network stack on an epair whose host half is a member of a bridge.

One feature, in one place: the pillar's ``network:`` key (:func:`parse`, called by :mod:`.model`), the
names and MACs derived from the prisoner's name, the jail.conf parameters that create and destroy the
epair (:func:`block_params`, used by :func:`salt_jail.core.features.hostconf.block_params`), the prisoner's own
``etc/rc.conf`` and the live change of a running prisoner's address and default route
(:func:`prisoner_network`, step ``network``).

What FreeBSD does, and where it says so:

* ``vnet`` is create-only and a VNET jail refuses ``ip4.addr``/``ip6.addr``: kern_jail.c,
  kern_jail_set(): ``if ((ch_flags & PR_VNET) && (ch_flags & (PR_IP4_USER | PR_IP6_USER)))``
  -> "vnet jails cannot have IP address restrictions".  So a VNET prisoner's addresses are the jail's own
  business: its ``/etc/rc.conf`` (rc.d/netif, rc.d/routing inside the jail) configures them.
* ``vnet.interface`` is moved into the jail after ``exec.created`` and before ``exec.start``
  (usr.sbin/jail/jail.c, startcommands[]: ... IP__OP, IP_EXEC_CREATED, IP_ZFS_DATASET, IP_VNET_INTERFACE,
  IP_EXEC_START ...), so the epair must exist by ``exec.prestart``; on removal the kernel returns it to the
  host (jail.8: "released when the jail is removed") and ``exec.poststop`` destroys it.
* ``ifconfig epair create`` prints ``epairNa``; its peer is ``epairNb`` (epair(4)); both are renamed with
  ``ifconfig IF name NEW``.  An interface name has at most 15 characters (IFNAMSIZ 16, net/if.h).
* share/examples/jails/jib does the same with a bridge per uplink and halves named ``e0a_NAME``/``e0b_NAME``
  (NAME limited to ``[0-9A-Za-z_]``); its MAC comes from sum(1) of the name, a 16-bit checksum on which
  two names easily collide.  devfs ruleset 5 (``devfsrules_jail_vnet``, /etc/defaults/devfs.rules) is
  ruleset 4 plus ``pf``.

The peers' bugs this avoids: names are derived, never counted (cbsd #25 gave every jail ``epair0``;
Bastille #1245 truncated long names into collisions), a name that would not fit or holds ``-``/``.``
(Bastille #1207, #1215, #786) gets a short form ending in a hash of the whole name, both halves get a MAC
derived from the prisoner's name with SHA-256 (Bastille #1608: duplicated MACs after a rename), and
every derived name and MAC is checked unique before anything is written (here and fleet-wide in
:mod:`.fleet`).  The bridge is created on demand by the prestart hook when missing (so it comes back
after a reboot with the first prisoner that needs it) and never destroyed by jailprov: a bridge is the
host's infrastructure, and iocage creating bridges nobody asked for (#952) was the opposite mistake —
only the bridge a prisoner's pillar names is ever created.
"""

import base64
import dataclasses
import hashlib
import ipaddress
import re
import typing

from ..formats import rcconf
from ..io import textedit
from ..errors import CommandError, JailprovError
from ..result import StepResult

MODES = ("shared", "vnet")
KEYS = ("mode", "bridge", "uplink", "ip4", "gateway", "ip6", "gateway6", "mac")
#: jail.conf parameters this module writes for a VNET prisoner; pillar ``params`` must not set them.
MANAGED = ("vnet", "vnet.interface")
#: Hooks this module writes; the pillar's own values of these are run after jailprov's.
HOOKS = ("exec.prestart", "exec.poststop")
#: devfsrules_jail_vnet (/etc/defaults/devfs.rules): ruleset 4 plus pf.
DEVFS_RULESET = 5
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
    net = getattr(prisoner, "network", None)
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


# --------------------------------------------------------------------------------------------------
# jail.conf


def _bridge_hook(net):
    """Create the bridge when missing (then add the uplink and bring it up); an existing one is left alone."""
    create = f"ifconfig {net.bridge} create"
    if net.uplink:
        create += f" && ifconfig {net.bridge} addm {net.uplink}"
    return f"ifconfig {net.bridge} > /dev/null 2>&1 || {{ {create} && ifconfig {net.bridge} up ; }}"


def _epair_hook(net):
    """A fresh epair named, addressed by MAC and bridged; a left-over one of the same name is destroyed first
    (a crash between start and stop leaves one), so the hook can always run again."""
    return (f"ifconfig {net.host_if} destroy > /dev/null 2>&1 ; "
            f"epair=$(ifconfig epair create) && "
            f"ifconfig $epair name {net.host_if} > /dev/null && "
            f"ifconfig ${{epair%a}}b name {net.jail_if} > /dev/null && "
            f"ifconfig {net.host_if} ether {net.host_mac} && "
            f"ifconfig {net.jail_if} ether {net.jail_mac} && "
            f"ifconfig {net.bridge} addm {net.host_if} && "
            f"ifconfig {net.host_if} up")


def _destroy_hook(net):
    """Destroying one half destroys the pair; already gone is fine (stop must be re-runnable)."""
    return f"ifconfig {net.host_if} destroy > /dev/null 2>&1 || true"


def _bridge_cleanup_hook(net):
    """The bridge goes with its last member, unless the host gave it an address or an uplink (then it is the
    host's, configured: kept).  Only a bridge with neither ``member:`` nor ``inet`` lines is destroyed."""
    return (f"ifconfig {net.bridge} 2> /dev/null | grep -Eq 'member:|inet' || "
            f"ifconfig {net.bridge} destroy > /dev/null 2>&1 || true")


def block_params(prisoner):
    """The ``(param, value)`` list a VNET prisoner's jail.conf block carries ([] for a shared-IP one).

    The pillar's own ``exec.prestart``/``exec.poststop`` run after jailprov's (see :func:`hook_values`).
    """
    net = prisoner.network
    if net is None:
        return []
    params = [("vnet", True), ("vnet.interface", net.jail_if)]
    if "devfs_ruleset" not in prisoner.params:
        params.append(("devfs_ruleset", DEVFS_RULESET))
    params.append(("exec.prestart", [_bridge_hook(net), _epair_hook(net)] + _own(prisoner, "exec.prestart")))
    params.append(("exec.poststop", [_destroy_hook(net), _bridge_cleanup_hook(net)] + _own(prisoner, "exec.poststop")))
    return params


def _own(prisoner, key):
    value = prisoner.params.get(key)
    if value is None or isinstance(value, bool):
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def pillar_params(prisoner):
    """The pillar ``params`` that remain for the block once :func:`block_params` merged the hooks."""
    if prisoner.network is None:
        return dict(prisoner.params)
    return {k: v for k, v in prisoner.params.items() if k not in HOOKS}


# --------------------------------------------------------------------------------------------------
# The prisoner's own rc.conf


def rc_values(net):
    """``{variable: value or None}`` the prisoner's ``etc/rc.conf`` must hold (None: must not be set)."""
    want = {
        f"ifconfig_{net.jail_if}": f"inet {net.ip4}" if net.ip4 else None,
        f"ifconfig_{net.jail_if}_ipv6": f"inet6 {net.ip6}" if net.ip6 else None,
        "defaultrouter": net.gateway,
        "ipv6_defaultrouter": net.gateway6,
    }
    return want


def plan_rc_conf(text, net, path="etc/rc.conf", stale_ifs=()):
    """The new text of the prisoner's rc.conf for ``net`` (byte-preserving: only those lines change).

    ``stale_ifs`` are interface names the prisoner had before (a rename): their ``ifconfig_`` lines go.
    """
    doc = rcconf.parse(text or "", path)
    for old in stale_ifs:
        if old != net.jail_if:
            doc.delete(f"ifconfig_{old}")
            doc.delete(f"ifconfig_{old}_ipv6")
    for key, value in rc_values(net).items():
        if value is None:
            doc.delete(key)
        else:
            doc.set(key, value)
    return doc.render()


def _stale_interfaces(text, net):
    """Interface names of earlier jailprov epairs (``e0b_*``) configured in the prisoner's rc.conf."""
    names = []
    for key in rcconf.parse(text or "").names():
        m = re.match(rf"^ifconfig_({JAIL_PREFIX}[A-Za-z0-9_]+?)(_ipv6)?$", key)
        if m and m.group(1) != net.jail_if:
            names.append(m.group(1))
    return list(dict.fromkeys(names))


# --------------------------------------------------------------------------------------------------
# The running prisoner

_INET_RE = re.compile(r"^\tinet (\S+) netmask (0x[0-9a-f]{8})")
_INET6_RE = re.compile(r"^\tinet6 (\S+) prefixlen (\d+)")
_GATEWAY_RE = re.compile(r"^\s*gateway: (\S+)\s*$", re.M)


def parse_ifconfig(text):
    """``{"inet": ["a.b.c.d/len"], "inet6": ["addr/len"]}`` from ``ifconfig IF`` (link-local left out)."""
    found = {"inet": [], "inet6": []}
    for line in text.splitlines():
        m = _INET_RE.match(line)
        if m:
            length = bin(int(m.group(2), 16)).count("1")
            found["inet"].append(f"{m.group(1)}/{length}")
            continue
        m = _INET6_RE.match(line)
        if m and not m.group(1).lower().startswith("fe80:"):
            found["inet6"].append(f"{m.group(1).split('%')[0]}/{m.group(2)}")
    return found


def parse_route_get(text):
    """The gateway of ``route -n get default`` output, or None (no default route)."""
    m = _GATEWAY_RE.search(text or "")
    return m.group(1) if m else None


def _jexec(host, name, argv):
    return host.run(["jexec", name] + argv)


def live_plan(host, name, net):
    """The commands (argv lists run with ``jexec NAME``) that bring running prisoner ``name``'s address and
    default routes to ``net``; [] when they already match.  Raises JailprovError when the jail side
    interface is missing (that needs a restart, not a live change)."""
    res = _jexec(host, name, ["ifconfig", net.jail_if])
    if not res.ok:
        raise JailprovError(f"prisoner {name} has no interface {net.jail_if} (ifconfig: {res.stderr.strip()}); "
                            "it gets its epair when it starts: restart it")
    have = parse_ifconfig(res.stdout)
    plan = []
    for family, want, key in (("inet", net.ip4, 4), ("inet6", net.ip6, 6)):
        if want is None and (net.gateway if key == 4 else net.gateway6) is None:
            continue  # a family the pillar does not configure is the prisoner's own business
        current = have[family]
        if want is None:
            plan += [["ifconfig", net.jail_if, family, addr.split("/")[0], "-alias"] for addr in current]
        elif current[:1] != [want]:
            for addr in current:
                if addr != want:
                    plan.append(["ifconfig", net.jail_if, family, addr.split("/")[0], "-alias"])
            plan.append(["ifconfig", net.jail_if, family, want, "alias"])
        routes = ["route", "-n", "get"] + (["-inet6"] if key == 6 else []) + ["default"]
        gw_want = net.gateway if key == 4 else net.gateway6
        gw_have = parse_route_get(_jexec(host, name, routes).stdout)
        fam = ["-inet6"] if key == 6 else []
        if gw_want != gw_have:
            if gw_have is not None:
                plan.append(["route", "-q", "delete"] + fam + ["default"])
            if gw_want is not None:
                plan.append(["route", "-q", "add"] + fam + ["default", gw_want])
    return plan


def prisoner_network(host, cfg, name, root, test=False, running=None):
    """Step ``network``: a VNET prisoner's ``etc/rc.conf`` carries its interface, address and default routes,
    and a running one has them live (``jexec NAME ifconfig ...``/``route ...``, then persisted in rc.conf).

    ``root`` is the prisoner's :class:`~salt_jail.core.io.textedit.Root`; ``running`` whether it runs.
    A change of bridge or interface name is not done here: it changes the jail.conf block, whose state
    restarts the prisoner.  Shared-IP prisoners: nothing to do.
    """
    prisoner = cfg.prisoners[name]
    net = prisoner.network
    if net is None:
        return StepResult(False, f"prisoner {name} uses the host's network stack (network:mode shared)")

    def transform(old):
        return plan_rc_conf(old, net, root.show("etc/rc.conf"), _stale_interfaces(old, net)), ""

    edit = textedit.edit(root, "etc/rc.conf", transform, test=test, create=True)
    live = live_plan(host, name, net) if running else []
    notes = []
    if edit.changed:
        notes.append(f"{edit.shown} {'would be' if test else 'was'} changed")
    if live:
        shown = "; ".join(" ".join(argv) for argv in live)
        notes.append(f"in the running prisoner {'would run' if test else 'ran'}: {shown}")
        if not test:
            for argv in live:
                res = _jexec(host, name, argv)
                if not res.ok:
                    raise CommandError(["jexec", name] + argv, res.retcode, res.stdout, res.stderr,
                                       what=f"changing the network of running prisoner {name}")
    if not notes:
        return StepResult(False, f"network of prisoner {name} is already correct ({net.jail_if} on {net.bridge})")
    return StepResult(True, "; ".join(notes), edit.diff if edit.changed else "",
                      data={"live": [" ".join(a) for a in live]} if live else {})
