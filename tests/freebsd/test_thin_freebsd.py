"""A thin prisoner on a real FreeBSD host (issue 17), through the core API with ``Host(root="/")``.

Written from jail(8) (``mount.fstab``: an fstab(5) file of file systems mounted before the jail is created and
unmounted when it is removed), mount(8) (``-p``: the mount table in fstab(5) format), mount_nullfs(8)
(``-o ro``) and jexec(8).  In file order, on one module-scoped host: build prisoner 2 as a thin prisoner (the
release tree once, its writable part, /etc/fstab.NAME, its jail.conf block); start it; ``mount -p`` shows one
read-only nullfs mount per fstab line; writing to ``/bin`` inside it fails while ``/etc`` is its own; stop and
start bring the mounts back exactly; destroy removes its writable part only, the release tree untouched.

The checks read the host with plain commands (``mount -p``, ``jexec``), never salt_jail's parsers.  The
prisoner's fstab lives in the host's /etc (``/etc/fstab.sjtest_p2``): removed at teardown whatever happens.
"""

import copy
import os

import pytest

from tests.support.tree import snapshot

from .hostenv import JAIL, JAIL_CONF, JAIL_ROOT, MOUNT, P2, mounts_below, running_jails, sh

JEXEC = "/usr/sbin/jexec"
FSTAB = f"/etc/fstab.{P2}"


@pytest.fixture(scope="module")
def world(clean_host, pillar_data):
    """``(host, cfg, data)``: the real host, the tier's pillar with prisoner 2 thin, and that pillar."""
    from salt_jail.core import model
    from salt_jail.core.io.host import Host

    data = copy.deepcopy(pillar_data)
    data["jailprov"]["prisoners"] = {P2: dict(data["jailprov"]["prisoners"][P2], type="thin")}
    yield Host(root="/"), model.from_pillar(data), data
    if P2 in running_jails():
        sh(JAIL, "-q", "-f", JAIL_CONF, "-r", P2, check=False)
    if os.path.exists(FSTAB):
        os.unlink(FSTAB)


def fstab_pairs():
    """``(source, mount point)`` of each line of the prisoner's fstab, both resolved as mount(8) records them."""
    with open(FSTAB, encoding="utf-8") as fh:
        rows = [line.split() for line in fh if line.strip() and not line.startswith("#")]
    return [(os.path.realpath(r[0]), os.path.realpath(r[1])) for r in rows if r[2] == "nullfs" and r[3] == "ro"]


def nullfs_table():
    """``(source, mount point, options)`` of the nullfs mounts below the prisoner, in ``mount -p`` order."""
    top = os.path.realpath(f"{JAIL_ROOT}/{P2}") + "/"
    found = []
    for line in sh(MOUNT, "-p").stdout.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[2] == "nullfs" and fields[1].startswith(top):
            found.append((fields[0], fields[1], fields[3]))
    return found


def test_thin_prisoner_builds_then_changes_nothing(world):
    from salt_jail.core.features import hostconf, provision, thin

    host, cfg, _ = world
    assert hostconf.jail_conf(host, cfg, P2).changed
    first = provision.provision(host, cfg, P2)
    assert first["result"], first["steps"]
    assert first["steps"]["base"]["changed"] and first["steps"]["fstab"]["changed"]
    again = provision.provision(host, cfg, P2)
    assert not [s for s, r in again["steps"].items() if r.get("changed")], again["steps"]
    tree = thin.tree_path(cfg)
    assert os.path.isfile(f"{tree}/bin/sh") and os.listdir(f"{JAIL_ROOT}/{P2}/bin") == []
    assert fstab_pairs() and fstab_pairs()[0] == (os.path.realpath(f"{tree}/bin"),
                                                  os.path.realpath(f"{JAIL_ROOT}/{P2}/bin"))


def test_started_thin_prisoner_has_read_only_bin_and_its_own_etc(world):
    from salt_jail.core.features import lifecycle

    host, cfg, _ = world
    assert lifecycle.start(host, cfg, P2).changed
    assert [(s, d) for s, d, _ in nullfs_table()] == fstab_pairs()
    assert {o for _, _, o in nullfs_table()} == {"ro"}
    write_bin = sh(JEXEC, P2, "/usr/bin/touch", "/bin/sjtest_intruder", check=False)
    assert write_bin.returncode != 0 and "Read-only file system" in write_bin.stderr
    sh(JEXEC, P2, "/usr/bin/touch", "/etc/sjtest_own")
    assert os.path.exists(f"{JAIL_ROOT}/{P2}/etc/sjtest_own")


def test_stop_and_start_bring_the_mounts_back_exactly(world):
    from salt_jail.core.features import lifecycle

    host, cfg, _ = world
    assert lifecycle.stop(host, cfg, P2).changed
    assert nullfs_table() == []                       # jail(8) unmounted every mount.fstab line
    assert lifecycle.start(host, cfg, P2).changed
    assert [(s, d) for s, d, _ in nullfs_table()] == fstab_pairs()


def test_destroy_removes_the_writable_part_only(world):
    from salt_jail.core import model
    from salt_jail.core.features import lifecycle, thin

    host, cfg, data = world
    tree = thin.tree_path(cfg)
    before = snapshot(tree, contents=False)   # a whole base: metadata, not bytes
    gone = copy.deepcopy(data)
    gone["jailprov"]["prisoners"][P2]["absent"] = True
    assert lifecycle.destroy(host, model.from_pillar(gone), P2).changed
    assert P2 not in running_jails()
    assert not os.path.exists(f"{JAIL_ROOT}/{P2}") and not os.path.exists(FSTAB)
    assert not mounts_below(f"{JAIL_ROOT}/{P2}")
    assert snapshot(tree, contents=False) == before
    assert thin.remove_tree(host, model.from_pillar(gone)).changed
    assert not os.path.exists(tree)
