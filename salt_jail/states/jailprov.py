"""
State functions for the ``jailprov`` formula: one state per step of the FreeBSD jail procedure.

Each state calls the execution function of the same step with ``test=__opts__["test"]`` — the very same
code in test mode and in a real run — so a dry run predicts exactly what a run does.  The state's
``name`` is the prisoner (or ``host`` / ``pillar`` for host-wide states).

.. code-block:: yaml

    jailprov-prisoner1-syslog:
      jailprov.syslog:
        - name: prisoner1

The prisoner steps' states are generated from the step registry (:mod:`salt_jail.core.registry`), one per step,
named by its id; the names they had before stay as aliases (``jailprov.devfs_mounted`` = ``jailprov.devfs``...).
"""

import contextlib

from salt.exceptions import CommandExecutionError, SaltInvocationError

from salt_jail.core import registry
from salt_jail.core.io.memo import QueryMemo

__virtualname__ = "jailprov"


def __virtual__():
    if "jailprov.validate" in __salt__:
        return __virtualname__
    return (False, "the jailprov execution module is not available on this minion (see its __virtual__ reason)")


def _ret(name):
    return {"name": name, "result": True, "changes": {}, "comment": ""}


_OURS = __virtualname__ + "_|-"
#: Where ``__context__`` keeps this state run's query memo for the execution module (see :func:`_query_memo`).
MEMO_KEY = "jailprov.memo"


def _completed_since(running, count):
    """The tags of the states that completed after the first ``count`` of ``running`` (Salt's ``__running__``,
    in completion order), read from its end: a state's cost must not grow with the number of states before it."""
    new = len(running) - count
    if new <= 0:
        return []
    raw = getattr(running, "_ImmutableDict__obj", running)   # Salt hands the run's dict over frozen
    try:
        tags = reversed(raw)
    except TypeError:                                       # not a dict: read it all
        return list(running)[count:]
    return [tag for tag, _ in zip(tags, range(new))]


@contextlib.contextmanager
def _query_memo():
    """Hand the execution module this state run's :class:`~salt_jail.core.io.memo.QueryMemo` (the answers of
    read-only queries such as ``jls`` and ``mount -p``) while one jailprov state runs, and yield it (None when
    not called by a state run): a highstate of N prisoners asks once instead of N times.

    The Salt side of the memo, all of it here: a state run is Salt's ``__instance_id__`` plus ``__running__``
    (the states completed so far); the memo lives in ``__context__[MEMO_KEY]`` as ``{"run", "done", "memo",
    "armed"}``, armed only while a jailprov state runs, so direct calls (``salt '*' jailprov.list``) always ask
    the host.  A new run gets a new memo; a state of another module completed since the last jailprov state
    (a ``cmd.run`` may have started a jail) invalidates it.  The execution module's host empties it itself
    whenever it runs a command that may change the host (:meth:`QueryMemo.command`)."""
    running = globals().get("__running__")
    run = globals().get("__instance_id__")
    if running is None or run is None:      # not called by a state run
        yield None
        return
    done = len(running)
    held = __context__.get(MEMO_KEY)
    if held is None or not done or held["run"] != run or done < held["done"]:
        # the first state of a run (nothing done yet) always starts afresh: a minion without multiprocessing
        # keeps __context__ from run to run, and a new run's __instance_id__ may reuse the old one's id()
        held = {"run": run, "done": 0, "memo": QueryMemo()}
    elif any(not tag.startswith(_OURS) for tag in _completed_since(running, held["done"])):
        held["memo"].invalidate()
    held["done"] = done
    held["armed"] = True
    __context__[MEMO_KEY] = held
    try:
        yield held["memo"]
    finally:
        held["armed"] = False


def _run_step(name, func, *args, **kwargs):
    """Call ``jailprov.<func>`` and turn its ``{changed, comment, diff, ...}`` into a state return."""
    ret = _ret(name)
    test = bool(__opts__.get("test"))
    try:
        with _query_memo():
            out = __salt__[f"jailprov.{func}"](*args, test=test, **kwargs)
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret["result"] = False
        ret["comment"] = str(exc)
        ret["changes"] = dict(getattr(exc, "jailprov_changes", None) or {})   # what it did before failing
        return ret
    ret["comment"] = out.get("comment", "")
    if out.get("changed"):
        changes = {k: v for k, v in out.items() if k not in ("changed", "comment") and v not in ("", None, [], {})}
        if not changes:
            changes = {"changed": True}   # what changed is in the comment: never repeated here
        ret["changes"] = changes
        if test:
            ret["result"] = None
    return ret


