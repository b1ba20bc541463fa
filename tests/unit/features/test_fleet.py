"""The fleet check (salt-run jailprov.check) over pillars as the master renders them."""

import copy

from salt_jail.core.features import fleet


def test_render_error_is_an_error_of_that_minion(seed_pillar_data):
    broken = {"_errors": ["Rendering SLS 'base:jails.jailer2' failed: could not find expected ':'; line 3"]}
    report = fleet.check({"jailer1": seed_pillar_data, "jailer2": broken})
    assert report["ok"] is False
    assert report["minions"]["jailer1"] == {"valid": True, "errors": [], "prisoners": 2}
    assert report["minions"]["jailer2"] == {
        "valid": False, "prisoners": None,
        "errors": ["pillar did not render: Rendering SLS 'base:jails.jailer2' failed: could not find expected "
                   "':'; line 3"]}


def test_render_error_beside_a_jailprov_key_still_fails(seed_pillar_data):
    partial = dict(copy.deepcopy(seed_pillar_data), _errors="Specified SLS 'jails.extra' in environment 'base' "
                                                          "is not available on the salt master")
    report = fleet.check({"jailer1": partial})
    assert report["ok"] is False and report["minions"]["jailer1"]["prisoners"] is None
    assert report["minions"]["jailer1"]["errors"][0].startswith("pillar did not render: Specified SLS")


def test_no_jailprov_key_is_zero_prisoners_and_ok():
    report = fleet.check({"web": {"other": 1}})
    assert report == {"ok": True, "minions": {"web": {"valid": True, "errors": [], "prisoners": 0}},
                      "collisions": []}


def test_render_errors_helper():
    assert fleet.render_errors({}) == [] and fleet.render_errors(None) == []
    assert fleet.render_errors({"_errors": []}) == []
    assert fleet.render_errors({"_errors": ["a", "b"]}) == ["pillar did not render: a", "pillar did not render: b"]
