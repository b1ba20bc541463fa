"""ping(8) answered by the simulated network: nothing is ever sent (sbin/ping/main.c, ping.c, ping6.c).

An address answers when it is configured on a simulated interface (the host's own addresses, jail
aliases, ``127.0.0.1``, ``::1``) or was added with :func:`salt_jail.rehearsal.add_remote_host`; anything
else stays silent.  Names resolve through the ``/etc/hosts`` of the host (of the jail, inside a jail) and
nothing else.  Round trips are small made-up times, the same for the same target and sequence number;
the run takes no real time.

Options (FreeBSD 14): ``-4 -6 -c count -i wait -n -o -q -S src_addr -s packetsize -t timeout -v -W waittime``.
The output is ping.c's and ping6.c's, with 14.x's unified summary: ``PING host (addr): 56 data bytes`` or
``PING(56=40+8+8 bytes) src --> dst``, ``64 bytes from addr: icmp_seq=0 ttl=64 time=0.045 ms`` (``16 bytes
from addr, icmp_seq=0 hlim=64 time=...`` for IPv6), a blank line, ``--- host ping statistics ---``,
``N packets transmitted, N packets received, X.X% packet loss`` (``-- somebody's duplicating packets!``
instead of the loss when a duplicating remote host sent more replies than requests) and, when something came back,
``round-trip min/avg/max/stddev = a/b/c/d ms``.  Exit 0 when a reply came back, 2 when none did.
Errors follow ping.c: bad values exit 64 (EX_USAGE, ``ping: invalid count of packets to transmit: `x'``),
an unknown option prints the usage and exits 1 (main.c's usage()), an unknown host exits 68.  Inside a
jail without ``allow.raw_sockets`` ping cannot open its socket (``ping: ssend socket: Operation not
permitted``, exit 71), and the source address is the jail's.  Not simulated (refused with exit 70):
the other options, which change packets or timing the simulation does not model, and a run with
neither ``-c`` nor ``-t`` (it would never end).
"""

import errno
import ipaddress
import json
import math
import os
import sys
import zlib

from .. import netns, vnet
from ..bsdgetopt import BadOption, getopt
from ..context import Exit

USAGE = (
    "usage:\n"
    "\tping [-4AaDdfHnoQqRrv] [-C pcp] [-c count] [-G sweepmaxsize]\n"
    "\t    [-g sweepminsize] [-h sweepincrsize] [-i wait] [-l preload]\n"
    "\t    [-M mask | time] [-m ttl] [-P policy] [-p pattern] [-S src_addr] \n"
    "\t    [-s packetsize] [-t timeout] [-W waittime] [-z tos] IPv4-host\n"
    "\tping [-4AaDdfHLnoQqRrv] [-C pcp] [-c count] [-I iface] [-i wait]\n"
    "\t    [-l preload] [-M mask | time] [-m ttl] [-P policy] [-p pattern]\n"
    "\t    [-S src_addr] [-s packetsize] [-T ttl] [-t timeout] [-W waittime]\n"
    "\t    [-z tos] IPv4-mcast-group\n"
    "\tping [-6AaDdEfHnNoOquvyYZ] [-b bufsiz] [-C pcp] [-c count] [-e gateway]\n"
    "\t    [-I interface] [-i wait] [-k addrtype] [-l preload] [-m hoplimit]\n"
    "\t    [-p pattern] [-P policy] [-S sourceaddr] [-s packetsize] [-t timeout]\n"
    "\t    [-W waittime] [-z tclass] [IPv6-hops ...] IPv6-host\n")
PING4_OPTIONS = ".::4AaC:c:DdfG:g:Hh:I:i:Ll:M:m:nop:QqRrS:s:T:t:vW:z:"
PING6_OPTIONS = "6Aab:C:c:DdEe:fHI:i:k:l:m:nNoOp:P:qS:s:t:uvyYW:z:Z"


