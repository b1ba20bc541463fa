"""Day-2 changes of a prisoner: restart last, change live what FreeBSD lets change live, move instead of abandon.

**Restart last.**  The jail.conf state (:func:`salt_jail.core.features.hostconf.jail_conf`) rewrites a prisoner's block
without stopping it.  Before the first rewrite it keeps the block the prisoner was started with, evaluated into
one self-contained block, in ``/var/run/jailprov/NAME.conf`` (:func:`keep_started_block`): ``jail -r`` takes
exec.stop, the alias removal and the unmounts from the file it is given, so the prisoner must be stopped with that
block.  /var/run is emptied at boot (rc.d/cleanvar), exactly when the block in jail.conf becomes the one the
prisoner was started with.  The prisoner's last state (:func:`converge`, formula id ``jailprov-NAME-running``)
runs only once every earlier state of the prisoner succeeded; it compares the kept block with the new one and:

* starts a stopped prisoner (after moving its root, see below);
* applies live, with ``jail -f CONF -m NAME``, a change of parameters the kernel lets change in a running
  jail (:data:`LIVE_PARAMS`): the jid stays, no process dies;
* otherwise stops the prisoner with the kept block and starts it with the new one, saying which parameter
  forced the restart — or, when the pillar forbids automatic restarts (``auto_restart: false``), fails with
  "restart needed because …" and changes nothing of the running prisoner.

**What can change live** (FreeBSD 14, sys/kern/kern_jail.c: "CTLFLAG_RDTUN in the following indicates jail
parameters that can be set at jail creation time but cannot be changed in an existing jail" — ``jid``,
``path``, ``osrelease``, ``osreldate``, ``vnet`` and the ip4/ip6 modes are RDTUN; ``host.*``, ``securelevel``,
``children.max``, ``enforce_statfs``, ``devfs_ruleset``, ``persist`` and the ``allow.*`` bits are CTLFLAG_RW).
usr.sbin/jail/jail.c ``rdtun_params()`` makes ``jail -m`` fail with "%s cannot be changed after creation" for a
changed RDTUN parameter, and ``-m`` runs no exec.* hook, no mount and no ``ifconfig`` alias: so ``exec.*``,
``mount.*``, ``interface`` and addresses carried by ``interface`` need a restart as well.

**Move, never abandon.**  When a prisoner's path changes (its own or ``jail_root``) and the old root holds a
prisoner jailprov installed (its base stamp), the steps before the last one keep working on the old root, and the
last state stops the prisoner (old configuration), renames the old root to the new path and starts it from
there.  A rename that cannot be done — the new path exists, or the two paths are on different file systems — is
refused before anything is stopped (:func:`check_move`), by the root step and again by the last state.
"""

import dataclasses
import os
import posixpath

from . import lifecycle, root
from .. import release
from ..formats import jailconf
from ..io import textedit
from ..tools import jailcmd
from ..errors import JailprovError, MissingError, PartialError
from ..result import StepResult

#: Where the block a running prisoner was started with is kept until it is stopped (emptied at boot).
STARTED_DIR = "/var/run/jailprov"

#: Parameters ``jail -m`` changes in a running jail (kern_jail.c CTLFLAG_RW jail parameters).
LIVE_PARAMS = frozenset((
    "host.hostname", "host.domainname", "host.hostuuid", "host.hostid",
    "securelevel", "children.max", "enforce_statfs", "devfs_ruleset", "persist",
))
LIVE_PREFIXES = ("allow.",)


def started_path(name):
    """The host path of the block running prisoner ``name`` was started with."""
    return f"{STARTED_DIR}/{name}.conf"


def _host_root(host):
    return textedit.Root.of_host(host)


