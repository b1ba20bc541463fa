"""zfsprov's refusals on a rehearsal host with the real zfs-fuse: what jailprov did not create is not changed,
storage is never converted behind the user's back, a parent on the wrong mount point is an error; each
refusal writes nothing (no zfs write command in the log).  Skipped, with the reason, without zfs-fuse."""

import copy
import os

import pytest

from salt_jail import rehearsal
from salt_jail.core import model
from salt_jail.core.features import zfsprov
from salt_jail.core.errors import JailprovError
from salt_jail.core.io.host import Host
from salt_jail.rehearsal import zfspool
from salt_jail.rehearsal.scratch import Scratch

REASON = zfspool.unavailable_reason()
pytestmark = pytest.mark.skipif(bool(REASON), reason=f"needs zfs-fuse: {REASON}")
WRITES = {"create", "clone", "snapshot", "set", "inherit", "destroy", "rollback", "rename", "promote"}


@pytest.fixture
def zhost(rehearsal_root):
    host = Host(root=rehearsal_root, bindir=os.path.join(rehearsal_root, ".rehearsal", "bin"))
    yield host
    zfspool.Pools(Scratch(rehearsal_root)).destroy()


def config(seed, **prisoner1):
    data = copy.deepcopy(seed["jailprov"])
    data["zfs"] = {"dataset": "zroot/jails"}
    data["prisoners"]["prisoner1"].update(prisoner1)
    return model.parse(data)


def writes(host, since=0):
    return [a for a in rehearsal.commands(host.root)[since:] if a[0] == "zfs" and a[1] in WRITES]


def test_parent_is_created_on_jail_root_then_checked(zhost, seed_pillar):
    cfg = config(seed_pillar, storage="dataset")
    assert zfsprov.host_datasets(zhost, cfg, test=True).changed and writes(zhost) == []
    made = zfsprov.host_datasets(zhost, cfg)
    assert made.changed and writes(zhost) == [["zfs", "create", "-p", "-o", "mountpoint=/home/jail", "zroot/jails"]]
    assert not zfsprov.host_datasets(zhost, cfg).changed
    moved = model.parse(dict(copy.deepcopy(seed_pillar["jailprov"]), jail_root="/usr/jails",
                             zfs={"dataset": "zroot/jails"}))
    before = len(rehearsal.commands(zhost.root))
    with pytest.raises(JailprovError, match="is mounted on /home/jail, but jailprov:jail_root is /usr/jails"):
        zfsprov.host_datasets(zhost, moved)
    assert writes(zhost, before) == []


def test_a_dataset_jailprov_did_not_create_is_left_alone(zhost, seed_pillar):
    cfg = config(seed_pillar, storage="dataset", zfs_properties={"compression": "gzip"})
    zfsprov.host_datasets(zhost, cfg)
    zhost.check(["zfs", "create", "zroot/jails/prisoner1"])
    before = len(rehearsal.commands(zhost.root))
    with pytest.raises(JailprovError, match="zfs set jailprov:prisoner=prisoner1 zroot/jails/prisoner1"):
        zfsprov.dataset(zhost, cfg, "prisoner1")
    assert writes(zhost, before) == []
    # adopted by the administrator: from then on jailprov enforces the pillar's properties, locally
    zhost.check(["zfs", "set", "jailprov:prisoner=prisoner1", "zroot/jails/prisoner1"])
    result = zfsprov.dataset(zhost, cfg, "prisoner1")
    assert result.changed and result.data["properties"] == {"compression": "gzip"}
    assert not zfsprov.dataset(zhost, cfg, "prisoner1").changed


def test_storage_is_never_converted(zhost, seed_pillar):
    as_dataset = config(seed_pillar, storage="dataset")
    zfsprov.host_datasets(zhost, as_dataset)
    assert zfsprov.dataset(zhost, as_dataset, "prisoner1").changed
    as_clone = config(seed_pillar, storage="clone")
    before = len(rehearsal.commands(zhost.root))
    with pytest.raises(JailprovError, match="converting is not done"):
        zfsprov.dataset(zhost, as_clone, "prisoner1")
    assert writes(zhost, before) == []


def test_a_directory_prisoner_with_files_is_not_hidden_under_a_dataset(zhost, seed_pillar):
    cfg = config(seed_pillar, storage="dataset")
    zfsprov.host_datasets(zhost, cfg)
    os.makedirs(zhost.path("/home/jail/prisoner1/etc"))
    with open(zhost.path("/home/jail/prisoner1/etc/rc.conf"), "w", encoding="utf-8") as fh:
        fh.write("precious\n")
    before = len(rehearsal.commands(zhost.root))
    with pytest.raises(JailprovError, match="a dataset mounted there would hide them"):
        zfsprov.dataset(zhost, cfg, "prisoner1")
    assert writes(zhost, before) == []


def test_snapshots_and_destroy_guards(zhost, seed_pillar):
    cfg = config(seed_pillar, storage="dataset", snapshots=["one"])
    zfsprov.host_datasets(zhost, cfg)
    zfsprov.dataset(zhost, cfg, "prisoner1")
    assert zfsprov.declared_snapshots(zhost, cfg, "prisoner1", test=True).changed
    assert zfsprov.declared_snapshots(zhost, cfg, "prisoner1").changed
    assert not zfsprov.declared_snapshots(zhost, cfg, "prisoner1").changed
    assert not zfsprov.snapshot(zhost, cfg, "prisoner1", "one").changed
    assert [s["name"] for s in zfsprov.list_snapshots(zhost, cfg, "prisoner1")] == ["one"]
    with pytest.raises(JailprovError, match="has no snapshot 'two'"):
        zfsprov.rollback(zhost, cfg, "prisoner1", "two")
    # a clone of the prisoner's own snapshot pins it: destroy refuses, naming the clone
    zhost.check(["zfs", "clone", "zroot/jails/prisoner1@one", "zroot/jails/copy"])
    with pytest.raises(JailprovError, match="zroot/jails/copy"):
        zfsprov.destroy_target(zhost, cfg, "prisoner1", "/home/jail/prisoner1")
    zhost.check(["zfs", "destroy", "zroot/jails/copy"])
    assert zfsprov.destroy_target(zhost, cfg, "prisoner1", "/home/jail/prisoner1") == "zroot/jails/prisoner1"
