"""release.stamp: the base stamp in a prisoner's tree, read and written without following the prisoner's links."""

import json
import os

import pytest

from salt_jail.core.errors import JailprovError
from salt_jail.core.release import stamp
from tests.support import releases as support

SHA = "ab" * 32


def _stamp(state="installed"):
    return {"format": 1, "state": state, "release": "14.2-RELEASE", "arch": "amd64",
            "installed_at": "2025-01-01T00:00:00+00:00", "dists": {"base": {"sha256": SHA}}}


def test_stamp_is_read_inside_the_prisoner_never_through_its_symlinks(tmp_path):
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps(_stamp()))
    root = tmp_path / "jails" / "p1"
    (root / "var" / "db").mkdir(parents=True)
    os.symlink(str(outside), root / stamp.STAMP)          # resolves to <root>/<tmp>/outside.json
    assert stamp.read_stamp(support.host(), str(root)) is None
    os.symlink("../../../outside.json", root / "var/db/other")
    assert stamp.read_stamp(support.host(), str(root)) is None


def test_no_root_or_no_stamp_is_none(tmp_path):
    assert stamp.read_stamp(support.host(), str(tmp_path / "missing")) is None
    assert stamp.read_stamp(support.host(), str(tmp_path)) is None


@pytest.mark.parametrize("text", ["{not json", json.dumps({"state": "bogus"}), json.dumps([1])])
def test_a_stamp_jailprov_did_not_write_is_an_error(tmp_path, text):
    (tmp_path / "var/db").mkdir(parents=True)
    (tmp_path / stamp.STAMP).write_text(text)
    with pytest.raises(JailprovError, match="is not a jailprov base stamp"):
        stamp.read_stamp(support.host(), str(tmp_path))


def test_extracting_then_installed(tmp_path):
    root = tmp_path / "p1"
    root.mkdir()
    stamp.mark_extracting(str(root), str(root), {"format": 1, "release": "14.2-RELEASE"})
    assert stamp.read_stamp(support.host(), str(root)) == {"format": 1, "release": "14.2-RELEASE",
                                                            "state": "extracting"}
    stamp.write_stamp(str(root), str(root), _stamp())
    assert stamp.read_stamp(support.host(), str(root)) == _stamp()
    assert os.stat(root / stamp.STAMP).st_mode & 0o777 == 0o644


def test_a_stamp_path_that_is_a_link_out_of_the_root_is_replaced_never_written_through(tmp_path):
    root = tmp_path / "p1"
    (root / "var/db").mkdir(parents=True)
    outside = tmp_path / "outside.json"
    os.symlink(str(outside), root / stamp.STAMP)
    stamp.mark_extracting(str(root), str(root), {"format": 1})
    assert not outside.exists() and not os.path.islink(root / stamp.STAMP)
    assert stamp.read_stamp(support.host(), str(root))["state"] == "extracting"


@pytest.mark.parametrize("text, version", [
    ('#!/bin/sh\nUSERLAND_VERSION="14.2-RELEASE-p3"\n', "14.2-RELEASE"),
    ('#!/bin/sh\nUSERLAND_VERSION="15.0-CURRENT"\n', "15.0-CURRENT"),
    ("#!/bin/sh\necho hello\n", None),
])
def test_userland_version_drops_the_patch_level(tmp_path, text, version):
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin/freebsd-version").write_text(text)
    assert stamp.userland_version(support.host(), str(tmp_path)) == version


def test_userland_version_is_not_read_through_a_link_out_of_the_root(tmp_path):
    real = tmp_path / "host-version"
    real.write_text('USERLAND_VERSION="14.2-RELEASE"\n')
    root = tmp_path / "p1"
    (root / "bin").mkdir(parents=True)
    os.symlink(str(real), root / "bin/freebsd-version")
    assert stamp.userland_version(support.host(), str(root)) is None