def validated(name="pillar"):
    """
    Fail with every validation error of the ``jailprov`` pillar, so that a formula requiring this state changes
    nothing on a bad pillar.

    .. code-block:: yaml

        jailprov-pillar-valid:
          jailprov.validated
    """
    ret = _ret(name)
    with _query_memo():  # the host check's jls answer serves the states after this one
        out = __salt__["jailprov.validate"]()
    if out["valid"]:
        ret["comment"] = "The jailprov pillar is valid"
    else:
        ret["result"] = False
        ret["comment"] = "Invalid jailprov pillar; nothing was changed:\n" + "\n".join(out["errors"])
    return ret


def _step_state(step):
    """State ``jailprov.<step id>``: step ``step`` of :mod:`salt_jail.core.registry` for prisoner ``name``, through
    the execution function of the same name."""
    def run(name, **options):
        return _run_step(name, step.id, name, **options)

    return registry.module_function(step.id, run, [("name", registry.REQUIRED), *step.options], (
        f"\n{registry.doc_text(step)}\n\n    .. code-block:: yaml\n\n        jailprov-prisoner1-{step.id}:\n"
        f"          jailprov.{step.id}:\n            - name: prisoner1\n"))


registry.generate(globals(), "state", _step_state)


def release_fetched(name="release"):
    """
    Step 2 (once per minion): the pillar's release is downloaded, verified against MANIFEST (or the pinned
    sha256) and cached decompressed.

    .. code-block:: yaml

        jailprov-release:
          jailprov.release_fetched
    """
    return _run_step(name, "fetch_release")


def release_tree_absent(name="release", release=None, arch=None, dists=None):  # pylint: disable=redefined-outer-name
    """A release tree of thin prisoners is removed (refused, naming them, while any jail uses it).

    .. code-block:: yaml

        jailprov-release-14.1-absent:
          jailprov.release_tree_absent:
            - release: 14.1-RELEASE
    """
    return _run_step(name, "remove_release_tree", release=release, arch=arch, dists=dists)


def host_pw_conf(name="host"):
    """Step 7 on the host: /etc/pw.conf carries the host's UID/GID range.

    .. code-block:: yaml

        jailprov-host-pw_conf:
          jailprov.host_pw_conf
    """
    return _run_step(name, "host_pw_conf")


def network(name):
    """VNET prisoners: the prisoner's rc.conf network lines, and the live address and routes of a running one.

    .. code-block:: yaml

        jailprov-prisoner1-network:
          jailprov.network:
            - name: prisoner1
    """
    return _run_step(name, "network", name)


def rc_conf(name="host"):
    """Step 10: the host's rc.conf jail settings and (optionally) the prisoners' interface aliases.

    .. code-block:: yaml

        jailprov-host-rc_conf:
          jailprov.rc_conf
    """
    return _run_step(name, "host_rc_conf")


def jail_conf_new(name="host"):
    """Step 10 for the host: the blocks of every new prisoner added to the shared jail.conf in one edit (one
    diff for the file); the prisoners' own ``jailprov.jail_conf`` states then find them correct.

    .. code-block:: yaml

        jailprov-host-jail_conf:
          jailprov.jail_conf_new
    """
    ret = _run_step(name, "jail_conf_new")
    if ret["result"] is None:
        # test mode writes nothing: tell this run's jail_conf states which blocks the run would have added
        with _query_memo() as memo:
            if memo is not None:
                memo.notes["jail_conf_new"] = frozenset(ret["changes"].get("added", []))
    return ret


def jail_conf(name):
    """Step 10: the prisoner's block in the host's jail.conf (restarting it with the old configuration stopped
    first when it is running and its block changes).

    .. code-block:: yaml

        jailprov-prisoner1-jail_conf:
          jailprov.jail_conf:
            - name: prisoner1
    """
    if __opts__.get("test"):
        with _query_memo() as memo:
            predicted = memo.notes.get("jail_conf_new", ()) if memo is not None else ()
        if name in predicted:
            ret = _ret(name)
            ret["comment"] = (f"jail.conf entry of {name}: already correct once jailprov-host-jail_conf has added "
                              "it in this run")
            return ret
    return _run_step(name, "jail_conf", name)


def running(name, after_jail_conf=False):
    """Step 12, the prisoner's last state: it runs with its configuration — started when stopped (moved first
    when its path changed), changed live (``jail -f CONF -m NAME``) when only parameters the kernel lets change
    live differ, else restarted (stopped with the configuration it was started with, started with the new one).
    Require every earlier state of the prisoner: it runs only when they all succeeded.  ``after_jail_conf:
    True`` (the formula) says the prisoner's jail.conf state runs before: a test run predicts with its block.

    .. code-block:: yaml

        jailprov-prisoner1-running:
          jailprov.running:
            - name: prisoner1
    """
    return _run_step(name, "ensure_running", name, after_jail_conf=after_jail_conf)


