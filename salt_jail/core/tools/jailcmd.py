"""Argument lists for the FreeBSD jail tools, and parsers for their output.

Pure functions: nothing here runs a command or touches a file.  The builders return argv lists whose
first element is the tool's FreeBSD name (:meth:`salt_jail.core.io.host.Host.run` resolves it); every
operand is checked so that a value can never be read as an option.  The parsers read only
machine-readable or exactly documented output:

* ``jls -v --libxo json`` (jls(8); key names from jls.c, see FACTS.md §c),
* the ping(8) summary (``finish()`` in ping.c, FACTS.md §g),
* the ``mount -p`` table (fstab(5) layout, as printed by mount(8)),
* ``devfs rule -s N show`` (one rule per line; nothing at all for an unloaded ruleset).
"""

import collections
import json
import re

from ..errors import ParseError, ValidationError

#: jls(8) in verbose mode, as JSON.  ``-v`` gives name, state and every address of each jail.
JLS_ARGV = ("jls", "-v", "--libxo", "json")
#: mount(8) printing the mount table in fstab(5) format.
MOUNT_TABLE_ARGV = ("mount", "-p")
#: The kernel securelevel; above 0, system file flags (schg, sunlnk, sappnd) cannot be cleared.
SECURELEVEL_ARGV = ("sysctl", "-n", "kern.securelevel")


def _operand(value, what):
    """``value`` as a command operand: a non-empty string that no tool could read as an option."""
    if not isinstance(value, str) or not value or value.startswith("-") or "\0" in value:
        raise ValidationError(f"{what} {value!r} is not usable on a command line "
                              "(expected a non-empty string not starting with '-')")
    return value


# ------------------------------------------------------------------------------------------------
# argv builders
# ------------------------------------------------------------------------------------------------
def jail_create_argv(conf, name):
    """``jail -f CONF -c NAME``: create one jail from a configuration file, as rc.d/jail does."""
    return ["jail", "-f", _operand(conf, "configuration file"), "-c", _operand(name, "jail name")]


def jail_remove_argv(conf, name):
    """``jail -q -f CONF -r NAME``: remove a jail, running exec.stop and the unmounts from CONF (rc.d/jail)."""
    return ["jail", "-q", "-f", _operand(conf, "configuration file"), "-r", _operand(name, "jail name")]


def jexec_argv(name, command, user=None, login=True):
    """``jexec [-l] [-U USER] NAME COMMAND...``.

    ``-l`` gives the command a clean login environment (HOME, SHELL, TERM, USER, login class, PATH)
    instead of the caller's; ``-U`` names a user of the jail's own password database (jexec(8)).
    """
    if isinstance(command, str) or not command or not all(isinstance(a, str) for a in command):
        raise ValidationError(f"command {command!r} is not usable (expected a non-empty list of strings, "
                              "the program first)")
    argv = ["jexec"]
    if login:
        argv.append("-l")
    if user is not None:
        argv += ["-U", _operand(user, "user")]
    return argv + [_operand(name, "jail name")] + list(command)


def pw_root_password_argv(locked):
    """``/usr/sbin/pw usermod root -H 0`` (the crypt(3) hash on standard input), or ``-h -`` to lock the
    account (password ``*``): the command run *inside* a prisoner (jexec, or a transient jail)."""
    return ["/usr/sbin/pw", "usermod", "root"] + (["-h", "-"] if locked else ["-H", "0"])


def transient_jail_argv(path, command):
    """``jail -c path=PATH command=PROGRAM ARGS...``: run ``command`` confined to the tree at ``path``.

    jail(8) creates a jail with no name (the kernel names it by its jid), no address and no mounts,
    temporarily persistent while ``command`` runs in it (command.c run_command(): chdir to the path,
    jail_attach(2), execvp; standard input, output and error are jail(8)'s own), and removes it when the
    command exits (jail.c clear_persist()).  For a tool that must work on a stopped prisoner's own
    databases: inside the jail every path resolves below ``path``.
    """
    if isinstance(command, str) or not command or not all(isinstance(a, str) for a in command):
        raise ValidationError(f"command {command!r} is not usable (expected a non-empty list of strings)")
    if not isinstance(path, str) or not path.startswith("/") or "\0" in path:
        raise ValidationError(f"jail path {path!r} is not an absolute path")
    return ["jail", "-c", f"path={path}", f"command={command[0]}", *command[1:]]


