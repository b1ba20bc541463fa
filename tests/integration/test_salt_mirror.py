"""Seed step 2 from the master's file server (salt://): an air-gapped fleet keeps releases on the master."""

import copy

import pytest

from .conftest import write_pillar

pytestmark = pytest.mark.integration


def test_release_from_salt_mirror(salt_cli, salt_minion, pillar_dir, seed_pillar_data, scratch_root):
    pillar = copy.deepcopy(seed_pillar_data)
    pillar["jailprov"]["release"] = "14.1-RELEASE"
    pillar["jailprov"]["mirror"] = "salt://releases"
    write_pillar(pillar_dir, {"jailer1": ["salt_mirror"]}, {"salt_mirror": pillar})
    salt_cli.run("saltutil.refresh_pillar", "wait=True", minion_tgt=salt_minion.id)

    ret = salt_cli.run("jailprov.fetch_release", minion_tgt=salt_minion.id, _timeout=300)
    assert ret.returncode == 0, ret
    assert ret.data["downloaded"] is True and ret.data["changed"] is True
    base = ret.data["dists"]["base"]
    assert base["verified_by"] and len(base["sha256"]) == 64
    cache = scratch_root / "var/cache/jailprov/14.1-RELEASE/amd64"
    assert (cache / "base.txz").is_file() and not list(cache.glob("*.part"))

    again = salt_cli.run("jailprov.fetch_release", minion_tgt=salt_minion.id, _timeout=300)
    assert again.data["downloaded"] is False and again.data["changed"] is False
