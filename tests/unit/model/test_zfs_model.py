"""ZFS prisoners in the pillar model (core/model/zfs.py): storage, dataset, properties and snapshots validated
with their key paths.  (Values as zfs get -Hp prints them, the release snapshot name, argv builders and parsers:
tests/unit/tools/test_zfs.py.)"""

import copy

import pytest

from salt_jail.core import model
from salt_jail.core.tools import zfs

from tests.support.pillar import errors_for


def zfs_pillar(seed, **prisoner1):
    data = copy.deepcopy(seed["jailprov"])
    data["zfs"] = {"dataset": "zroot/jails"}
    data["prisoners"]["prisoner1"].update(prisoner1)
    return data


def errors(data):
    return errors_for({"jailprov": data})


def test_seed_pillar_is_directory_storage(seed_pillar):
    cfg = model.from_pillar(seed_pillar)
    assert cfg.zfs is None
    assert {p.storage for p in cfg.present} == {"directory"}
    assert all(p.dataset is None and p.snapshots == () and p.zfs_properties == {} for p in cfg.present)


def test_dataset_and_clone_prisoners(seed_pillar):
    data = zfs_pillar(seed_pillar, storage="dataset", zfs_properties={"refquota": "10G", "atime": False},
                      snapshots=["before-upgrade", "before-upgrade"])
    data["defaults"]["storage"] = "clone"
    data["defaults"]["zfs_properties"] = {"compression": "gzip", "atime": True}
    cfg = model.parse(data)
    one, two = cfg.prisoner("prisoner1"), cfg.prisoner("prisoner2")
    assert cfg.zfs.dataset == "zroot/jails" and cfg.zfs.releases == "zroot/jails/.zfs-releases"
    assert (one.storage, one.dataset, one.snapshots) == ("dataset", "zroot/jails/prisoner1", ("before-upgrade",))
    assert one.zfs_properties == {"compression": "gzip", "atime": "off", "refquota": "10G"}
    assert (two.storage, two.dataset, two.zfs_properties) == ("clone", "zroot/jails/prisoner2",
                                                              {"compression": "gzip", "atime": "on"})
    assert zfs.release_dataset(cfg) == "zroot/jails/.zfs-releases/14.2-RELEASE_amd64_base"


def test_null_removes_a_default_property(seed_pillar):
    data = zfs_pillar(seed_pillar, storage="dataset", zfs_properties={"compression": None})
    data["defaults"]["zfs_properties"] = {"compression": "gzip"}
    assert model.parse(data).prisoner("prisoner1").zfs_properties == {}


@pytest.mark.parametrize("change, path, words", [
    ({"storage": "dataset"}, "jailprov:prisoners:prisoner1:storage", "needs jailprov:zfs:dataset"),
    ({"storage": "clone"}, "jailprov:prisoners:prisoner1:storage", "needs jailprov:zfs:dataset"),
    ({"storage": "zvol"}, "jailprov:prisoners:prisoner1:storage", "expected one of: directory, dataset, clone"),
])
def test_storage_without_zfs_is_rejected(seed_pillar, change, path, words):
    data = copy.deepcopy(seed_pillar["jailprov"])
    data["prisoners"]["prisoner1"].update(change)
    assert any(e.startswith(path) and words in e for e in errors(data)), errors(data)


def test_default_storage_without_zfs_names_the_default(seed_pillar):
    data = copy.deepcopy(seed_pillar["jailprov"])
    data["defaults"]["storage"] = "clone"
    errs = errors(data)
    assert "jailprov:prisoners:prisoner1:storage (from jailprov:defaults): clone needs jailprov:zfs:dataset" \
        in " ".join(errs)


@pytest.mark.parametrize("props, path, words", [
    ({"refqouta": "10G"}, "zfs_properties:refqouta", "did you mean 'refquota'"),
    ({"bogus": 1}, "zfs_properties:bogus", "is not a zfs property"),
    ({"used": 5}, "zfs_properties:used", "read-only"),
    ({"mountpoint": "/x"}, "zfs_properties:mountpoint", "set by jailprov"),
    ({"jailed": True}, "zfs_properties:jailed", "set by jailprov"),
    ({"refquota": "ten gigs"}, "zfs_properties:refquota", "is not a size"),
    ({"compression": ["gzip"]}, "zfs_properties:compression", "expected a value"),
])
def test_bad_properties_are_rejected_with_their_key_path(seed_pillar, props, path, words):
    errs = errors(zfs_pillar(seed_pillar, storage="dataset", zfs_properties=props))
    assert any(e.startswith(f"jailprov:prisoners:prisoner1:{path}") and words in e for e in errs), errs


