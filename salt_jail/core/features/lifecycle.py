"""Running jails on the host: list, start/stop/restart, exec, ping, devfs, destroy.

Everything goes through the FreeBSD tools exactly as rc.d/jail and an administrator would use them
(``jail -f CONF -c NAME``, ``jail -q -f CONF -r NAME``, ``jls -v --libxo json``, ``jexec -l``), as
argument lists through :meth:`Host.run`; the argv builders and output parsers live in
:mod:`salt_jail.core.tools.jailcmd`.  Jail names are always compared exactly, never as substrings.

Functions that change something take ``test``: the same code runs, reads what it needs (jls, the
mount table, configuration files) and stops before the first command or write that would change
the host, returning the :class:`StepResult` a real run would have returned.
"""

import dataclasses
import functools
import ipaddress
import os
import posixpath
import re
import shutil

from . import ownership
from .. import model, release
from ..formats import jailconf, rcconf
from ..io import textedit
from ..tools import jailcmd
from ..errors import CommandError, JailprovError, MissingError, PartialError, ValidationError
from ..result import StepResult

#: The ``name`` that means "every jail rc.d/jail starts": the jail_list names, or every jail in jail.conf
#: (rc.d/jail's ``_ALL``).  A jail literally named ``all`` cannot be addressed on its own.
ALL = "all"

#: The ruleset jail(8) applies with mount.devfs when devfs_ruleset is not set: devfsrules_jail.
DEFAULT_DEVFS_RULESET = 4

#: rc.d/jail's test for "jail.conf already includes jail.conf.d" (rc.d/jail:129-131), as an ERE.
_INCLUDES_CONFDIR = re.compile(r"""^\s*\.include\s*["']?/etc/jail\.conf\.d/""", re.MULTILINE)


# ------------------------------------------------------------------------------------------------
# Reading the host: files, rc.conf, jail.conf, jls, the mount table
# ------------------------------------------------------------------------------------------------
def _host_root(host):
    return textedit.Root.of_host(host)


def _read(host, path):
    """The text of host file ``path``, or None when it does not exist."""
    state = textedit.read_text(_host_root(host), path.lstrip("/"), missing_ok=True)
    return state.text if state is not None else None


def _readable(host, path):
    return textedit.is_regular_file(_host_root(host), path.lstrip("/"))


class _RcConf:
    """The rc.conf variables rc.d/jail sees (``load_rc_config jail``): later files win."""

    def __init__(self, host):
        texts = ((path, _read(host, path)) for path in rcconf.JAIL_RC_FILES)
        self._docs = [rcconf.parse(text, filename=path) for path, text in texts if text is not None]

    def get(self, key, default=None):
        for doc in reversed(self._docs):
            value = doc.get(key)
            if value is not None:
                return value
        return default

    def yes(self, key):
        """rc.subr's checkyesno."""
        return rcconf.checkyesno(self.get(key, "")) is True


def _rc_names(name):
    """rc.d/jail's ``_j`` (``tr /. _``) and ``_jv`` (``tr -c '[:alnum:]' _``) for a jail name."""
    j = name.replace("/", "_").replace(".", "_")
    return j, re.sub(r"[^0-9A-Za-z]", "_", j)


def _jail_conf(rc, cfg):
    """The jail.conf rc.d/jail uses: rc.conf's jail_conf, else the pillar's (default /etc/jail.conf)."""
    return rc.get("jail_conf") or cfg.jail_conf


def config_file_for(host, cfg, name):
    """The configuration file rc.d/jail would give ``jail -f`` for jail ``name`` (rc.d/jail parse_options).

    In order: ``jail_<name>_conf`` from rc.conf, or ``/etc/jail.<name>.conf``, when readable;
    ``/etc/jail.conf.d/<name>.conf`` when readable and jail.conf does not already ``.include``
    /etc/jail.conf.d/ (alone, that file would miss jail.conf's ``*`` defaults); else jail.conf.
    A jail defined by the obsolete ``jail_<name>_rootdir``/``_hostname`` variables is an error:
    rc.d/jail would generate /var/run/jail.<name>.conf from rc.conf and ignore jail.conf.
    """
    rc = _RcConf(host)
    j, jv = _rc_names(name)
    if rc.get(f"jail_{jv}_rootdir") and rc.get(f"jail_{jv}_hostname"):
        raise JailprovError(
            f"jail {name} is defined by the obsolete rc.conf variables jail_{jv}_rootdir and jail_{jv}_hostname: "
            f"rc.d/jail builds /var/run/jail.{j}.conf from them and ignores jail.conf; remove them from rc.conf "
            "and define the jail in jail.conf")
    jail_conf = _jail_conf(rc, cfg)
    own = rc.get(f"jail_{jv}_conf") or f"/etc/jail.{j}.conf"
    if _readable(host, own):
        return own
    confdir = f"/etc/jail.conf.d/{j}.conf"
    if _readable(host, confdir) and not _INCLUDES_CONFDIR.search(_read(host, jail_conf) or ""):
        return confdir
    if _readable(host, jail_conf):
        return jail_conf
    raise MissingError(f"no configuration for jail {name}: none of {own}, {confdir} or {jail_conf} exists "
                        "(rc.d/jail would ignore this jail)")


def _reader(host):
    """jailconf's ``read(pattern)`` callback over the host's files."""
    return jailconf.fs_reader(host.path("/"))


def _params(host, conf, name, read=None):
    """The parameters jail(8) would use for ``name`` from ``conf`` (wildcards, includes, variables)."""
    try:
        return jailconf.effective_params(conf, name, read=read or _reader(host))
    except JailprovError as exc:
        raise JailprovError(f"cannot read the parameters of jail {name} from {conf}: {exc}") from None


def _single(params, key, default=None):
    """A one-value jail.conf parameter as a string (``jid = 1;`` is ``["1"]`` in jailconf's model)."""
    value = params.get(key, default)
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def _bool_param(params, key):
    """A jail(8) boolean parameter as config.c ``bool_param()`` reads it: true, or a non-zero number."""
    value = params.get(key, False)
    if isinstance(value, bool):
        return value
    last = value[-1].strip().lower() if value else "true"
    number = re.match(r"[+-]?\d+", last)
    return last == "true" or bool(number and int(number.group()))