def restart_pending(name):
    """Report what a prisoner's last state left undone because an earlier state failed: ``onfail`` of its
    ``running`` state.  Fails (so the run shows it) when a start, live change, restart or move is pending;
    changes nothing.

    .. code-block:: yaml

        jailprov-prisoner1-restart_pending:
          jailprov.restart_pending:
            - name: prisoner1
            - onfail:
              - jailprov: jailprov-prisoner1-running
    """
    ret = _ret(name)
    running = globals().get("__running__") or {}
    state_id = f"jailprov-{name}-running"
    last = [running[tag] for tag in (f"{_OURS}{state_id}_|-{name}_|-running",) if tag in running]   # the formula's
    if not last:
        last = [v for v in running.values() if hasattr(v, "get") and v.get("__id__") == state_id]
    if last and last[0].get("result") is not False:       # onfail also fires on a test run's None
        ret["comment"] = f"the last state of {name} did not fail"
        return ret
    try:
        with _query_memo():
            out = __salt__["jailprov.restart_pending"](name)
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret.update(result=False, comment=f"cannot tell what is pending for {name}: {exc}")
        return ret
    if not out.get("changed"):
        ret["comment"] = out.get("comment", "")
        return ret
    done = [v for v in running.values() if hasattr(v, "get")]
    causes = [f"{v.get('__id__')}: {str(v.get('comment', '')).splitlines()[0]}" for v in done
              if v.get("result") is False and v.get("comment")
              and not str(v.get("comment")).startswith("One or more requisite failed")]
    ret["result"] = False
    ret["comment"] = (f"{name} keeps running on its current configuration (or stays stopped): pending, because an "
                      f"earlier state failed: {out['comment']}" + ("\nFailed: " + "; ".join(causes) if causes else ""))
    return ret


def stopped(name):
    """Step 12: the prisoner is stopped (``jail -q -f CONF -r NAME``).

    .. code-block:: yaml

        jailprov-prisoner1-stopped:
          jailprov.stopped:
            - name: prisoner1
    """
    return _run_step(name, "stop", name)


def absent(name, force=False, destroy_unmanaged=None):
    """Step 11: the prisoner is destroyed — stopped, unmounted, flags cleared, tree removed, host config removed.
    Refuses a prisoner still present in the pillar unless ``force``, and anything jailprov did not build unless
    ``destroy_unmanaged`` repeats the name; a name of which nothing exists is already absent.

    .. code-block:: yaml

        jailprov-oldprisoner-absent:
          jailprov.absent:
            - name: oldprisoner
    """
    return _run_step(name, "destroy", name, force=force, destroy_unmanaged=destroy_unmanaged)


def cleaned(name="host"):
    """The inverse of the formula (``jail.clean``): every prisoner jailprov manages is destroyed and the host
    files it changed are given back the administrator's text; an administrator's own jail is never touched.

    .. code-block:: yaml

        jailprov-host-clean:
          jailprov.cleaned:
            - name: host
    """
    return _run_step(name, "clean")


def unmanaged_reported(name="host"):
    """Report (never touch) jails on this host that the pillar does not manage.

    .. code-block:: yaml

        jailprov-host-unmanaged:
          jailprov.unmanaged_reported
    """
    ret = _ret(name)
    try:
        with _query_memo():
            names = __salt__["jailprov.unmanaged"]()
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    ret["comment"] = (f"Unmanaged jails left alone: {', '.join(names)}" if names
                      else "No unmanaged jails on this host")
    return ret


def zfs_host(name="zfs"):
    """ZFS (once per minion): the prisoners' parent dataset on jail_root and, for clone prisoners, the release
    dataset with its snapshot.

    .. code-block:: yaml

        jailprov-zfs:
          jailprov.zfs_host
    """
    return _run_step(name, "zfs_host")


def snapshot_present(name, snapshot):
    """Snapshot ``snapshot`` of the prisoner's dataset exists.

    .. code-block:: yaml

        jailprov-web1-before-upgrade:
          jailprov.snapshot_present:
            - name: web1
            - snapshot: before-upgrade
    """
    return _run_step(name, "snapshot", name, snapshot)


def rolled_back(name, snapshot, destroy_later=False):
    """Roll the prisoner back to ``snapshot`` (stopped first, started again). Every run rolls back: use it in an
    orchestration or with ``onchanges``, not in a highstate.

    .. code-block:: yaml

        jailprov-web1-rollback:
          jailprov.rolled_back:
            - name: web1
            - snapshot: before-upgrade
    """
    return _run_step(name, "rollback", name, snapshot, destroy_later=destroy_later)


def release_absent(name="release"):
    """The pillar's release dataset is destroyed — refused, naming them, while clones depend on its snapshot.

    .. code-block:: yaml

        jailprov-release-absent:
          jailprov.release_absent
    """
    return _run_step(name, "destroy_release")