def saved_params(host, name):
    """The parameters of the kept block prisoner ``name`` was started with, or None when none is kept."""
    path = started_path(name)
    if not os.path.isfile(host.path(path)):
        return None
    try:
        state = textedit.read_text(_host_root(host), path.lstrip("/"), missing_ok=True)
        if state is None:
            return None
        return jailconf.effective_params(jailconf.parse(state.text, path), name, read=lambda _pattern: [])
    except MissingError:
        return None
    except JailprovError as exc:
        raise JailprovError(f"cannot read {path}, the configuration {name} was started with: {exc}; remove it "
                            f"if {name} is not running") from None


def current_params(host, cfg, name, read=None):
    """``(conf, params)`` of jail ``name`` from the host's configuration files as they are (or as ``read``
    shows them), or ``(conf, None)`` when they do not define it."""
    try:
        conf = lifecycle.config_file_for(host, cfg, name)
    except MissingError:
        conf = cfg.jail_conf           # none yet: where the jail.conf state writes it
    reader = read or lifecycle._reader(host)
    if not reader(conf) or name not in jailconf.defined_jails(conf, read=reader):
        return conf, None
    return conf, lifecycle._params(host, conf, name, read=reader)


def previous_params(host, cfg, name):
    """What prisoner ``name`` runs (or last ran) with: the kept block, else its block in the files as they are."""
    saved = saved_params(host, name)
    if saved is not None:
        return saved
    return current_params(host, cfg, name)[1]


def _overlay_reader(host, texts):
    """A jailconf reader over the host's files with ``texts`` ({host path: text or None}) in their place."""
    base = lifecycle._reader(host)

    def read(pattern):
        found = dict(base(pattern))
        for path, text in texts.items():
            if jailconf.glob_match(pattern, path):
                if text is None:
                    found.pop(path, None)
                else:
                    found[path] = text
        return sorted(found.items())
    return read


def planned_params(host, cfg, prisoner, after_jail_conf=True):
    """``(conf, params)``: the prisoner's parameters once its jail.conf state has done its work (the same plan
    :func:`salt_jail.core.features.hostconf.jail_conf` applies; nothing is written) — or, without ``after_jail_conf``,
    from the files as they are."""
    from . import hostconf  # pylint: disable=import-outside-toplevel  (hostconf keeps blocks through this module)

    edits = hostconf._plan_jail_conf(host, cfg, prisoner, test=True)[0] if after_jail_conf else []
    read = _overlay_reader(host, {e.shown: e.new for e in edits if e.changed})
    conf, params = current_params(host, cfg, prisoner.name, read=read)
    if params is None:
        raise JailprovError(f"{conf} does not define jail {prisoner.name} even after its jail.conf state")
    return conf, params


# ------------------------------------------------------------------------------------------------
# Keeping the block a running prisoner was started with
# ------------------------------------------------------------------------------------------------
def keep_started_block(host, cfg, name, test=False):
    """Before the first rewrite of prisoner ``name``'s block, keep the block it runs (or, stopped, last had)
    with in :func:`started_path`.  Returns a note for the comment, or "" when nothing was (or is) kept."""
    if saved_params(host, name) is not None:
        return ""
    conf, params = current_params(host, cfg, name)
    if params is None:
        return ""
    path = started_path(name)
    if not test:
        block = jailconf.render_block(name, [(k, v) for k, v in params.items() if k not in ("name", "depend")])
        os.makedirs(host.path(STARTED_DIR), mode=0o700, exist_ok=True)
        textedit.edit(_host_root(host), path.lstrip("/"), lambda _old: (block, ""), create=True, mode=0o600)
    return f"the block from {conf} it {'would be' if test else 'is'} stopped with kept in {path}"


def _drop_saved(host, name):
    textedit.ensure_absent(_host_root(host), started_path(name).lstrip("/"))


# ------------------------------------------------------------------------------------------------
# Differences: live or restart
# ------------------------------------------------------------------------------------------------
def _show(value):
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    return ",".join(value) if value else '""'