@functools.lru_cache(maxsize=4)
def _jls(text):
    """``jls -v --libxo json`` output parsed, and the index of each name: a state run keeps one jls answer
    (:mod:`salt_jail.core.io.memo`) that every state reads, and parsing it each time cost each state in
    proportion to the number of jails.  Callers get copies (:func:`_copy`)."""
    jails = tuple(jailcmd.parse_jls_json(text))
    return jails, {j["name"]: i for i, j in reversed(list(enumerate(jails)))}


def _copy(jail):
    return {k: list(v) if isinstance(v, list) else v for k, v in jail.items()}


def running_jails(host):
    """The running jails, from ``jls -v --libxo json``."""
    res = host.query(jailcmd.JLS_ARGV, what="cannot list the running jails")
    return [_copy(j) for j in _jls(res.stdout)[0]]


def _find(jails, name):
    """The jail named exactly ``name`` in a jls list, or None."""
    return next((j for j in jails if j["name"] == name), None)


def find_running(host, name):
    """The running jail named exactly ``name`` (its jls entry), or None."""
    res = host.query(jailcmd.JLS_ARGV, what="cannot list the running jails")
    jails, index = _jls(res.stdout)
    return _copy(jails[index[name]]) if name in index else None


def _mount_table(host):
    return jailcmd.parse_mount_p(host.query(jailcmd.MOUNT_TABLE_ARGV, what="cannot read the mount table").stdout)


def _real_host_path(host, path):
    """``path`` with every symlink resolved, as a host path (mount(8) records mount points this way).

    ``/home/jail/p1`` is ``/usr/home/jail/p1`` on a host where /home is a link to /usr/home.
    """
    top = os.path.realpath(host.path("/"))
    real = os.path.realpath(host.path(path))
    rel = os.path.relpath(real, top)
    if rel == os.curdir:
        return "/"
    if rel.split(os.sep, 1)[0] == os.pardir:
        raise JailprovError(f"{path} resolves to {real}, outside the host root {top}")
    return "/" + rel.replace(os.sep, "/")


def _at_or_below(path, top):
    return path == top or path.startswith(top.rstrip("/") + "/")


def _mounts_under(host, path):
    """Mount-table entries at or below ``path`` (by its written and its resolved name), deepest first."""
    tops = {path, _real_host_path(host, path)}
    found = [m for m in reversed(_mount_table(host)) if any(_at_or_below(m.mountpoint, top) for top in tops)]
    return sorted(found, key=lambda m: m.mountpoint.rstrip("/").count("/"), reverse=True)


def _check_name(name):
    """A jail name usable on a command line."""
    return jailcmd.jail_create_argv("/", name)[-1]


def _managed(cfg, name):
    """The present pillar prisoner ``name``."""
    prisoner = cfg.prisoners.get(name)
    if prisoner is None or prisoner.absent:
        raise ValidationError(f"{name!r} is not a prisoner of the pillar (jailprov:prisoners has: "
                              f"{', '.join(p.name for p in cfg.present) or 'none'})")
    return prisoner


def _check_below_jail_root(host, cfg, path):
    """Refuse ``path`` unless it lies strictly inside jail_root with no symlink below jail_root.

    The components between jail_root and ``path`` (``path`` included) are the prisoners' own: a
    symlink there could point anywhere on the host.  jail_root itself may be a link (/home is one on
    a default FreeBSD install).
    """
    top = cfg.jail_root.rstrip("/")
    if not path.startswith("/") or posixpath.normpath(path) != path or not top or top == "/":
        raise JailprovError(f"refusing {path!r}: not a normalised absolute path below a jail_root other than '/' "
                            f"(jail_root is {cfg.jail_root!r})")
    if not path.startswith(top + "/"):
        raise JailprovError(f"refusing {path}: it is not strictly inside jail_root {cfg.jail_root}")
    current = top
    for component in path[len(top) + 1:].split("/"):
        current = f"{current}/{component}"
        real = host.path(current)
        if os.path.islink(real):
            raise JailprovError(f"refusing {path}: {current} is a symbolic link (to {os.readlink(real)}); "
                                "a prisoner can point such a link anywhere on the host")
        if not os.path.lexists(real):
            break


# ------------------------------------------------------------------------------------------------
# list
# ------------------------------------------------------------------------------------------------
def list_jails(host, cfg):
    """One entry per pillar prisoner, per other running jail, and per other jail defined in jail.conf.

    Each entry is ``{name, jid, state: running|stopped|absent, hostname, path, ipv4, ipv6, managed, type}``:
    from jls for a running jail, from the pillar for a prisoner that is not running — ``stopped`` when its
    root exists, ``absent`` when it was never built (or its root is gone) — and from jail.conf (and what it
    includes) for a stopped jail jailprov does not manage (``managed: false``).  Prisoners come first, in
    pillar order, then the other running jails in jls order, then the other stopped ones in jail.conf order.
    """
    running = running_jails(host)
    entries = []
    for prisoner in cfg.present:
        jail = _find(running, prisoner.name)
        if jail is not None:
            entries.append(_entry(jail, managed=True))
        else:
            real = host.path(prisoner.path)
            built = os.path.isdir(real) and not os.path.islink(real)
            entries.append({"name": prisoner.name, "jid": prisoner.jid, "state": "stopped" if built else "absent",
                            "hostname": prisoner.hostname, "path": prisoner.path, "ipv4": list(prisoner.ip4),
                            "ipv6": list(prisoner.ip6), "managed": True})
    managed = {p.name for p in cfg.present}
    entries += [_entry(jail, managed=False) for jail in running if jail["name"] not in managed]
    entries += _stopped_unmanaged(host, cfg, running)
    for entry in entries:           # thick or thin (core/thin.py); None for a jail the pillar does not manage
        entry["type"] = cfg.prisoners[entry["name"]].type if entry["managed"] else None
    return entries


