"""
Provision FreeBSD jails ("prisoners") on a FreeBSD host ("jailer") from the ``jailprov`` pillar.

Every function reads the prisoner definitions from the minion's pillar (``jailprov:``; see
``pillar.example``), validates them in one pass, and calls the loader-free core in
:mod:`salt_jail.core`.  Steps that change files take ``test=True`` to report what would change
without writing anything; they return ``{"changed": bool, "comment": str, "diff": str}``.

Configuration (minion config, optional)::

    jailprov:
      rehearsal: true          # play FreeBSD with the rehearsal stand-ins (any OS)
      root: /srv/rehearsal     # the rehearsal scratch root (the simulated host's /)

:depends: FreeBSD with jail(8), or ``jailprov:rehearsal: true`` in the minion config.
"""

import contextlib
import datetime
import errno
import fcntl
import functools
import glob
import inspect
import logging
import os
import time

from salt.exceptions import CommandExecutionError, SaltInvocationError

from salt_jail.core import model, release
from salt_jail.core import registry
from salt_jail.core.features import day2, hostaddr, hostconf, lifecycle, provision as provisioning, thin, uid_ranges, zfsprov
from salt_jail.core.features import network as prisoner_network
from salt_jail.core.features import fleet
from salt_jail.core.errors import JailprovError, MissingError, PartialError, ValidationError
from salt_jail.core.io.host import CmdResult, Host
from salt_jail.core.result import StepResult

log = logging.getLogger(__name__)

__virtualname__ = "jailprov"
__func_alias__ = {"list_": "list", "exec_": "exec"}


def __virtual__():
    settings = __opts__.get("jailprov") or {}
    if settings.get("rehearsal"):
        if not settings.get("root"):
            return (False, "jailprov: rehearsal is on but jailprov:root (the scratch root) is not set in the "
                           "minion config")
        return __virtualname__
    if __grains__.get("os") == "FreeBSD":
        return __virtualname__
    return (False, "jailprov runs only on FreeBSD hosts (this minion runs {}); set 'jailprov: {{rehearsal: true, "
                   "root: /some/scratch}}' in the minion config to rehearse on this OS".format(
                       __grains__.get("os", "an unknown OS")))


# ------------------------------------------------------------------------------------------------
# Plumbing: the one command runner, the host, the validated pillar
# ------------------------------------------------------------------------------------------------
def _runner(argv, stdin=None, env=None, cwd=None, secret=False):
    """Run an argument list through ``cmd.run_all`` (never a shell); secrets only on stdin, never logged."""
    kwargs = {"python_shell": False, "ignore_retcode": True, "env": env, "cwd": cwd}
    if stdin is not None:
        kwargs["stdin"] = stdin
    if secret:
        kwargs["output_loglevel"] = "quiet"
    ret = __salt__["cmd.run_all"](list(argv), **kwargs)
    return CmdResult(ret.get("retcode", 1), ret.get("stdout", ""), ret.get("stderr", ""))


def _memo():
    """The answers of read-only queries (``jls``, ``mount -p``) kept for the state run calling this function,
    or None: the state module (``_run_step``) hands one over only while nothing but jailprov states has run
    since it was filled, so a ``cmd.run`` that starts a jail between two jailprov states is never missed.
    Direct calls (``salt '*' jailprov.list``) always ask the host.  (The Salt side of the memo is
    ``salt_jail.states.jailprov._query_memo``; the memo itself :mod:`salt_jail.core.io.memo`.)"""
    held = __context__.get("jailprov.memo")
    return held["memo"] if held and held.get("armed") else None


def _rehearsal_bindir(root):
    """The rehearsal stand-ins' directory for scratch root ``root``, set up once per run (``__context__``):
    :func:`salt_jail.rehearsal.setup` checks every wrapper and host file, ~1 ms a state call otherwise."""
    cached = __context__.get("jailprov.rehearsal")
    if cached and cached[0] == root and os.path.exists(os.path.join(cached[1], "jls")):
        return cached[1]
    from salt_jail import rehearsal  # pylint: disable=import-outside-toplevel

    bindir = rehearsal.setup(root)
    __context__["jailprov.rehearsal"] = (root, bindir)
    return bindir


def _host():
    settings = __opts__.get("jailprov") or {}
    if settings.get("rehearsal"):
        root = settings["root"]
        return Host(root=root, runner=_runner, bindir=_rehearsal_bindir(root), memo=_memo())
    return Host(root="/", runner=_runner, memo=_memo())


