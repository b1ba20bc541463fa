"""VNET prisoners: their own network stack on an epair whose host half is a member of a bridge.

One feature: its pillar key ``network:`` and the names and MACs derived from the prisoner's name are the
model's (:mod:`salt_jail.core.model.network`, declared in :mod:`salt_jail.core.model.schema`); here are the
jail.conf parameters that create and destroy the epair (:func:`block_params`, used by :func:`salt_jail.core.features.hostconf.block_params`), the prisoner's own
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

import re

from ..formats import rcconf
from ..io import textedit
from ..errors import CommandError, JailprovError
from ..result import StepResult
# The pillar half (the network: key, derived names and MACs) is the model's: salt_jail.core.model.network.
from ..model.network import (  # noqa: F401  (re-exported: the feature's names in one place)
    JAIL_PREFIX, Network, derived_macs, identities, interface_names, short_name,
)

#: Hooks this module writes; the pillar's own values of these are run after jailprov's.
HOOKS = ("exec.prestart", "exec.poststop")
#: devfsrules_jail_vnet (/etc/defaults/devfs.rules): ruleset 4 plus pf.
DEVFS_RULESET = 5


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