def _stopped_unmanaged(host, cfg, running):
    """Jails defined in the host's jail.conf (and what it includes) that are not running and that the pillar
    does not name (present or absent), as jail(8) would start them."""
    read = _reader(host)
    if not read(cfg.jail_conf):
        return []
    try:
        names = jailconf.defined_jails(cfg.jail_conf, read=read)
    except JailprovError:
        return []           # a jail.conf jail(8) cannot parse either: the formula's jail_conf states say why
    entries = []
    for name in names:
        if name in cfg.prisoners or _find(running, name) is not None:
            continue
        try:
            params = jailconf.effective_params(cfg.jail_conf, name, read=read)
        except JailprovError:
            params = {}
        jid = _single(params, "jid")
        ip4, ip6 = addresses_of(params)
        entries.append({"name": name, "jid": int(jid) if isinstance(jid, str) and jid.isdigit() else None,
                        "state": "stopped", "hostname": _single(params, "host.hostname"),
                        "path": _single(params, "path"), "ipv4": list(ip4), "ipv6": list(ip6), "managed": False})
    return entries


def _entry(jail, managed):
    return {"name": jail["name"], "jid": jail["jid"], "state": "running", "hostname": jail["hostname"],
            "path": jail["path"], "ipv4": jail["ipv4"], "ipv6": jail["ipv6"], "managed": managed}


# ------------------------------------------------------------------------------------------------
# start / stop / restart
# ------------------------------------------------------------------------------------------------
def _start_one(host, cfg, name, running, test):
    jail = _find(running, name)
    if jail is not None:
        return StepResult(False, f"jail {name} is already running (jid {jail['jid']})")
    conf = config_file_for(host, cfg, name)
    params = _params(host, conf, name)
    jid = _single(params, "jid")
    if jid is not None:
        if not str(jid).isdigit():
            raise JailprovError(f"cannot start jail {name}: {conf} gives it jid {jid!r}, not a number")
        jid = int(jid)
        holder = next((j for j in running if j["jid"] == jid), None)
        if holder is not None:
            raise JailprovError(
                f"cannot start jail {name}: {conf} gives it jid {jid}, which the running jail {holder['name']} "
                f"holds (hostname {holder['hostname'] or '-'}, path {holder['path'] or '-'}); stop that jail or "
                f"choose another jid for {name}")
    argv = jailcmd.jail_create_argv(conf, name)
    if test:
        return StepResult(True, f"jail {name} would be started: {' '.join(argv)}", data={"argv": argv})
    res = host.run(argv)
    if not res.ok:
        raise CommandError(argv, res.retcode, res.stdout, res.stderr, what=f"cannot start jail {name}")
    jail = _find(running_jails(host), name)
    if jail is None:
        raise JailprovError(f"`{' '.join(argv)}` succeeded but jls does not show jail {name} running "
                            "(does its configuration set persist or an exec.start that keeps running?)")
    return StepResult(True, f"jail {name} started (jid {jail['jid']})", data={"argv": argv, "jid": jail["jid"]})


def _check_removes_the_named_jail(host, conf, name, jail, running):
    """``jail -r NAME`` removes the running jail jail(8) finds for the configured NAME: by its ``jid``
    parameter first, by name only without one (usr.sbin/jail/jail.c, running_jid()).  Refuse when the
    block's jid is not the running jail's, rather than remove whichever jail holds that jid."""
    try:
        params = _params(host, conf, name)
    except JailprovError:
        return  # not configured there: jail(8) fails on its own ("not found"), nothing else is removed
    jid = _single(params, "jid")
    if jid is None or str(jid) == str(jail["jid"]):
        return
    holder = next((j for j in running if str(j["jid"]) == str(jid).strip()), None)
    held = (f"jid {jid} is the running jail {holder['name']} (path {holder['path'] or '-'}), which jail -r would "
            "remove instead" if holder else f"no running jail has jid {jid}, so jail -r would fail")
    raise JailprovError(f"refusing to stop jail {name}: {conf} gives it jid {jid}, but the running {name} has jid "
                        f"{jail['jid']}; {held}. Make {conf}'s jid for {name} match (or remove it), then stop it")


def _stop_one(host, cfg, name, running, test, conf=None):
    jail = _find(running, name)
    if jail is None:
        return StepResult(False, f"jail {name} is not running")
    conf = conf or config_file_for(host, cfg, name)
    _check_removes_the_named_jail(host, conf, name, jail, running)
    argv = jailcmd.jail_remove_argv(conf, name)
    if test:
        return StepResult(True, f"jail {name} (jid {jail['jid']}) would be stopped: {' '.join(argv)}",
                          data={"argv": argv})
    res = host.run(argv)
    if not res.ok:
        if _find(running_jails(host), name) is not None:
            raise CommandError(argv, res.retcode, res.stdout, res.stderr, what=f"cannot stop jail {name}")
        # jail(8) removed the jail, then failed a later step (an unmount of a mount already gone): stopped
        said = "; ".join(line for line in (res.stderr or res.stdout or "").strip().splitlines() if line)
        return StepResult(True, f"jail {name} stopped (was jid {jail['jid']}); jail(8) then reported: {said}",
                          data={"argv": argv})
    return StepResult(True, f"jail {name} stopped (was jid {jail['jid']})", data={"argv": argv})


def _restart_one(host, cfg, name, running, test):
    stopped = _stop_one(host, cfg, name, running, test)
    started = _start_one(host, cfg, name, [j for j in running if j["name"] != name], test)
    return StepResult(True, f"{stopped.comment}; {started.comment}" if stopped.changed else started.comment,
                      data={"stop": stopped.data, "start": started.data})


