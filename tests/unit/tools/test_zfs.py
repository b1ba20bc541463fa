"""ZFS prisoners, the tools' part (core/tools/zfs.py): values as zfs get -Hp prints them, the stable release
snapshot name, argv builders and parsers.  (The pillar keys: tests/unit/model/test_zfs_model.py.)"""

import pytest

from salt_jail.core.tools import zfs


@pytest.mark.parametrize("prop, value, printed", [
    ("refquota", "10G", str(10 << 30)), ("quota", "none", "0"), ("recordsize", "128K", "131072"),
    ("refquota", "1.5G", str(3 << 29)), ("reservation", 1048576, "1048576"), ("atime", False, "off"),
    ("compression", "gzip-6", "gzip-6"), ("userquota@www", "1M", "1048576"), ("org.x:y", "v", "v"),
])
def test_values_are_compared_as_zfs_get_p_prints_them(prop, value, printed):
    assert zfs.normal_value(prop, value) == printed


def test_release_snapshot_is_stable_and_follows_the_digests():
    one = zfs.release_snapshot({"base": "a" * 64, "lib32": "b" * 64})
    assert one == zfs.release_snapshot({"lib32": "b" * 64, "base": "a" * 64})
    assert one.startswith("jailprov-") and len(one) == len("jailprov-") + 12
    assert one != zfs.release_snapshot({"base": "c" * 64, "lib32": "b" * 64})
    assert zfs.release_snapshot({"base": None}) is None


def test_argv_and_parsers():
    assert zfs.clone_argv("zroot/r@s", "zroot/jails/w", {"refquota": "1G"}) == \
        ["zfs", "clone", "-p", "-o", "refquota=1G", "zroot/r@s", "zroot/jails/w"]
    assert zfs.rollback_argv("zroot/jails/w", "s", destroy_later=True) == ["zfs", "rollback", "-r", "zroot/jails/w@s"]
    assert zfs.get_argv("d", ["origin", "refquota"]) == \
        ["zfs", "get", "-Hp", "-o", "property,value,source", "origin,refquota", "d"]
    assert zfs.parse_properties_output("refquota\t1073741824\tlocal\norigin\t-\t-\n") == \
        {"refquota": ("1073741824", "local"), "origin": ("-", "-")}
    assert zfs.parse_origins("zroot\t-\nzroot/jails/a\tzroot/r@s\nzroot/jails/a@x\t-\n") == \
        {"zroot/jails/a": "zroot/r@s"}
