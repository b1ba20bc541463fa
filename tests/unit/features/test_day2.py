"""Day-2 planning (issue 15): what changes live, what needs a restart, moves and their refusals, admin includes."""

import copy
import json

import pytest

from salt_jail.core import model
from salt_jail.core.features import day2, hostconf
from salt_jail.core.formats import jailconf
from salt_jail.core.errors import JailprovError
from salt_jail.core.io.host import Host
from tests.support.runner import FakeRunner, play_jails


# kern_jail.c CTLFLAG_RW parameters change live; RDTUN ones, exec.*, mount.* and interface-borne addresses restart
@pytest.mark.parametrize("old, new, restart", [
    ({"host.hostname": ["a"]}, {"host.hostname": ["b"]}, []),
    ({"securelevel": ["1"], "allow.raw_sockets": True}, {"securelevel": ["2"], "allow.raw_sockets": False}, []),
    ({"devfs_ruleset": ["4"], "enforce_statfs": ["2"], "children.max": ["0"], "persist": True},
     {"devfs_ruleset": ["5"], "enforce_statfs": ["1"], "children.max": ["3"], "persist": False}, []),
    ({"path": ["/a"]}, {"path": ["/b"]}, ["path changed (/a -> /b)"]),
    ({"jid": ["1"]}, {"jid": ["2"]}, ["jid changed (1 -> 2)"]),
    ({"exec.start": ["x"]}, {"exec.start": ["y"]}, ["exec.start changed (x -> y)"]),
    ({"mount.devfs": True}, {}, ["mount.devfs changed (true -> unset)"]),
    ({"ip4.addr": ["10.0.0.1"]}, {"ip4.addr": ["10.0.0.2"]}, []),
    ({"ip4.addr": ["10.0.0.1"], "interface": ["em0"]}, {"ip4.addr": ["10.0.0.2"], "interface": ["em0"]},
     ["ip4.addr changed (10.0.0.1 -> 10.0.0.2)"]),
    ({}, {"ip4.addr": ["10.0.0.2"]}, ["ip4.addr changed (unset -> 10.0.0.2)"]),
    ({"vnet": True}, {}, ["vnet changed (true -> unset)"]),
])
def test_live_or_restart(old, new, restart):
    assert day2.restart_reasons(old, new) == restart


@pytest.mark.parametrize("pattern, path, covers", [
    ("/etc/jail.conf.d/*", "/etc/jail.conf.d/p1.conf", True),
    ("/etc//jail.conf.d/*.conf", "/etc/jail.conf.d/p1.conf", True),
    ("/etc/jail.conf.d/p*.conf", "/etc/jail.conf.d/p1.conf", True),
    ("/etc/jail.conf.d/[pq]?.conf", "/etc/jail.conf.d/p1.conf", True),
    ("/etc/jail.conf.d/w*.conf", "/etc/jail.conf.d/p1.conf", False),
    ("/etc/*", "/etc/jail.conf.d/p1.conf", False),                    # * never crosses a /
    ("/etc/jail.conf.d/*", "/etc/jail.conf.d/.p1.conf", False),       # nor matches a leading dot
])
def test_glob_match_is_glob3(pattern, path, covers):
    assert jailconf.glob_match(pattern, path) is covers


def test_relative_include_is_relative_to_the_including_file():
    doc = jailconf.parse('.include "jail.conf.d/p*.conf";\n')
    assert jailconf.include_covers(doc, "/etc/jail.conf", "/etc/jail.conf.d/p1.conf") == "jail.conf.d/p*.conf"
    assert jailconf.include_covers(doc, "/etc/jail.conf", "/etc/jail.conf.d/web.conf") is None


@pytest.fixture
def moved(tmp_path, seed_pillar):
    """prisoner1 installed and running under /home/jail; the pillar moves it to /srv/jails."""
    cfg = model.from_pillar(seed_pillar)
    runner = play_jails(FakeRunner(), {"prisoner1": "/home/jail/prisoner1"})
    host = Host(root=str(tmp_path), runner=runner, bindir="/nonexistent")
    (tmp_path / "etc").mkdir()
    old = tmp_path / "home/jail/prisoner1"
    (old / "var/db").mkdir(parents=True)
    (old / "var/db/jailprov-base.json").write_text(json.dumps({"state": "installed", "release": "14.2-RELEASE"}))
    hostconf.jail_conf(host, cfg, "prisoner1")
    pillar = copy.deepcopy(seed_pillar)
    pillar["jailprov"]["jail_root"] = "/srv/jails"
    return host, model.from_pillar(pillar), tmp_path


def test_move_is_planned_checked_and_done_last(moved):
    host, cfg, root = moved
    assert day2.step_config(host, cfg, "prisoner1").prisoners["prisoner1"].path == "/home/jail/prisoner1"
    assert "would move it to /srv/jails/prisoner1" in day2.ensure_root(host, cfg, "prisoner1", test=True).comment
    hostconf.jail_conf(host, cfg, "prisoner1")
    dry = day2.converge(host, cfg, "prisoner1", test=True, after_jail_conf=True)
    assert dry.data["move"] == {"from": "/home/jail/prisoner1", "to": "/srv/jails/prisoner1"}
    res = day2.converge(host, cfg, "prisoner1", after_jail_conf=True)
    assert res.changed and "moved /home/jail/prisoner1 to /srv/jails/prisoner1" in res.comment
    assert (root / "srv/jails/prisoner1/var/db/jailprov-base.json").exists()
    assert not (root / "home/jail/prisoner1").exists()
    jail = host.runner.commands("jail")
    assert jail == [dry.data["stop"], dry.data["start"]]


def test_move_across_file_systems_is_refused_before_anything_stops(moved, monkeypatch):
    host, cfg, root = moved
    hostconf.jail_conf(host, cfg, "prisoner1")
    real_old = str(root / "home/jail/prisoner1")
    monkeypatch.setattr(day2, "_device", lambda real: 1 if real == real_old else 2)
    for call in (lambda: day2.ensure_root(host, cfg, "prisoner1"),
                 lambda: day2.converge(host, cfg, "prisoner1", after_jail_conf=True),
                 lambda: day2.converge(host, cfg, "prisoner1", test=True, after_jail_conf=True)):
        with pytest.raises(JailprovError, match="on different file systems"):
            call()
    assert host.runner.commands("jail") == []
    assert (root / "home/jail/prisoner1").exists()