def _all_names(host, cfg, stopping=False):
    """The jails rc.d/jail handles without names: jail_list, or (empty) every jail of jail.conf.

    Unlike rc.d/jail's ``stop`` (every running jail), stopping ``all`` leaves alone running jails that
    jail.conf does not define (started by other tools); the order is reversed for stopping when
    jail_reverse_stop is YES.
    """
    rc = _RcConf(host)
    listed = rc.get("jail_list", "").split()
    if listed:
        names = [_rc_names(n)[0] for n in listed]
    else:
        conf = _jail_conf(rc, cfg)
        names = jailconf.defined_jails(conf, read=_reader(host))
    return names[::-1] if stopping and rc.yes("jail_reverse_stop") else names


def _each(host, cfg, name, one, test, verb, stopping=False):
    """Run ``one`` for ``name`` or, for :data:`ALL`, for every jail rc.d/jail would handle."""
    if name != ALL:
        _check_name(name)
        return one(host, cfg, name, running_jails(host), test)
    names = _all_names(host, cfg, stopping=stopping)
    running = running_jails(host)
    results, failures = {}, []
    for jail in names:
        try:
            result = one(host, cfg, jail, running, test)
        except JailprovError as exc:
            failures.append(str(exc))
            continue
        results[jail] = result
        if result.changed and not test:
            running = running_jails(host)
    done = [r.comment for r in results.values()]
    if failures:
        raise JailprovError("; ".join(failures + done))
    if not names:
        return StepResult(False, f"no jail to {verb} (jail_list is empty and jail.conf defines none)")
    return StepResult(any(r.changed for r in results.values()), "; ".join(done),
                      data={"jails": {n: r.as_dict() for n, r in results.items()}})


def start(host, cfg, name, test=False):
    """Start jail ``name`` (or :data:`ALL`) as rc.d/jail does: ``jail -f CONF -c NAME``.

    CONF is the file :func:`config_file_for` picks.  A running jail is left alone.  An explicit jid
    that another running jail (managed or not) holds is refused before jail(8) runs; a failure of
    jail(8) is raised with its own message.
    """
    return _each(host, cfg, name, _start_one, test, "start")


def stop(host, cfg, name, test=False):
    """Stop jail ``name`` (or :data:`ALL`) as rc.d/jail does: ``jail -q -f CONF -r NAME``.

    jail(8) takes exec.stop, the alias removal and the unmounts from CONF.  A stopped jail is left alone.
    """
    return _each(host, cfg, name, _stop_one, test, "stop", stopping=True)


def restart(host, cfg, name, test=False):
    """Stop (when running) and start jail ``name`` (or each jail of :data:`ALL`)."""
    return _each(host, cfg, name, _restart_one, test, "restart")


# ------------------------------------------------------------------------------------------------
# devfs
# ------------------------------------------------------------------------------------------------
def _devfs_plan(host, cfg, name):
    """``(prisoner, conf, params, dev, mounted)`` for prisoner ``name``'s /dev.

    ``conf`` is its configuration file, ``params`` its parameters there, ``dev`` the host path of its
    /dev, ``mounted`` the devfs mounts on ``dev``; any other file system mounted there is refused.
    """
    prisoner = _managed(cfg, name)
    conf = config_file_for(host, cfg, name)
    params = _params(host, conf, name)
    dev = prisoner.path + "/dev"
    _check_below_jail_root(host, cfg, dev)
    mounted = [m for m in _mounts_under(host, dev) if m.mountpoint in (dev, _real_host_path(host, dev))]
    others = [m for m in mounted if m.fstype != "devfs"]
    if others:
        raise JailprovError(f"{dev} already has a {others[0].fstype} file system from {others[0].device} "
                            "mounted on it; refusing to touch it")
    return prisoner, conf, params, dev, mounted


def _ruleset(params):
    value = _single(params, "devfs_ruleset", DEFAULT_DEVFS_RULESET)
    if value == "devfsrules_jail":
        return DEFAULT_DEVFS_RULESET
    if not str(value).isdigit() or int(value) == 0:
        raise JailprovError(f"devfs_ruleset {value!r} is not usable for mounting the prisoner's /dev (expected "
                            "the number of a loaded ruleset; 0 would apply none and show every host device)")
    return int(value)


def mount_devfs(host, cfg, name, test=False):
    """Mount devfs on prisoner ``name``'s /dev the way jail(8) does, with its ruleset in the same step.

    Only for prisoners without mount.devfs (with it, jail(8) mounts devfs itself when the jail starts).
    ``mount -t devfs -o ruleset=N devfs ROOT/dev``, N being devfs_ruleset (default 4, devfsrules_jail),
    after checking with ``devfs rule -s N show`` that ruleset N is loaded: an unloaded ruleset is created
    empty and hides nothing.  Already mounted (per ``mount -p``) is no change.

    Only while the prisoner is stopped (DESIGN.md, threat model): a running prisoner's root user can swap
    ``dev`` for a symbolic link between any check and mount(8), which follows it — devfs would cover a host
    directory — so a running prisoner is refused with what to do instead.  With none of its processes
    running nobody inside can race; should the mount still land elsewhere, it is unmounted and reported.
    """
    prisoner, conf, params, dev, mounted = _devfs_plan(host, cfg, name)
    if _bool_param(params, "mount.devfs"):
        return StepResult(False, f"jail {name} sets mount.devfs in {conf}: jail(8) mounts devfs on {dev} itself "
                                 "when the jail starts")
    if mounted:
        return StepResult(False, f"devfs is already mounted on {dev}")
    jail = _find(running_jails(host), name)
    if jail is not None:
        raise JailprovError(
            f"jail {name} is running (jid {jail['jid']}): refusing to mount devfs into it. While any of its "
            f"processes runs, its root user can swap {dev} for a symbolic link between every check and mount(8) "
            f"and have devfs mounted over a directory of the host. Stop it (jailprov.stop {name}) and run this "
            "step again, or set mount.devfs in its parameters so that jail(8) mounts devfs itself at start")
    if not os.path.isdir(host.path(dev)):
        raise JailprovError(f"{dev} is not a directory (is the base system of {prisoner.name} installed?)")
    ruleset = _ruleset(params)
    rules = jailcmd.parse_devfs_rules(host.check(jailcmd.devfs_rules_argv(ruleset),
                                                 what=f"cannot read devfs ruleset {ruleset}").stdout)
    if not rules:
        raise JailprovError(
            f"devfs ruleset {ruleset} is not loaded (`devfs rule -s {ruleset} show` prints nothing): mounted with "
            f"it, {dev} would show every device of the host. Load the rulesets with `service devfs restart` "
            "(from /etc/defaults/devfs.rules and /etc/devfs.rules) or set devfs_ruleset to a loaded one")
    argv = jailcmd.mount_devfs_argv(ruleset, dev)
    if test:
        return StepResult(True, f"devfs would be mounted on {dev} with ruleset {ruleset}: {' '.join(argv)}",
                          data={"argv": argv})
    expected = {dev, _real_host_path(host, dev)}
    before = _mount_table(host)
    host.check(argv, what=f"cannot mount devfs on {dev}")
    _check_landed(host, name, dev, expected, before)
    return StepResult(True, f"devfs mounted on {dev} with ruleset {ruleset}", data={"argv": argv})