def _union(*specs):
    """One getopt(3) option string accepting every option of ``specs``."""
    letters = {}
    for spec in specs:
        for i, letter in enumerate(spec):
            if letter != ":":
                letters[letter] = letters.get(letter, False) or spec[i + 1:i + 2] == ":"
    return "".join(letter + (":" if takes else "") for letter, takes in letters.items())


#: Every option of ping and ping6: main.c's first pass accepts the union.
ALL_OPTIONS = _union(PING6_OPTIONS, PING4_OPTIONS.lstrip(".:"))
SIMULATED = set("46cinoqSstvW")
EX_USAGE, EX_NOHOST, EX_OSERR, EX_SOFTWARE = 64, 68, 71, 70
DEFAULT_DATALEN = {4: 56, 6: 8}
MAXALARM = 60 * 60


def _resolve_name(ctx, name, family):
    """``(address, canonical name)`` of ``name`` (``family`` 4, 6, or None for either) from the view's
    /etc/hosts, or None."""
    try:
        with open(ctx.resolve("/etc/hosts")[1], encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        lines = []
    for line in lines:
        words = line.split("#", 1)[0].split()
        if len(words) >= 2 and name in words[1:]:
            try:
                address = ipaddress.ip_address(words[0])
            except ValueError:
                continue
            if family in (None, address.version):
                return address, words[1]
    return None


def _triptime(target, seq):
    """A made-up, repeatable round trip between 0.030 and 0.089 ms."""
    return 0.030 + (zlib.crc32(f"{target}/{seq}".encode()) % 60) / 1000


def _number(ctx, text, low, high, message):
    try:
        value = int(text, 0)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        ctx.errx(EX_USAGE, f"{message}: `{text}'")
    return value


def main(ctx, argv):
    # main.c: a silent first pass over every option only picks the address family (-4, -6, -S ADDR).
    ipv4, ipv6 = False, ctx.prog == "ping6"
    source_family = None
    first_pass, operands = getopt(argv, ":" + ALL_OPTIONS, ctx.prog, ctx.stderr)
    for letter, value in first_pass:
        if letter == "4":
            ipv4 = True
        elif letter == "6":
            ipv6 = True
        elif letter == "S" and source_family is None:
            try:
                source_family = ipaddress.ip_address(value).version
            except ValueError:
                pass
    if not operands:
        ctx.stderr.write(USAGE)
        raise Exit(1)
    if ipv4 and ipv6:
        ctx.errx(1, "-4 and -6 cannot be used simultaneously")
    try:
        target_family = ipaddress.ip_address(operands[-1]).version
    except ValueError:
        target_family = None
    if target_family == 4 and ipv6:
        ctx.errx(1, "IPv6 requested but IPv4 target address provided")
    if target_family == 6 and ipv4:
        ctx.errx(1, "IPv4 requested but IPv6 target address provided")
    family = target_family or (6 if ipv6 else 4 if ipv4 else source_family)
    if family is None:
        found = _resolve_name(ctx, operands[-1], None)
        if found is None:
            ctx.errx(EX_NOHOST, f"cannot resolve {operands[-1]}: hostname nor servname provided, or not known")
        family = found[0].version
    if ctx.jail and not ctx.jail["params"].get("allow.raw_sockets"):
        ctx.err(EX_OSERR, "ssend socket", errno.EPERM)
    try:
        opts, operands = getopt(argv, PING6_OPTIONS if family == 6 else PING4_OPTIONS, ctx.prog, ctx.stderr)
    except BadOption:
        ctx.stderr.write(USAGE)
        raise Exit(1) from None
    settings = {"count": None, "timeout": None, "waittime": 10000.0, "datalen": DEFAULT_DATALEN[family],
                "quiet": False, "once": False, "source": None}
    for letter, value in opts:
        if letter not in SIMULATED:
            ctx.errx(EX_SOFTWARE, f"option -{letter} is not simulated by the rehearsal host")
        if letter == "c":
            settings["count"] = _number(ctx, value, 1, 2**63 - 1, "invalid count of packets to transmit")
        elif letter == "t":
            settings["timeout"] = _number(ctx, value, 1, MAXALARM, "invalid timeout")
        elif letter in "Wi":
            try:
                interval = float(value)
            except ValueError:
                ctx.errx(EX_USAGE, f"invalid timing interval: `{value}'")
            if letter == "W":
                settings["waittime"] = interval
        elif letter == "s":
            settings["datalen"] = _number(ctx, value, 0, 2**31 - 1, "invalid packet size")
        elif letter == "q":
            settings["quiet"] = True
        elif letter == "o":
            settings["once"] = True
        elif letter == "S":
            settings["source"] = value
    if len(operands) != 1:
        ctx.stderr.write(USAGE)
        raise Exit(1)
    if settings["count"] is None and settings["timeout"] is None and not settings["once"]:
        ctx.errx(EX_SOFTWARE, "the rehearsal host needs -c, -t or -o (this ping would never end)")
    return _ping(ctx, family, operands[0], settings)


def _ping(ctx, family, target_text, settings):
    with ctx.scratch.kernel(write=False) as kernel:
        try:
            target, hostname = ipaddress.ip_address(target_text), target_text
        except ValueError:
            target = None
        if target is None or target.version != family:
            found = _resolve_name(ctx, target_text, family)
            if found is None:
                ctx.errx(EX_NOHOST, f"cannot resolve {target_text}: Unknown host")
            target, hostname = found
        jail_addresses = None
        real_ns = _real_namespace(ctx, kernel, target)
        if real_ns is not None:
            answers = False
            source = settings["source"] or _vnet_source(kernel, ctx.jail, target, family)
        elif ctx.jail:
            jail = kernel.find_jail(jid=ctx.jail["jid"])
            jail_addresses = kernel.jail_param(jail, "ip6.addr" if family == 6 else "ip4.addr")
            if not jail_addresses:
                ctx.err(1, "connect", errno.EADDRNOTAVAIL)
        if real_ns is not None:
            pass
        elif (source := settings["source"]) is not None:
            allowed = jail_addresses if jail_addresses is not None else kernel.local_addresses()
            if source not in allowed:
                ctx.err(1, "bind", errno.EADDRNOTAVAIL)
        duplicating = str(target) in kernel.data.get("duplicating_hosts", ())
        if real_ns is None:
            answers = kernel.answers_ping(str(target)) or (
                target.is_loopback and (jail_addresses is None or bool(jail_addresses)))
        if source is None:
            source = jail_addresses[0] if jail_addresses else _host_source(kernel, target, family)
    count = settings["count"] or settings["timeout"] or 1
    if settings["timeout"] is not None:
        count = min(count, settings["timeout"])
    if settings["once"]:
        count = 1
    lines = []
    if family == 4:
        shown_from = f" from {settings['source']}" if settings["source"] else ""
        lines.append(f"PING {hostname} ({target}){shown_from}: {settings['datalen']} data bytes\n")
    else:
        total = 40 + 8 + settings["datalen"]
        lines.append(f"PING({total}=40+8+{settings['datalen']} bytes) {source} --> {target}\n")
    times, late = [], 0
    timing = settings["datalen"] >= 8
    # A duplicating host's extra reply carries a sequence number never sent: pr_pack() counts it as
    # received (its bit in the duplicate table is clear), so more replies than requests come back.
    extra = answers and duplicating
    if real_ns is not None:
        trips = _probe(ctx, real_ns, family, target, count, settings)
    else:
        trips = [(_triptime(target, seq) if timing else 0.0, 64) if answers else None
                 for seq in range(count + 1 if extra else count)]
    for seq in range(len(trips)):
        if trips[seq] is None:
            continue
        trip, ttl = trips[seq]
        trip = trip if timing else 0.0
        times.append(trip)
        if trip > settings["waittime"]:
            late += 1
            continue
        if settings["quiet"]:
            continue
        shown_time = f" time={trip:.3f} ms" if timing else ""
        if family == 4:
            lines.append(f"{settings['datalen'] + 8} bytes from {target}: icmp_seq={seq} ttl={ttl}{shown_time}\n")
        else:
            lines.append(f"{settings['datalen'] + 8} bytes from {target}, icmp_seq={seq} hlim={ttl}{shown_time}\n")
    lines.append(_summary(hostname, count, times, late, timing))
    ctx.out("".join(lines))
    return 0 if times else 2


def _real_namespace(ctx, kernel, target):
    """The network namespace whose real packets answer this ping, or None for the simulated network: a VNET
    jail's own, or the simulated host's when ``target`` is on a prefix of one of its cloned interfaces
    (a bridge the host has an address on)."""
    if ctx.jail:
        jail = kernel.find_jail(jid=ctx.jail["jid"])
        return netns.jail_ns(ctx.scratch.root, jail["jid"]) if vnet.is_vnet_jail(jail) else None
    for iface in kernel.interfaces.values():
        if not iface.get("cloned"):
            continue
        for key in ("inet", "inet6"):
            for entry in iface[key]:
                net = ipaddress.ip_interface(f"{entry['addr']}/{entry['prefixlen']}").network
                if target in net and str(target) != entry["addr"]:
                    return netns.host_ns(ctx.scratch.root)
    return None


def _vnet_source(kernel, jail, target, family):
    """The source address shown in the IPv6 header line: the first address of the family on the prefix."""
    key = "inet6" if family == 6 else "inet"
    found = None
    for iface in kernel.vnet_interfaces(jail["jid"] if jail else 0).values():
        for entry in iface[key]:
            if target in ipaddress.ip_interface(f"{entry['addr']}/{entry['prefixlen']}").network:
                return entry["addr"]
            found = found or entry["addr"]
    return found or ("::1" if family == 6 else "127.0.0.1")


def _probe(ctx, ns, family, target, count, settings):
    """Real echo requests from namespace ``ns`` (:mod:`salt_jail.rehearsal.icmp`): ``[(ms, ttl) or None]``;
    a failed sendto(2) is reported as ping.c's pinger() does (``ping: sendto: Network is unreachable``)."""
    wait_ms = int(min(settings["waittime"], 1000.0))
    script = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "icmp.py")
    proc = netns.run_in(ns, [sys.executable, "-S", "-E", script, str(family), str(target), str(count),
                             str(settings["datalen"]), str(wait_ms)], check=False, timeout=count * 2 + 30)
    if proc.returncode != 0:
        ctx.errx(EX_OSERR, f"rehearsal: cannot send ICMP in {ns}: {proc.stderr.strip()}")
    trips = []
    for entry in json.loads(proc.stdout):
        if entry.get("error"):
            ctx.warn("sendto", entry["error"])
        trips.append((entry["rtt"], entry.get("ttl", 64)) if entry.get("rtt") is not None else None)
    return trips


