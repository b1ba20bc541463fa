"""The simulated kernel's cloned interfaces and VNET jails, backed by real namespaces (:mod:`.netns`).

Each cloned interface has a record in the kernel document (``interfaces``) with ``"cloned": True``, its
``kind`` (``bridge`` or ``epair``), ``unit``, ``ether``, ``up``, ``vnet`` (0 = the host, else the jid of
the VNET jail it was moved into), ``members`` (bridge) or ``peer`` (epair), and its addresses — and a
Linux link of the same name (bridge, veth) in the host's or the jail's namespace.  The record says what
FreeBSD's ifconfig shows; the link is what carries packets.

FreeBSD behaviour followed (sbin/ifconfig, sys/net/if_clone.c, if_epair.c, if_bridge.c, kern_jail.c):
``ifconfig bridge create`` takes the lowest free unit and prints the name; ``ifconfig bridgeN create``
asks for unit N (``SIOCIFCREATE2: File exists`` when taken); ``ifconfig epair create`` prints ``epairNa``
and also creates ``epairNb``; a unit stays taken until destroy, whatever the interface is renamed to;
destroying either half destroys both; ``addm`` of a member already in the bridge is ``EEXIST``, in another
bridge ``EBUSY``; ``vnet JAIL`` moves an interface into a VNET jail, and removing the jail returns it to
the host (vnet_if_return()).  Setting an address brings the interface up (in_control()).
"""

import errno
import os
import re
import tempfile
import zlib

from . import netns

CLONERS = ("bridge", "epair")
MTU = 1500


class IfError(Exception):
    """An ioctl failure: ``request`` (e.g. ``SIOCIFCREATE2``) and ``errno``."""

    def __init__(self, request, code, message=None):
        super().__init__(message or request)
        self.request = request
        self.errno = code
        self.message = message


def is_vnet_jail(jail):
    return bool(jail) and jail.get("params", {}).get("vnet") in ("new", True)


def ns_of(root, record):
    """The namespace an interface record's link lives in."""
    jid = record.get("vnet") or 0
    return netns.jail_ns(root, jid) if jid else netns.host_ns(root)


def _next_index(kernel):
    return max((i["index"] for i in kernel.data["interfaces"].values()), default=0) + 1


def _units(kernel, cloner):
    return {r["unit"] for r in kernel.data["interfaces"].values() if r.get("cloned") and r["kind"] == cloner}


def _mac(name, index):
    crc = zlib.crc32(f"{name}/{index}".encode())
    return "58:9c:fc:" + ":".join(f"{(crc >> s) & 0xff:02x}" for s in (16, 8, 0))


def _record(kernel, name, kind, unit, **extra):
    index = _next_index(kernel)
    rec = {"index": index, "kind": kind, "mtu": MTU, "inet": [], "inet6": [], "cloned": True, "unit": unit,
           "ether": _mac(name, index), "up": False, "vnet": 0, **extra}
    kernel.data["interfaces"][name] = rec
    return rec


def create(kernel, root, requested):
    """``ifconfig REQUESTED create``: the new interface's name (for an epair, the ``a`` half)."""
    cloner = requested.rstrip("0123456789")
    digits = requested[len(cloner):]
    if cloner not in CLONERS:
        raise IfError("SIOCIFCREATE2", errno.EINVAL)
    if digits and (digits != str(int(digits))):
        raise IfError("SIOCIFCREATE2", errno.EINVAL)
    used = _units(kernel, cloner)
    if digits:
        unit = int(digits)
        if unit in used:
            raise IfError("SIOCIFCREATE2", errno.EEXIST)
    else:
        unit = next(u for u in range(len(used) + 1) if u not in used)
    host = netns.ensure_host(root)
    if cloner == "bridge":
        name = f"bridge{unit}"
        if name in kernel.data["interfaces"]:
            raise IfError("SIOCIFCREATE2", errno.EEXIST)
        rec = _record(kernel, name, "bridge", unit, members=[])
        netns.ip(host, "link", "add", name, "type", "bridge")
        netns.ip(host, "link", "set", name, "address", rec["ether"])
        return name
    a, b = f"epair{unit}a", f"epair{unit}b"
    if a in kernel.data["interfaces"] or b in kernel.data["interfaces"]:
        raise IfError("SIOCIFCREATE2", errno.EEXIST)
    rec_a = _record(kernel, a, "epair", unit, peer=b)
    rec_b = _record(kernel, b, "epair", unit, peer=a)
    netns.ip(host, "link", "add", a, "address", rec_a["ether"], "type", "veth", "peer", "name", b,
             "address", rec_b["ether"])
    return a


