"""Thin prisoners (core/features/thin.py) on a rehearsal host whose nullfs mounts are real read-only bind mounts: the
writable-part archive, the release tree built once, the exact fstab, live mounts against it,
mount points a prisoner tampered with, conversion refused, destroy and the release tree's removal.  (The pillar
keys: tests/unit/model/test_thin_model.py.)"""

import errno
import io
import json
import os
import tarfile

import pytest

from salt_jail import rehearsal
from salt_jail.core import model, release
from salt_jail.core.features import clock, hostconf, lifecycle, provision, thin
from salt_jail.core.errors import JailprovError, MissingError
from salt_jail.core.io.host import Host
from salt_jail.rehearsal import nullfs

from tests.support.pillar import thin_pillar as pillar, thin_prisoner
from tests.support.standins import run

TREE = "/home/jail/.releases/14.2-RELEASE-amd64-base"
needs_mounts = pytest.mark.skipif(os.geteuid() != 0 or not nullfs.available(),
                                  reason="thin prisoners' nullfs mounts are bind mounts: needs root (CAP_SYS_ADMIN)")


def test_thin_block_gets_mount_fstab_thick_does_not():
    cfg = model.from_pillar(pillar(p1={"hostname": "p1.example.org"}, p2=thin_prisoner(2)))
    assert ("mount.fstab", "/etc/fstab.p2") in hostconf.block_params(cfg, cfg.prisoners["p2"])
    assert not [k for k, _ in hostconf.block_params(cfg, cfg.prisoners["p1"]) if k == "mount.fstab"]


# ------------------------------------------------------------------------------------------------
# the writable-part archive
# ------------------------------------------------------------------------------------------------
def _member(tar, name, kind=tarfile.REGTYPE, data=b"", mode=0o644, linkname="", pax=None):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname = kind, mode, linkname
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.pax_headers = pax or {}
    tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def test_writable_archive_keeps_all_but_the_shared_dirs_contents(tmp_path):
    src = tmp_path / "base.tar"
    with tarfile.open(src, "w", format=tarfile.PAX_FORMAT) as tar:
        _member(tar, "./", tarfile.DIRTYPE, mode=0o755)
        _member(tar, "./bin/", tarfile.DIRTYPE, mode=0o755)
        _member(tar, "./bin/sh", data=b"shell", mode=0o555)
        _member(tar, "./etc/", tarfile.DIRTYPE, mode=0o755)
        _member(tar, "./etc/rc", data=b"rc script\n")
        _member(tar, "./etc/sh.copy", tarfile.LNKTYPE, linkname="./bin/sh")       # crosses into bin: a copy
        _member(tar, "./var/empty/", tarfile.DIRTYPE, mode=0o555, pax={"SCHILY.fflags": "schg"})
        _member(tar, "./usr/", tarfile.DIRTYPE)
        _member(tar, "./usr/bin/cc", data=b"compiler")                            # usr/bin: only implied
        _member(tar, "./COPYRIGHT", data=b"(c)")
        _member(tar, "./.cshrc", data=b"set x")
        _member(tar, "./root/.cshrc", tarfile.LNKTYPE, linkname="./.cshrc")        # both writable: kept a link
    out = tmp_path / "writable.tar"
    count = thin.write_writable_archive([str(src)], ["bin", "usr/bin"], str(out),
                                        {"bin": (0o755, 0, 0), "usr/bin": (0o751, 0, 0)})
    with tarfile.open(out) as tar:
        members = {"/".join(p for p in m.name.split("/") if p not in ("", ".")) or ".": m for m in tar.getmembers()}
        assert count == len(tar.getmembers())
        assert set(members) == {".", "bin", "etc", "etc/rc", "etc/sh.copy", "var/empty", "usr", "COPYRIGHT",
                                ".cshrc", "root/.cshrc", "usr/bin"}
        assert members["bin"].isdir() and members["usr/bin"].isdir() and members["usr/bin"].mode == 0o751
        copy = members["etc/sh.copy"]
        assert copy.isreg() and copy.mode == 0o555 and tar.extractfile(copy).read() == b"shell"
        assert members["root/.cshrc"].islnk()
        assert members["var/empty"].pax_headers.get("SCHILY.fflags") == "schg"
        assert tar.extractfile(members["etc/rc"]).read() == b"rc script\n"


# ------------------------------------------------------------------------------------------------
# on a rehearsal host
# ------------------------------------------------------------------------------------------------
@pytest.fixture
def release_url(small_release_url):
    return small_release_url


@pytest.fixture
def host(rehearsal_root):
    yield Host(root=rehearsal_root, bindir=os.path.join(rehearsal_root, ".rehearsal", "bin"))
    rehearsal.unmount_all(rehearsal_root)


def build(host, cfg, *names):
    for name in names or cfg.prisoners:
        assert not hostconf.jail_conf(host, cfg, name).comment.startswith("cannot")
    for name in names or cfg.prisoners:
        out = provision.provision(host, cfg, name)
        assert out["result"], out


def real(host, path):
    return host.path(path)