def differences(old, new):
    """``[(param, old value, new value)]`` for every parameter that differs (``name`` aside)."""
    keys = [k for k in dict.fromkeys(list(old) + list(new)) if k != "name"]
    return [(k, old.get(k), new.get(k)) for k in keys if old.get(k) != new.get(k)]


def _live(key, old_value, new_value, old, new):
    if key in LIVE_PARAMS or key.startswith(LIVE_PREFIXES):
        return True
    if key in ("ip4.addr", "ip6.addr"):
        # kern_jail.c: addresses of a jail already restricted to addresses change live; jail -m configures no
        # interface alias, so addresses carried by ``interface`` (or IF|ADDR) need jail(8)'s start.
        values = list(old_value or []) + list(new_value or [])
        return (bool(old_value) and bool(new_value) and not old.get("interface") and not new.get("interface")
                and not any("|" in v for v in values if isinstance(v, str)))
    return False


def restart_reasons(old, new):
    """Why a running jail with parameters ``old`` needs a restart to get ``new`` ("path (/a -> /b)", ...)."""
    return [f"{k} changed ({_show(a)} -> {_show(b)})" for k, a, b in differences(old, new)
            if not _live(k, a, b, old, new)]


# ------------------------------------------------------------------------------------------------
# Moves
# ------------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Move:
    name: str
    old: str
    new: str


def _single(params, key):
    value = (params or {}).get(key)
    return value[0] if isinstance(value, list) and len(value) == 1 else None


def pending_move(host, cfg, prisoner, previous):
    """The :class:`Move` of ``prisoner`` when its path changed and the old root holds a prisoner jailprov
    installed (a base stamp), else None."""
    old = _single(previous, "path")
    if not old or not old.startswith("/"):
        return None
    old = posixpath.normpath(old)
    if old == prisoner.path:
        return None
    real_old = host.path(old)
    if os.path.islink(real_old) or not os.path.isdir(real_old):
        return None
    if release.read_stamp(host, old) is None:
        return None
    return Move(prisoner.name, old, prisoner.path)


def _existing_ancestor(host, path):
    while not os.path.exists(host.path(path)) and path != "/":
        path = posixpath.dirname(path)
    return path


def _device(real):
    """The file system (st_dev) holding real path ``real``."""
    return os.stat(real).st_dev


def check_move(host, cfg, move):
    """Refuse a move that cannot be done, before anything is stopped."""
    lead = f"cannot move prisoner {move.name} from {move.old} to {move.new}"
    if os.path.lexists(host.path(move.new)):
        raise JailprovError(f"{lead}: {move.new} already exists; remove it (or set the old path again) — "
                            f"{move.name} keeps running from {move.old}")
    lifecycle._check_below_jail_root(host, dataclasses.replace(cfg, jail_root=posixpath.dirname(move.old)),
                                     move.old)
    ancestor = _existing_ancestor(host, posixpath.dirname(move.new))
    if _device(host.path(move.old)) != _device(host.path(ancestor)):
        raise JailprovError(
            f"{lead}: they are on different file systems ({move.old} and {ancestor}), and a rename cannot cross "
            "file systems; jailprov does not copy a prisoner. Move it yourself (stop it, copy it with `tar -cpf - "
            f". | tar -xpf -`, or `zfs rename` a dataset), or set the old path again — {move.name} keeps running "
            f"from {move.old}")


def _rename(host, cfg, move, done):
    """Rename the stopped prisoner's root; devfs left mounted below it is unmounted first (and returned)."""
    mounts = lifecycle._mounts_under(host, move.old)
    others = [m for m in mounts if m.fstype != "devfs"]
    if others:
        raise JailprovError(f"{others[0].mountpoint} ({others[0].fstype}) is still mounted below {move.old} "
                            "after the stop; unmount it, then apply again")
    for mount in mounts:
        host.check(jailcmd.umount_argv(mount.mountpoint), what=f"cannot unmount {mount.mountpoint}")
        done.setdefault("unmounted", []).append(mount.mountpoint)
    check_move(host, cfg, move)
    os.makedirs(host.path(posixpath.dirname(move.new)), mode=0o755, exist_ok=True)
    try:
        os.rename(host.path(move.old), host.path(move.new))
    except OSError as err:
        raise JailprovError(f"cannot rename {move.old} to {move.new}: {err.strerror}") from None
    done["moved"] = f"{move.old} -> {move.new}"
    return bool(mounts)