def _get(kernel, name):
    rec = kernel.data["interfaces"].get(name)
    if rec is None or not rec.get("cloned"):
        return None
    return rec


def destroy(kernel, root, name):
    rec = _get(kernel, name)
    if rec is None:
        raise IfError("SIOCIFDESTROY", errno.EINVAL)
    names = [name] + ([rec["peer"]] if rec["kind"] == "epair" else [])
    for other in kernel.data["interfaces"].values():
        if other.get("kind") == "bridge":
            other["members"] = [m for m in other["members"] if m not in names]
    for n in names:
        gone = kernel.data["interfaces"].pop(n, None)
        if gone is not None:
            netns.ip(ns_of(root, gone), "link", "del", n, check=False)


def _link_set(root, rec, name, *args):
    netns.ip(ns_of(root, rec), "link", "set", "dev", name, *args)


def rename(kernel, root, name, new):
    rec = _get(kernel, name)
    if new in kernel.data["interfaces"]:
        raise IfError("SIOCSIFNAME", errno.EEXIST)
    if len(new) >= 16 or not new or any(c in new for c in " /:"):
        raise IfError("SIOCSIFNAME", errno.EINVAL)
    interfaces = kernel.data["interfaces"]
    interfaces[new] = interfaces.pop(name)
    if rec.get("peer"):
        interfaces[rec["peer"]]["peer"] = new
    for other in interfaces.values():
        if other.get("kind") == "bridge":
            other["members"] = [new if m == name else m for m in other["members"]]
    if rec["up"]:
        _link_set(root, rec, name, "down")
    _link_set(root, rec, name, "name", new)
    if rec["up"]:
        _link_set(root, rec, new, "up")


def set_up(kernel, root, name, up):
    rec = _get(kernel, name)
    rec["up"] = bool(up)
    _link_set(root, rec, name, "up" if up else "down")


def set_ether(kernel, root, name, mac):
    rec = _get(kernel, name)
    rec["ether"] = mac.lower()
    _link_set(root, rec, name, "address", mac.lower())


def add_member(kernel, root, bridge, member):
    """``ifconfig BRIDGE addm MEMBER`` (bridge_ioctl_add())."""
    rec = _get(kernel, bridge)
    mem = kernel.data["interfaces"].get(member)
    if mem is None or (mem.get("vnet") or 0) != (rec.get("vnet") or 0):
        raise IfError(f"BRDGADD {member}", errno.ENOENT)
    if member in rec["members"]:
        raise IfError(f"BRDGADD {member}", errno.EEXIST)
    if any(member in o.get("members", ()) for o in kernel.data["interfaces"].values()):
        raise IfError(f"BRDGADD {member}", errno.EBUSY)
    rec["members"].append(member)
    if mem.get("cloned"):  # a simulated-only uplink (em0) has no Linux link: it is a member on paper
        _link_set(root, mem, member, "master", bridge)


def delete_member(kernel, root, bridge, member):
    rec = _get(kernel, bridge)
    if member not in rec["members"]:
        raise IfError(f"BRDGDEL {member}", errno.ENOENT)
    rec["members"].remove(member)
    mem = kernel.data["interfaces"].get(member)
    if mem is not None and mem.get("cloned"):
        _link_set(root, mem, member, "nomaster")


