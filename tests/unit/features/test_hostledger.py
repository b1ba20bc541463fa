"""hostledger: jailprov's record of the host files it changed, which clean gives back (issue 14, deliverable 6)."""

import copy
import json
import os

import pytest

from salt_jail.core import model
from salt_jail.core.errors import JailprovError
from salt_jail.core.features import clean, hostconf, hostledger
from salt_jail.core.io import textedit
from salt_jail.core.io.host import Host

from .test_hostconf import FIXTURES, host_for


@pytest.fixture
def root(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/rc.conf").write_text((FIXTURES / "admin.rc.conf").read_text())
    return tmp_path


@pytest.fixture
def host(root):
    return Host(root=str(root), runner=None)


def _edit(host, path, text, test=False):
    return textedit.edit(textedit.Root.of_host(host), path.lstrip("/"), lambda _old: (text, ""), test=test,
                         create=True)


def test_the_first_write_records_the_original_and_every_write_what_it_left(host, root):
    admin = (root / "etc/rc.conf").read_text()
    hostledger.note(host, [_edit(host, "/etc/rc.conf", admin + 'jail_enable="YES"\n')])
    hostledger.note(host, [_edit(host, "/etc/rc.conf", admin + 'jail_enable="YES"\njail_list="p1"\n')])
    hostledger.note(host, [_edit(host, "/etc/jail.conf", "p1 {\n}\n")])
    assert hostledger.load(host)["files"] == {
        "/etc/rc.conf": {"original": admin, "written": admin + 'jail_enable="YES"\njail_list="p1"\n',
                         "diverged": False},
        "/etc/jail.conf": {"original": None, "written": "p1 {\n}\n", "diverged": False}}
    real = root / "var/db/jailprov/host-files.json"
    assert oct(real.stat().st_mode & 0o777) == "0o600" and oct(real.parent.stat().st_mode & 0o777) == "0o700"


def test_a_write_by_someone_else_in_between_marks_the_file_diverged(host, root):
    hostledger.note(host, [_edit(host, "/etc/rc.conf", 'jail_enable="YES"\n')])
    (root / "etc/rc.conf").write_text('jail_enable="YES"\nsshd_enable="YES"\n')        # the administrator
    hostledger.note(host, [_edit(host, "/etc/rc.conf", 'jail_enable="YES"\nsshd_enable="YES"\njail_list="p"\n')])
    assert hostledger.load(host)["files"]["/etc/rc.conf"]["diverged"] is True
    restores, left = clean._plan_files(host, hostledger.load(host))        # pylint: disable=protected-access
    assert restores == [] and left and left[0].startswith("/etc/rc.conf: changed by someone else")


def test_destroy_follows_recorded_files_only(host, root):
    hostledger.note(host, [_edit(host, "/etc/fstab.p1", "written before the ledger\n")], create=False)
    assert not (root / "var/db/jailprov").exists()


def test_an_unchanged_edit_records_nothing(host, root):
    hostledger.note(host, [_edit(host, "/etc/rc.conf", (root / "etc/rc.conf").read_text())])
    assert not (root / "var/db/jailprov").exists()


def test_a_foreign_ledger_is_an_error_that_names_it(host, root):
    (root / "var/db/jailprov").mkdir(parents=True)
    (root / "var/db/jailprov/host-files.json").write_text(json.dumps({"format": 99, "files": {}}))
    with pytest.raises(JailprovError, match="host-files.json is not a format-1 jailprov ledger"):
        hostledger.load(host)


def test_rc_conf_records_in_a_run_and_never_in_test_mode(root, seed_pillar):
    cfg = model.from_pillar(copy.deepcopy(seed_pillar))
    host = host_for(root)
    admin = (root / "etc/rc.conf").read_text()
    assert hostconf.rc_conf(host, cfg, test=True).changed
    assert not (root / "var/db/jailprov").exists()
    assert hostconf.rc_conf(host, cfg).changed
    entry = hostledger.load(host)["files"]["/etc/rc.conf"]
    assert entry == {"original": admin, "written": (root / "etc/rc.conf").read_text(), "diverged": False}
    restores, left = clean._plan_files(host, hostledger.load(host))        # pylint: disable=protected-access
    assert [(e.shown, e.old, e.new) for e in restores] == [("/etc/rc.conf", entry["written"], admin)] and not left
    assert (root / "etc/rc.conf").read_text() == entry["written"]            # planned only


def test_a_directory_jailprov_created_is_recorded(root, seed_pillar):
    pillar = copy.deepcopy(seed_pillar)
    pillar["jailprov"]["host"] = {**pillar["jailprov"].get("host", {}), "rc_conf": "/etc/rc.conf.d/jail"}
    host = host_for(root)
    hostconf.rc_conf(host, model.from_pillar(pillar))
    ledger = hostledger.load(host)
    assert ledger["dirs"] == ["/etc/rc.conf.d"] and ledger["files"]["/etc/rc.conf.d/jail"]["original"] is None
    restores, _left = clean._plan_files(host, ledger)                        # pylint: disable=protected-access
    assert clean._plan_dirs(host, ledger, restores) == ["/etc/rc.conf.d"]   # pylint: disable=protected-access
    assert os.path.isdir(root / "etc/rc.conf.d")