# ------------------------------------------------------------------------------------------------
# The prisoner's last state
# ------------------------------------------------------------------------------------------------
def step_config(host, cfg, name):
    """The configuration the steps before the last one use for prisoner ``name``: with a move pending, the
    prisoner's path (and jail_root, for the checks) are the old root's, which its last state renames."""
    prisoner = cfg.prisoners.get(name)
    if prisoner is None or prisoner.absent or os.path.lexists(host.path(prisoner.path)):
        return cfg
    try:
        move = pending_move(host, cfg, prisoner, previous_params(host, cfg, name))
    except JailprovError:
        return cfg
    if move is None:
        return cfg
    moved = dataclasses.replace(prisoner, path=move.old)
    return dataclasses.replace(cfg, jail_root=posixpath.dirname(move.old),
                               prisoners={**cfg.prisoners, name: moved})


def ensure_root(host, cfg, name, test=False):
    """Step 1 with moves: a pending move is checked (and refused here, before anything is stopped) and left to
    the prisoner's last state; otherwise :func:`salt_jail.core.features.root.ensure_root`."""
    prisoner = lifecycle._managed(cfg, name)
    move = pending_move(host, cfg, prisoner, previous_params(host, cfg, name))
    if move is None:
        return root.ensure_root(host, cfg, name, test=test)
    check_move(host, cfg, move)
    return StepResult(False, f"{move.old} holds prisoner {name} (installed by jailprov): its last state "
                             f"(jailprov-{name}-running) {'would move' if test else 'moves'} it to {move.new} "
                             "(stopped with its old configuration, renamed, started from there); the steps "
                             f"before work on {move.old}")


