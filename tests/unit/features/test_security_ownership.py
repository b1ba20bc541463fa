"""Issue 12, findings 4 and 5: destroy removes only what jailprov built, and step root adopts nothing.

Run against the rehearsal host (its strict stand-ins and the simulated kernel), so a refused call is seen
to change nothing on the whole scratch host: files, modes, owners, jail.conf, rc.conf and running jails.
"""

import json
import os
import stat

import pytest

from salt_jail import rehearsal
from salt_jail.core import model
from salt_jail.core.features import lifecycle, root as root_step
from salt_jail.core.errors import JailprovError
from salt_jail.core.io.host import Host
from tests.support.tree import snapshot

ADMIN_BLOCK = 'admin {\n\tpath = "/home/jail/admin";\n\thost.hostname = "admin.example.org";\n\tpersist;\n}\n'


def _pillar(**top):
    data = {"jail_root": "/home/jail", "release": "14.2-RELEASE", "interface": "em0",
            "prisoners": {"p1": {"ip4": ["192.168.11.31"], "hostname": "p1.example.org"}}}
    data.update(top)
    return model.parse(data)


@pytest.fixture
def host(rehearsal_root):
    return Host(root=rehearsal_root, bindir=os.path.join(rehearsal_root, ".rehearsal", "bin"))


def _tree(host, rel, files=("etc/rc.conf",)):
    top = host.path(rel)
    for name in files:
        os.makedirs(os.path.dirname(os.path.join(top, name)), exist_ok=True)
        with open(os.path.join(top, name), "w") as fh:
            fh.write("data\n")
    return top


def test_destroy_refuses_a_plain_directory(host):
    _tree(host, "/home/jail/backup", ("etc/important", "db/dump.sql"))
    before = snapshot(host.root, skip=(".rehearsal",))
    for cfg in (_pillar(), _pillar(absent=["backup"])):  # named on the command line, or a typo in absent:
        for force in (False, True):
            with pytest.raises(JailprovError, match="not a prisoner jailprov installed: /home/jail/backup has no "
                                                    "var/db/jailprov-base.json"):
                lifecycle.destroy(host, cfg, "backup", force=force)
            with pytest.raises(JailprovError, match="not a prisoner jailprov installed"):
                lifecycle.destroy(host, cfg, "backup", test=True)
    assert snapshot(host.root, skip=(".rehearsal",)) == before


def test_destroy_refuses_an_administrators_own_jail_whatever_the_flags(host):
    _tree(host, "/home/jail/admin", ("etc/rc.conf", "root/notes"))
    with open(host.path("/etc/jail.conf"), "w") as fh:
        fh.write(ADMIN_BLOCK)
    assert rehearsal.cli.main("jail", ["-f", "/etc/jail.conf", "-c", "admin"], host.root) == 0
    before = snapshot(host.root, skip=(".rehearsal",))
    for force in (False, True):
        with pytest.raises(JailprovError, match="an administrator's own jail .* /etc/jail.conf defines it; it is "
                                                "running.*destroy_unmanaged=admin"):
            lifecycle.destroy(host, _pillar(), "admin", force=force)
    with pytest.raises(JailprovError, match="administrator's own jail"):
        lifecycle.destroy(host, _pillar(), "admin", force=True, destroy_unmanaged="other")
    assert snapshot(host.root, skip=(".rehearsal",)) == before
    assert [j["name"] for j in lifecycle.running_jails(host)] == ["admin"]
    # the separate, explicitly named override
    result = lifecycle.destroy(host, _pillar(), "admin", destroy_unmanaged="admin")
    assert result.changed and not os.path.exists(host.path("/home/jail/admin"))
    assert lifecycle.running_jails(host) == []
    assert "admin" not in open(host.path("/etc/jail.conf")).read()


def test_destroy_removes_what_jailprov_installed(host):
    top = _tree(host, "/home/jail/old", ("etc/rc.conf",))
    os.makedirs(os.path.join(top, "var/db"))
    with open(os.path.join(top, "var/db/jailprov-base.json"), "w") as fh:
        json.dump({"format": 1, "state": "installed", "release": "14.2-RELEASE"}, fh)
    result = lifecycle.destroy(host, _pillar(absent=["old"]), "old")
    assert result.changed and not os.path.exists(top)


def test_destroy_an_absent_name_that_does_not_exist_is_no_change(host):
    with open(host.path("/etc/rc.conf"), "a") as fh:  # something the rc.conf plan would otherwise tidy
        fh.write('jail_enable="NO"\n')
    before = snapshot(host.root, skip=(".rehearsal",))
    cfg = _pillar(absent=["nosuch"])
    for test in (True, False):
        result = lifecycle.destroy(host, cfg, "nosuch", test=test)
        assert not result.changed and result.comment.startswith("prisoner nosuch is already absent")
    assert snapshot(host.root, skip=(".rehearsal",)) == before


def test_root_adopts_nothing_silently(host):
    """jail_root /home and a prisoner alice: the user's /home/alice keeps its mode, owner and files."""
    alice = _tree(host, "/home/alice", ("mail/inbox", ".profile"))
    os.chmod(alice, 0o700)
    os.chown(alice, 1001, 1001)
    before = snapshot(host.root, skip=(".rehearsal",))
    cfg = model.parse({"jail_root": "/home", "release": "14.2-RELEASE",
                       "prisoners": {"alice": {"hostname": "alice.example.org"}}})
    for test in (True, False):
        with pytest.raises(JailprovError, match=r"prisoner root /home/alice already exists and holds files jailprov "
                                                r"did not install \(.profile, mail; no var/db/jailprov-base.json\): "
                                                r"jailprov adopts nothing and changed nothing. Move that directory "
                                                r"away, or choose another prisoner name or jail_root for alice"):
            root_step.ensure_root(host, cfg, "alice", test=test)
    assert snapshot(host.root, skip=(".rehearsal",)) == before
    st = os.stat(alice)
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o700, 1001, 1001)


def test_root_takes_an_empty_directory(host):
    os.makedirs(host.path("/home/jail/p1"), mode=0o700)
    result = root_step.ensure_root(host, _pillar(), "p1")
    assert result.changed and stat.S_IMODE(os.stat(host.path("/home/jail/p1")).st_mode) == 0o755
