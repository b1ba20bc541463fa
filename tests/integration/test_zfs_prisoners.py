"""Issue 18 through Salt (``salt-call --local state.apply jail``) on a rehearsal host whose ZFS is the real
zfs-fuse: a dataset prisoner and two clone prisoners built by one highstate, a silent second highstate (no zfs
write command in the rehearsal's log), rollback, destroy, and the release snapshot kept while clones use it.

Skipped, with the reason, where zfs-fuse, /dev/fuse or its daemon is missing.  The scratch root's pool is
destroyed at the end.
"""

import copy
import pathlib
import subprocess

import pytest

from salt_jail import rehearsal
from salt_jail.rehearsal import zfspool
from salt_jail.rehearsal.scratch import Scratch
from salt_jail.rehearse import prepare, salt_call
from tests.support.states import changed, failed

pytestmark = pytest.mark.integration

REASON = zfspool.unavailable_reason()
#: zfs subcommands that change something.
WRITES = {"create", "clone", "snapshot", "snap", "set", "inherit", "destroy", "rollback", "rename", "promote",
          "mount", "unmount", "umount"}
RELEASE_DS = "zroot/jails/.zfs-releases/14.2-RELEASE_amd64_base"


def zfs_pillar(seed):
    data = copy.deepcopy(seed)
    jp = data["jailprov"]
    jp["zfs"] = {"dataset": "zroot/jails"}
    jp["defaults"]["storage"] = "clone"
    jp["prisoners"]["prisoner1"].update(
        storage="dataset", zfs_properties={"refquota": "1G", "compression": "gzip"}, snapshots=["before-upgrade"])
    jp["prisoners"]["prisoner2"].update(zfs_properties={"refquota": "512M", "atime": False},
                                        snapshots=["fresh"])
    jp["prisoners"]["prisoner3"] = {"jid": 3, "ip4": "192.168.11.33", "hostname": "bsd3.korodes.com"}
    # a thin prisoner (issue 17) on a dataset of its own
    jp["prisoners"]["prisoner4"] = {"jid": 4, "ip4": "192.168.11.34", "hostname": "bsd4.korodes.com",
                                    "type": "thin", "storage": "dataset"}
    return data


@pytest.fixture(scope="module")
def zfs_host(tmp_path_factory, repo_dir, seed_pillar_data):
    if REASON:
        pytest.skip(f"ZFS prisoners need zfs-fuse: {REASON}")
    root = tmp_path_factory.mktemp("i18-zfs-scratch")
    config_dir, stop = prepare(root, zfs_pillar(seed_pillar_data), repo_dir / "states")
    try:
        yield root, config_dir
    finally:
        stop()
        zfspool.Pools(Scratch(str(root))).destroy()
        rehearsal.clear_file_flags(str(root))


def zfs(root, *args):
    """The rehearsal host's zfs, as the product sees it (pool zroot, host paths)."""
    proc = subprocess.run([str(pathlib.Path(root) / ".rehearsal/bin/zfs"), *args], capture_output=True, text=True,
                          check=False)
    return proc.returncode, proc.stdout, proc.stderr


def props(root, dataset, names):
    rc, out, err = zfs(root, "get", "-Hp", "-o", "property,value,source", names, dataset)
    assert rc == 0, err
    return {p: (v, s) for p, v, s in (line.split("\t") for line in out.splitlines())}


def call(config_dir, *args):
    rc, data, raw = salt_call(config_dir, *args)
    assert data is not None, raw
    return rc, data


def highstate(config_dir, *args):
    rc, states = call(config_dir, "state.apply", "jail", *args)
    assert not failed(states), failed(states)
    return states


def zfs_writes(root, since):
    return [argv for argv in rehearsal.commands(str(root))[since:]
            if argv[0] == "zfs" and len(argv) > 1 and argv[1] in WRITES]


def _host_files(root):
    return {p: (root / p).read_bytes() if (root / p).exists() else None
            for p in ("etc/rc.conf", "etc/jail.conf", "etc/pw.conf")}


