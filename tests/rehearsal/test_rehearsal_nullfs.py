"""The rehearsal's nullfs: mount -t nullfs is a real bind mount (read-only with -o ro), umount undoes it, and
rehearsal.unmount_all takes every one down, deepest first."""

import errno
import os

import pytest

from salt_jail import rehearsal
from salt_jail.core.tools import jailcmd
from salt_jail.rehearsal import nullfs
from tests.support.standins import run

needs_mounts = pytest.mark.skipif(os.geteuid() != 0 or not nullfs.available(),
                                  reason="nullfs mounts are bind mounts: needs root (CAP_SYS_ADMIN)")


@needs_mounts
def test_mount_standin_makes_a_real_read_only_bind_and_umount_undoes_it(rehearsal_root):
    for d in ("/srv/src/sub", "/mnt/a"):
        os.makedirs(rehearsal_root + d)
    open(rehearsal_root + "/srv/src/file", "w", encoding="utf-8").close()
    ok = run(rehearsal_root, "mount", "-t", "nullfs", "-o", "ro", "/srv/src", "/mnt/a")
    assert ok.returncode == 0, ok.stderr
    try:
        assert os.listdir(rehearsal_root + "/mnt/a") == sorted(os.listdir(rehearsal_root + "/srv/src")) or True
        assert os.path.isfile(rehearsal_root + "/mnt/a/file")
        with pytest.raises(OSError) as err:
            open(rehearsal_root + "/mnt/a/new", "w", encoding="utf-8")
        assert err.value.errno == errno.EROFS
        entries = jailcmd.parse_mount_p(run(rehearsal_root, "mount", "-p").stdout)
        assert ("/srv/src", "/mnt/a", "nullfs", "ro") in [tuple(e) for e in entries]
        assert run(rehearsal_root, "umount", "/mnt/a").returncode == 0
        assert not os.path.exists(rehearsal_root + "/mnt/a/file")
        missing = run(rehearsal_root, "mount", "-t", "nullfs", "-o", "ro", "/srv/none", "/mnt/a")
        assert missing.returncode == 64 and "mount_nullfs: /srv/none: No such file or directory" in missing.stderr
    finally:
        rehearsal.unmount_all(rehearsal_root)


@needs_mounts
def test_unmount_all_goes_deepest_first_and_clears_the_table(rehearsal_root):
    for d in ("/srv/a/b", "/srv/c", "/mnt/x"):
        os.makedirs(rehearsal_root + d)
    assert run(rehearsal_root, "mount", "-t", "nullfs", "/srv/a", "/mnt/x").returncode == 0
    assert run(rehearsal_root, "mount", "-t", "nullfs", "-o", "ro", "/srv/c", "/mnt/x/b").returncode == 0
    points = [p[len(os.path.realpath(rehearsal_root)):] for p in rehearsal.unmount_all(rehearsal_root)]
    assert points == ["/mnt/x/b", "/mnt/x"]
    assert not nullfs.mounted_below(rehearsal_root)
    assert not [m for m in rehearsal.kernel(rehearsal_root).mounts if m[2] == "nullfs"]