def _config(pillar=None):
    """The validated model; ``pillar`` is a whole pillar dict (default: the minion's).

    A highstate calls this module once per state: the model of the minion's pillar is kept in the state run's
    query memo (:func:`_memo`, its ``notes``) with the pillar object it came from, so it is validated once per
    run, not once per state — which made reruns quadratic in the number of prisoners.  A state run's pillar is
    fixed for the run; the object is compared by identity (a ``repr`` of the whole pillar, the former key, cost
    each state time in proportion to the pillar).  Direct calls validate every time.
    """
    data = pillar if pillar is not None else __pillar__
    memo = _memo() if pillar is None else None
    raw = data.get(model.PILLAR_KEY)
    raw = getattr(raw, "_ImmutableDict__obj", raw)      # the same object under Salt's frozen view
    if memo is not None:
        cached = memo.notes.get("config")
        if cached is not None and cached[0] is raw:
            return cached[1]
    try:
        cfg = model.from_pillar(dict(data))
    except ValidationError as exc:
        raise SaltInvocationError("invalid jailprov pillar:\n  " + "\n  ".join(exc.errors)) from exc
    if memo is not None:
        memo.notes["config"] = (raw, cfg)
    return cfg


def _prisoner_names(cfg, name):
    if name in (None, "", "all"):
        return [p.name for p in cfg.present]
    if name not in cfg.prisoners:
        present = ", ".join(p.name for p in cfg.present) or "none"
        raise SaltInvocationError(f"{name!r} is not a prisoner in the pillar (present prisoners: {present})")
    return [name]


#: The host-wide lock every changing call holds (the host path; /var/run is emptied at boot).
LOCK_PATH = "/var/run/jailprov-host.lock"
#: How long a changing call waits for another run's lock (minion config ``jailprov:lock_timeout``).
LOCK_TIMEOUT = 600


@contextlib.contextmanager
def _host_lock(host, what):
    """Hold the host-wide jailprov lock (``flock`` on LOCK_PATH) while ``what`` changes the host.

    A second run (``state.apply concurrent=True``, a CLI call during a highstate) waits for it, then fails
    naming the holder (pid, minion, function, since when).  Held, the lock also makes it safe to remove the
    temporary files an interrupted write left behind (:mod:`salt_jail.core.io.textedit` does it on its next write).
    """
    timeout = float((__opts__.get("jailprov") or {}).get("lock_timeout", LOCK_TIMEOUT))
    real = host.path(LOCK_PATH)
    try:
        os.makedirs(os.path.dirname(real), mode=0o755, exist_ok=True)
        fd = os.open(real, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o600)
    except OSError as err:
        raise CommandExecutionError(f"cannot open the jailprov lock {LOCK_PATH}: {err.strerror}") from None
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as err:
                if err.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise CommandExecutionError(f"cannot lock {LOCK_PATH}: {err.strerror}") from None
            if time.monotonic() >= deadline:
                holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip() or "an unknown process"
                raise CommandExecutionError(
                    f"jailprov.{what}: another jailprov run holds the host lock {LOCK_PATH} ({holder}); waited "
                    f"{timeout:g} s (jailprov:lock_timeout in the minion config): run again once it has finished")
            time.sleep(0.1)
        since = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        text = f"pid {os.getpid()} on minion {__opts__.get('id')}: jailprov.{what} since {since}\n".encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, text, 0)
        yield
    finally:
        os.close(fd)          # releases the flock


def _call(fn, *args, **kwargs):
    """Run a core function, translating its errors into Salt's.

    In test mode a :class:`MissingError` (no prisoner root, no jail.conf yet...) on a fresh host means an
    earlier step of the same run would create what this one works on: it is reported as a predicted change.
    A call that changes the host (``test=False``) holds the host lock (:func:`_host_lock`).  A failure after
    something was changed (:class:`PartialError`) keeps what was done in ``jailprov_changes`` on the raised
    CommandExecutionError, for the state's ``changes``.
    """
    host = args[0] if args and isinstance(args[0], Host) else None
    locked = _host_lock(host, fn.__name__) if host is not None and kwargs.get("test") is False \
        else contextlib.nullcontext()
    try:
        with locked:
            return fn(*args, **kwargs)
    except PartialError as exc:
        err = CommandExecutionError(str(exc))
        err.jailprov_changes = exc.done
        raise err from exc
    except MissingError as exc:
        if kwargs.get("test"):
            return StepResult(True, f"would run once the earlier steps have created what it needs ({exc})")
        raise CommandExecutionError(str(exc)) from exc
    except ValidationError as exc:
        raise SaltInvocationError("\n".join(exc.errors)) from exc
    except JailprovError as exc:
        raise CommandExecutionError(str(exc)) from exc


