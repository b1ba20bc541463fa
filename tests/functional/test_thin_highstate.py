"""Issue 17 through Salt's loader: a pillar mixing thick and thin prisoners builds with one highstate of the
formula (states/jail) on a rehearsal host whose nullfs mounts are real read-only bind mounts.

One scenario, in order: first highstate; a write below a thin prisoner's /bin fails with EROFS while its /etc is
its own; jailprov.stop + jailprov.start bring the mounts back exactly as its fstab lists them; the second
highstate is silent; a thin prisoner marked absent is destroyed by the next highstate, the release tree and the
neighbours untouched; thick <-> thin conversion is refused.
"""

import copy
import errno
import os

import pytest

from salt_jail import rehearsal
from salt_jail.core.tools import jailcmd
from salt_jail.rehearsal import nullfs

from tests.support.states import apply_jail as highstate, changed, failed
from tests.support.tree import snapshot

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not nullfs.available(),
                                reason="thin prisoners' nullfs mounts are bind mounts: needs root (CAP_SYS_ADMIN)")

TREE = "/home/jail/.releases/14.2-RELEASE-amd64-base"


@pytest.fixture
def release_url(small_release_url):
    return small_release_url


@pytest.fixture
def mixed_pillar(seed_pillar, release_url):
    jp = seed_pillar["jailprov"]
    jp["mirror"] = release_url
    jp["prisoners"]["prisoner2"]["type"] = "thin"
    jp["prisoners"]["prisoner3"] = {"jid": 3, "ip4": "192.168.11.33", "hostname": "bsd3.korodes.com", "type": "thin",
                                    "pw_range": {"uid": [40000, 49999], "gid": [40000, 49999]}}
    return seed_pillar


@pytest.fixture
def unmount(scratch):
    yield
    rehearsal.unmount_all(str(scratch))


def fstab_pairs(scratch, name):
    text = (scratch / "etc" / f"fstab.{name}").read_text()
    return [tuple(line.split()[:2]) for line in text.splitlines() if line and not line.startswith("#")]


def nullfs_mounts(loaders, scratch, name):
    table = jailcmd.parse_mount_p(
        loaders.modules.cmd.run_all([str(scratch / ".rehearsal/bin/mount"), "-p"], python_shell=False)["stdout"])
    return [(m.device, m.mountpoint, m.options) for m in table
            if m.fstype == "nullfs" and m.mountpoint.startswith(f"/home/jail/{name}/")]


def test_mixed_thick_and_thin_highstate(make_loaders, mixed_pillar, scratch, unmount):
    loaders = make_loaders(mixed_pillar)
    first = highstate(loaders)
    assert not failed(first), failed(first)
    assert "jailprov-prisoner2-fstab" in first and "jailprov-prisoner1-fstab" not in first   # thick: no fstab

    tree = scratch / TREE.lstrip("/")
    assert (tree / "bin" / "sh").is_file()
    for name in ("prisoner2", "prisoner3"):
        root = scratch / "home" / "jail" / name
        pairs = fstab_pairs(scratch, name)
        assert pairs[0] == (f"{TREE}/bin", f"/home/jail/{name}/bin")
        assert (f"{TREE}/usr/share", f"/home/jail/{name}/usr/share") in pairs
        assert [(s, d, "ro") for s, d in pairs] == nullfs_mounts(loaders, scratch, name)
        assert f'mount.fstab = "/etc/fstab.{name}";' in (scratch / "etc" / "jail.conf").read_text()
        # steps 3-9 worked on the prisoner's own etc
        assert "192.168.11." in (root / "etc" / "hosts").read_text()
        assert os.readlink(root / "etc" / "localtime") == "/usr/share/zoneinfo/Asia/Tokyo"
        assert not (tree / "etc" / "wall_cmos_clock").exists() and (root / "etc" / "wall_cmos_clock").exists()
    thick = scratch / "home" / "jail" / "prisoner1"
    assert (thick / "bin" / "sh").is_file() and not nullfs_mounts(loaders, scratch, "prisoner1")
    listed = {e["name"]: e["type"] for e in loaders.modules.jailprov.list()}
    assert listed == {"prisoner1": "thick", "prisoner2": "thin", "prisoner3": "thin"}

    # /bin is the shared tree, read-only; /etc is the prisoner's own
    thin_root = scratch / "home" / "jail" / "prisoner2"
    with pytest.raises(OSError) as err:
        (thin_root / "bin" / "intruder").write_text("x")
    assert err.value.errno == errno.EROFS
    (thin_root / "etc" / "motd.template").write_text("prisoner2 only\n")
    assert (tree / "etc" / "motd.template").read_text() != "prisoner2 only\n"
    assert (scratch / "home/jail/prisoner3/etc/motd.template").read_text() != "prisoner2 only\n"
    before = snapshot(tree)

    # stop + start: the mounts are back exactly as the fstab lists them
    assert loaders.modules.jailprov.stop("prisoner2")["changed"]
    assert nullfs_mounts(loaders, scratch, "prisoner2") == []
    assert not nullfs.mounted_below(str(thin_root / "bin"))
    assert loaders.modules.jailprov.start("prisoner2")["changed"]
    assert [(s, d, "ro") for s, d in fstab_pairs(scratch, "prisoner2")] == nullfs_mounts(loaders, scratch, "prisoner2")

    second = highstate(loaders)
    assert not failed(second) and changed(second) == [], changed(second)

    # a live mount gone from a running thin prisoner: reported with the restart it needs
    bindir = scratch / ".rehearsal" / "bin"
    assert loaders.modules.cmd.retcode([str(bindir / "umount"), "/home/jail/prisoner3/usr/share"],
                                       python_shell=False) == 0
    drift = loaders.states.jailprov.fstab(name="prisoner3")
    assert drift.result is False and "jailprov.restart prisoner3" in drift.comment and "usr/share" in drift.comment
    loaders.modules.jailprov.restart("prisoner3")
    assert loaders.states.jailprov.fstab(name="prisoner3").result is True

    # the release tree cannot go while prisoners use it
    refused = loaders.states.jailprov.release_tree_absent(name="release")
    assert refused.result is False and "prisoner2" in refused.comment and "prisoner3" in refused.comment

    # converting is refused, with how to rebuild
    converted = copy.deepcopy(mixed_pillar)
    converted["jailprov"]["prisoners"]["prisoner1"]["type"] = "thin"
    ret = make_loaders(converted, minion_id="convert").states.jailprov.base_installed(name="prisoner1")
    assert ret.result is False and "not supported" in ret.comment and "absent: true" in ret.comment

    # destroy one thin prisoner: only its writable part goes
    gone = copy.deepcopy(mixed_pillar)
    gone["jailprov"]["prisoners"]["prisoner3"]["absent"] = True
    third = highstate(make_loaders(gone, minion_id="destroy"))
    assert not failed(third), failed(third)
    assert third["jailprov-prisoner3-absent"]["changes"]
    assert not (scratch / "home/jail/prisoner3").exists() and not (scratch / "etc/fstab.prisoner3").exists()
    assert not nullfs_mounts(loaders, scratch, "prisoner3")
    assert snapshot(tree) == before
    assert [(s, d, "ro") for s, d in fstab_pairs(scratch, "prisoner2")] == nullfs_mounts(loaders, scratch, "prisoner2")
    assert (scratch / "home/jail/prisoner2/etc/motd.template").read_text() == "prisoner2 only\n"
    assert (thick / "bin" / "sh").is_file()
