"""The simulated FreeBSD kernel: jails, network interfaces, mounts, devfs rulesets, file flags.

:class:`Kernel` wraps the JSON document kept in ``<root>/.rehearsal/kernel.json`` (always used inside
:meth:`Scratch.kernel <salt_jail.rehearsal.scratch.Scratch.kernel>`).  :func:`initial_state` builds the
state of a freshly booted FreeBSD 14.2 host: one Ethernet interface plus ``lo0``, UFS on ``/`` and devfs on
``/dev``, the devfs rulesets 1-5 that ``/etc/rc.d/devfs`` loads from ``/etc/defaults/devfs.rules``, and
``kern.securelevel`` = -1.  :class:`KernelView` is the read-only picture tests inspect.
"""

import dataclasses
import ipaddress

#: jail(8)'s highest jail id (JAIL_MAX in sys/jail.h).
JAIL_MAX = 999999
#: The release the simulated kernel reports (kern.osrelease, kern.osreldate).
OSRELEASE = "14.2-RELEASE"
OSRELDATE = 1402000

# --------------------------------------------------------------------------------------------------
# Jail parameters (sys/kern/kern_jail.c and the security.jail.param sysctls)

#: Type, default and access of every kernel jail parameter the simulation knows.  Types: ``int``,
#: ``uint``, ``str``, ``bool``, ``jailsys`` (inherit/new/disable), ``ip4``/``ip6`` (address lists).
#: Access: ``wr`` (settable any time), ``tun`` (only at creation), ``ro`` (read-only).
_ALLOW_DEFAULT_ON = ("allow.set_hostname", "allow.reserved_ports", "allow.suser")
_ALLOW = (
    "allow.adjtime", "allow.chflags", "allow.extattr", "allow.mlock", "allow.mount", "allow.mount.devfs",
    "allow.mount.fdescfs", "allow.mount.fusefs", "allow.mount.nullfs", "allow.mount.procfs",
    "allow.mount.tmpfs", "allow.mount.zfs", "allow.nfsd", "allow.quotas", "allow.raw_sockets",
    "allow.read_msgbuf", "allow.reserved_ports", "allow.set_hostname", "allow.settime", "allow.socket_af",
    "allow.suser", "allow.sysvipc", "allow.unprivileged_proc_debug",
)
PARAMS = {
    "children.cur": ("int", 0, "ro"),
    "children.max": ("int", 0, "wr"),
    "cpuset.id": ("int", None, "ro"),
    "devfs_ruleset": ("int", 0, "wr"),
    "dying": ("bool", False, "ro"),
    "enforce_statfs": ("int", 2, "wr"),
    "host": ("jailsys", "new", "wr"),
    "host.domainname": ("str", "", "wr"),
    "host.hostid": ("uint", 0, "wr"),
    "host.hostname": ("str", None, "wr"),
    "host.hostuuid": ("str", "00000000-0000-0000-0000-000000000000", "wr"),
    "ip4": ("jailsys", "new", "tun"),
    "ip4.addr": ("ip4", [], "wr"),
    "ip4.saddrsel": ("bool", True, "wr"),
    "ip6": ("jailsys", "new", "tun"),
    "ip6.addr": ("ip6", [], "wr"),
    "ip6.saddrsel": ("bool", True, "wr"),
    "jid": ("int", None, "tun"),
    "name": ("str", None, "wr"),
    "osreldate": ("int", OSRELDATE, "tun"),
    "osrelease": ("str", OSRELEASE, "tun"),
    "parent": ("int", 0, "ro"),
    "path": ("str", "/", "tun"),
    "persist": ("bool", False, "wr"),
    "securelevel": ("int", None, "wr"),
    "sysvmsg": ("jailsys", "disable", "wr"),
    "sysvsem": ("jailsys", "disable", "wr"),
    "sysvshm": ("jailsys", "disable", "wr"),
    "vnet": ("jailsys", "inherit", "tun"),
    **{name: ("bool", name in _ALLOW_DEFAULT_ON, "wr") for name in _ALLOW},
}


def param_type(name):
    """The type of kernel parameter ``name`` (``allow.nomount`` counts as ``allow.mount``), or None."""
    if name in PARAMS:
        return PARAMS[name][0]
    base = strip_no(name)
    return PARAMS[base][0] if base in PARAMS and PARAMS[base][0] == "bool" else None