def converge(host, cfg, name, test=False, after_jail_conf=False):
    """The prisoner's last state: start it, change it live, or restart (and move) it; see the module doc.

    ``after_jail_conf``: the prisoner's jail.conf state runs before this one (the formula): its block is taken
    as that state leaves it — in a test run, as it would leave it.  Otherwise the files as they are.
    """
    prisoner = lifecycle._managed(cfg, name)
    running = lifecycle.running_jails(host)
    jail = lifecycle._find(running, name)
    saved = saved_params(host, name)
    previous = saved if saved is not None else current_params(host, cfg, name)[1]
    conf, new = planned_params(host, cfg, prisoner, after_jail_conf)
    move = pending_move(host, cfg, prisoner, previous)
    if move is not None:
        check_move(host, cfg, move)
    create = jailcmd.jail_create_argv(conf, name)
    if jail is None:
        return _start(host, cfg, name, running, move, create, test)
    jid = jail["jid"]
    diffs = differences(previous, new) if previous is not None else []
    if not diffs:
        if saved is not None and not test:
            _drop_saved(host, name)
        return StepResult(False, f"jail {name} is running (jid {jid}) with its current configuration")
    changed = ", ".join(k for k, _a, _b in diffs)
    reasons = restart_reasons(previous, new)
    if not reasons:
        argv = ["jail", "-f", conf, "-m", name]
        data = {"argv": argv, "live": {k: f"{_show(a)} -> {_show(b)}" for k, a, b in diffs}, "jid": jid}
        if test:
            return StepResult(True, f"jail {name} (jid {jid}) would be changed live ({changed}): {' '.join(argv)}; "
                                    "no restart", data=data)
        host.check(argv, what=f"cannot change jail {name} live")
        _drop_saved(host, name)
        return StepResult(True, f"jail {name} (jid {jid}) changed live ({changed}) with `{' '.join(argv)}`; "
                                "no restart", data=data)
    why = "; ".join(reasons)
    if not prisoner.auto_restart:
        raise JailprovError(
            f"restart needed because {why}, but automatic restarts of {name} are off (auto_restart: false in "
            f"jailprov:prisoners:{name} or jailprov:defaults); {name} keeps running (jid {jid}) on its old "
            f"configuration: restart it yourself (salt-call jailprov.restart {name}), or set auto_restart: true")
    stop_conf = started_path(name) if saved is not None or test else conf
    remove = jailcmd.jail_remove_argv(stop_conf, name)
    plan = [f"stop it (jid {jid}) with the configuration it was started with (`{' '.join(remove)}`)"]
    plan += [f"rename {move.old} to {move.new}"] if move else []
    plan += [f"start it with the new one (`{' '.join(create)}`)"]
    data = {"restart": why, "stop": remove, "start": create}
    if move:
        data["move"] = {"from": move.old, "to": move.new}
    if test:
        return StepResult(True, f"jail {name} needs a restart because {why}: it would " + ", then ".join(plan),
                          data=data)
    host.check(remove, what=f"cannot stop jail {name} with {stop_conf}")
    done = {"stopped": f"jail {name} (was jid {jid}), with {stop_conf}"}
    left = f"start {name}: `{' '.join(create)}`"
    try:
        if move:
            left = f"move {move.old} to {move.new}, then " + left
            remount = _rename(host, cfg, move, done)
            left = f"start {name}: `{' '.join(create)}`"
            if remount:
                lifecycle.mount_devfs(host, cfg, name)
        _drop_saved(host, name)
        started = lifecycle._start_one(host, cfg, name, [j for j in running if j["name"] != name], test=False)
    except JailprovError as exc:
        raise PartialError(f"restarting jail {name} ({why}) failed: {exc}", done, left=left) from None
    return StepResult(True, f"jail {name} restarted because {why}: stopped (was jid {jid}) with the configuration "
                            f"it was started with, " + (f"moved {move.old} to {move.new}, " if move else "")
                            + f"started (jid {started.data.get('jid')})", data=data)


def _start(host, cfg, name, running, move, create, test):
    """Start stopped prisoner ``name`` (moving its root first when its path changed)."""
    if test:
        steps = ([f"rename {move.old} to {move.new}"] if move else []) + [f"start it: {' '.join(create)}"]
        return StepResult(True, f"jail {name} would be started" + (f" after its move: {'; '.join(steps)}" if move
                                                                  else f": {' '.join(create)}"),
                          data={"argv": create, **({"move": {"from": move.old, "to": move.new}} if move else {})})
    done = {}
    try:
        if move:
            _rename(host, cfg, move, done)
        if os.path.isfile(host.path(started_path(name))):
            _drop_saved(host, name)
        started = lifecycle._start_one(host, cfg, name, running, test=False)
    except JailprovError as exc:
        if not done:
            raise
        raise PartialError(f"starting jail {name} failed: {exc}", done, left=f"start {name}: `{' '.join(create)}`") \
            from None
    data = dict(started.data, **({"move": {"from": move.old, "to": move.new}} if move else {}))
    return StepResult(True, (f"moved {move.old} to {move.new}; " if move else "") + started.comment, data=data)


def pending(host, cfg, name):
    """What prisoner ``name``'s last state still has to do (for the run's report when an earlier state failed)."""
    try:
        planned = converge(host, cfg, name, test=True, after_jail_conf=True)
    except MissingError as exc:
        return StepResult(True, f"prisoner {name} is not built yet ({exc})")
    except JailprovError as exc:
        return StepResult(True, str(exc))
    if not planned.changed:
        return StepResult(False, f"nothing is pending for {name}: {planned.comment}")
    return StepResult(True, planned.comment, data=planned.data)