def _step(fn, name, test, follow_move=True, **kwargs):
    """A prisoner step; with a move pending (:func:`day2.step_config`) it works on the prisoner's old root."""
    cfg = _config()
    _prisoner_names(cfg, name)
    host = _host()
    if follow_move:
        cfg = _call(day2.step_config, host, cfg, name)
    return _call(fn, host, cfg, name, test=bool(test), **kwargs).as_dict()


def _event_bus():
    """Whether a minion daemon's event bus is there to fire on: its IPC pull socket in ``sock_dir`` (with
    ``ipc_mode: tcp`` there is nothing to look at, so yes).  ``salt-call --local`` on a host without a
    running minion has none, and each ``event.fire`` would wait about a second to find that out."""
    if __opts__.get("ipc_mode") == "tcp":
        return True
    return bool(glob.glob(os.path.join(glob.escape(__opts__.get("sock_dir") or ""), "minion_event_*_pull.ipc")))


def _to_master():
    """Whether ``event.send`` goes to the master (the rule of Salt's ``event.send``): a minion with a master,
    or ``salt-call`` without ``--local``."""
    local = (__opts__.get("local") or __opts__.get("file_client") == "local"
             or __opts__.get("master_type") == "disable")
    return not local or bool(__opts__.get("use_master_when_local"))


def _fire_progress(event):
    """Log progress and send it with ``event.send``: to the master's event bus when there is a master
    (watch it there with ``salt-run state.event 'jailprov/*' pretty=True``), else to the minion's own bus.

    Tag ``jailprov/<step>/<minion id>[/<prisoner>]`` (step: ``release/download``, ``release/decompress``,
    ``release/extract``); data: the core's event (``done``, ``total`` bytes, ``percent``, ``dist``...) plus
    ``minion``, ``step`` and ``prisoner`` (None for the shared release cache).

    Nothing is sent without a bus: masterless with no minion daemon running (:func:`_event_bus`), or
    after ``event.send`` answered False once (each try can wait about a second: a realistic base sends
    ~25 events per extraction, measured in bench/ at ~20 s per prisoner lost otherwise).
    """
    what = event.get("what", "progress")
    minion = __opts__.get("id") or "local"
    prisoner = event.get("prisoner")
    data = dict(event, minion=minion, step=what, prisoner=prisoner)
    tag = f"jailprov/{what}/{minion}" + (f"/{prisoner}" if prisoner else "")
    log.info("jailprov: %s %s/%s bytes", tag, event.get("done"), event.get("total"))
    if "jailprov.no_event_bus" not in __context__:
        __context__["jailprov.no_event_bus"] = not (_to_master() or _event_bus())
    if __context__["jailprov.no_event_bus"]:
        return
    try:
        fired = __salt__["event.send"](tag, data)
    except Exception:  # pylint: disable=broad-except
        log.debug("jailprov: could not send progress event %s", tag, exc_info=True)
        fired = False
    if not fired:
        __context__["jailprov.no_event_bus"] = True


def _salt_fetcher(url, dest, progress=None):
    """Fetch salt:// sources through the master's file server (``cp.get_file``, streamed to disk); every
    other scheme goes to the core's urllib fetcher (which the caller only invokes after checking its verified
    cache, so nothing is downloaded twice)."""
    if not url.startswith("salt://"):
        return release.urllib_fetch(url, dest, progress)
    got = __salt__["cp.get_file"](url, dest, makedirs=True)
    if not got:
        raise release.FetchError(url, "not found on the master's file server", status=404)
    return None


# ------------------------------------------------------------------------------------------------
# Pillar
# ------------------------------------------------------------------------------------------------
def validate(pillar=None):
    """
    Validate the ``jailprov`` pillar and report every problem at once.

    pillar
        A whole pillar dict to check instead of the minion's own (``{"jailprov": {...}}``).

    Returns ``{"valid": bool, "errors": [...]}``; each error names its full key path.  A valid pillar is
    also checked against this host: a prisoner address the host already has (its interfaces, its rc.conf)
    or that a jail the pillar does not manage uses is an error naming both.  A pillar that Salt could not
    render (``_errors``) is invalid.  The command exits non-zero when the pillar is invalid, so
    ``salt-call jailprov.validate`` can gate a CI pipeline.

    CLI Example:

    .. code-block:: bash

        salt '*' jailprov.validate
        salt-call --local jailprov.validate pillar='{"jailprov": {"release": "14.2-RELEASE"}}'
    """
    data = pillar if pillar is not None else __pillar__
    errors = fleet.render_errors(data)
    if not errors:
        try:
            cfg = model.from_pillar(dict(data))
        except ValidationError as exc:
            errors = list(exc.errors)
        else:
            try:
                errors = hostaddr.conflicts(_host(), cfg)
            except JailprovError as exc:
                errors = [f"jailprov:prisoners: cannot check the prisoners' addresses against this host's: {exc}"]
    if errors:
        __context__["retcode"] = 1
    return {"valid": not errors, "errors": errors}


