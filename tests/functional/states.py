"""Helpers shared by the functional tests that apply the formula through Salt's loader."""


def apply_jail(loaders, test=False):
    """``state.apply jail`` (test mode when ``test``); the returned states keyed by their SLS id."""
    ret = loaders.modules.state.apply("jail", test=test)
    states = getattr(ret, "raw", ret)
    assert isinstance(states, dict), states
    return {s["__id__"]: s for s in states.values()}


def failed(states):
    """SLS id -> comment of every state that failed."""
    return {sid: s["comment"] for sid, s in states.items() if s["result"] is False}


def changed(states):
    """The SLS ids of the states that changed something, sorted."""
    return sorted(sid for sid, s in states.items() if s["changes"])