def strip_no(name):
    """``allow.mount`` for ``allow.nomount``, ``persist`` for ``nopersist``; None without a ``no``."""
    head, dot, last = name.rpartition(".")
    return head + dot + last[2:] if last.startswith("no") and len(last) > 2 else None


# --------------------------------------------------------------------------------------------------
# File flags (sys/stat.h, chflags(1) keywords)

UF_NODUMP, UF_IMMUTABLE, UF_APPEND, UF_OPAQUE, UF_NOUNLINK = 0x1, 0x2, 0x4, 0x8, 0x10
UF_SYSTEM, UF_SPARSE, UF_OFFLINE, UF_REPARSE, UF_ARCHIVE = 0x80, 0x100, 0x200, 0x400, 0x800
UF_READONLY, UF_HIDDEN = 0x1000, 0x8000
SF_ARCHIVED, SF_IMMUTABLE, SF_APPEND, SF_NOUNLINK, SF_SNAPSHOT = 0x10000, 0x20000, 0x40000, 0x100000, 0x200000
#: The system flags (settable by the super-user only).
SF_SETTABLE = 0xFFFF0000
#: Flags that make the kernel refuse any flag change at securelevel > 0 (ufs_setattr()).
SF_LOCKING = SF_IMMUTABLE | SF_APPEND | SF_NOUNLINK

#: ``(keyword, flag)`` as strtofflags(3) reads them; the first keyword of each flag is how
#: fflagstostr(3) names it.  ``nodump`` is the odd one: the keyword names the flag being *set*.
FLAG_KEYWORDS = (
    ("sappnd", SF_APPEND), ("sappend", SF_APPEND), ("arch", SF_ARCHIVED), ("archived", SF_ARCHIVED),
    ("schg", SF_IMMUTABLE), ("schange", SF_IMMUTABLE), ("simmutable", SF_IMMUTABLE),
    ("sunlnk", SF_NOUNLINK), ("sunlink", SF_NOUNLINK), ("snapshot", SF_SNAPSHOT),
    ("uappnd", UF_APPEND), ("uappend", UF_APPEND), ("uarch", UF_ARCHIVE), ("uarchive", UF_ARCHIVE),
    ("hidden", UF_HIDDEN), ("uhidden", UF_HIDDEN), ("uchg", UF_IMMUTABLE), ("uchange", UF_IMMUTABLE),
    ("uimmutable", UF_IMMUTABLE), ("nodump", UF_NODUMP), ("uunlnk", UF_NOUNLINK), ("uunlink", UF_NOUNLINK),
    ("offline", UF_OFFLINE), ("uoffline", UF_OFFLINE), ("opaque", UF_OPAQUE), ("rdonly", UF_READONLY),
    ("urdonly", UF_READONLY), ("readonly", UF_READONLY), ("ureadonly", UF_READONLY),
    ("reparse", UF_REPARSE), ("ureparse", UF_REPARSE), ("sparse", UF_SPARSE), ("usparse", UF_SPARSE),
    ("system", UF_SYSTEM), ("usystem", UF_SYSTEM),
)


def flag_names(flags):
    """The chflags keywords of ``flags``, one per flag set, in fflagstostr(3) order (``["schg", "uunlnk"]``)."""
    names, seen = [], set()
    for keyword, flag in FLAG_KEYWORDS:
        if flags & flag and flag not in seen:
            seen.add(flag)
            names.append(keyword)
    return names


# --------------------------------------------------------------------------------------------------
# devfs rulesets as /etc/rc.d/devfs loads them from /etc/defaults/devfs.rules

_LOGIN_PATTERNS = [f"{kind}{c}*" for kind in ("pty", "tty") for c in "pqrsPQRSlmnoLMNO"] + [
    "ptmx", "pts", "pts/*", "fd", "fd/*", "stdin", "stdout", "stderr"]
DEFAULT_RULESETS = {
    1: ["hide"],  # devfsrules_hide_all
    2: [f"path {p} unhide" for p in ("null", "zero", "crypto", "random", "urandom")],  # unhide_basic
    3: [f"path {p} unhide" for p in _LOGIN_PATTERNS],  # devfsrules_unhide_login
    4: ["include 1", "include 2", "include 3", "path fuse unhide", "path zfs unhide"],  # devfsrules_jail
    5: ["include 1", "include 2", "include 3", "include 4", "path pf unhide"],  # devfsrules_jail_vnet
}


