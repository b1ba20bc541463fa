"""Day-2 changes through ``state.apply jail`` (issue 15): restart last, live changes, moves, failures that say
what they did, a bad then fixed mirror, a slow mirror, an administrator's include.

Each test drives the formula with Salt's loader on a rehearsal host (a real HTTP mirror on 127.0.0.1), changes
the pillar as an administrator would, and checks ``test=True`` predicts the run."""

import copy
import fcntl
import os
import time

import pytest

from salt_jail import rehearsal
from salt_jail.rehearsal import mirror

from tests.support import faulty_mirror
from tests.support.states import apply_jail as _apply, changed as _changed, failed as _failed

BASE = "/amd64/amd64/14.2-RELEASE/base.txz"


@pytest.fixture(scope="module")
def mirror_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("mirror15")
    mirror.make_release(str(root), release="14.2-RELEASE", arch="amd64", dists=("base",), size="small")
    return root


@pytest.fixture
def served(mirror_dir):
    faults, log = {}, []
    url, stop = faulty_mirror.serve(str(mirror_dir), faults, log)
    yield url, faults, log
    stop()


def _pillar(seed, url, **top):
    data = copy.deepcopy(seed)
    data["jailprov"]["mirror"] = url
    data["jailprov"].update(top)
    return data


def _jails(scratch):
    return {j["name"]: j for j in rehearsal.kernel(str(scratch)).jails}


def _jail_commands(scratch, since):
    return [c for c in rehearsal.commands(str(scratch))[since:] if c[0] == "jail"]


def _predicted(states):
    """What a test run says: the states that would change, with their comments."""
    return {k: s["comment"] for k, s in states.items() if s["result"] is None}


def test_jail_root_change_moves_running_prisoners_last_and_a_404_release_keeps_them_running(
        make_loaders, seed_pillar, served, scratch):
    url, faults, _log = served
    loaders = make_loaders(_pillar(seed_pillar, url))
    states = _apply(loaders)
    assert not _failed(states), _failed(states)
    jails = _jails(scratch)
    jids = {n: jails[n]["jid"] for n in ("prisoner1", "prisoner2")}
    old = scratch / "home/jail/prisoner1"
    (old / "root/data.txt").write_text("the prisoner's data\n")

    # jail_root changes, and the release (a new cache_dir) cannot be fetched: a 404 in the same run
    faults[BASE] = 404
    moved = _pillar(seed_pillar, url, jail_root="/srv/jails", cache_dir="/var/cache/other")
    loaders = make_loaders(moved)
    states = _apply(loaders)
    failed = _failed(states)
    assert "jailprov-release" in failed
    for name in ("prisoner1", "prisoner2"):
        assert f"jailprov-{name}-running" in failed                      # never ran: a requisite failed
        pending = failed[f"jailprov-{name}-restart_pending"]
        assert "pending" in pending and f"path changed (/home/jail/{name} -> /srv/jails/{name})" in pending
        assert "jailprov-release" in pending
    jails = _jails(scratch)
    assert {n: jails[n]["jid"] for n in jids} == jids                   # still running, same jails
    assert jails["prisoner1"]["path"].endswith("/home/jail/prisoner1")
    assert (old / "root/data.txt").exists() and not (scratch / "srv/jails/prisoner1").exists()
    assert (scratch / "var/run/jailprov/prisoner1.conf").exists()       # the block it was started with

    # the mirror is fixed: test=True predicts the move of both, exactly, and writes nothing
    faults.clear()
    before = len(rehearsal.commands(str(scratch)))
    dry = _apply(loaders, test=True)
    assert not _failed(dry), _failed(dry)
    predicted = _predicted(dry)
    for name in ("prisoner1", "prisoner2"):
        assert f"would move it to /srv/jails/{name}" in dry[f"jailprov-{name}-root"]["comment"]
        comment = predicted[f"jailprov-{name}-running"]
        assert f"needs a restart because path changed (/home/jail/{name} -> /srv/jails/{name})" in comment
        assert f"rename /home/jail/{name} to /srv/jails/{name}" in comment
    assert _jail_commands(scratch, before) == [] and not (scratch / "srv/jails/prisoner1").exists()

    states = _apply(loaders)
    assert not _failed(states), _failed(states)
    jails = _jails(scratch)
    for name in ("prisoner1", "prisoner2"):
        assert jails[name]["path"].endswith(f"/srv/jails/{name}"), jails[name]
        assert not (scratch / "home/jail" / name).exists()                # nothing left in the old root
        assert "restarted because path changed" in states[f"jailprov-{name}-running"]["comment"]
    assert (scratch / "srv/jails/prisoner1/root/data.txt").read_text() == "the prisoner's data\n"
    assert not (scratch / "var/run/jailprov/prisoner1.conf").exists()
    stops = [c for c in _jail_commands(scratch, before) if "-r" in c]
    assert stops == [["jail", "-q", "-f", f"/var/run/jailprov/{n}.conf", "-r", n] for n in ("prisoner1", "prisoner2")]
    assert _changed(_apply(loaders)) == [] and _changed(_apply(loaders, test=True)) == []


