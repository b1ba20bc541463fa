"""The tests' own helpers (tests/support): the one fake runner and the one tree snapshot fail when they must."""

import os

import pytest

from salt_jail.core.io.host import CmdResult, Host
from tests.support.runner import FakeRunner, jls_json, play_jails
from tests.support.tree import entry, snapshot, timeless


def test_runner_records_argv_stdin_and_secret_and_answers_by_prefix():
    runner = FakeRunner(default=CmdResult(0, "default"))
    runner.on(["jail"], stdout="any jail").on(["jail", "-r"], CmdResult(1, "", "removing"))
    host = Host(runner=runner)
    assert host.run(["jail", "-c", "p1"]).stdout == "any jail"
    assert host.run(["jail", "-r", "p1"]).stderr == "removing"         # the later, longer rule wins
    assert host.run(["jls"]).stdout == "default"
    host.run(["pw", "usermod", "root", "-H", "0"], stdin="hash\n", secret=True)
    assert runner.commands() == [["jail", "-c", "p1"], ["jail", "-r", "p1"], ["jls"], ["pw", "usermod", "root",
                                                                                      "-H", "0"]]
    assert runner.commands("jail") == [["jail", "-c", "p1"], ["jail", "-r", "p1"]]
    assert runner.log[0] == ["/usr/sbin/jail", "-c", "p1"]             # as run: the tool's path
    last = runner.calls[-1]
    assert (last.tool, last.stdin, last.secret, last.env, last.cwd) == ("pw", "hash\n", True, None, None)


def test_a_watching_reply_hands_the_command_on():
    seen = []
    runner = FakeRunner().on(["jail"], stdout="kernel").on(["jail"], seen.append)
    assert runner(["/usr/sbin/jail", "-c", "p1"]).stdout == "kernel"
    assert [c.command for c in seen] == [["jail", "-c", "p1"]]


def test_without_default_an_unexpected_command_fails():
    runner = FakeRunner(default=None).on(["jls"], stdout="{}")
    assert runner(["/usr/sbin/jls"]).stdout == "{}"
    with pytest.raises(AssertionError, match="unexpected command"):
        runner(["/usr/sbin/jail", "-c", "p1"])


def test_script_is_exact_and_ordered_and_must_be_used_up():
    runner = FakeRunner(default=None)
    effects = []
    runner.expect(["jls"], "out").expect(lambda argv: argv[0] == "jail", effect=effects.append)
    runner.expect(["umount", "/x"])
    assert runner(["/usr/sbin/jls"]).stdout == "out"
    runner(["/usr/sbin/jail", "-r", "p1"])
    assert effects == [["jail", "-r", "p1"]]
    with pytest.raises(AssertionError):
        runner.assert_done()
    assert runner.pending() == [["umount", "/x"]]
    with pytest.raises(AssertionError, match=r"ran \['umount', '/y'\], expected"):
        runner(["/sbin/umount", "/y"])
    runner.assert_done()


def test_play_jails_follows_jail_c_and_r():
    running = {"p1": "/home/jail/p1"}
    runner = play_jails(FakeRunner(), running, follow_jail=True)
    assert runner(["jls", "-v", "--libxo", "json"]).stdout == jls_json([
        {"jid": 1, "name": "p1", "hostname": "p1", "path": "/home/jail/p1", "state": "ACTIVE", "ipv4_addrs": [],
         "ipv6_addrs": []}])
    runner(["jail", "-f", "/etc/jail.conf", "-c", "p2"])
    runner(["jail", "-q", "-f", "/etc/jail.conf", "-r", "p1"])
    assert running == {"p2": "/home/jail/p2"}


def test_snapshot_sees_every_kind_of_change(tmp_path):
    top = tmp_path / "top"
    (top / "d").mkdir(parents=True)
    (top / "d" / "f").write_text("x")
    os.symlink("f", top / "d" / "link")
    (top / ".rehearsal").mkdir()
    base = snapshot(top, skip=(".rehearsal",))
    assert set(base) == {".", "d", "d/f", "d/link"} and base["d/link"][5] == "-> f"
    (top / ".rehearsal" / "log").write_text("ignored")
    assert snapshot(top, skip=(".rehearsal",)) == base

    changes = [
        lambda: (top / "d" / "f").write_text("y"),                                  # content
        lambda: os.chmod(top / "d" / "f", 0o600),                                   # mode
        lambda: os.utime(top / "d" / "f", ns=(1, 1)),                               # only touched
        lambda: (os.unlink(top / "d" / "link"), os.symlink("g", top / "d" / "link")),  # re-linked
        lambda: (top / "d" / "new").write_text(""),                                 # created
    ]
    if os.geteuid() == 0:
        changes.append(lambda: os.chown(top / "d" / "f", 1, 1))                     # owner
    for change in changes:
        before = snapshot(top)
        change()
        assert snapshot(top) != before


def test_timeless_ignores_only_the_times(tmp_path):
    (tmp_path / "f").write_text("x")
    before = snapshot(tmp_path)
    os.utime(tmp_path / "f", ns=(1, 1))
    assert snapshot(tmp_path) != before and timeless(snapshot(tmp_path)) == timeless(before)
    (tmp_path / "f").write_text("y")
    assert timeless(snapshot(tmp_path)) != timeless(before)


def test_entry_of_a_missing_path_and_snapshot_of_a_missing_tree(tmp_path):
    assert entry(str(tmp_path / "gone")) is None
    assert snapshot(tmp_path / "gone") == {}


def test_snapshot_without_contents_still_sees_size_mode_and_times(tmp_path):
    (tmp_path / "f").write_text("x")
    before = snapshot(tmp_path, contents=False)
    assert before["f"][5] is None                                   # the bytes are not kept
    for change in (lambda: (tmp_path / "f").write_text("yy"), lambda: os.chmod(tmp_path / "f", 0o600),
                   lambda: os.utime(tmp_path / "f", ns=(1, 1))):
        before = snapshot(tmp_path, contents=False)
        change()
        assert snapshot(tmp_path, contents=False) != before
