"""Helpers for the tests that apply the formula, through Salt's loader (functional) or a salt-master
(integration): the states keyed by SLS id, what failed, what changed."""


def apply_jail(loaders, test=False):
    """``state.apply jail`` through ``loaders`` (test mode when ``test``); the states keyed by their SLS id."""
    ret = loaders.modules.state.apply("jail", test=test)
    states = getattr(ret, "raw", ret)
    assert isinstance(states, dict), states
    return {s["__id__"]: s for s in states.values()}


def salt_apply(salt_cli, minion_id, *args):
    """``salt MINION state.apply jail ARGS...`` through the master; the CLI's return (``.data``: the states)."""
    ret = salt_cli.run("state.apply", "jail", *args, minion_tgt=minion_id, _timeout=600)
    assert isinstance(ret.data, dict), ret
    return ret


def failed(states):
    """SLS id -> comment of every state that failed."""
    return {s["__id__"]: s["comment"] for s in states.values() if s["result"] is False}


def changed(states):
    """The SLS ids of the states that changed something, sorted."""
    return sorted(s["__id__"] for s in states.values() if s["changes"])