def test_hostname_change_is_applied_live_and_a_forbidden_restart_fails_clearly(make_loaders, seed_pillar, served,
                                                                               scratch):
    url, _faults, _log = served
    assert not _failed(_apply(make_loaders(_pillar(seed_pillar, url))))
    jid = _jails(scratch)["prisoner1"]["jid"]

    renamed = _pillar(seed_pillar, url)
    renamed["jailprov"]["prisoners"]["prisoner1"]["hostname"] = "web1.korodes.com"
    loaders = make_loaders(renamed)
    before = len(rehearsal.commands(str(scratch)))
    predicted = _predicted(_apply(loaders, test=True))
    assert "would be changed live (host.hostname)" in predicted["jailprov-prisoner1-running"]
    assert _jails(scratch)["prisoner1"]["hostname"] == "bsd1.korodes.com"
    states = _apply(loaders)
    assert not _failed(states), _failed(states)
    jail = _jails(scratch)["prisoner1"]
    assert jail["jid"] == jid and jail["params"]["host.hostname"] == "web1.korodes.com"
    assert _jail_commands(scratch, before) == [["jail", "-f", "/etc/jail.conf", "-m", "prisoner1"]]
    assert "no restart" in states["jailprov-prisoner1-running"]["comment"]
    assert _changed(_apply(loaders)) == []

    # automatic restarts forbidden host-wide: a jid change fails, naming why, and the prisoner runs on
    forbidden = copy.deepcopy(renamed)
    forbidden["jailprov"]["defaults"]["auto_restart"] = False
    forbidden["jailprov"]["prisoners"]["prisoner1"]["jid"] = 11
    loaders = make_loaders(forbidden)
    for test in (True, False):
        failed = _failed(_apply(loaders, test=test))
        assert "restart needed because jid changed (1 -> 11)" in failed["jailprov-prisoner1-running"]
    assert _jails(scratch)["prisoner1"]["jid"] == jid


def test_move_refused_before_anything_stops_when_the_new_path_exists(make_loaders, seed_pillar, served, scratch):
    url, _faults, _log = served
    assert not _failed(_apply(make_loaders(_pillar(seed_pillar, url))))
    jid = _jails(scratch)["prisoner2"]["jid"]
    (scratch / "srv/jails/prisoner2").mkdir(parents=True)
    loaders = make_loaders(_pillar(seed_pillar, url, jail_root="/srv/jails"))
    for test in (True, False):
        failed = _failed(_apply(loaders, test=test))
        assert "/srv/jails/prisoner2 already exists" in failed["jailprov-prisoner2-root"]
    jails = _jails(scratch)
    assert jails["prisoner2"]["jid"] == jid and jails["prisoner2"]["path"].endswith("/home/jail/prisoner2")
    assert jails["prisoner1"]["path"].endswith("/srv/jails/prisoner1")   # the other prisoner moved


def test_bad_manifest_is_not_kept_and_the_fixed_mirror_converges(make_loaders, seed_pillar, served, scratch,
                                                                  mirror_dir, tmp_path):
    url, faults, log = served
    manifest = mirror_dir / "amd64/amd64/14.2-RELEASE/MANIFEST"
    good = manifest.read_text()
    bad = good.replace(good.split("\t")[1], "0" * 64)
    # the mirror's files are hard links into the machine-wide release cache: break the link before writing,
    # or every other run on this machine would read the bad MANIFEST while this test runs
    manifest.unlink()
    manifest.write_text(bad)
    try:
        loaders = make_loaders(_pillar(seed_pillar, url, cache_dir="/var/cache/bad15"))
        for _ in range(2):
            failed = _failed(_apply(loaders))
            assert "sha256 mismatch" in failed["jailprov-release"] and "MANIFEST was removed" in failed[
                "jailprov-release"]
            assert not (scratch / "var/cache/bad15/14.2-RELEASE/amd64/MANIFEST").exists()
    finally:
        manifest.write_text(good)
    states = _apply(loaders)
    assert not _failed(states), _failed(states)
    gets = len([p for _m, p, _f in log if p.endswith("/base.txz")])
    assert _changed(_apply(loaders)) == [] and len([p for _m, p, _f in log if p.endswith("/base.txz")]) == gets