def nullfs_table(host, name):
    return [(m.device, m.mountpoint, m.options) for m in lifecycle._mount_table(host)  # pylint: disable=protected-access
            if m.fstype == "nullfs" and m.mountpoint.startswith(f"/home/jail/{name}/")]


def fstab_entries(host, name):
    with open(real(host, f"/etc/fstab.{name}"), encoding="utf-8") as fh:
        return [tuple(line.split()[:2]) for line in fh if not line.startswith("#")]


def commands(host):
    return rehearsal.commands(host.root)


@needs_mounts
def test_test_mode_writes_nothing_then_one_tree_for_all_thin_prisoners(host, release_url):
    cfg = model.from_pillar(pillar(release_url, p1=thin_prisoner(1), p2=thin_prisoner(2)))
    predicted = provision.provision(host, cfg, "p1", test=True)
    assert predicted["result"] and predicted["steps"]["base"]["changed"] and predicted["steps"]["fstab"]["changed"]
    assert not os.path.exists(real(host, "/home/jail")) and not os.path.exists(real(host, "/etc/fstab.p1"))
    build(host, cfg)
    tar_runs = [c for c in commands(host) if c[0] == "tar"]
    assert [c[-1] for c in tar_runs] == [TREE, "/home/jail/p1", "/home/jail/p2"]     # the tree, once
    assert tar_runs[1][2] == TREE + thin.WRITABLE_SUFFIX
    stamp = json.loads(open(real(host, "/home/jail/p2/var/db/jailprov-base.json"), encoding="utf-8").read())
    assert (stamp["type"], stamp["tree"], stamp["state"]) == ("thin", TREE, "installed")
    for name in ("p1", "p2"):                                    # the mount points: real, empty directories
        assert os.listdir(real(host, f"/home/jail/{name}/bin")) == []
        assert os.path.isfile(real(host, f"/home/jail/{name}/etc/rc"))
    before = len(commands(host))
    again = provision.provision(host, cfg, "p2")
    assert not [s for s, r in again["steps"].items() if r.get("changed")]
    assert not [c for c in commands(host)[before:] if c[0] in ("tar", "umount", "jail") or c[:2] == ["mount", "-t"]]


@needs_mounts
def test_fstab_is_exact_and_jail8_mounts_it_read_only_in_order(host, release_url):
    cfg = model.from_pillar(pillar(release_url))
    build(host, cfg)
    text = open(real(host, "/etc/fstab.p1"), encoding="utf-8").read()
    lines = text.splitlines()
    assert lines[0] == thin.FSTAB_HEADER.format(name="p1")
    shared = thin.shared_dirs(host, TREE)
    assert lines[1:] == [f"{TREE}/{d}\t/home/jail/p1/{d}\tnullfs\tro\t0\t0" for d in shared]
    assert shared == [d for d in thin.SHARED if os.path.isdir(real(host, f"{TREE}/{d}"))]
    assert lifecycle.start(host, cfg, "p1").changed
    assert nullfs_table(host, "p1") == [(s, d, "ro") for s, d in fstab_entries(host, "p1")]
    with pytest.raises(OSError) as err:
        open(real(host, "/home/jail/p1/bin/new"), "w", encoding="utf-8")
    assert err.value.errno == errno.EROFS
    mount_p = run(host.root, "mount", "-p").stdout
    assert f"{TREE}/bin /home/jail/p1/bin\tnullfs\tro\t\t0 0" in mount_p.replace("\t", "\t")
    assert lifecycle.stop(host, cfg, "p1").changed
    nested = [r["argv"] for r in rehearsal.nested_commands(host.root) if r["argv"][0] in ("mount", "umount")
              and "nullfs" in r["argv"]]
    mounted = [a[-1] for a in nested if a[0] == "mount"]
    unmounted = [a[-1] for a in nested if a[0] == "umount"]
    assert mounted == [d for _, d in fstab_entries(host, "p1")] and unmounted == mounted[::-1]
    assert nested[0] == ["mount", "-t", "nullfs", "-o", "ro", f"{TREE}/bin", "/home/jail/p1/bin"]
    assert nullfs_table(host, "p1") == [] and not nullfs.mounted_below(real(host, "/home/jail/p1"))


@needs_mounts
def test_fstab_changed_by_hand_is_rewritten_with_the_restart_it_needs(host, release_url):
    cfg = model.from_pillar(pillar(release_url))
    build(host, cfg)
    lifecycle.start(host, cfg, "p1")
    path = real(host, "/etc/fstab.p1")
    text = open(path, encoding="utf-8").read()
    with open(path, "w", encoding="utf-8") as fh:              # an admin drops a line: jail -r would then
        fh.write("\n".join(text.splitlines()[:-1]) + "\n")       # leave that mount behind
    predicted = thin.fstab(host, cfg, "p1", test=True)
    assert predicted.changed and "would be stopped with its current fstab, then started" in predicted.comment
    assert open(path, encoding="utf-8").read() != text
    done = thin.fstab(host, cfg, "p1")
    assert done.changed and "stopped" in done.comment and "started" in done.comment
    assert open(path, encoding="utf-8").read() == text
    assert nullfs_table(host, "p1") == [(s, d, "ro") for s, d in fstab_entries(host, "p1")]
    assert not thin.fstab(host, cfg, "p1").changed