# ------------------------------------------------------------------------------------------------
# Jails: list, start, stop, exec, ping
# ------------------------------------------------------------------------------------------------
def formula_names(pillar=None):
    """
    The prisoner names the ``jail`` formula renders states for, once the whole ``jailprov`` pillar is valid.

    pillar
        A whole pillar dict to use instead of the minion's own (``{"jailprov": {...}}``).

    Returns ``{"valid": bool, "errors": [...], "present": [...], "thin": [...], "absent": [...], "zfs": bool,
    "steps": {...}, "last": {...}}``:
    ``present`` in pillar order, ``thin`` those of type thin, ``zfs`` whether ``jailprov:zfs`` is set, ``absent``
    the names to destroy (``jailprov:absent`` and prisoners marked ``absent: true``), ``steps`` each present
    prisoner's steps in order as ``prisoners.sls`` renders them (``[{id, state, requires}]``, from
    :mod:`salt_jail.core.registry`) and ``last`` the id of the step its ``running`` state requires.  For an
    invalid pillar every list is empty, so ``map.jinja`` renders nothing from the pillar: the formula is then
    the validation state alone, failing with every error.  Only the pure pillar model is checked here (no
    command runs while SLS files render); the validation state adds the checks against this host.

    CLI Example:

    .. code-block:: bash

        salt '*' jailprov.formula_names
    """
    data = pillar if pillar is not None else __pillar__
    try:
        cfg = model.from_pillar(dict(data))
    except ValidationError as exc:
        return {"valid": False, "errors": exc.errors, "present": [], "thin": [], "absent": [], "zfs": False,
                "steps": {}, "last": {}}
    return {"valid": True, "errors": [], "present": [p.name for p in cfg.present],
            "thin": [p.name for p in cfg.present if p.type == "thin"], "absent": list(cfg.absent),
            "zfs": cfg.zfs is not None,
            "steps": {p.name: registry.formula_steps(cfg, p.name) for p in cfg.present},
            "last": {p.name: registry.last_before_start(cfg, p.name) for p in cfg.present}}


def list_():
    """
    List the managed prisoners, every other running jail, and every other jail defined in jail.conf.

    Read from ``jls -v --libxo json`` and jail.conf (and what it includes); names are compared exactly.
    Each entry: ``{name, jid, state: running|stopped|absent, hostname, path, ipv4: [...], ipv6: [...],
    managed, type}``; ``absent``: a prisoner of the pillar that was never built (its root does not exist);
    ``managed: false``: a jail the pillar does not manage, running or stopped; ``type``: thick or thin for a
    managed prisoner, None for another jail.

    CLI Example:

    .. code-block:: bash

        salt '*' jailprov.list
    """
    return _call(lifecycle.list_jails, _host(), _config())


def start(name="all", test=False):
    """
    Start a prisoner (or ``all``: every jail rc.d/jail would start) as rc.d/jail does: ``jail -f CONF -c NAME``.

    CLI Example:

    .. code-block:: bash

        salt '*' jailprov.start prisoner1
        salt '*' jailprov.start all
    """
    cfg = _config()
    if name not in (None, "", "all"):
        _prisoner_names(cfg, name)
    return _call(lifecycle.start, _host(), cfg, name or "all", test=bool(test)).as_dict()


def stop(name="all", test=False):
    """
    Stop a prisoner (or ``all``) as rc.d/jail does: ``jail -q -f CONF -r NAME``.

    CLI Example:

    .. code-block:: bash

        salt '*' jailprov.stop prisoner1
    """
    cfg = _config()
    if name not in (None, "", "all"):
        _prisoner_names(cfg, name)
    return _call(lifecycle.stop, _host(), cfg, name or "all", test=bool(test)).as_dict()


