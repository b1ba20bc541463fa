"""jailprov.release_cache: what the release cache holds, and pruning the releases no prisoner uses."""

import copy
import fcntl
import json

import pytest

from salt_jail.core import model
from salt_jail.core.release import cache
from salt_jail.core.io.host import Host

CACHE = "var/cache/jailprov"


@pytest.fixture
def world(tmp_path, seed_pillar):
    for rel, sizes in (("14.2-RELEASE", {"base.txz": 4000, "base.tar": 16000, "base.json": 100}),
                       ("14.1-RELEASE", {"base.txz": 3000, "base.tar": 12000, "base.json": 90})):
        d = tmp_path / CACHE / rel / "amd64"
        d.mkdir(parents=True)
        for name, size in sizes.items():
            (d / name).write_bytes(b"x" * size)
        (d / ".lock").touch()
    stamp = tmp_path / "home/jail/prisoner1/var/db/jailprov-base.json"
    stamp.parent.mkdir(parents=True)
    stamp.write_text(json.dumps({"format": 1, "state": "installed", "release": "14.1-RELEASE", "arch": "amd64",
                                 "dists": {}}))
    return tmp_path, Host(root=str(tmp_path)), model.from_pillar(seed_pillar)


def test_lists_releases_with_sizes_and_users(world):
    root, host, cfg = world
    before = sorted(p for p in root.rglob("*"))
    out = cache.release_cache(host, cfg)
    assert sorted(p for p in root.rglob("*")) == before and out["changed"] is False
    by = {e["release"]: e for e in out["releases"]}
    assert by["14.2-RELEASE"]["files"] == {"base.json": 100, "base.tar": 16000, "base.txz": 4000}
    assert by["14.2-RELEASE"]["bytes"] == 20100 and by["14.1-RELEASE"]["bytes"] == 15090
    assert out["bytes"] == 35190
    assert by["14.2-RELEASE"]["in_use"] and by["14.2-RELEASE"]["used_by"] == ["prisoner1", "prisoner2"]
    assert not by["14.1-RELEASE"]["in_use"] and by["14.1-RELEASE"]["installed_in"] == ["prisoner1"]
    assert by["14.2-RELEASE"]["path"] == "/var/cache/jailprov/14.2-RELEASE/amd64"
    assert "1 used by no prisoner" in out["comment"] and "prune=True" in out["comment"]


def test_prune_in_test_mode_deletes_nothing(world):
    root, host, cfg = world
    out = cache.release_cache(host, cfg, prune=True, test=True)
    assert (root / CACHE / "14.1-RELEASE/amd64/base.tar").exists()
    assert out["changed"] is True and out["removed_bytes"] == 15090
    assert out["comment"].startswith("would be deleted from /var/cache/jailprov: 14.1-RELEASE (amd64, 14.7 KiB)")


def test_prune_deletes_unused_releases_whole_and_keeps_the_pillars(world):
    root, host, cfg = world
    out = cache.release_cache(host, cfg, prune=True)
    assert not (root / CACHE / "14.1-RELEASE").exists()
    assert (root / CACHE / "14.2-RELEASE/amd64/base.tar").exists()       # every new prisoner extracts from it
    assert out["changed"] is True and out["removed_bytes"] == 15090
    assert "kept: 14.2-RELEASE (amd64, 19.6 KiB, used by prisoner1, prisoner2)" in out["comment"]
    again = cache.release_cache(host, cfg, prune=True)
    assert again["changed"] is False and again["comment"].startswith("no cached release to prune")


def test_a_pillar_without_prisoners_uses_no_release(world, seed_pillar):
    root, host, _ = world
    empty = copy.deepcopy(seed_pillar)
    empty["jailprov"]["prisoners"] = {}
    out = cache.release_cache(host, model.from_pillar(empty), prune=True)
    assert out["removed_bytes"] == 35190 and not list((root / CACHE).iterdir())


def test_a_release_being_extracted_is_left_alone(world):
    root, host, cfg = world
    with open(root / CACHE / "14.1-RELEASE/amd64/.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        out = cache.release_cache(host, cfg, prune=True)
    assert (root / CACHE / "14.1-RELEASE/amd64/base.tar").exists()
    assert out["changed"] is False and "holds its lock; left alone" in out["comment"]


def test_no_cache_yet(tmp_path, seed_pillar):
    out = cache.release_cache(Host(root=str(tmp_path)), model.from_pillar(seed_pillar))
    assert out["releases"] == [] and out["bytes"] == 0
