"""release.prepare: what the cache needs for the pillar's release (the plan), and doing it (apply), against a
file:// mirror on a tmp dir.  Test mode is the plan alone: the same decisions, nothing written."""

import os

import pytest

from salt_jail.core import model, release
from salt_jail.core.errors import JailprovError, ValidationError
from salt_jail.core.release import prepare
from salt_jail.core.release.store import Store
from tests.support import releases as support

MEMBERS = [(".", "dir", None), ("./bin", "dir", None), ("./bin/sh", "file", b"#!/bin/sh\n"),
           ("./etc", "dir", None), ("./etc/motd", "file", b"hello\n")]


@pytest.fixture
def world(tmp_path):
    mirror_dir = tmp_path / "mirror"
    digest = support.write_release(str(mirror_dir), MEMBERS)
    cfg = support.config(tmp_path, [f"file://{mirror_dir}"])
    return cfg, digest, mirror_dir


def _store(cfg):
    return Store(support.host(), cfg.cache_dir, cfg.release, cfg.arch)


def _run(cfg, **kwargs):
    return release.fetch_release(support.host(), cfg, **kwargs)


def test_an_empty_cache_plans_everything_and_test_mode_writes_nothing(world, tmp_path):
    cfg, _digest, _ = world
    before = support.snapshot(tmp_path)
    plan = prepare.plan(cfg, _store(cfg))
    assert plan.fetch_manifest
    base = plan.dists["base"]
    assert (base.download, base.decompress, base.expected, base.verified_by) == \
        (True, True, None, "MANIFEST (not fetched yet)")
    out = _run(cfg, test=True)
    assert out["changed"] and out["comment"].startswith(
        f"14.2-RELEASE (amd64) base.txz: would be downloaded and decompressed into {cfg.cache_dir}/14.2-RELEASE/amd64")
    assert out["dists"]["base"]["source"] is None and "members" not in out["dists"]["base"]
    assert support.snapshot(tmp_path) == before


def test_apply_downloads_verifies_decompresses_then_nothing_is_left_to_do(world):
    cfg, digest, mirror_dir = world
    events = []
    out = _run(cfg, progress=events.append)
    base = out["dists"]["base"]
    assert out["changed"] and out["downloaded"] and base["decompressed"] and base["members"] == len(MEMBERS)
    assert base["sha256"] == digest and base["source"] == f"file://{mirror_dir}/amd64/amd64/14.2-RELEASE/base.txz"
    assert base["verified_by"] == f"MANIFEST ({cfg.cache_dir}/14.2-RELEASE/amd64/MANIFEST)"
    assert {e["what"] for e in events} == {"release/download", "release/decompress"}
    store = _store(cfg)
    assert sorted(os.listdir(store.dir)) == [".lock", "MANIFEST", "base.json", "base.tar", "base.txz"]
    record = store.load_record("base")
    assert record["txz"]["sha256"] == digest and record["tar"]["from"] == digest
    assert record["tar"]["sha256"] == support.sha256(store.real("base.tar"))
    plan = prepare.plan(cfg, store)
    assert not (plan.fetch_manifest or plan.dists["base"].download or plan.dists["base"].decompress
                or plan.dists["base"].save)
    again = _run(cfg)
    assert not again["changed"] and again["comment"].endswith("already in " + store.hdir + " and verified")
    assert again["dists"]["base"]["members"] == len(MEMBERS)


def test_a_pin_wins_and_no_manifest_is_fetched(world, tmp_path):
    _, digest, mirror_dir = world
    cfg = support.config(tmp_path, [f"file://{mirror_dir}"], sha256={"base": digest})
    assert not prepare.plan(cfg, _store(cfg)).fetch_manifest
    out = _run(cfg)
    assert out["dists"]["base"]["verified_by"] == "pinned in jailprov:sha256:base"
    assert not _store(cfg).exists("MANIFEST")


def test_a_touched_archive_only_refreshes_its_record(world, tmp_path):
    cfg, digest, _ = world
    _run(cfg)
    store = _store(cfg)
    os.utime(store.real("base.txz"))                  # same bytes, new mtime and ctime
    plan = prepare.plan(cfg, store)
    base = plan.dists["base"]
    assert base.save and not (base.download or base.decompress or base.stale) and base.sha256 == digest
    record = store.load_record("base")
    before = support.snapshot(tmp_path)
    assert not _run(cfg, test=True)["changed"] and support.snapshot(tmp_path) == before
    assert not _run(cfg)["changed"]
    assert store.load_record("base")["txz"]["fingerprint"] != record["txz"]["fingerprint"]
    assert not prepare.plan(cfg, store).dists["base"].save


def test_a_changed_tar_is_decompressed_again(world):
    cfg, _, _ = world
    _run(cfg)
    store = _store(cfg)
    with open(store.real("base.tar"), "r+b") as fh:
        fh.write(b"X")
    base = prepare.plan(cfg, store).dists["base"]
    assert base.decompress and not base.download
    assert base.notes == ["cached base.tar changed since it was built; decompressing base.txz again"]
    out = _run(cfg)
    assert out["dists"]["base"]["decompressed"] and not out["downloaded"]
    assert store.load_record("base")["tar"]["sha256"] == support.sha256(store.real("base.tar"))


