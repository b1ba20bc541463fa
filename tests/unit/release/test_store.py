"""release.store alone, on a tmp dir: the cache's layout, records and fingerprints, its lock; and
jailprov.release_cache, what the release cache holds and pruning the releases no prisoner uses."""

import copy
import fcntl
import json
import os

import pytest

from salt_jail.core import model
from salt_jail.core.errors import ParseError
from salt_jail.core.release import store
from salt_jail.core.io.host import Host
from tests.support.tree import snapshot

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
    before = snapshot(root)
    out = store.release_cache(host, cfg)
    assert snapshot(root) == before and out["changed"] is False
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
    out = store.release_cache(host, cfg, prune=True, test=True)
    assert (root / CACHE / "14.1-RELEASE/amd64/base.tar").exists()
    assert out["changed"] is True and out["removed_bytes"] == 15090
    assert out["comment"].startswith("would be deleted from /var/cache/jailprov: 14.1-RELEASE (amd64, 14.7 KiB)")


def test_prune_deletes_unused_releases_whole_and_keeps_the_pillars(world):
    root, host, cfg = world
    out = store.release_cache(host, cfg, prune=True)
    assert not (root / CACHE / "14.1-RELEASE").exists()
    assert (root / CACHE / "14.2-RELEASE/amd64/base.tar").exists()       # every new prisoner extracts from it
    assert out["changed"] is True and out["removed_bytes"] == 15090
    assert "kept: 14.2-RELEASE (amd64, 19.6 KiB, used by prisoner1, prisoner2)" in out["comment"]
    again = store.release_cache(host, cfg, prune=True)
    assert again["changed"] is False and again["comment"].startswith("no cached release to prune")


def test_a_pillar_without_prisoners_uses_no_release(world, seed_pillar):
    root, host, _ = world
    empty = copy.deepcopy(seed_pillar)
    empty["jailprov"]["prisoners"] = {}
    out = store.release_cache(host, model.from_pillar(empty), prune=True)
    assert out["removed_bytes"] == 35190 and not list((root / CACHE).iterdir())


def test_a_release_being_extracted_is_left_alone(world):
    root, host, cfg = world
    with open(root / CACHE / "14.1-RELEASE/amd64/.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        out = store.release_cache(host, cfg, prune=True)
    assert (root / CACHE / "14.1-RELEASE/amd64/base.tar").exists()
    assert out["changed"] is False and "holds its lock; left alone" in out["comment"]


def test_no_cache_yet(tmp_path, seed_pillar):
    out = store.release_cache(Host(root=str(tmp_path)), model.from_pillar(seed_pillar))
    assert out["releases"] == [] and out["bytes"] == 0


# --- the store of one release ----------------------------------------------------------------------

@pytest.fixture
def one(tmp_path):
    return store.Store(Host(root=str(tmp_path)), "/var/cache/jailprov", "14.2-RELEASE", "amd64")


def test_layout_is_cache_dir_release_arch(tmp_path, one):
    assert one.hdir == "/var/cache/jailprov/14.2-RELEASE/amd64"
    assert one.real("base.txz") == str(tmp_path / CACHE / "14.2-RELEASE/amd64/base.txz")


def test_reading_creates_nothing_and_finds_nothing(tmp_path, one):
    with one.locked(write=False):
        assert one.manifest() is None and one.load_record("base") == {} and not one.exists("base.txz")
    assert list(tmp_path.iterdir()) == []


def test_records_round_trip_and_a_foreign_record_is_ignored(one):
    with one.locked():
        one.save_record("base", {"txz": {"sha256": "a" * 64, "fingerprint": [1, 2, 3, 4]}})
    assert one.load_record("base") == {"format": store.RECORD_FORMAT,
                                       "txz": {"sha256": "a" * 64, "fingerprint": [1, 2, 3, 4]}}
    assert sorted(os.listdir(one.dir)) == [".lock", "base.json"]          # no temporary file left
    for text in ("{not json", json.dumps({"format": 99, "txz": {}})):
        with open(one.real("base.json"), "w") as fh:
            fh.write(text)
        assert one.load_record("base") == {}


def test_the_lock_is_held_while_writing(one):
    with one.locked():
        with open(one.real(".lock"), "a") as other:
            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    with open(one.real(".lock"), "a") as other:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)                # released on exit


def test_a_recorded_digest_is_trusted_only_while_the_fingerprint_matches(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"one")
    hashed = []

    def hasher(p):
        hashed.append(p)
        return "h" + str(len(hashed))

    digest, entry = store.sha256_of(str(path), None, hasher)
    assert (digest, entry) == ("h1", {"sha256": "h1", "fingerprint": store.fingerprint(str(path))})
    assert store.sha256_of(str(path), entry, hasher) == ("h1", entry) and len(hashed) == 1     # one stat
    st = os.stat(path)
    path.write_bytes(b"two")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))       # same size and mtime: the ctime still moved
    digest, again = store.sha256_of(str(path), entry, hasher)
    assert digest == "h2" and again["fingerprint"] != entry["fingerprint"]


def test_a_store_hashes_a_file_once_while_it_is_unchanged(one):
    hashed = []

    def hasher(p):
        hashed.append(p)
        return "h" + str(len(hashed))

    with one.locked():
        with open(one.real("base.txz"), "w") as fh:
            fh.write("x")
        stale = {"sha256": "old", "fingerprint": [0, 0, 0, 0]}           # a record from before the file changed
        first = one.sha256("base.txz", stale, hasher)
        assert one.sha256("base.txz", stale, hasher) == first and first[0] == "h1" and len(hashed) == 1
        with open(one.real("base.txz"), "w") as fh:
            fh.write("y")
        assert one.sha256("base.txz", stale, hasher)[0] == "h2"


def test_a_cached_manifest_is_parsed_with_its_path_in_errors(one):
    with one.locked():
        with open(one.real("MANIFEST"), "w") as fh:
            fh.write(f'base.txz\t{"c" * 64}\t1\tbase\t"Base"\ton\n')
        assert one.manifest()["base.txz"].sha256 == "c" * 64
        with open(one.real("MANIFEST"), "w") as fh:
            fh.write("garbage\n")
        with pytest.raises(ParseError, match="^/var/cache/jailprov/14.2-RELEASE/amd64/MANIFEST:1:"):
            one.manifest()


def test_remove_ignores_what_is_already_gone(one):
    with one.locked():
        open(one.real("base.txz"), "w").close()
        one.remove("base.txz", "base.tar", "base.json")
    assert not one.exists("base.txz")