def move(kernel, root, name, jid):
    """``ifconfig NAME vnet JID`` (jid 0: ``-vnet``, back to the host)."""
    rec = kernel.data["interfaces"].get(name)
    if rec is None:
        raise IfError("SIOCSIFVNET", errno.ENXIO)
    if not rec.get("cloned"):
        raise IfError("SIOCSIFVNET", errno.EOPNOTSUPP,
                      "the rehearsal host moves only its cloned interfaces (epair, bridge) into a jail")
    for other in kernel.data["interfaces"].values():
        if other.get("kind") == "bridge" and name in other["members"]:
            other["members"].remove(name)
    target = netns.jail_ns(root, jid) if jid else netns.host_ns(root)
    netns.ip(ns_of(root, rec), "link", "set", "dev", name, "netns", target)
    rec.update(vnet=jid, up=False, inet=[], inet6=[])


def set_address(kernel, root, name, family, addr, prefixlen, action):
    """Add (``alias``), replace (``set``) or remove (``-alias``) an address of a cloned interface."""
    rec = _get(kernel, name)
    ns = ns_of(root, rec)
    entries = rec[family]
    if action == "-alias":
        if not any(e["addr"] == addr for e in entries):
            raise IfError("ioctl (SIOCDIFADDR)", errno.EADDRNOTAVAIL)
        old = next(e for e in entries if e["addr"] == addr)
        netns.ip(ns, "address", "del", f"{addr}/{old['prefixlen']}", "dev", name, check=False)
        entries[:] = [e for e in entries if e["addr"] != addr]
        return
    if action == "set" and entries:
        first = entries.pop(0)
        netns.ip(ns, "address", "del", f"{first['addr']}/{first['prefixlen']}", "dev", name, check=False)
    for e in [e for e in entries if e["addr"] == addr]:
        netns.ip(ns, "address", "del", f"{e['addr']}/{e['prefixlen']}", "dev", name, check=False)
        entries.remove(e)
    extra = ["nodad"] if family == "inet6" else []
    netns.ip(ns, "address", "add", f"{addr}/{prefixlen}", "dev", name, *extra)
    entries.insert(0 if action == "set" else len(entries), {"addr": addr, "prefixlen": prefixlen})
    if not rec["up"]:
        set_up(kernel, root, name, True)


# -- VNET jails --------------------------------------------------------------------------------------


def create_jail(root, jid):
    """The namespace of a new VNET jail (its own lo0, up)."""
    netns.create(netns.jail_ns(root, jid))


def release_jail(kernel, root, jid):
    """The jail ``jid`` is removed: its interfaces return to the host, its namespace goes."""
    for name, rec in list(kernel.data["interfaces"].items()):
        if rec.get("vnet") == jid:
            try:
                move(kernel, root, name, 0)
            except (IfError, netns.NetnsError):
                kernel.data["interfaces"].pop(name, None)
    netns.delete(netns.jail_ns(root, jid))


def routes(root, jid, family):
    """The default gateway of VNET jail ``jid`` for ``family`` (``inet``/``inet6``), or None."""
    out = netns.ip(netns.jail_ns(root, jid), "-6" if family == "inet6" else "-4", "route", "show", "default",
                   check=False)
    words = out.split()
    return words[words.index("via") + 1] if "via" in words else None


# -- jail(8)'s hooks and the jail's rc ----------------------------------------------------------------

#: sh(1) builtins and reserved words a runnable hook may use besides the stand-ins.
_SH_WORDS = {"true", "false", ":", "test", "[", "echo", "exit", "if", "then", "else", "elif", "fi", "!", "{", "}",
             "grep"}
_REDIRECT = re.compile(r"\d*(>>?|<)&?\s*[^\s;&|()]+")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def hook_commands(text):
    """The command names of sh script ``text`` (simple commands and command substitutions), roughly as sh
    would find them; None when a construct makes that uncertain (backquotes, here-documents, eval)."""
    if "`" in text or "<<" in text or re.search(r'"[^"]*\$\(', text):
        return None
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "Q", text)  # quoted words are arguments here, never commands
    text = _REDIRECT.sub(" ", text)
    names = []
    for segment in re.split(r"\$\(|&&|\|\||[;&|()]|\{\s|\s\}", text):
        words = segment.split()
        while words and (_ASSIGNMENT.match(words[0]) or words[0] in ("!", "{", "}", "if", "then", "else", "elif",
                                                                     "fi")):
            words.pop(0)
        if words:
            names.append(words[0])
    return names