def test_zfs_prisoners_build_rerun_rollback_destroy(zfs_host):
    root, config_dir = zfs_host
    originals = _host_files(root)

    # test=True on a fresh host predicts and writes nothing (no pool content, no zfs write)
    states = highstate(config_dir, "test=True")
    assert "jailprov-prisoner2-dataset" in changed(states)
    assert zfs_writes(root, 0) == []

    # one highstate builds a dataset prisoner and two clones
    states = highstate(config_dir)
    assert {"jailprov-zfs", "jailprov-prisoner1-dataset", "jailprov-prisoner2-dataset",
            "jailprov-prisoner3-dataset", "jailprov-prisoner1-snapshots"} <= set(changed(states))
    rc, out, _ = zfs(root, "list", "-H", "-t", "snapshot", "-o", "name", "-d", "1", RELEASE_DS)
    [release_snap] = out.split()
    assert release_snap.startswith(RELEASE_DS + "@jailprov-")

    # each prisoner root is a dataset mounted on its path, with the pillar's properties set locally
    p1 = props(root, "zroot/jails/prisoner1", "mountpoint,origin,refquota,compression,jailprov:prisoner")
    assert p1["mountpoint"][0] == "/home/jail/prisoner1"
    assert p1["origin"][0] == "-"
    assert p1["refquota"] == (str(1 << 30), "local") and p1["compression"] == ("gzip", "local")
    p2 = props(root, "zroot/jails/prisoner2", "mountpoint,origin,refquota,atime")
    assert p2["origin"][0] == release_snap
    assert p2["refquota"] == (str(512 << 20), "local") and p2["atime"] == ("off", "local")
    assert props(root, "zroot/jails/prisoner3", "origin")["origin"][0] == release_snap
    # the base is in each root (the clone's from the release snapshot), and the seed steps edited each
    for name in ("prisoner1", "prisoner2", "prisoner3"):
        assert "#*.err;kern.warning" in (root / "home/jail" / name / "etc/syslog.conf").read_text()
    # the release holds the pristine base: the clones' edits are theirs
    assert "#*.err;kern.warning" not in (root / "home/jail/.zfs-releases/14.2-RELEASE_amd64_base/etc/syslog.conf"
                                         ).read_text()
    # declared snapshots exist; mount -p lists the datasets as FreeBSD's does
    for snap in ("zroot/jails/prisoner1@before-upgrade", "zroot/jails/prisoner2@fresh"):
        assert zfs(root, "list", "-H", "-o", "name", snap)[0] == 0
    table = subprocess.run([str(root / ".rehearsal/bin/mount"), "-p"], capture_output=True, text=True).stdout
    assert any(line.split()[:3] == ["zroot/jails/prisoner2", "/home/jail/prisoner2", "zfs"]
               for line in table.splitlines())
    p4 = props(root, "zroot/jails/prisoner4", "mountpoint,origin")
    assert p4["mountpoint"][0] == "/home/jail/prisoner4" and p4["origin"][0] == "-"
    with pytest.raises(OSError):        # its /bin is the shared release tree, mounted read-only
        (root / "home/jail/prisoner4/bin/i18-probe").write_text("x")
    _, jails = call(config_dir, "jailprov.list")
    assert {j["name"]: j["state"] for j in jails} == {f"prisoner{i}": "running" for i in (1, 2, 3, 4)}

    # a second highstate changes nothing and runs no zfs write command
    before = len(rehearsal.commands(str(root)))
    assert changed(highstate(config_dir)) == []
    assert zfs_writes(root, before) == []
    assert any(argv[:2] == ["zfs", "get"] for argv in rehearsal.commands(str(root))[before:])

    # a property changed behind jailprov's back is set back, locally
    assert zfs(root, "inherit", "compression", "zroot/jails/prisoner1")[0] == 0
    states = highstate(config_dir)
    assert changed(states) == ["jailprov-prisoner1-dataset"]
    assert props(root, "zroot/jails/prisoner1", "compression")["compression"] == ("gzip", "local")

    # rollback brings back a deleted file and the prisoner runs again
    precious = root / "home/jail/prisoner1/etc/rc.conf.local"
    precious.write_text('sshd_enable="YES"\n')
    _, snap = call(config_dir, "jailprov.snapshot", "prisoner1", "with-sshd")
    assert snap["changed"] is True
    precious.unlink()
    _, listed = call(config_dir, "jailprov.list_snapshots", "prisoner1")
    assert [s["name"] for s in listed] == ["before-upgrade", "with-sshd"]
    # rolling back past a newer snapshot is refused unless told
    rc, _, refused = salt_call(config_dir, "jailprov.rollback", "prisoner1", "before-upgrade")
    assert rc != 0 and "newer snapshots exist (@with-sshd)" in refused, refused
    _, done = call(config_dir, "jailprov.rollback", "prisoner1", "with-sshd")
    assert done["changed"] is True and done["restarted"] is True
    assert precious.read_text() == 'sshd_enable="YES"\n'
    _, jails = call(config_dir, "jailprov.list")
    assert {j["name"]: j["state"] for j in jails}["prisoner1"] == "running"
    recent = rehearsal.commands(str(root))[-15:]
    order = [i for i, argv in enumerate(recent) if argv[0] == "jail" and argv[-2:] == ["-r", "prisoner1"]] + \
            [i for i, argv in enumerate(recent) if argv[:2] == ["zfs", "rollback"]] + \
            [i for i, argv in enumerate(recent) if argv[0] == "jail" and argv[-2:] == ["-c", "prisoner1"]]
    assert len(order) == 3 and order == sorted(order), recent   # stopped, rolled back, started

    # the release snapshot cannot go while clones depend on it: the refusal names them
    rc, _, refused = salt_call(config_dir, "jailprov.destroy_release")
    assert rc != 0 and "zroot/jails/prisoner2" in refused and "zroot/jails/prisoner3" in refused, refused
    assert zfs(root, "list", "-H", "-o", "name", release_snap)[0] == 0

    # destroy removes the prisoner's dataset and leaves the release and the other clone intact
    _, gone = call(config_dir, "jailprov.destroy", "prisoner2", "force=True")
    assert gone["changed"] is True and gone["dataset"] == "zroot/jails/prisoner2"
    assert zfs(root, "list", "-H", "-o", "name", "zroot/jails/prisoner2")[0] != 0
    assert not (root / "home/jail/prisoner2").exists()
    assert props(root, "zroot/jails/prisoner3", "origin")["origin"][0] == release_snap
    assert (root / "home/jail/prisoner3/etc/syslog.conf").exists()
    assert zfs(root, "list", "-H", "-o", "name", release_snap)[0] == 0
    rc, _, refused = salt_call(config_dir, "jailprov.destroy_release")
    assert rc != 0 and "zroot/jails/prisoner3" in refused and "prisoner2" not in refused, refused

    # jail.clean (issue 14), the inverse of the formula: test=True predicts and runs no zfs write; the run
    # destroys the prisoners' datasets and the release dataset (no clone is left), gives the host files back
    # byte for byte, and a second clean changes nothing.  The parent dataset stays: jailprov does not mark it.
    before = len(rehearsal.commands(str(root)))
    rc, dry = call(config_dir, "state.apply", "jail.clean", "test=True")
    [predicted] = [s for s in dry.values() if s["__id__"] == "jailprov-host-clean"]
    assert predicted["result"] is None and "release dataset " + RELEASE_DS + " would be destroyed" in predicted["comment"]
    assert zfs_writes(root, before) == [] and _host_files(root) != originals
    rc, ran = call(config_dir, "state.apply", "jail.clean")
    [done] = [s for s in ran.values() if s["__id__"] == "jailprov-host-clean"]
    assert rc == 0 and done["result"] is True, done["comment"]
    assert done["comment"] == predicted["comment"].replace("would be", "was")
    for name in ("prisoner1", "prisoner3", "prisoner4", RELEASE_DS.split("/", 2)[2]):
        assert zfs(root, "list", "-H", "-o", "name", f"zroot/jails/{name}")[0] != 0, name
    assert zfs(root, "list", "-H", "-o", "name", "zroot/jails")[0] == 0
    assert _host_files(root) == originals
    _, jails = call(config_dir, "jailprov.list")
    assert {j["name"]: j["state"] for j in jails} == {f"prisoner{i}": "absent" for i in (1, 2, 3, 4)}
    rc, again = call(config_dir, "state.apply", "jail.clean")
    assert rc == 0 and changed(again) == []