@needs_mounts
def test_a_tampered_mount_point_is_refused_and_never_followed(host, release_url):
    cfg = model.from_pillar(pillar(release_url))
    build(host, cfg)
    usr = real(host, "/home/jail/p1/usr")
    os.rename(usr, usr + ".old")
    os.symlink("/etc", usr)                      # the prisoner's root points usr at "its" /etc
    with pytest.raises(JailprovError) as err:
        thin.fstab(host, cfg, "p1")
    assert "/home/jail/p1/usr is a symbolic link" in str(err.value)
    assert not os.path.exists(real(host, "/etc/bin"))
    started = run(host.root, "jail", "-f", "/etc/jail.conf", "-c", "p1")
    assert started.returncode == 1 and "/home/jail/p1/usr is a symbolic link" in started.stderr
    assert nullfs_table(host, "p1") == []       # what jail(8) mounted before the refusal is undone


@needs_mounts
def test_conversion_is_refused_both_ways_with_how_to_rebuild(host, release_url):
    cfg = model.from_pillar(pillar(release_url, p1=thin_prisoner(1), p2={**thin_prisoner(2), "type": "thick"}))
    build(host, cfg)
    flipped = model.from_pillar(pillar(release_url, p1={**thin_prisoner(1), "type": "thick"}, p2=thin_prisoner(2)))
    for name, have, want in (("p1", "thin", "thick"), ("p2", "thick", "thin")):
        for step in (lambda n: release.install_base(host, flipped, n), lambda n: hostconf.jail_conf(host, flipped, n)):
            with pytest.raises(JailprovError) as err:
                step(name)
            assert f"prisoner {name} is {have}" in str(err.value) and f"asks for {want}" in str(err.value)
            assert "not supported" in str(err.value) and "absent: true" in str(err.value)
    with pytest.raises(JailprovError) as err:
        thin.fstab(host, flipped, "p2")
    assert "prisoner p2 is thick" in str(err.value)


@needs_mounts
def test_tree_removal_is_refused_while_used_and_destroy_keeps_tree_and_neighbours(host, release_url):
    cfg = model.from_pillar(pillar(release_url, p1=thin_prisoner(1), p2=thin_prisoner(2)))
    build(host, cfg)
    for name in ("p1", "p2"):
        lifecycle.start(host, cfg, name)
    with pytest.raises(JailprovError) as err:
        thin.remove_tree(host, cfg)
    assert "used by p1, p2" in str(err.value)
    listing = sorted(os.listdir(real(host, TREE + "/bin")))
    gone = model.from_pillar(pillar(release_url, p1={**thin_prisoner(1), "absent": True}, p2=thin_prisoner(2)))
    predicted = lifecycle.destroy(host, gone, "p1", test=True)
    assert predicted.changed and os.path.isdir(real(host, "/home/jail/p1"))
    assert lifecycle.destroy(host, gone, "p1").changed
    assert not os.path.exists(real(host, "/home/jail/p1")) and not os.path.exists(real(host, "/etc/fstab.p1"))
    assert sorted(os.listdir(real(host, TREE + "/bin"))) == listing
    assert nullfs_table(host, "p2") == [(s, d, "ro") for s, d in fstab_entries(host, "p2")]
    with pytest.raises(JailprovError) as err:
        thin.remove_tree(host, gone)
    assert "used by p2" in str(err.value) and "p1" not in str(err.value).split("used by")[1]
    lifecycle.stop(host, gone, "p2")
    alone = model.from_pillar(pillar(release_url, p3={"hostname": "p3.example.org"}))
    with pytest.raises(JailprovError) as err:                 # p2's fstab (named by jail.conf) still lists it
        thin.remove_tree(host, alone)
    assert "used by p2" in str(err.value)


@needs_mounts
def test_stopped_thin_prisoner_finds_its_zone_in_the_tree(host, release_url):
    cfg = model.from_pillar(pillar(release_url, p1=thin_prisoner(1, timezone="Asia/Tokyo")))
    build(host, cfg)
    assert os.readlink(real(host, "/home/jail/p1/etc/localtime")) == "/usr/share/zoneinfo/Asia/Tokyo"
    bad = model.from_pillar(pillar(release_url, p1=thin_prisoner(1, timezone="Mars/Olympus")))
    with pytest.raises(JailprovError) as err:
        clock.localtime(host, bad, "p1")
    assert "Mars/Olympus" in str(err.value)


def test_fstab_step_before_the_base_is_a_missing_step(rehearsal_root):
    host = Host(root=rehearsal_root, bindir=os.path.join(rehearsal_root, ".rehearsal", "bin"))
    cfg = model.from_pillar(pillar())
    with pytest.raises(MissingError) as err:
        thin.fstab(host, cfg, "p1")
    assert "step 'base'" in str(err.value)
