"""The state module's hand-over of the query memo: kept across jailprov states of one run, dropped by a
foreign state, a new run, or the first state of any run."""

import pytest

from salt_jail.states import jailprov as states


@pytest.fixture
def ctx(monkeypatch):
    context = {}
    monkeypatch.setattr(states, "__context__", context, raising=False)
    return context


def _call(monkeypatch, ctx, done, run="run-1"):
    """One state call after the states ``done`` (their tags), in run ``run``: returns the answers dict it armed."""
    monkeypatch.setattr(states, "__running__", dict.fromkeys(done, {}), raising=False)
    monkeypatch.setattr(states, "__instance_id__", run, raising=False)
    with states._query_memo():
        assert ctx["jailprov.memo.armed"] is True
        answers = ctx["jailprov.memo.answers"]
        answers.setdefault("calls", 0)
        answers["calls"] += 1
    assert ctx["jailprov.memo.armed"] is False
    return answers


OURS = ["jailprov_|-a_|-p1_|-prisoner_root", "jailprov_|-b_|-p1_|-hosts", "jailprov_|-c_|-p2_|-hosts"]


def test_kept_across_our_states_dropped_by_a_foreign_one(monkeypatch, ctx):
    first = _call(monkeypatch, ctx, [])
    assert _call(monkeypatch, ctx, OURS[:1]) is first
    assert _call(monkeypatch, ctx, OURS[:2]) is first and first["calls"] == 3
    foreign = OURS[:2] + ["cmd_|-start_|-jail -c p1_|-run"]
    after = _call(monkeypatch, ctx, foreign)
    assert after is not first and after["calls"] == 1
    assert _call(monkeypatch, ctx, foreign + OURS[2:]) is after


def test_a_new_run_starts_afresh_even_with_the_same_instance_id(monkeypatch, ctx):
    first = _call(monkeypatch, ctx, [])                                  # a run whose only jailprov state is its first
    assert _call(monkeypatch, ctx, [], run="run-1") is not first          # next run, id() reused
    kept = _call(monkeypatch, ctx, OURS[:1], run="run-1")
    assert _call(monkeypatch, ctx, [], run="run-1") is not kept
    second = _call(monkeypatch, ctx, [], run="run-2")
    assert _call(monkeypatch, ctx, OURS[:1], run="run-3") is not second   # another run


def test_outside_a_state_run_nothing_is_armed(monkeypatch, ctx):
    monkeypatch.delattr(states, "__running__", raising=False)
    monkeypatch.delattr(states, "__instance_id__", raising=False)
    with states._query_memo():
        assert not ctx.get("jailprov.memo.armed")