def test_user_and_quota_properties_are_accepted(seed_pillar):
    cfg = model.parse(zfs_pillar(seed_pillar, storage="dataset",
                                 zfs_properties={"org.example:role": "web", "userquota@www": "1G"}))
    assert cfg.prisoner("prisoner1").zfs_properties == {"org.example:role": "web", "userquota@www": "1G"}


@pytest.mark.parametrize("dataset, words", [
    ("tank/other/web1", "is outside the parent dataset zroot/jails"),
    ("zroot/jailsx/web1", "is outside the parent dataset"),
    ("zroot/jails", "is outside the parent dataset"),
    ("zroot/jails/.zfs-releases/x", "where the release datasets live"),
    ("zroot/jails/we b", "is not a dataset name"),
])
def test_a_dataset_outside_the_parent_is_rejected(seed_pillar, dataset, words):
    errs = errors(zfs_pillar(seed_pillar, storage="dataset", dataset=dataset))
    assert any(e.startswith("jailprov:prisoners:prisoner1:dataset") and words in e for e in errs), errs


def test_two_prisoners_cannot_share_a_dataset(seed_pillar):
    data = zfs_pillar(seed_pillar, storage="dataset", dataset="zroot/jails/shared")
    data["prisoners"]["prisoner2"].update(storage="dataset", dataset="zroot/jails/shared")
    assert any("prisoner2:dataset" in e and "already used by prisoner 'prisoner1'" in e for e in errors(data))


@pytest.mark.parametrize("keys", [{"snapshots": ["a"]}, {"zfs_properties": {"atime": "off"}},
                                  {"dataset": "zroot/jails/x"}])
def test_zfs_keys_on_a_directory_prisoner_are_rejected(seed_pillar, keys):
    errs = errors(zfs_pillar(seed_pillar, **keys))
    assert any("needs storage: dataset or clone" in e for e in errs), errs


@pytest.mark.parametrize("value, words", [
    ("zroot", None), ("zroot/a/b", None), ("/zroot/jails", "empty component"), ("9pool/x", "begin with a letter"),
    ("zroot/a@b", "component"), ({"x": 1}, "expected a dataset name"),
])
def test_parent_dataset_names(seed_pillar, value, words):
    data = copy.deepcopy(seed_pillar["jailprov"])
    data["zfs"] = {"dataset": value}
    if words is None:
        assert model.parse(data).zfs.dataset == value
    else:
        assert any(e.startswith("jailprov:zfs:dataset") and words in e for e in errors(data))


def test_zfs_key_shape(seed_pillar):
    data = copy.deepcopy(seed_pillar["jailprov"])
    data["zfs"] = {"pool": "zroot"}
    errs = errors(data)
    assert "jailprov:zfs:pool: unknown key (expected: dataset)" in errs
    assert any(e.startswith("jailprov:zfs:dataset: is required") for e in errs)


def test_bad_snapshot_names(seed_pillar):
    errs = errors(zfs_pillar(seed_pillar, storage="dataset", snapshots=["ok", "bad@name", ""]))
    assert any(e.startswith("jailprov:prisoners:prisoner1:snapshots[1]") for e in errs)
    assert any(e.startswith("jailprov:prisoners:prisoner1:snapshots[2]") for e in errs)


def test_a_thin_prisoner_is_not_a_clone(seed_pillar):
    errs = errors(zfs_pillar(seed_pillar, storage="clone", type="thin"))
    assert any(e.startswith("jailprov:prisoners:prisoner1:storage: clone does not go with type: thin") for e in errs)
    cfg = model.parse(zfs_pillar(seed_pillar, storage="dataset", type="thin"))
    assert (cfg.prisoner("prisoner1").type, cfg.prisoner("prisoner1").storage) == ("thin", "dataset")


@pytest.mark.parametrize("releases_dir", ["/home/jail/.zfs-releases", "/home/jail/.zfs-releases/x"])
def test_thin_trees_stay_apart_from_the_release_datasets(seed_pillar, releases_dir):
    data = zfs_pillar(seed_pillar)
    data["releases_dir"] = releases_dir
    assert any(e.startswith("jailprov:releases_dir") and "where the release datasets of jailprov:zfs are mounted"
               in e for e in errors(data))
    assert model.parse(zfs_pillar(seed_pillar)).releases_dir != "/home/jail/.zfs-releases"