def _check_landed(host, name, dev, expected, before):
    """After mounting on ``dev``: every new mount must be on ``dev``; one that landed elsewhere (``dev`` was
    swapped for a link while mount(8) ran) is unmounted again and reported."""
    stray = [m for m in _mount_table(host) if m not in before and m.mountpoint not in expected]
    for entry in reversed(stray):
        host.check(jailcmd.umount_argv(entry.mountpoint), what=f"cannot unmount the stray {entry.fstype} from "
                                                                f"{entry.mountpoint}")
    if stray:
        raise JailprovError(
            f"devfs landed on {stray[0].mountpoint}, not on {dev}: {dev} was replaced by a symbolic link while "
            f"mount(8) ran (is a process of {name} running behind jailprov's back?). It was unmounted again; "
            f"check {dev} and run the step again")


def umount_devfs(host, cfg, name, test=False):
    """Unmount the devfs on prisoner ``name``'s /dev (``umount ROOT/dev``); not mounted is no change."""
    _prisoner, _conf, _params, dev, mounted = _devfs_plan(host, cfg, name)
    if not mounted:
        return StepResult(False, f"devfs is not mounted on {dev}")
    argvs = [jailcmd.umount_argv(m.mountpoint) for m in mounted]
    if test:
        return StepResult(True, f"devfs would be unmounted from {dev}: "
                                + "; ".join(" ".join(a) for a in argvs), data={"argv": argvs})
    for argv in argvs:
        host.check(argv, what=f"cannot unmount devfs from {dev}")
    return StepResult(True, f"devfs unmounted from {dev}", data={"argv": argvs})


# ------------------------------------------------------------------------------------------------
# exec, ping
# ------------------------------------------------------------------------------------------------
def exec_in(host, cfg, name, cmd_argv, user=None, login=True):
    """Run ``cmd_argv`` inside running jail ``name``: ``jexec -l [-U USER] NAME CMD...``.

    ``-l`` gives the command a clean login environment instead of the caller's (the minion's).
    Returns ``{stdout, stderr, retcode}`` whatever the command's exit status; a stopped jail is an error.
    """
    argv = jailcmd.jexec_argv(name, cmd_argv, user=user, login=login)
    if _find(running_jails(host), name) is None:
        raise JailprovError(f"jail {name} is not running (jls does not list it); start it first")
    res = host.run(argv)
    return {"stdout": res.stdout, "stderr": res.stderr, "retcode": res.retcode}


def ping(host, cfg, name, target, count=3):
    """Ping ``target`` from inside running jail ``name`` (``jexec -l NAME ping -c COUNT TARGET``).

    Returns the summary parsed by :func:`jailcmd.parse_ping`: ``{transmitted, received, duplicates,
    loss_pct, rtt, ok}``.  No reply at all (ping's exit status 2) is a result with ``ok`` False; any
    other failure of ping (unknown host, bad argument) is raised with ping's own message.
    """
    command = jailcmd.ping_argv(target, count)
    res = exec_in(host, cfg, name, command)
    if res["retcode"] not in (0, 2):
        raise CommandError(jailcmd.jexec_argv(name, command), res["retcode"], res["stdout"], res["stderr"],
                           what=f"ping from jail {name} failed")
    return jailcmd.parse_ping(res["stdout"], res["retcode"])



# ------------------------------------------------------------------------------------------------
# destroy
# ------------------------------------------------------------------------------------------------
class NotJailprovsError(JailprovError):
    """Destroy refused: what is there was not built by jailprov (an administrator's own jail or directory)."""


def _check_jailprov_built(host, cfg, name, root, has_tree, holders, running, override):
    """Refuse to destroy ``name`` unless jailprov built it (see :func:`destroy`) or ``override == name``."""
    if override == name:
        return
    if has_tree and ownership.has_stamp(host, root):
        return
    if not (has_tree or holders or running):
        return  # nothing exists: no change
    entries = ownership.listing(host, root) if has_tree else []
    if name in cfg.prisoners and holders and not entries:
        return  # the block jailprov wrote for a prisoner the pillar names; no tree, or an empty one
    where = [f"{root} has no {release.STAMP}" + (" and holds files" if entries else "")] if has_tree else []
    where += [f"{', '.join(holders)} defines it"] if holders else []
    where += ["it is running"] if running else []
    if name not in cfg.prisoners and (holders or running):
        what = "an administrator's own jail (not in the pillar, not installed by jailprov)"
    else:
        what = "not a prisoner jailprov installed"
    raise NotJailprovsError(
        f"refusing to destroy {name}: it is {what}: {'; '.join(where)}. Nothing was changed. To destroy it all "
        f"the same, name it twice: destroy_unmanaged={name}")


def _as_host_path(host, real):
    """The host path of ``real``, a real path below the host root (for messages)."""
    rel = os.path.relpath(real, host.path("/"))
    return "/" if rel == os.curdir else "/" + rel.replace(os.sep, "/")


