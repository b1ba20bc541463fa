"""Issue 2 through real daemons: validate, list, and a bad pillar that changes nothing."""

import copy

import pytest

from tests.support.tree import snapshot

from .conftest import write_pillar

pytestmark = pytest.mark.integration


@pytest.fixture
def seed_on_minion(salt_cli, salt_minion, pillar_dir, seed_pillar_data):
    write_pillar(pillar_dir, {"jailer1": ["seed"]}, {"seed": seed_pillar_data})
    ret = salt_cli.run("saltutil.refresh_pillar", "wait=True", minion_tgt=salt_minion.id)
    assert ret.returncode == 0, ret
    return seed_pillar_data


def test_validate_seed(salt_cli, salt_minion, seed_on_minion):
    ret = salt_cli.run("jailprov.validate", minion_tgt=salt_minion.id)
    assert ret.returncode == 0, ret
    assert ret.data == {"valid": True, "errors": []}


def test_bad_pillar_through_state_apply_changes_nothing(salt_cli, salt_minion, pillar_dir, seed_pillar_data,
                                                        scratch_root):
    bad = copy.deepcopy(seed_pillar_data)
    bad["jailprov"]["prisoners"]["prisoner2"]["ip4"] = "192.168.11.31"
    bad["jailprov"]["arch"] = "amd46"
    write_pillar(pillar_dir, {"jailer1": ["bad"]}, {"bad": bad})
    salt_cli.run("saltutil.refresh_pillar", "wait=True", minion_tgt=salt_minion.id)
    before = snapshot(scratch_root, skip=(".rehearsal",))
    ret = salt_cli.run("jailprov.validate", minion_tgt=salt_minion.id)
    assert ret.data["valid"] is False
    assert any(e.startswith("jailprov:arch:") and "amd64" in e for e in ret.data["errors"])
    assert any(e.startswith("jailprov:prisoners:prisoner2:ip4[0]:") for e in ret.data["errors"])

    ret = salt_cli.run("state.apply", "jail", minion_tgt=salt_minion.id)
    assert ret.returncode != 0
    states = ret.data
    assert isinstance(states, dict), ret
    valid = [s for k, s in states.items() if "jailprov-pillar-valid" in k]
    assert valid and valid[0]["result"] is False
    assert "jailprov:arch" in valid[0]["comment"]
    assert all(not s["changes"] for s in states.values()), states
    assert snapshot(scratch_root, skip=(".rehearsal",)) == before