def test_a_cached_archive_that_no_longer_matches_is_fetched_again(world, tmp_path):
    cfg, digest, _ = world
    _run(cfg)
    store = _store(cfg)
    with open(store.real("base.txz"), "ab") as fh:
        fh.write(b"tampered")
    before = support.snapshot(tmp_path)
    base = prepare.plan(cfg, store).dists["base"]
    assert base.stale and base.download and base.decompress and "cached base.txz does not match" in base.notes[0]
    assert _run(cfg, test=True)["downloaded"] and support.snapshot(tmp_path) == before
    out = _run(cfg)
    assert out["downloaded"] and support.sha256(store.real("base.txz")) == digest


def test_an_archive_that_does_not_match_manifest_removes_both(world):
    cfg, _, mirror_dir = world
    manifest = os.path.join(support.release_dir(str(mirror_dir)), "MANIFEST")
    with open(manifest) as fh:
        text = fh.read()
    with open(manifest, "w") as fh:
        fh.write(text.replace(text.split("\t")[1], "0" * 64))
    with pytest.raises(JailprovError, match="MANIFEST was removed with it: the next run fetches both again"):
        _run(cfg)
    store = _store(cfg)
    assert not store.exists("MANIFEST") and not store.exists("base.txz")


def test_an_unsafe_archive_is_refused_and_its_verdict_kept(tmp_path):
    mirror_dir = tmp_path / "mirror"
    support.write_release(str(mirror_dir), MEMBERS + [("./etc", "symlink", "/etc"), ("./etc/passwd", "file", b"")])
    cfg = support.config(tmp_path, [f"file://{mirror_dir}"])
    with pytest.raises(JailprovError, match="refusing to extract 14.2-RELEASE base.txz .*would be written through"):
        _run(cfg)
    store = _store(cfg)
    assert not store.exists("base.tar") and store.load_record("base")["tar"]["problem"]
    before = support.snapshot(tmp_path)
    with pytest.raises(JailprovError, match="refusing to extract"):          # from the record, decompressed once
        _run(cfg, test=True)
    assert support.snapshot(tmp_path) == before


def test_missing_dist_lists_the_names_jailprov_dists_takes(tmp_path):
    """MANIFEST's 4th column is a distname (base_dbg: release/scripts/make-manifest.sh writes the stem with "-"
    made "_"); jailprov:dists takes the file stem (base-dbg), as the mirror's file names do."""
    cfg = support.config(tmp_path, ["file:///nowhere"], dists=["lib32-dbg", "base"])
    cache = os.path.join(cfg.cache_dir, cfg.release, cfg.arch)
    os.makedirs(cache)
    with open(os.path.join(cache, "MANIFEST"), "w", encoding="utf-8") as fh:
        fh.write(f"base.txz\t{'0' * 64}\t10\tbase\t\"Base system (MANDATORY)\"\ton\n"
                 f"base-dbg.txz\t{'1' * 64}\t10\tbase_dbg\t\"Base system (Debugging)\"\toff\n")
    for test in (True, False):
        with pytest.raises(JailprovError) as err:
            release.fetch_release(support.host(), cfg, test=test)
        assert "MANIFEST has no line for lib32-dbg.txz" in str(err.value)
        assert "jailprov:dists can name: base, base-dbg" in str(err.value) and "base_dbg" not in str(err.value)


@pytest.mark.parametrize("field, value, words", [
    ("dists", ["base", "../etc"], "jailprov:dists[1]: '../etc' is not a dist name"),
    ("release", "../14.2", "jailprov:release: '../14.2' is not a FreeBSD release name"),
    ("sha256", {"base": "xyz"}, "jailprov:sha256:base: expected 64 hex digits"),
    ("mirrors", [], "jailprov:mirrors: expected a URL or a non-empty list of URLs"),
    ("arch", "aarch64", "jailprov:arch: 'aarch64' is not a supported arch"),
])
def test_config_that_cannot_name_a_cache_path_never_reaches_the_cache(tmp_path, field, value, words):
    """The release cache trusts the model for release, arch, dists, mirrors and pins (it used to check them
    again): the pillar is refused, naming the key, before any cache path is built from it."""
    data = {"jail_root": str(tmp_path / "jails"), "release": support.RELEASE, "cache_dir": str(tmp_path / "cache"),
            "mirrors": ["http://127.0.0.1:9"], "prisoners": {"p1": {"hostname": "p1.example.org"}}, field: value}
    with pytest.raises(ValidationError) as err:
        model.parse(data)
    assert words in str(err.value)
    assert not (tmp_path / "cache").exists()


def test_mirrors_are_tried_in_the_pillars_order(world, tmp_path):
    _, digest, mirror_dir = world
    cfg = support.config(tmp_path, [support.refused_url(), f"file://{mirror_dir}"])
    assert _run(cfg)["dists"]["base"]["source"].startswith(f"file://{mirror_dir}/")
    assert support.sha256(_store(cfg).real("base.txz")) == digest