def _securelevel(host):
    res = host.check(jailcmd.SECURELEVEL_ARGV, what="cannot read kern.securelevel")
    try:
        return int(res.stdout.strip())
    except ValueError:
        raise JailprovError(f"`sysctl -n kern.securelevel` printed {res.stdout.strip()!r}, not a number") from None


def _other_file_systems(real_top):
    """Directories below ``real_top`` on another file system than it (mounts the table did not show)."""
    device = os.lstat(real_top).st_dev
    found = []

    def fail(err):
        raise JailprovError(f"cannot scan {err.filename}: {err.strerror}")

    for dirpath, dirnames, _files in os.walk(real_top, onerror=fail):
        for dirname in list(dirnames):
            path = os.path.join(dirpath, dirname)
            if os.lstat(path).st_dev != device:
                found.append(path)
                dirnames.remove(dirname)
    return found


def _not_dataset(mounts, dataset):
    """``mounts`` without the prisoner's own dataset and its children (``zfs destroy -r`` takes them)."""
    if not dataset:
        return mounts
    return [m for m in mounts if not (m.fstype == "zfs" and (m.device == dataset
                                                             or m.device.startswith(dataset + "/")))]


def _unmount_below(host, name, root, dataset=None, done=None, mounts=None):
    """Unmount everything below ``root``, deepest first; refuse a mount on ``root`` itself (but the
    prisoner's own ``dataset``, which ``zfs destroy`` unmounts).  Each mount point unmounted is added to
    ``done["unmounted"]`` as it goes (what a failure later reports).  ``mounts``: the mount-table entries
    below ``root`` when just read (else the table is read here)."""
    if mounts is None:
        mounts = _not_dataset(_mounts_under(host, root), dataset)
    _refuse_mount_on_root(host, name, root, mounts)
    argvs = [jailcmd.umount_argv(m.mountpoint) for m in mounts]
    for argv in argvs:
        host.check(argv, what=f"cannot unmount {argv[-1]} below the root of {name}")
        if done is not None:
            done.setdefault("unmounted", []).append(argv[-1])
    left = _not_dataset(_mounts_under(host, root), dataset) if argvs else []
    if left:
        raise JailprovError(f"refusing to remove {root}: {', '.join(m.mountpoint for m in left)} is still "
                            "mounted below it after unmounting")
    return [argv[-1] for argv in argvs]


def _remove_tree(host, name, root):
    """``chflags -R 0 ROOT`` then remove the tree in Python, never following a symlink or crossing a mount."""
    _refuse_other_file_systems(host, root, [])
    host.check(jailcmd.chflags_clear_argv(root), what=f"cannot clear the file flags below {root}")
    try:
        shutil.rmtree(host.path(root))
    except OSError as err:
        raise JailprovError(f"cannot remove {root} while destroying {name}: {err.filename}: {err.strerror} "
                            "(a file flag that chflags could not clear?)") from None


def addresses_of(params):
    """The IPv4 and IPv6 addresses in ip4.addr/ip6.addr values (``em0|192.0.2.5/24`` is 192.0.2.5)."""
    found = {}
    for key in ("ip4.addr", "ip6.addr"):
        values = params.get(key)
        addresses = []
        for value in values if isinstance(values, list) else []:
            try:
                addresses.append(str(ipaddress.ip_interface(value.rpartition("|")[2]).ip))
            except ValueError:
                continue
        found[key] = tuple(addresses)
    return found["ip4.addr"], found["ip6.addr"]


def _without_block(text, path, name):
    """jail.conf ``path`` without jail ``name``'s block, as a :class:`jailconf.Document`."""
    doc = jailconf.parse(text, path)
    doc.remove_block(name)
    return doc


def _jail_conf_files(host, cfg, name):
    """``(holders, own_files)``: the host's jail.conf files that define jail ``name``, and its own files.

    The files looked at are jail.conf (rc.conf's jail_conf and the pillar's) and the jail's own files
    (``/etc/jail.conf.d/NAME.conf``, ``jail_NAME_conf`` or ``/etc/jail.NAME.conf``).
    """
    rc = _RcConf(host)
    j, jv = _rc_names(name)
    own_files = (f"/etc/jail.conf.d/{j}.conf", rc.get(f"jail_{jv}_conf") or f"/etc/jail.{j}.conf")
    holders = [p for p in dict.fromkeys((_jail_conf(rc, cfg), cfg.jail_conf) + own_files)
               if _readable(host, p) and name in jailconf.parse(_read(host, p), p).jails()]
    return holders, own_files


def _config_removals(host, cfg, name, params, holders, own_files, test):
    """Remove ``name`` from the host's jail.conf files and rc.conf; returns the :class:`EditResult` list.

    ``holders`` and ``own_files`` come from :func:`_jail_conf_files`, ``params`` are the jail's
    parameters there.  The jail's own file is removed when it held nothing else; elsewhere the block
    goes and every other byte stays.  rc.conf loses the jail_list entry and the aliases of the
    prisoner's addresses; addresses the pillar does not list are taken from ``params``.  This is
    :func:`rcconf.plan_rc_conf` with ``remove``, the host's whole rc.conf plan: it also brings the
    other jailprov settings to the pillar's (jail_enable, the other prisoners' aliases and jail_list
    entries).  So jail_list="prisoner2" becomes "prisoner1", not an empty list, which rc.d/jail would
    read as every jail in jail.conf.
    """
    root = _host_root(host)
    prisoner = cfg.prisoners.get(name) or model.absent_prisoner(name, posixpath.join(cfg.jail_root, name))
    if not (prisoner.ip4 or prisoner.ip6):
        ip4, ip6 = addresses_of(params)
        prisoner = dataclasses.replace(prisoner, ip4=ip4, ip6=ip6)
    edits = []
    for path in holders:
        rel = path.lstrip("/")
        if path in own_files and not _without_block(_read(host, path), path, name).statements:
            edits.append(textedit.ensure_absent(root, rel, test=test))
        else:
            edits.append(textedit.edit(root, rel, lambda old, path=path: (_without_block(old, path, name).render(), ""),
                                       test=test))
    texts = {path: text for path in rcconf.rc_conf_sources(cfg) if (text := _read(host, path)) is not None}
    plan = rcconf.plan_rc_conf(dataclasses.replace(cfg, prisoners={**cfg.prisoners, name: prisoner}), texts,
                               remove=[name])
    for path, new in plan.files.items():
        edits.append(textedit.edit(root, path.lstrip("/"), lambda old, new=new: (new, ""), test=test, create=True))
    from . import hostledger, thin  # pylint: disable=import-outside-toplevel  (thin builds on this module)
    if not test:
        hostledger.note(host, edits, create=False)   # keeps clean's record of these files current
    return edits + thin.fstab_removal(host, name, test=test)


