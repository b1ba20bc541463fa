"""
State functions for the ``jailprov`` formula: one state per step of the FreeBSD jail procedure.

Each state calls the execution function of the same step with ``test=__opts__["test"]`` — the very same
code in test mode and in a real run — so a dry run predicts exactly what a run does.  The state's
``name`` is the prisoner (or ``host`` / ``pillar`` for host-wide states).

.. code-block:: yaml

    jailprov-prisoner1-syslog:
      jailprov.syslog_console:
        - name: prisoner1
"""

from salt.exceptions import CommandExecutionError, SaltInvocationError

__virtualname__ = "jailprov"


def __virtual__():
    if "jailprov.validate" in __salt__:
        return __virtualname__
    return (False, "the jailprov execution module is not available on this minion (see its __virtual__ reason)")


def _ret(name):
    return {"name": name, "result": True, "changes": {}, "comment": ""}


def _run_step(name, func, *args, **kwargs):
    """Call ``jailprov.<func>`` and turn its ``{changed, comment, diff, ...}`` into a state return."""
    ret = _ret(name)
    test = bool(__opts__.get("test"))
    try:
        out = __salt__[f"jailprov.{func}"](*args, test=test, **kwargs)
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret["result"] = False
        ret["comment"] = str(exc)
        return ret
    ret["comment"] = out.get("comment", "")
    if out.get("changed"):
        changes = {k: v for k, v in out.items() if k not in ("changed", "comment") and v not in ("", None, [], {})}
        if not changes:
            changes = {"changed": ret["comment"]}
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
    out = __salt__["jailprov.validate"]()
    if out["valid"]:
        ret["comment"] = "The jailprov pillar is valid"
    else:
        ret["result"] = False
        ret["comment"] = "Invalid jailprov pillar; nothing was changed:\n" + "\n".join(out["errors"])
    return ret