def initial_state(interface, host_ipv4, hostname, netmask_bits=24):
    """The kernel of a freshly booted FreeBSD 14.2 host whose ``interface`` has ``host_ipv4``."""
    return {
        "hostname": hostname,
        "securelevel": -1,
        "interfaces": {
            interface: {
                "index": 1, "kind": "ether", "mtu": 1500,
                "inet": [{"addr": host_ipv4, "prefixlen": netmask_bits}], "inet6": [],
            },
            "lo0": {
                "index": 2, "kind": "loopback", "mtu": 16384,
                "inet": [{"addr": "127.0.0.1", "prefixlen": 8}], "inet6": [{"addr": "::1", "prefixlen": 128}],
            },
        },
        "jails": [],
        "lastjid": 0,
        "mounts": [
            {"special": "/dev/ada0p2", "node": "/", "fstype": "ufs", "readonly": False},
            {"special": "devfs", "node": "/dev", "fstype": "devfs", "readonly": False, "ruleset": 0},
        ],
        "devfs_rulesets": {str(n): [[100 * (i + 1), rule] for i, rule in enumerate(rules)]
                           for n, rules in DEFAULT_RULESETS.items()},
        "fileflags": {},
        "remote_hosts": [],
    }


class Kernel:
    """Accessors over the kernel document; every change lands in :attr:`data`."""

    def __init__(self, data):
        self.data = data

    # -- sysctls ----------------------------------------------------------------------------------
    @property
    def hostname(self):
        return self.data["hostname"]

    @property
    def securelevel(self):
        return self.data["securelevel"]

    @securelevel.setter
    def securelevel(self, level):
        self.data["securelevel"] = int(level)

    # -- jails ------------------------------------------------------------------------------------
    @property
    def jails(self):
        return self.data["jails"]

    def find_jail(self, jid=None, name=None):
        """The live jail with ``jid`` (int) or ``name``, or None."""
        for jail in self.jails:
            if (jid is not None and jail["jid"] == jid) or (name is not None and jail["name"] == name):
                return jail
        return None

    def next_jid(self):
        """The jid the kernel gives a new jail (get_next_prid(): after the last one, wrapping), or 0."""
        used = {j["jid"] for j in self.jails}
        jid = self.data["lastjid"] % JAIL_MAX + 1
        for _ in range(JAIL_MAX):
            if jid not in used:
                return jid
            jid = jid % JAIL_MAX + 1
        return 0

    def add_jail(self, jail):
        self.jails.append(jail)
        self.jails.sort(key=lambda j: j["jid"])
        self.data["lastjid"] = jail["jid"]

    def remove_jail(self, jid):
        self.data["jails"] = [j for j in self.jails if j["jid"] != jid]

    def next_cpuset(self):
        """cpuset ids 0 and 1 belong to the host; each jail gets the next free one."""
        used = {j["cpusetid"] for j in self.jails}
        return next(n for n in range(2, 2 + len(used) + 1) if n not in used)

    def jail_param(self, jail, name):
        """The value of kernel parameter ``name`` of ``jail`` (its own or the kernel's default)."""
        if name == "jid":
            return jail["jid"]
        if name == "name":
            return jail["name"]
        if name == "path":
            return jail["path"]
        if name == "cpuset.id":
            return jail["cpusetid"]
        if name in jail["params"]:
            return jail["params"][name]
        if name == "host.hostname":
            return self.hostname
        if name == "securelevel":
            return self.securelevel
        return PARAMS[name][1]

    # -- interfaces ------------------------------------------------------------------------------
    @property
    def interfaces(self):
        """The host's interfaces in index order: ``{name: record}`` (not those moved into a VNET jail)."""
        return self.vnet_interfaces(0)

    def vnet_interfaces(self, jid):
        """The interfaces of VNET jail ``jid`` (0: the host's) in index order."""
        return dict(sorted(((n, r) for n, r in self.data["interfaces"].items() if (r.get("vnet") or 0) == jid),
                           key=lambda item: item[1]["index"]))

    def local_addresses(self):
        """Every address configured on one of the host's interfaces, as strings."""
        return {a["addr"] for iface in self.interfaces.values()
                for family in ("inet", "inet6") for a in iface[family]}

    def add_address(self, ifname, family, addr, prefixlen):
        """Add (or replace, as SIOCAIFADDR does for an existing address) an address of ``ifname``."""
        entries = self.data["interfaces"][ifname][family]
        entries[:] = [a for a in entries if a["addr"] != addr] + [{"addr": addr, "prefixlen": prefixlen}]

    def remove_address(self, ifname, family, addr):
        """Remove an address; False when ``ifname`` does not have it."""
        entries = self.data["interfaces"][ifname][family]
        kept = [a for a in entries if a["addr"] != addr]
        found = len(kept) != len(entries)
        entries[:] = kept
        return found

    def address_owner(self, addr):
        """The name of the interface that has ``addr``, or None."""
        for name, iface in self.data["interfaces"].items():
            if any(a["addr"] == addr for family in ("inet", "inet6") for a in iface[family]):
                return name
        return None

    # -- mounts ----------------------------------------------------------------------------------
    @property
    def mounts(self):
        """The mount table in mount order (getfsstat(2) order)."""
        return self.data["mounts"]

    def mount(self, entry):
        self.mounts.append(entry)

    def unmount(self, entry):
        self.mounts.remove(entry)

    def mounted_on(self, node):
        """The topmost mount whose mount point is ``node``, or None."""
        return next((m for m in reversed(self.mounts) if m["node"] == node), None)

    # -- devfs rulesets --------------------------------------------------------------------------
    def ruleset(self, number, create=False):
        """The ``[[rule number, rule], ...]`` of ruleset ``number`` (created empty with ``create``), or None."""
        rulesets = self.data["devfs_rulesets"]
        if str(number) not in rulesets and create:
            rulesets[str(number)] = []
        return rulesets.get(str(number))

    # -- file flags ------------------------------------------------------------------------------
    def file_flags(self, host_path, ino):
        """The BSD flags recorded for the file ``host_path`` with inode ``ino`` (0 for none or a stale record)."""
        record = self.data["fileflags"].get(host_path)
        return record["flags"] if record and record["ino"] == ino else 0

    def set_file_flags(self, host_path, ino, flags):
        if flags:
            self.data["fileflags"][host_path] = {"flags": flags, "ino": ino}
        else:
            self.data["fileflags"].pop(host_path, None)

    # -- the simulated network ------------------------------------------------------------------
    def answers_ping(self, addr):
        """Whether an echo request to ``addr`` gets a reply: a local address or a simulated remote host."""
        return addr in self.local_addresses() or addr in self.data["remote_hosts"]