@dataclasses.dataclass
class DestroyPlan:
    """What :func:`destroy` found and would do for one name, every refusal already made (:func:`plan_destroy`).

    ``jail`` is its jls entry when running, ``stop_conf`` the file ``jail -r`` would be given; ``mounts``
    the mount-table entries below the root that would be unmounted (deepest first); ``dataset`` the prisoner's
    own ZFS dataset (or None: a directory tree); ``edits`` the planned configuration edits (EditResult,
    computed without writing)."""

    name: str
    root: str
    has_tree: bool
    dataset: object
    jail: object
    running: list
    stop_conf: object
    mounts: list
    edits: list
    removals: object

    @property
    def exists(self):
        return bool(self.has_tree or self.edits or self.jail is not None)

    def result(self, test, edits=None, unmounted=None):
        """The :class:`StepResult` of this plan: predicted (``test``), or of the run that applied it."""
        name, root, jail = self.name, self.root, self.jail
        edits = [e for e in (self.edits if edits is None else edits) if e.changed]
        unmounted = [m.mountpoint for m in self.mounts] if unmounted is None else unmounted
        actions = [f"stop jail {name} (jid {jail['jid']})"] if jail is not None else []
        actions += [f"unmount {path}" for path in unmounted]
        if self.dataset:
            actions.append(f"destroy dataset {self.dataset} and its snapshots (zfs destroy -r)")
        elif self.has_tree:
            actions.append(f"clear the file flags below {root} and remove it")
        actions += [f"edit {e.shown}" if e.new is not None else f"remove {e.shown}" for e in edits]
        if not actions:
            return StepResult(False, f"prisoner {name} is already absent")
        comment = (f"prisoner {name} would be destroyed: " if test else f"prisoner {name} destroyed: ") + \
            "; ".join(actions)
        return StepResult(True, comment, diff="".join(e.diff for e in edits),
                          data={"stopped": jail is not None, "unmounted": list(unmounted),
                                "removed": root if self.has_tree else None, "files": [e.shown for e in edits],
                                **({"dataset": self.dataset} if self.dataset else {})})


def _refuse_mount_on_root(host, name, root, mounts, configured=()):
    """Refuse a file system mounted on ``root`` itself (``mounts``: those below it, the dataset left out),
    unless ``configured`` names its mount point: ``jail -r`` unmounts what the jail's configuration mounted."""
    on_root = [m for m in mounts if m.mountpoint in (root, _real_host_path(host, root))
               and m.mountpoint not in configured]
    if on_root:
        raise JailprovError(
            f"refusing to destroy {name}: {root} is itself a mount point ({on_root[0].fstype} from "
            f"{on_root[0].device}); remove that file system yourself (e.g. `zfs destroy` for a dataset)")


def _configured_mountpoints(host, params):
    """The mount points of the ``mount`` and ``mount.fstab`` parameters (fstab lines: jail(8) mounts them at
    start and unmounts them at ``jail -r``), normalised, each also by its resolved host path."""
    lines = [v for v in params.get("mount", []) if isinstance(v, str)] if isinstance(params.get("mount"), list) else []
    fstabs = params.get("mount.fstab")
    for path in fstabs if isinstance(fstabs, list) else []:
        lines += (_read(host, path) or "").splitlines() if path.startswith("/") else []
    found = set()
    for line in lines:
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 2 and fields[1].startswith("/"):
            point = posixpath.normpath(fields[1])
            found.update((point, _real_host_path(host, point)))
    return found


def _refuse_other_file_systems(host, root, mounts):
    """Refuse a directory below ``root`` on another file system that is not one of ``mounts`` (those are
    unmounted first): :func:`_remove_tree` never crosses into another file system."""
    if not shutil.rmtree.avoids_symlink_attacks:
        raise JailprovError("this Python cannot remove a directory tree without following symlinks")
    unmounting = {os.path.realpath(host.path(m.mountpoint)) for m in mounts}
    other = [p for p in _other_file_systems(host.path(root)) if os.path.realpath(p) not in unmounting]
    if other:
        raise JailprovError(f"refusing to remove {root}: {_as_host_path(host, other[0])} is a mount point "
                            "(another file system) below it; unmount it first")