def runnable_hook(argv, tools):
    """Whether jail(8) system-environment command ``argv`` is ``/bin/sh -c SCRIPT`` whose commands are all
    stand-ins (by bare name) or sh builtins: then the rehearsal runs it for real, confined (jailprov's VNET
    hooks are such scripts).  Anything else stays recorded only, as it names the real FreeBSD host's files."""
    if len(argv) != 3 or argv[:2] != ["/bin/sh", "-c"]:
        return False
    names = hook_commands(argv[2])
    return bool(names) and all(n in _SH_WORDS or (n in tools and "/" not in n) for n in names) \
        and any(n in tools for n in names)


def run_hook(ctx, argv):
    """Run a :func:`runnable_hook` for jail(8) ``ctx``: stand-ins first on PATH, in an empty network
    namespace, writing only below the scratch root.  Its output goes to jail(8)'s; returns its status."""
    from . import sandbox  # pylint: disable=import-outside-toplevel
    from .scratch import BY_ENV  # pylint: disable=import-outside-toplevel

    scratch = ctx.scratch
    ctx.scratch.log_nested(ctx.prog, argv, ran=True)
    netns.ensure_host(scratch.root)
    env = {"PATH": f"{scratch.bindir}:/bin:/usr/bin", BY_ENV: ctx.prog, "TMPDIR": scratch.tmpdir}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        status = sandbox.run_host_hook(scratch, argv, env=env, cwd=scratch.real("/"), stdout=out, stderr=err,
                                       timeout=120)
        for fh, stream in ((out, ctx.stdout), (err, ctx.stderr)):
            fh.seek(0)
            stream.write(fh.read().decode("utf-8", "replace"))
    return status


_RC_LINE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"]*\"|'[^']*'|[^\s#;]*)\s*(#.*)?$")


def _rc_conf(path):
    """The plain ``name=value`` assignments of an rc.conf file (later ones win); {} when unreadable."""
    values = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return values
    for line in lines:
        m = _RC_LINE.match(line)
        if m:
            raw = m.group(2)
            values[m.group(1)] = raw[1:-1] if raw[:1] in "\"'" else raw
    return values


def rc_network(ctx, jid, argv):
    """What FreeBSD's /etc/rc does for a VNET jail's network, after jail(8)'s ``exec.start`` of
    ``sh /etc/rc``: rc.d/netif runs ``ifconfig IF $ifconfig_IF`` and ``ifconfig IF $ifconfig_IF_ipv6`` for
    each interface of ``ifconfig -l``, rc.d/routing ``route add default $defaultrouter`` (and
    ``-inet6 ... $ipv6_defaultrouter``), from the jail's /etc/rc.conf and /etc/rc.conf.local.  The rehearsal
    cannot run FreeBSD's rc scripts, so the jail stand-in does these steps with its stand-ins."""
    from . import cli  # pylint: disable=import-outside-toplevel
    from .context import Context  # pylint: disable=import-outside-toplevel

    if os.path.basename(argv[0]) != "sh" or argv[1:2] != ["/etc/rc"]:
        return
    with ctx.scratch.kernel(write=False) as kernel:
        record = kernel.find_jail(jid=jid)
        ifnames = list(kernel.vnet_interfaces(jid)) if record and is_vnet_jail(record) else []
    if not ifnames:
        return
    values = {}
    for path in ("/etc/rc.conf", "/etc/rc.conf.local"):
        values.update(_rc_conf(ctx.scratch.resolve(path, view=record["path"])[1]))
    inside = Context(ctx.scratch, "sh", ctx.stdin, ctx.stdout, ctx.stderr, jail=record, by=ctx.prog)
    for ifname in ifnames:
        for key in (f"ifconfig_{ifname}", f"ifconfig_{ifname}_ipv6"):
            words = values.get(key, "").split()
            if words and words[0] in ("inet", "inet6"):
                cli.run_nested(inside, "ifconfig", [ifname, *words])
    for key, family in (("defaultrouter", []), ("ipv6_defaultrouter", ["-inet6"])):
        gateway = values.get(key, "NO")
        if gateway and gateway.upper() != "NO":
            cli.run_nested(inside, "route", ["add", *family, "default", gateway])