def prefix_to_mask(prefixlen):
    """``0xffffff00`` for 24: how ifconfig(8) prints an IPv4 netmask."""
    return f"0x{int(ipaddress.IPv4Network(f'0.0.0.0/{prefixlen}').netmask):08x}"


@dataclasses.dataclass(frozen=True)
class KernelView:
    """What the simulated kernel holds, for tests (read-only copies).

    ``jails``: ``[{jid, name, path, hostname, ip4, ip6, params}]`` in jid order; ``mounts``:
    ``[(special, node, fstype)]`` in mount order; ``aliases``: ``{interface: [address, ...]}`` (every
    address but the first of each family); ``file_flags``: ``{host path: [chflags keyword, ...]}``.
    """

    hostname: str
    securelevel: int
    jails: list
    mounts: list
    interfaces: dict
    aliases: dict
    devfs_rulesets: dict
    file_flags: dict
    remote_hosts: list

    @classmethod
    def of(cls, kernel):
        jails = [{
            "jid": j["jid"], "name": j["name"], "path": j["path"],
            "hostname": kernel.jail_param(j, "host.hostname"),
            "ip4": list(kernel.jail_param(j, "ip4.addr")), "ip6": list(kernel.jail_param(j, "ip6.addr")),
            "params": dict(j["params"]),
        } for j in kernel.jails]
        interfaces = {name: [a["addr"] for fam in ("inet", "inet6") for a in iface[fam]]
                      for name, iface in kernel.interfaces.items()}
        aliases = {name: [a["addr"] for fam in ("inet", "inet6") for a in iface[fam][1:]]
                   for name, iface in kernel.interfaces.items()}
        return cls(
            hostname=kernel.hostname,
            securelevel=kernel.securelevel,
            jails=jails,
            mounts=[(m["special"], m["node"], m["fstype"]) for m in kernel.mounts],
            interfaces=interfaces,
            aliases=aliases,
            devfs_rulesets={int(n): [rule for _, rule in rules] for n, rules in kernel.data["devfs_rulesets"].items()},
            file_flags={path: flag_names(rec["flags"]) for path, rec in kernel.data["fileflags"].items()},
            remote_hosts=list(kernel.data["remote_hosts"]),
        )
