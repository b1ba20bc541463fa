"""The state module's hand-over of the query memo (salt_jail.core.io.memo.QueryMemo): its answers kept across
jailprov states of one run, dropped by a foreign state, a new run, or the first state of any run."""

import pytest
from salt.utils import immutabletypes

from salt_jail.core.io.memo import QueryMemo
from salt_jail.states import jailprov as states


@pytest.fixture
def ctx(monkeypatch):
    context = {}
    monkeypatch.setattr(states, "__context__", context, raising=False)
    return context


def _call(monkeypatch, ctx, done, run="run-1"):
    """One state call after the states ``done`` (their tags), in run ``run``, as Salt makes it (``__running__``
    frozen): returns (the memo it armed, whether the ``jls`` answer it asked for was already kept)."""
    monkeypatch.setattr(states, "__running__", immutabletypes.freeze(dict.fromkeys(done, {})), raising=False)
    monkeypatch.setattr(states, "__instance_id__", run, raising=False)
    asked = []
    with states._query_memo() as memo:
        assert isinstance(memo, QueryMemo)
        assert ctx[states.MEMO_KEY]["armed"] is True and ctx[states.MEMO_KEY]["memo"] is memo
        memo.answer(["jls"], lambda: asked.append("jls") or "answer")
    assert ctx[states.MEMO_KEY]["armed"] is False
    return memo, not asked


OURS = ["jailprov_|-a_|-p1_|-prisoner_root", "jailprov_|-b_|-p1_|-hosts", "jailprov_|-c_|-p2_|-hosts"]


def test_kept_across_our_states_dropped_by_a_foreign_one(monkeypatch, ctx):
    first, kept = _call(monkeypatch, ctx, [])
    assert not kept
    assert _call(monkeypatch, ctx, OURS[:1]) == (first, True)
    assert _call(monkeypatch, ctx, OURS[:2]) == (first, True)
    foreign = OURS[:2] + ["cmd_|-start_|-jail -c p1_|-run"]
    after, kept = _call(monkeypatch, ctx, foreign)
    assert not kept                                       # the cmd.run may have started p1: jls is asked again
    assert _call(monkeypatch, ctx, foreign + OURS[2:]) == (after, True)


def test_a_foreign_state_among_several_new_ones_is_seen(monkeypatch, ctx):
    _call(monkeypatch, ctx, OURS[:1])
    _, kept = _call(monkeypatch, ctx, OURS[:1] + ["cmd_|-x_|-x_|-run"] + OURS[1:])   # not the newest one
    assert not kept


def test_a_new_run_starts_afresh_even_with_the_same_instance_id(monkeypatch, ctx):
    first, _ = _call(monkeypatch, ctx, [])                                   # a run whose only jailprov state is its first
    again, kept = _call(monkeypatch, ctx, [], run="run-1")                  # next run, id() reused
    assert again is not first and not kept
    kept_memo, kept = _call(monkeypatch, ctx, OURS[:1], run="run-1")
    assert kept_memo is again and kept
    assert _call(monkeypatch, ctx, [], run="run-1")[0] is not kept_memo
    second, _ = _call(monkeypatch, ctx, [], run="run-2")
    third, kept = _call(monkeypatch, ctx, OURS[:1], run="run-3")           # another run
    assert third is not second and not kept
    fewer, kept = _call(monkeypatch, ctx, OURS[:2], run="run-3")
    assert fewer is third and kept
    assert _call(monkeypatch, ctx, OURS[:1], run="run-3")[0] is not third    # fewer states done: another run


def test_notes_live_as_long_as_the_run(monkeypatch, ctx):
    first, _ = _call(monkeypatch, ctx, [])
    first.notes["jail_conf_new"] = ["p1"]
    _call(monkeypatch, ctx, OURS[:1] + ["cmd_|-x_|-x_|-run"])                # a foreign state drops answers only
    assert ctx[states.MEMO_KEY]["memo"].notes == {"jail_conf_new": ["p1"]}
    assert _call(monkeypatch, ctx, [], run="run-2")[0].notes == {}


def test_outside_a_state_run_nothing_is_armed(monkeypatch, ctx):
    monkeypatch.delattr(states, "__running__", raising=False)
    monkeypatch.delattr(states, "__instance_id__", raising=False)
    with states._query_memo() as memo:
        assert memo is None
        assert not ctx.get(states.MEMO_KEY)


def test_the_cost_of_a_state_does_not_read_every_earlier_state(monkeypatch, ctx):
    """Only the states completed since the last jailprov state are read (the others are not even iterated)."""

    class Running(dict):
        def __iter__(self):
            raise AssertionError("__running__ iterated from its start")

    tags = [f"jailprov_|-s{i}_|-p_|-hosts" for i in range(1000)]
    monkeypatch.setattr(states, "__instance_id__", "run-1", raising=False)
    for count in (1, 999, 1000):
        monkeypatch.setattr(states, "__running__", immutabletypes.freeze(Running.fromkeys(tags[:count], {})),
                            raising=False)
        with states._query_memo() as memo:
            memo.answer(["jls"], lambda: "answer")
    assert len(memo) == 1