def restart(name="all", test=False):
    """
    Stop then start a prisoner (or ``all``).

    CLI Example:

    .. code-block:: bash

        salt '*' jailprov.restart prisoner2
    """
    cfg = _config()
    if name not in (None, "", "all"):
        _prisoner_names(cfg, name)
    return _call(lifecycle.restart, _host(), cfg, name or "all", test=bool(test)).as_dict()


def exec_(name, cmd, user=None):
    """
    Run a command inside a running prisoner with ``jexec -l [-U user] NAME ...`` (a clean login environment).

    cmd
        The command, as a list or a string split like a shell word list (no shell runs).

    Returns ``{stdout, stderr, retcode}``; the CLI exits with the command's non-zero ``retcode`` (as
    ``cmd.run`` does).

    CLI Example:

    .. code-block:: bash

        salt '*' jailprov.exec prisoner1 hostname
        salt '*' jailprov.exec prisoner1 'ls -l /etc' user=root
    """
    import shlex  # pylint: disable=import-outside-toplevel

    if isinstance(cmd, bool) or not isinstance(cmd, (str, int, float, list, tuple)):
        # `jailprov.exec NAME false` reaches here as the YAML boolean False
        raise SaltInvocationError(f"cmd: expected a command (a string or a list), got {cmd!r}; quote a command "
                                  "that YAML reads as another type: cmd='\"false\"'")
    argv = shlex.split(str(cmd)) if not isinstance(cmd, (list, tuple)) else [str(c) for c in cmd]
    if not argv:
        raise SaltInvocationError("cmd is empty (expected a command to run inside the prisoner)")
    cfg = _config()
    _prisoner_names(cfg, name)
    out = _call(lifecycle.exec_in, _host(), cfg, name, argv, user=user)
    if out.get("retcode"):
        __context__["retcode"] = out["retcode"]
    return out


def ping(name, host, count=3):
    """
    Ping ``host`` from inside a running prisoner and parse FreeBSD's summary.

    Returns ``{transmitted, received, loss_pct, rtt: {min, avg, max, stddev}, ok}``; the CLI exits non-zero
    unless ``ok`` (ping's own verdict: exit status 0 and an answer).

    CLI Example:

    .. code-block:: bash

        salt '*' jailprov.ping prisoner1 192.168.11.30
    """
    cfg = _config()
    _prisoner_names(cfg, name)
    out = _call(lifecycle.ping, _host(), cfg, name, str(host), count=int(count))
    if not out.get("ok"):
        __context__["retcode"] = 1
    return out


# ------------------------------------------------------------------------------------------------
# The prisoner steps: one function per step of the registry, named by its id, and their older names
# ------------------------------------------------------------------------------------------------
def _step_function(step):
    """``jailprov.<step id>(name, test=False[, options])``: step ``step`` of :mod:`salt_jail.core.registry` for one
    prisoner, documented from the registry (``sys.doc jailprov.<step id>``)."""
    def run(name, test=False, **options):
        unknown = sorted(set(options) - {key for key, _ in step.options})
        if unknown:
            raise SaltInvocationError(f"jailprov.{step.id}: unknown argument {', '.join(unknown)}")
        options = {key: bool(options.get(key, default)) for key, default in step.options}
        if step.fetches:
            options.update(fetcher=_salt_fetcher, progress=_fire_progress)
        return _step(step.fn, name, test, follow_move=step.follow_move, **options)

    return registry.module_function(step.id, run, [("name", registry.REQUIRED), ("test", False), *step.options], (
        f"\n{registry.doc_text(step)}\n\n    Step ``{step.id}`` of the registry (SLS id ``jailprov-NAME-{step.id}``)."
        f"\n\n    CLI Example:\n\n    .. code-block:: bash\n\n        salt '*' jailprov.{step.id} prisoner1 test=True"
        f"\n        salt '*' jailprov.{step.id} prisoner1\n"))


registry.generate(globals(), "exec", _step_function)


# ------------------------------------------------------------------------------------------------
# The host's pw.conf, the UID/GID audit, a VNET prisoner's network, every step of one prisoner
# ------------------------------------------------------------------------------------------------
def host_pw_conf(test=False):
    """
    Step 7 on the host: ``/etc/pw.conf`` carries ``jailprov:host:pw_range`` and ``defaultpasswd``.

    CLI Example:

    .. code-block:: bash

        salt '*' jailprov.host_pw_conf test=True
    """
    return _call(uid_ranges.host_pw_conf, _host(), _config(), test=bool(test)).as_dict()