def test_slow_mirror_fails_within_its_deadline_and_releases_the_lock(make_loaders, seed_pillar, served, scratch):
    url, faults, _log = served
    faults[BASE] = ("slow", 0.2, 30)
    loaders = make_loaders(_pillar(seed_pillar, url, cache_dir="/var/cache/slow15", download_deadline=2))
    started = time.monotonic()
    ret = loaders.states.jailprov.release_fetched(name="release")
    assert time.monotonic() - started < 15
    assert ret.result is False
    assert f"{url}{BASE}" in ret.comment and "download deadline of 2 s passed: received" in ret.comment
    with open(scratch / "var/cache/slow15/14.2-RELEASE/amd64/.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)               # released
    with open(scratch / "var/run/jailprov-host.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)


@pytest.mark.parametrize("include", ['"/etc/jail.conf.d/*"', '"/etc//jail.conf.d/*.conf"', '"jail.conf.d/p*.conf"'])
def test_an_administrators_include_counts(make_loaders, seed_pillar, served, scratch, include):
    url, _faults, _log = served
    rehearsal.setup(str(scratch))
    admin = f"# the administrator's jail.conf\nexec.clean;\n.include {include};\n"
    (scratch / "etc/jail.conf").write_text(admin)
    loaders = make_loaders(_pillar(seed_pillar, url, jail_conf_layout="jail.conf.d"))
    predicted = _apply(loaders, test=True)
    assert "/etc/jail.conf would be changed" not in predicted["jailprov-prisoner1-jail_conf"]["comment"]
    states = _apply(loaders)
    assert not _failed(states), _failed(states)
    assert (scratch / "etc/jail.conf").read_text() == admin
    assert _changed(_apply(loaders)) == []


def test_concurrent_run_waits_then_fails_naming_the_holder(make_loaders, seed_pillar, served, scratch):
    url, _faults, _log = served
    loaders = make_loaders(_pillar(seed_pillar, url))
    loaders.opts["jailprov"]["lock_timeout"] = 1
    rehearsal.setup(str(scratch))
    (scratch / "var/run").mkdir(parents=True, exist_ok=True)
    with open(scratch / "var/run/jailprov-host.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        lock.write("pid 4242 on minion other: jailprov.install_base since 2026-01-01T00:00:00+00:00\n")
        lock.flush()
        ret = loaders.states.jailprov.host_pw_conf(name="host")
    assert ret.result is False and "pid 4242 on minion other: jailprov.install_base" in ret.comment
    pw_conf = scratch / "etc/pw.conf"
    assert not ret.changes and (not pw_conf.exists() or "minuid = 10000" not in pw_conf.read_text())
    assert loaders.states.jailprov.host_pw_conf(name="host").result is True


def test_leftover_temp_files_are_removed_by_the_next_write(make_loaders, seed_pillar, served, scratch):
    url, _faults, _log = served
    rehearsal.setup(str(scratch))
    leftover = scratch / "etc/.pw.conf.jailprov-0123456789ab"
    leftover.write_text("half written\n")
    other = scratch / "etc/.rc.conf.jailprov-0123456789ab"
    other.write_text("another file's\n")
    loaders = make_loaders(_pillar(seed_pillar, url))
    assert loaders.states.jailprov.host_pw_conf(name="host").result is True
    assert not leftover.exists() and other.exists()


def test_a_refused_destroy_reports_what_it_did(make_loaders, seed_pillar, served, scratch):
    url, _faults, _log = served
    assert not _failed(_apply(make_loaders(_pillar(seed_pillar, url))))
    mount = scratch / ".rehearsal/bin/mount"
    import subprocess
    subprocess.run([str(mount), "-t", "tmpfs", "tmpfs", "/home/jail/prisoner2"], check=True)
    gone = _pillar(seed_pillar, url)
    gone["jailprov"]["prisoners"]["prisoner2"]["absent"] = True
    loaders = make_loaders(gone)
    dry = _apply(loaders, test=True)["jailprov-prisoner2-absent"]
    assert dry["result"] is False and "itself a mount point" in dry["comment"]
    assert "prisoner2" in _jails(scratch)
    # issue 14 (destroy's test mode = a run's checks): the mount the jail's configuration does not make is
    # refused before the stop, by the run as by the dry run; a refusal after a stop still reports what it did
    # (tests/unit/features/test_lifecycle.py::test_a_destroy_refused_after_the_stop_reports_what_it_did)
    ret = _apply(loaders)["jailprov-prisoner2-absent"]
    assert ret["result"] is False and ret["comment"] == dry["comment"]
    assert ret["changes"] == {}
    assert "prisoner2" in _jails(scratch)