def _host_source(kernel, target, family):
    """The host's source address for ``target``: itself when local, else the first address of the family."""
    if str(target) in kernel.local_addresses():
        return str(target)
    key = "inet6" if family == 6 else "inet"
    for iface in kernel.interfaces.values():
        if iface["kind"] != "loopback" and iface[key]:
            return iface[key][0]["addr"]
    return "::1" if family == 6 else "127.0.0.1"


def _summary(hostname, transmitted, times, late, timing):
    """pr_summary() of FreeBSD 14's ping."""
    received = len(times)
    text = f"\n--- {hostname} ping statistics ---\n{transmitted} packets transmitted, {received} packets received, "
    if received > transmitted:  # sbin/ping/main.c, pr_summary() (14.x; older ping.c: "printing up")
        text += "-- somebody's duplicating packets!"
    else:
        text += f"{(transmitted - received) * 100.0 / transmitted:.1f}% packet loss"
    if late:
        text += f", {late} packets out of wait time"
    text += "\n"
    if received and timing:
        avg = sum(times) / received
        stddev = math.sqrt(max(0.0, sum(t * t for t in times) / received - avg * avg))
        text += f"round-trip min/avg/max/stddev = {min(times):.3f}/{avg:.3f}/{max(times):.3f}/{stddev:.3f} ms\n"
    return text