def audit_ids():
    """
    Report accounts whose UID/GID is shared between the host and prisoners, or lies outside its owner's
    range (the tutorial's warning about preinstalled and ports users). Changes nothing.

    CLI Example:

    .. code-block:: bash

        salt '*' jailprov.audit_ids
    """
    return _call(uid_ranges.audit_ids, _host(), _config())


def network(name, test=False):
    """
    VNET prisoners: the prisoner's ``/etc/rc.conf`` configures its epair interface, address and default routes
    (byte-preserving edit), and a running prisoner gets an address or route change live (``jexec NAME ifconfig
    ...``, ``route ...``). A change of bridge or interface name is a restart, done by ``jail_conf``.

    CLI Example:

    .. code-block:: bash

        salt '*' jailprov.network prisoner1 test=True
    """
    return _step(prisoner_network.network, name, test)


def provision(name, test=False):
    """
    Run the prisoner steps in the registry's order ({order}) and return each step's result; stops at the
    first failure.

    CLI Example:

    .. code-block:: bash

        salt '*' jailprov.provision prisoner1
        salt '*' jailprov.provision prisoner1 test=True
    """
    cfg = _config()
    _prisoner_names(cfg, name)
    return _call(provisioning.provision, _host(), cfg, name, test=bool(test), fetcher=_salt_fetcher,
                 progress=_fire_progress)


provision.__doc__ = provision.__doc__.replace("{order}", registry.order_text())


# ------------------------------------------------------------------------------------------------
# Base system (seed step 2)
# ------------------------------------------------------------------------------------------------
def fetch_release(test=False):
    """
    Download the pillar's release (each of ``dists``) once into the cache, verify it against MANIFEST (or the
    pinned ``sha256``) and keep a decompressed, verified copy for extraction. Returns paths and digests.

    CLI Example:

    .. code-block:: bash

        salt '*' jailprov.fetch_release
    """
    return _call(release.fetch_release, _host(), _config(), test=bool(test), fetcher=_salt_fetcher,
                 progress=_fire_progress)


def release_cache(prune=False, test=False):
    """
    List the releases cached in ``cache_dir`` with their files and sizes; ``prune=True`` deletes every
    release no prisoner uses.

    The pillar's release is kept whole while the pillar has prisoners — its decompressed ``.tar`` too:
    each new prisoner is extracted from it (xz is skipped) and the formula keeps it there.  Any other
    release (the one the pillar moved away from) is deleted whole by ``prune=True``, its decompressed
    ``.tar`` with it; prisoners extracted from it do not need it.  ``test=True`` says what would be deleted.

    CLI Example:

    .. code-block:: bash

        salt '*' jailprov.release_cache
        salt '*' jailprov.release_cache prune=True test=True
        salt '*' jailprov.release_cache prune=True
    """
    return _call(release.release_cache, _host(), _config(), prune=bool(prune), test=bool(test))


# ------------------------------------------------------------------------------------------------
# Thin prisoners: the shared release tree and each prisoner's fstab
# ------------------------------------------------------------------------------------------------
def release_tree(test=False):
    """
    The release tree thin prisoners share (``releases_dir/RELEASE-ARCH-DISTS``) is extracted from the verified
    cache and its writable part cut once. The first thin prisoner's base step does this too.

    CLI Example:

    .. code-block:: bash

        salt '*' jailprov.release_tree test=True
    """
    return _call(thin.ensure_tree, _host(), _config(), test=bool(test), fetcher=_salt_fetcher,
                 progress=_fire_progress).as_dict()


def remove_release_tree(release=None, arch=None, dists=None, test=False):  # pylint: disable=redefined-outer-name
    """
    Remove a release tree of ``releases_dir`` (default: the pillar's release, arch and dists). Refused while any
    jail uses it (mounted from it, or listed in its fstab, or a thin prisoner of the pillar); the refusal names
    them.

    CLI Example:

    .. code-block:: bash

        salt '*' jailprov.remove_release_tree release=14.1-RELEASE test=True
    """
    if isinstance(dists, str):
        dists = [d for d in dists.replace("+", ",").split(",") if d]
    return _call(thin.remove_tree, _host(), _config(), release_name=release, arch=arch, dists=dists,
                 test=bool(test)).as_dict()


# ------------------------------------------------------------------------------------------------
# devfs (seed step 8)
# ------------------------------------------------------------------------------------------------
def umount_devfs(name, test=False):
    """
    Unmount the prisoner's devfs.

    CLI Example:

    .. code-block:: bash

        salt '*' jailprov.umount_devfs prisoner1
    """
    return _step(lifecycle.umount_devfs, name, test)


