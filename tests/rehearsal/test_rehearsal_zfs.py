"""The rehearsal's zfs/zpool: the real zfs-fuse on pools of the scratch root's own, names and paths translated.

Skipped, with the reason, where zfs-fuse, /dev/fuse or its daemon is missing.
"""

import subprocess

import pytest

from salt_jail import rehearsal
from salt_jail.rehearsal import zfspool
from salt_jail.rehearsal.scratch import Scratch
from tests.support import standins

REASON = zfspool.unavailable_reason()
pytestmark = pytest.mark.skipif(bool(REASON), reason=f"needs zfs-fuse: {REASON}")


@pytest.fixture
def hosts(tmp_path):
    roots = []
    for name in ("i18-a", "i18-b"):
        root = tmp_path / name
        root.mkdir()
        rehearsal.setup(str(root))
        roots.append(root)
    yield roots
    for root in roots:
        zfspool.Pools(Scratch(str(root))).destroy()


def run(root, tool, *args):
    proc = standins.run(str(root), tool, *args)
    return proc.returncode, proc.stdout, proc.stderr


def real_pools():
    out = subprocess.run([zfspool.real_tool("zpool"), "list", "-H", "-o", "name"], capture_output=True, text=True,
                         check=True).stdout
    return set(out.split())


def test_each_scratch_root_has_its_own_zroot(hosts):
    a, b = hosts
    assert run(a, "zfs", "create", "-o", "mountpoint=/home/jail", "zroot/jails")[0] == 0
    assert run(b, "zfs", "create", "zroot/other")[0] == 0
    # the product sees pool zroot and host paths on both hosts; each sees only its own datasets
    assert run(a, "zfs", "list", "-H", "-o", "name,mountpoint")[1] == "zroot\t/zroot\nzroot/jails\t/home/jail\n"
    assert run(b, "zfs", "list", "-H", "-o", "name")[1] == "zroot\nzroot/other\n"
    assert (a / "home/jail").is_dir() and (b / "zroot/other").is_dir()
    # two real pools, named apart, none called zroot
    mapped = [zfspool.Pools(Scratch(str(root))).mapping()["zroot"] for root in hosts]
    assert mapped[0] != mapped[1] and set(mapped) <= real_pools() and "zroot" not in mapped
    # the real commands ran on the mapped names
    nested = rehearsal.nested_commands(str(a))
    assert any(mapped[0] + "/jails" in entry["argv"] for entry in nested)
    # mount -p lists the mounted datasets, as FreeBSD's does
    rc, table, _ = run(a, "mount", "-p")
    assert rc == 0 and any(line.split()[:3] == ["zroot/jails", "/home/jail", "zfs"] for line in table.splitlines())


def test_other_pools_of_the_machine_are_out_of_reach(hosts):
    a, b = hosts
    run(b, "zfs", "create", "zroot/secret")
    other = zfspool.Pools(Scratch(str(b))).mapping()["zroot"]
    for args in (("list", f"{other}/secret"), ("destroy", f"{other}/secret"), ("list", "tank")):
        rc, _, err = run(a, "zfs", *args)
        assert rc == 1 and "dataset does not exist" in err
    assert run(b, "zfs", "list", "-H", "-o", "name", "zroot/secret")[0] == 0
    rc, _, err = run(a, "zpool", "destroy", "zroot")
    assert rc == 1 and "not played by the rehearsal host" in err


def test_real_zfs_errors_and_freebsd_only_parts(hosts):
    a, _ = hosts
    run(a, "zfs", "create", "zroot/d")
    run(a, "zfs", "snapshot", "zroot/d@s1")
    run(a, "zfs", "clone", "zroot/d@s1", "zroot/c")
    rc, _, err = run(a, "zfs", "destroy", "zroot/d@s1")
    assert rc == 1 and "snapshot has dependent clones" in err and "zroot/c" in err   # the real ZFS refuses
    rc, _, err = run(a, "zfs", "list", "-X")
    assert rc == 2 and "illegal option -- X" in err
    for args in (("jail", "1", "zroot/d"), ("set", "jailed=on", "zroot/d"), ("get", "jailed", "zroot/d")):
        rc, _, err = run(a, "zfs", *args)
        assert rc == 1 and "not played by the rehearsal" in err


def test_pools_are_destroyed_with_their_files(tmp_path):
    root = tmp_path / "i18-gone"
    root.mkdir()
    rehearsal.setup(str(root))
    assert run(root, "zfs", "list")[0] == 0
    real = zfspool.Pools(Scratch(str(root))).mapping()["zroot"]
    assert real in real_pools()
    assert zfspool.main(["--destroy", str(root)]) == 0
    assert real not in real_pools()
    assert not list((root / ".rehearsal/zfs").glob("*.img"))
