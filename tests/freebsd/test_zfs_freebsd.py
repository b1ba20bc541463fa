"""ZFS prisoners on a real FreeBSD host with OpenZFS (issue 18), through the core API with ``Host(root="/")``.

The rehearsal's ZFS scenario against FreeBSD's own zfs(8), zpool(8) and jail(8): a file-backed pool the test
creates under WORK (``zpool create -m MOUNTPOINT POOL FILE``, zpool-create(8)) and destroys at the end; a
dataset prisoner with properties and a declared snapshot, a clone prisoner of the release snapshot; a silent
second run; rollback of a deleted file with the prisoner running again; ``zfs jail``-style delegation is not
exercised (salt_jail does not delegate datasets yet). Written from zfs-create(8), zfs-clone(8),
zfs-rollback(8), zfs-destroy(8) and zfs-get(8) of FreeBSD 14.

The tests run in file order and build on each other (one module-scoped host).
"""

import os
import secrets

import pytest

from .hostenv import HOSTNAMES, P1, P2, WORK, running_jails, sh

ZFS, ZPOOL = "/sbin/zfs", "/sbin/zpool"
POOL = f"sjtest_i18_{secrets.token_hex(3)}"
POOL_FILE = f"{WORK}/zpool-i18.img"
ZJAILS = f"{WORK}/zjails"


def zget(dataset, props):
    out = sh(ZFS, "get", "-Hp", "-o", "property,value,source", props, dataset).stdout
    return {p: (v, s) for p, v, s in (line.split("\t") for line in out.splitlines())}


def exists(name):
    return sh(ZFS, "list", "-H", "-o", "name", name, check=False).returncode == 0


@pytest.fixture(scope="module")
def zworld(clean_host, pillar_data):
    """``(host, cfg)`` on a fresh file-backed pool; the pool and its file are removed afterwards."""
    from salt_jail.core import model
    from salt_jail.core.io.host import Host

    if not os.path.exists(ZPOOL):
        pytest.skip("this FreeBSD host has no zpool(8) (OpenZFS)")
    sh("/usr/bin/truncate", "-s", "2G", POOL_FILE)
    sh(ZPOOL, "create", "-m", f"{WORK}/{POOL}", POOL, POOL_FILE)
    data = {"jailprov": dict(pillar_data["jailprov"], jail_root=ZJAILS, zfs={"dataset": f"{POOL}/jails"})}
    jp = data["jailprov"]
    jp["prisoners"] = {
        P1: dict(jp["prisoners"][P1], storage="dataset", snapshots=["fresh"],
                 zfs_properties={"refquota": "2G", "compression": "gzip"}),
        P2: dict(jp["prisoners"][P2], storage="clone", zfs_properties={"refquota": "1G"}),
    }
    try:
        yield Host(root="/"), model.from_pillar(data)
    finally:
        for name in (P1, P2):
            if name in running_jails():
                sh("/usr/sbin/jail", "-r", name, check=False)
        sh(ZPOOL, "destroy", "-f", POOL, check=False)
        if os.path.exists(POOL_FILE):
            os.unlink(POOL_FILE)


def build(host, cfg, name, test=False):
    from salt_jail.core.features import hostconf
    from salt_jail.core.features.provision import provision

    hostconf.jail_conf(host, cfg, name, test=test)
    run = provision(host, cfg, name, test=test)
    assert run["result"], run["steps"]
    return run["steps"]


def test_dataset_and_clone_prisoners_are_built(zworld):
    from salt_jail.core.features import lifecycle
    from salt_jail.core.tools import zfs as zfskeys

    host, cfg = zworld
    for name in (P1, P2):
        build(host, cfg, name)
        lifecycle.start(host, cfg, name)
    release = zfskeys.release_dataset(cfg)
    [snap] = sh(ZFS, "list", "-H", "-t", "snapshot", "-o", "name", "-d", "1", release).stdout.split()
    p1 = zget(f"{POOL}/jails/{P1}", "mountpoint,origin,refquota,compression")
    assert p1["mountpoint"][0] == f"{ZJAILS}/{P1}" and p1["origin"][0] == "-"
    assert p1["refquota"] == (str(2 << 30), "local") and p1["compression"] == ("gzip", "local")
    p2 = zget(f"{POOL}/jails/{P2}", "origin,refquota")
    assert p2["origin"][0] == snap and p2["refquota"] == (str(1 << 30), "local")
    assert exists(f"{POOL}/jails/{P1}@fresh")
    assert set(running_jails()) >= {P1, P2}
    table = sh("/sbin/mount", "-p").stdout
    assert any(line.split()[:3] == [f"{POOL}/jails/{P2}", f"{ZJAILS}/{P2}", "zfs"] for line in table.splitlines())


def test_second_run_changes_nothing(zworld):
    host, cfg = zworld
    for name in (P1, P2):
        for test in (True, False):
            steps = build(host, cfg, name, test=test)
            assert not [s for s, r in steps.items() if r.get("changed")], steps


def test_rollback_brings_back_a_deleted_file(zworld):
    from salt_jail.core.features import zfsprov

    host, cfg = zworld
    path = f"{ZJAILS}/{P1}/etc/rc.conf.local"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write('sshd_enable="YES"\n')
    zfsprov.snapshot(host, cfg, P1, "with-sshd")
    os.unlink(path)
    with pytest.raises(Exception, match="newer snapshots exist"):
        zfsprov.rollback(host, cfg, P1, "fresh")
    result = zfsprov.rollback(host, cfg, P1, "with-sshd")
    assert result.data["restarted"] is True
    with open(path, encoding="utf-8") as fh:
        assert fh.read() == 'sshd_enable="YES"\n'
    assert P1 in running_jails()
    assert HOSTNAMES[P1] in sh("/usr/sbin/jexec", P1, "hostname").stdout


def test_destroy_keeps_the_release_and_refuses_its_snapshot(zworld):
    from salt_jail.core.features import lifecycle, zfsprov
    from salt_jail.core.tools import zfs as zfskeys
    from salt_jail.core.errors import JailprovError

    host, cfg = zworld
    release = zfskeys.release_dataset(cfg)
    with pytest.raises(JailprovError, match=f"{POOL}/jails/{P2}"):
        zfsprov.destroy_release(host, cfg)
    lifecycle.destroy(host, cfg, P1, force=True)
    assert not exists(f"{POOL}/jails/{P1}") and not os.path.exists(f"{ZJAILS}/{P1}")
    assert exists(release) and exists(f"{POOL}/jails/{P2}")
    lifecycle.destroy(host, cfg, P2, force=True)
    assert not exists(f"{POOL}/jails/{P2}") and exists(release)
    zfsprov.destroy_release(host, cfg)
    assert not exists(release)