# ------------------------------------------------------------------------------------------------
# Host configuration (seed step 10)
# ------------------------------------------------------------------------------------------------
def host_rc_conf(test=False):
    """
    Step 10: ``jail_enable``, ``jail_list``, ``jail_parallel_start`` and (``host:rc_aliases``) the prisoners'
    ``ifconfig_<if>_aliasN`` lines in the host's rc.conf, edited in place (every other byte kept).

    CLI Example:

    .. code-block:: bash

        salt '*' jailprov.host_rc_conf test=True
    """
    return _call(hostconf.rc_conf, _host(), _config(), test=bool(test)).as_dict()


def jail_conf(name, test=False):
    """
    Step 10: the prisoner's block in ``/etc/jail.conf`` (or ``/etc/jail.conf.d/NAME.conf``); other jails'
    blocks and comments are kept byte for byte. A running prisoner whose block changes is stopped with its old
    configuration, the block written, and the prisoner started again.

    CLI Example:

    .. code-block:: bash

        salt '*' jailprov.jail_conf prisoner1 test=True
    """
    return _step(hostconf.jail_conf, name, test, follow_move=False)


def jail_conf_new(test=False):
    """
    Step 10, once for the host: the blocks of every new prisoner (defined nowhere yet, not running) added to
    the shared ``/etc/jail.conf`` in one edit — one diff for the file on a first highstate, however many
    prisoners; each prisoner's ``jailprov.jail_conf`` then finds its block already correct.  Nothing to do
    with ``jail_conf_layout: jail.conf.d`` (a file per prisoner).

    CLI Example:

    .. code-block:: bash

        salt '*' jailprov.jail_conf_new test=True
    """
    return _call(hostconf.new_blocks, _host(), _config(), test=bool(test)).as_dict()


def unmanaged():
    """
    Jails defined in the host's jail.conf or running that the pillar does not manage (left alone).

    CLI Example:

    .. code-block:: bash

        salt '*' jailprov.unmanaged
    """
    return _call(hostconf.unmanaged, _host(), _config())


# ------------------------------------------------------------------------------------------------
# Destroy (seed step 11)
# ------------------------------------------------------------------------------------------------
def destroy(name, test=False, force=False, destroy_unmanaged=None):
    """
    Step 11: stop the prisoner, unmount everything below its root, clear every file flag (``chflags -R 0``),
    remove the tree, and remove it from jail.conf, jail_list and the rc.conf aliases. Refuses a prisoner still in
    the pillar unless ``force=True``, and any path not strictly inside ``jail_root``.

    Destroys only what jailprov built (its install stamp in the tree, or its jail.conf block for a prisoner the
    pillar names): a plain directory or an administrator's own jail is refused whatever ``force`` says, unless
    ``destroy_unmanaged`` repeats the name. A name of which nothing exists is no change.

    CLI Example:

    .. code-block:: bash

        salt '*' jailprov.destroy oldprisoner test=True
        salt '*' jailprov.destroy oldprisoner
        salt '*' jailprov.destroy handmade destroy_unmanaged=handmade
    """
    cfg = _config()
    return _call(lifecycle.destroy, _host(), cfg, name, test=bool(test), force=bool(force),
                 destroy_unmanaged=destroy_unmanaged).as_dict()


def clean(test=False):
    """
    The inverse of the ``jail`` formula (``state.apply jail.clean``): destroy every prisoner jailprov manages
    (the pillar's, present or absent, and every tree below ``jail_root`` with jailprov's install stamp), then
    give back the host files jailprov changed (rc.conf, jail.conf, jail.conf.d, pw.conf) the text they had
    before it first wrote them — when they still hold what jailprov last wrote — and remove the release tree
    and release dataset it made when nothing else uses them. Never touches a jail jailprov did not build (an
    administrator's own block, directory or running jail); a file someone else changed since jailprov wrote it
    is kept and reported. The release download cache is kept.

    CLI Example:

    .. code-block:: bash

        salt '*' jailprov.clean test=True
        salt '*' jailprov.clean
    """
    from salt_jail.core.features import clean as inverse  # pylint: disable=import-outside-toplevel

    return _call(inverse.clean, _host(), _config(), test=bool(test)).as_dict()


# ------------------------------------------------------------------------------------------------
# ZFS prisoners (storage: dataset | clone; salt_jail.core.features.zfsprov)
# ------------------------------------------------------------------------------------------------
def zfs_host(test=False):
    """
    The prisoners' parent dataset (``jailprov:zfs:dataset``) is mounted on ``jail_root``, and, when a prisoner
    is a clone, the release dataset holds the verified release with its snapshot (named after the archives'
    digests: made once, never again).

    CLI Example:

    .. code-block:: bash

        salt '*' jailprov.zfs_host test=True
    """
    return _call(zfsprov.host_datasets, _host(), _config(), test=bool(test), fetcher=_salt_fetcher,
                 progress=_fire_progress).as_dict()


