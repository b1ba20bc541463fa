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

import logging

from salt.exceptions import CommandExecutionError, SaltInvocationError

from salt_jail.core import model  # TEMP
#TEMPhostconf
from salt_jail.core.errors import JailprovError, ValidationError
from salt_jail.core.host import CmdResult, Host

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


def _host():
    settings = __opts__.get("jailprov") or {}
    if settings.get("rehearsal"):
        from salt_jail import rehearsal  # pylint: disable=import-outside-toplevel

        root = settings["root"]
        return Host(root=root, runner=_runner, bindir=rehearsal.setup(root))
    return Host(root="/", runner=_runner)


def _config(pillar=None):
    """The validated model; ``pillar`` is a whole pillar dict (default: the minion's)."""
    data = pillar if pillar is not None else __pillar__
    try:
        return model.from_pillar(dict(data))
    except ValidationError as exc:
        raise SaltInvocationError("invalid jailprov pillar:\n  " + "\n  ".join(exc.errors)) from exc


def _prisoner_names(cfg, name):
    if name in (None, "", "all"):
        return [p.name for p in cfg.present]
    if name not in cfg.prisoners:
        raise SaltInvocationError(
            f"{name!r} is not a prisoner in the pillar (jailprov:prisoners has: {', '.join(cfg.prisoners) or 'none'})")
    return [name]


def _call(fn, *args, **kwargs):
    """Run a core function, translating its errors into Salt's."""
    try:
        return fn(*args, **kwargs)
    except ValidationError as exc:
        raise SaltInvocationError("\n".join(exc.errors)) from exc
    except JailprovError as exc:
        raise CommandExecutionError(str(exc)) from exc


def _step(fn, name, test, **kwargs):
    cfg = _config()
    _prisoner_names(cfg, name)
    return _call(fn, _host(), cfg, name, test=bool(test), **kwargs).as_dict()


def _fire_progress(event):
    tag = "jailprov/{}".format(event.get("what", "progress"))
    log.info("jailprov: %s %s/%s bytes", event.get("what"), event.get("done"), event.get("total"))
    try:
        __salt__["event.fire"](event, tag)
    except Exception:  # pylint: disable=broad-except
        log.debug("jailprov: could not fire progress event %s", tag, exc_info=True)


def _salt_fetcher(url, dest, progress=None):
    """Fetch salt:// sources through the master's file server (``cp.get_file``)."""
    got = __salt__["cp.get_file"](url, dest, makedirs=True)
    if not got:
        raise JailprovError(f"{url} not found on the master's file server")


# ------------------------------------------------------------------------------------------------
# Pillar
# ------------------------------------------------------------------------------------------------
def validate(pillar=None):
    """
    Validate the ``jailprov`` pillar and report every problem at once.

    pillar
        A whole pillar dict to check instead of the minion's own (``{"jailprov": {...}}``).

    Returns ``{"valid": bool, "errors": [...]}``; each error names its full key path.

    CLI Example:

    .. code-block:: bash

        salt '*' jailprov.validate
        salt-call --local jailprov.validate pillar='{"jailprov": {"release": "14.2-RELEASE"}}'
    """
    data = pillar if pillar is not None else __pillar__
    try:
        model.from_pillar(dict(data))
    except ValidationError as exc:
        return {"valid": False, "errors": exc.errors}
    return {"valid": True, "errors": []}


# ------------------------------------------------------------------------------------------------
# Jails: list, start, stop, exec, ping
# ------------------------------------------------------------------------------------------------
def list_():
    """
    List the managed prisoners (running or stopped) and every other running jail.

    Read from ``jls -v --libxo json``; names are compared exactly. Each entry:
    ``{name, jid, state: running|stopped, hostname, path, ipv4: [...], ipv6: [...], managed}``.

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

    Returns ``{stdout, stderr, retcode}``.

    CLI Example:

    .. code-block:: bash

        salt '*' jailprov.exec prisoner1 hostname
        salt '*' jailprov.exec prisoner1 'ls -l /etc' user=root
    """
    import shlex  # pylint: disable=import-outside-toplevel

    argv = shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]
    if not argv:
        raise SaltInvocationError("cmd is empty (expected a command to run inside the prisoner)")
    cfg = _config()
    _prisoner_names(cfg, name)
    return _call(lifecycle.exec_in, _host(), cfg, name, argv, user=user)


def ping(name, host, count=3):
    """
    Ping ``host`` from inside a running prisoner and parse FreeBSD's summary.

    Returns ``{transmitted, received, loss_pct, rtt: {min, avg, max, stddev}, ok}``.

    CLI Example:

    .. code-block:: bash

        salt '*' jailprov.ping prisoner1 192.168.11.30
    """
    cfg = _config()
    _prisoner_names(cfg, name)
    return _call(lifecycle.ping, _host(), cfg, name, str(host), count=int(count))