def ping_argv(target, count):
    """``ping -c COUNT TARGET``."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValidationError(f"ping count {count!r} is not usable (expected a positive integer)")
    return ["ping", "-c", str(count), _operand(target, "ping target")]


def mount_devfs_argv(ruleset, mountpoint):
    """``mount -t devfs -o ruleset=N devfs MOUNTPOINT``: devfs with its ruleset applied in the same step."""
    return ["mount", "-t", "devfs", "-o", f"ruleset={int(ruleset)}", "devfs", _operand(mountpoint, "mount point")]


def umount_argv(mountpoint):
    """``umount MOUNTPOINT``."""
    return ["umount", _operand(mountpoint, "mount point")]


def devfs_rules_argv(ruleset):
    """``devfs rule -s N show``: the rules of ruleset N (empty output for a ruleset never loaded)."""
    return ["devfs", "rule", "-s", str(int(ruleset)), "show"]


def chflags_clear_argv(path):
    """``chflags -R 0 PATH``: clear every file flag below PATH (``noschg`` would leave sunlnk, uchg, ...)."""
    return ["chflags", "-R", "0", _operand(path, "path")]


# ------------------------------------------------------------------------------------------------
# jls --libxo json
# ------------------------------------------------------------------------------------------------
def _jls_error(message):
    return ParseError(f"unexpected `jls -v --libxo json` output: {message}")


def _addresses(value):
    """Every address string in a jls ``ipv4_addrs``/``ipv6_addrs`` value, whatever shape libxo gave it.

    The exact JSON rendering of these lists is not verified against a real 14.2 host (FACTS.md §c),
    so a plain string, a list of strings, and lists or objects of ``{"ipv4_addr": ...}`` are all read.
    An empty string means "no address", as in jls's default mode.
    """
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, list):
        return [a for item in value for a in _addresses(item)]
    if isinstance(value, dict):
        return [a for item in value.values() for a in _addresses(item)]
    raise _jls_error(f"address list {value!r} is neither a string, a list nor an object")


def _jid(entry):
    jid = entry.get("jid")
    if isinstance(jid, bool) or not isinstance(jid, (int, str)) or not str(jid).strip().isdigit():
        raise _jls_error(f"jail entry {entry!r} has no numeric jid")
    return int(jid)


def parse_jls_json(text):
    """The jails in ``jls -v --libxo json`` output.

    Returns a list, in jls order, of ``{name, jid, hostname, path, ipv4: [...], ipv6: [...], state}``;
    ``state`` is jls's own word (``ACTIVE``, or ``DYING`` with ``-d``).  Raises :class:`ParseError`
    when the text is not jls's JSON or an entry lacks the ``-v`` keys ``name`` and ``jid``.
    """
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise _jls_error(f"not JSON ({exc})") from exc
    info = doc.get("jail-information") if isinstance(doc, dict) else None
    if not isinstance(info, dict):
        raise _jls_error('no "jail-information" object')
    entries = info.get("jail", [])
    if isinstance(entries, dict):
        entries = [entries]
    if not isinstance(entries, list):
        raise _jls_error('"jail" is not a list')
    jails = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise _jls_error(f"jail entry {entry!r} has no name (was jls run with -v?)")
        jails.append({
            "name": entry["name"],
            "jid": _jid(entry),
            "hostname": entry.get("hostname") or "",
            "path": entry.get("path") or "",
            "ipv4": _addresses(entry.get("ipv4_addrs")),
            "ipv6": _addresses(entry.get("ipv6_addrs")),
            "state": entry.get("state") or "ACTIVE",
        })
    return jails


# ------------------------------------------------------------------------------------------------
# ping(8) summary
# ------------------------------------------------------------------------------------------------
_PING_HEADER = re.compile(r"^--- .* ping6? statistics ---$")
_PING_COUNTS = re.compile(
    r"^(?P<transmitted>\d+) packets transmitted, (?P<received>\d+) packets received,"
    r"(?: \+(?P<duplicates>\d+) duplicates,)?"
    r"(?: (?:(?P<loss>\d+(?:\.\d+)?)% packet loss|(?P<more>-- somebody's (?:duplicating|printing up) packets!)))?"
    r"(?:, (?P<late>\d+) packets out of wait time)?$")
_PING_RTT = re.compile(
    r"^round-trip min/avg/max/std-?dev = (?P<min>\d+\.\d+)/(?P<avg>\d+\.\d+)/(?P<max>\d+\.\d+)/"
    r"(?P<stddev>\d+\.\d+) ms$")


def parse_ping(text, retcode):
    """The summary of a ping(8) run: ``{transmitted, received, duplicates, loss_pct, rtt, ok}``.

    Read from the lines after the last ``--- HOST ping statistics ---``:
    ``N packets transmitted, N packets received, [+N duplicates, ]X.X% packet loss`` (or
    ``-- somebody's duplicating packets!`` when more replies than requests came back -- FreeBSD 14's unified
    ping (sbin/ping/main.c, pr_summary()); ``-- somebody's printing up packets!`` in older ping.c -- ``loss_pct`` is
    then None) and ``round-trip min/avg/max/stddev = a/b/c/d ms`` (printed only when a reply came
    back: ``rtt`` is otherwise None).  ``ok`` is ping's own verdict: exit status 0 and at least one
    reply (ping exits 2 when nothing came back).  Raises :class:`ParseError` without a summary.
    """
    lines = [line.rstrip() for line in text.splitlines()]
    starts = [i for i, line in enumerate(lines) if _PING_HEADER.match(line)]
    counts = _PING_COUNTS.match(lines[starts[-1] + 1]) if starts and starts[-1] + 1 < len(lines) else None
    if counts is None:
        raise ParseError(f"no ping statistics in the output of ping (exit status {retcode}): {text.strip()!r}")
    rtt = None
    for line in lines[starts[-1] + 2:]:
        match = _PING_RTT.match(line)
        if match:
            rtt = {key: float(value) for key, value in match.groupdict().items()}
            break
    received = int(counts["received"])
    return {
        "transmitted": int(counts["transmitted"]),
        "received": received,
        "duplicates": int(counts["duplicates"] or 0),
        "loss_pct": float(counts["loss"]) if counts["loss"] is not None else None,
        "rtt": rtt,
        "ok": retcode == 0 and received > 0,
    }


# ------------------------------------------------------------------------------------------------
# mount -p, devfs rule show
# ------------------------------------------------------------------------------------------------
MountEntry = collections.namedtuple("MountEntry", "device mountpoint fstype options")

_FSTAB_ESCAPE = re.compile(r"\\([0-7]{3})")


def _unescape(field):
    """fstab(5) writes a space in a path as ``\\040``."""
    return _FSTAB_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field)


def parse_mount_p(text):
    """The mount table printed by ``mount -p``, as :class:`MountEntry` tuples in table order.

    Each line is ``device mountpoint fstype options [dump pass]`` separated by tabs or spaces
    (mount(8) does not escape whitespace in paths).  When the device or the mount point holds
    whitespace, the mount point is taken to start at the last word beginning with ``/``, so a mount
    point is never lost.  Raises :class:`ParseError` on a line with fewer than four fields.
    """
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) >= 6 and fields[-1].isdigit() and fields[-2].isdigit():
            fields = fields[:-2]
        if len(fields) < 4:
            raise ParseError(f"expected 'device mountpoint fstype options' in `mount -p` output, got {line!r}",
                             filename="mount -p", line=number)
        paths = fields[:-2]
        split = max((i for i in range(1, len(paths)) if paths[i].startswith("/")), default=1)
        device, mountpoint = " ".join(paths[:split]), " ".join(paths[split:])
        entries.append(MountEntry(_unescape(device), _unescape(mountpoint), fields[-2], fields[-1]))
    return entries


def parse_devfs_rules(text):
    """The rules printed by ``devfs rule -s N show``, one string per rule; empty for an unloaded ruleset."""
    return [line.strip() for line in text.splitlines() if line.strip()]