def snapshot(name, snapshot, test=False):  # pylint: disable=redefined-outer-name
    """
    Take snapshot ``snapshot`` of the prisoner's dataset (no change when it exists).

    CLI Example:

    .. code-block:: bash

        salt '*' jailprov.snapshot web1 before-upgrade
    """
    cfg = _config()
    _prisoner_names(cfg, name)
    return _call(zfsprov.snapshot, _host(), cfg, name, str(snapshot), test=bool(test)).as_dict()


def list_snapshots(name):
    """
    The prisoner's snapshots, oldest first: ``[{name, snapshot, creation, used, referenced}]``.

    CLI Example:

    .. code-block:: bash

        salt '*' jailprov.list_snapshots web1
    """
    cfg = _config()
    _prisoner_names(cfg, name)
    return _call(zfsprov.list_snapshots, _host(), cfg, name)


def rollback(name, snapshot, destroy_later=False, test=False):  # pylint: disable=redefined-outer-name
    """
    Roll the prisoner back to ``snapshot``: stop it if it runs, ``zfs rollback``, start it again. Refused while
    newer snapshots exist unless ``destroy_later=True`` (they are destroyed), and while newer snapshots have
    clones.

    CLI Example:

    .. code-block:: bash

        salt '*' jailprov.rollback web1 before-upgrade
        salt '*' jailprov.rollback web1 before-upgrade destroy_later=True
    """
    cfg = _config()
    _prisoner_names(cfg, name)
    return _call(zfsprov.rollback, _host(), cfg, name, str(snapshot), test=bool(test),
                 destroy_later=bool(destroy_later)).as_dict()


def destroy_release(test=False):
    """
    Destroy the pillar's release dataset and its snapshot; refused (naming them) while clones depend on it.

    CLI Example:

    .. code-block:: bash

        salt '*' jailprov.destroy_release test=True
    """
    return _call(zfsprov.destroy_release, _host(), _config(), test=bool(test)).as_dict()


# ------------------------------------------------------------------------------------------------
# Day-2: the prisoner's last state
# ------------------------------------------------------------------------------------------------
def ensure_running(name, test=False, after_jail_conf=False):
    """
    The prisoner's last state: start it when stopped (moving its root first when its path changed), apply a
    changed configuration live with ``jail -f CONF -m NAME`` when only parameters the kernel lets change live
    differ, else restart it — stopped with the configuration it was started with, started with the new one.
    With ``auto_restart: false`` a needed restart is an error naming the parameters.

    after_jail_conf
        The prisoner's jail.conf state runs before this call (as in the formula): in a test run, its block is
        taken as that state would write it.  Default: the configuration files as they are.

    CLI Example:

    .. code-block:: bash

        salt '*' jailprov.ensure_running prisoner1 test=True
    """
    return _step(day2.converge, name, test, follow_move=False, after_jail_conf=bool(after_jail_conf))


def restart_pending(name):
    """
    What the prisoner's last state still has to do (a start, a live change, a restart or a move, and why).
    Changes nothing.

    CLI Example:

    .. code-block:: bash

        salt '*' jailprov.restart_pending prisoner1
    """
    cfg = _config()
    _prisoner_names(cfg, name)
    return _call(day2.pending, _host(), cfg, name).as_dict()


# ------------------------------------------------------------------------------------------------
# No tracebacks: OSError and ValueError become Salt errors naming the path and the operation
# ------------------------------------------------------------------------------------------------
def _guard(func):
    @functools.wraps(func)
    def guarded(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (CommandExecutionError, SaltInvocationError):
            raise
        except OSError as err:
            where = " -> ".join(str(f) for f in (err.filename, err.filename2) if f is not None)
            raise CommandExecutionError(
                f"jailprov.{func.__name__.rstrip('_')}: {err.strerror or err}" + (f": {where}" if where else "")
            ) from err
        except ValueError as err:
            raise SaltInvocationError(f"jailprov.{func.__name__.rstrip('_')}: {err}") from err
    return guarded


for _name, _func in list(globals().items()):
    if inspect.isfunction(_func) and not _name.startswith("_") and _func.__module__ == __name__:
        globals()[_name] = _guard(_func)
del _name, _func