def plan_destroy(host, cfg, name, force=False, destroy_unmanaged=None):
    """Every check :func:`destroy` makes before it changes anything, in a real run and in test mode alike:
    the :class:`DestroyPlan`, or the :class:`JailprovError` a run would fail with.  Writes nothing."""
    _check_name(name)
    if "/" in name:
        raise ValidationError(f"jail name {name!r} is not a single path component")
    prisoner = cfg.prisoners.get(name)
    if prisoner is not None and not prisoner.absent and not force:
        raise JailprovError(f"refusing to destroy {name}: it is still a prisoner in the pillar "
                            f"(jailprov:prisoners:{name}); set `absent: true` there or list it under "
                            "jailprov:absent first (or pass force=True)")
    root = prisoner.path if prisoner is not None else posixpath.join(cfg.jail_root, name)
    _check_below_jail_root(host, cfg, root)
    real_root = host.path(root)
    has_tree = os.path.lexists(real_root)
    if has_tree and not os.path.isdir(real_root):
        raise JailprovError(f"refusing to destroy {name}: {root} is not a directory")
    dataset = None
    if has_tree:
        from . import zfsprov  # pylint: disable=import-outside-toplevel  (zfsprov uses this module)

        dataset = zfsprov.destroy_target(host, cfg, name, root)
    if has_tree and dataset is None:
        level = _securelevel(host)
        if level > 0:
            raise JailprovError(
                f"cannot destroy {name}: kern.securelevel is {level}, so the system file flags (schg, sunlnk) "
                f"in {root} cannot be cleared; set kern_securelevel_enable=\"NO\" in rc.conf and reboot "
                "(the securelevel cannot be lowered while running)")
    holders, own_files = _jail_conf_files(host, cfg, name)
    conf = config_file_for(host, cfg, name) if holders else None
    params = _params(host, conf, name) if holders else {}
    configured = _single(params, "path")
    if configured is not None and posixpath.normpath(configured) != root:
        raise NotJailprovsError(f"refusing to destroy {name}: {conf} gives it path {configured}, not {root}; "
                                "remove that jail by hand")
    removals = functools.partial(_config_removals, host, cfg, name, params, holders, own_files)
    planned = removals(test=True)  # a file that cannot be edited stops destroy here, before anything changed
    running = running_jails(host)
    jail = _find(running, name)
    _check_jailprov_built(host, cfg, name, root, has_tree, holders, jail is not None, destroy_unmanaged)
    stop_conf = None
    if jail is not None:                    # what _stop_one checks before `jail -r`
        stop_conf = conf or config_file_for(host, cfg, name)
        _check_removes_the_named_jail(host, stop_conf, name, jail, running)
    # Before the stop: jail -r unmounts what the jail's configuration mounted; whatever is left then is
    # unmounted here.  A mount on the root itself, and another file system below it that the mount table
    # does not show, are refused before anything changes.
    mounts = _not_dataset(_mounts_under(host, root), dataset)
    configured = ()
    if jail is not None:
        try:
            configured = _configured_mountpoints(host, _params(host, stop_conf, name))
        except JailprovError:
            pass      # not configured there: jail -r unmounts nothing of it (and fails on its own)
    _refuse_mount_on_root(host, name, root, mounts, configured)
    if has_tree and dataset is None:
        _refuse_other_file_systems(host, root, mounts)
    exists = has_tree or holders or jail is not None  # else: nothing to do, not even rc.conf tidying
    return DestroyPlan(name=name, root=root, has_tree=has_tree, dataset=dataset, jail=jail, running=running,
                       stop_conf=stop_conf, mounts=mounts,
                       edits=[e for e in planned if e.changed] if exists else [], removals=removals)


def apply_destroy(host, cfg, plan):
    """Carry out a :class:`DestroyPlan`: stop, unmount, remove the tree (or dataset), then the configuration.

    A failure after the first change is a :class:`PartialError` saying what was done and what is left."""
    name, root, jail = plan.name, plan.root, plan.jail
    done = {}
    try:
        if jail is not None:
            _stop_one(host, cfg, name, plan.running, test=False, conf=plan.stop_conf)
            done["stopped"] = f"jail {name} (was jid {jail['jid']})"
        # after a stop the table is read again: jail -r unmounted what the jail's configuration mounted
        unmounted = _unmount_below(host, name, root, dataset=plan.dataset, done=done,
                                   mounts=None if jail is not None else plan.mounts)
        if plan.has_tree:
            if plan.dataset:
                from . import zfsprov  # pylint: disable=import-outside-toplevel  (zfsprov uses this module)

                zfsprov.destroy_dataset(host, name, plan.dataset, root)
            else:
                _remove_tree(host, name, root)
            done["removed"] = root
    except JailprovError as exc:
        if not done:
            raise
        raise PartialError(f"destroying {name} failed: {exc}", done,
                           left=(f"remove {root}" if "removed" not in done and plan.has_tree else "")
                           + f"{', then ' if plan.has_tree and 'removed' not in done else ''}remove {name} from the "
                             "host's jail.conf and rc.conf; then apply again") from None
    edits = plan.removals(test=False) if plan.exists else []
    return plan.result(test=False, edits=edits, unmounted=unmounted)


def destroy(host, cfg, name, test=False, force=False, destroy_unmanaged=None):
    """Destroy prisoner ``name``: stop it, unmount, clear file flags, remove its tree and its configuration.

    In order: ``jail -q -f CONF -r NAME`` when running; ``umount`` of everything still mounted below
    the root (``mount -p``, deepest first); ``chflags -R 0 ROOT`` (``noschg`` would leave sunlnk, uchg
    and friends, which a prisoner with allow.chflags can set); removal of the tree without following
    symlinks; then the prisoner's jail.conf block (or jail.conf.d file), jail_list entry and rc.conf
    aliases.

    Only what jailprov built (:mod:`~salt_jail.core.features.ownership`): a tree with jailprov's install stamp, or
    a prisoner the pillar names whose jail.conf block (path ``jail_root/NAME``) jailprov wrote and whose
    tree is missing or empty.  Anything else — a plain directory, an administrator's own jail — is refused
    whatever ``force`` says, unless ``destroy_unmanaged`` repeats the name (a separate, explicit
    override).  A name of which nothing exists is no change.

    Refused before anything changes (:func:`plan_destroy`, in test mode exactly as in a run): a prisoner
    still present in the pillar (unless ``force``); a root that is not strictly inside jail_root, is a
    symlink or has one between jail_root and it, or is not the ``path`` jail.conf gives the jail;
    kern.securelevel > 0 (system flags cannot be cleared); a jail.conf or rc.conf it cannot edit; a
    running jail whose configured jid is another jail's (``jail -r`` would remove that one); a root
    that is itself a mount point; a directory below it on another file system that the mount table
    does not list.  Refused after the stop, before the tree is touched: anything still mounted below
    the root after unmounting (only a run can see that).  ``test`` lists what would be done and changes
    nothing.
    """
    plan = plan_destroy(host, cfg, name, force=force, destroy_unmanaged=destroy_unmanaged)
    return plan.result(test=True) if test else apply_destroy(host, cfg, plan)
