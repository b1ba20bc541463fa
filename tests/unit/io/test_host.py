"""Host: host paths, one runner, and the memo of read-only queries."""

import pytest

from salt_jail.core.formats import jailconf, rcconf
from salt_jail.core.errors import CommandError
from salt_jail.core.io.host import CmdResult, Host
from salt_jail.core.io.memo import QueryMemo
from tests.support.runner import FakeRunner


def counting_runner():
    """Answers every command with ``answer N``, N counting the commands run."""
    runner = FakeRunner()
    runner.default = lambda call: CmdResult(0, f"answer {len(runner.calls)}")
    return runner


def test_query_without_memo_asks_every_time():
    runner = counting_runner()
    host = Host(root="/", runner=runner)
    assert host.query(["jls"]).stdout == "answer 1"
    assert host.query(["jls"]).stdout == "answer 2"
    assert runner.commands() == [["jls"], ["jls"]]


def test_query_with_memo_asks_once_until_another_command_runs():
    runner = counting_runner()
    host = Host(root="/", runner=runner, memo=QueryMemo())
    assert host.query(["jls", "-v"]).stdout == "answer 1"
    assert host.query(["jls", "-v"]).stdout == "answer 1"
    assert host.query(["mount", "-p"]).stdout == "answer 2"
    host.run(["jail", "-c", "p1"])                        # may have changed what jls says
    assert host.query(["jls", "-v"]).stdout == "answer 4"
    host.check(["mount", "-t", "devfs", "devfs", "/x"])   # check() goes through run(): drops it too
    assert host.query(["mount", "-p"]).stdout == "answer 6"
    assert [c.tool for c in runner.calls] == ["jls", "mount", "jail", "jls", "mount", "mount"]


def test_a_read_only_command_keeps_the_answers():
    runner = counting_runner()
    host = Host(root="/", runner=runner, memo=QueryMemo())
    assert host.query(["jls", "-v"]).stdout == "answer 1"
    host.run(["ping", "-c", "1", "192.168.11.31"])             # changes nothing
    host.run(["zfs", "list", "-H", "-o", "name", "zroot/jails"])
    assert host.query(["jls", "-v"]).stdout == "answer 1"
    host.run(["zfs", "create", "zroot/jails/p1"])              # may: the answers go
    assert host.query(["jls", "-v"]).stdout == "answer 5"


def test_failed_query_is_not_kept():
    runner = counting_runner().on(["jls"], CmdResult(1, "", "jls: boom"))
    host = Host(root="/", runner=runner, memo=QueryMemo())
    for _ in range(2):
        with pytest.raises(CommandError, match="boom"):
            host.query(["jls"], what="listing")
    assert len(runner.calls) == 2 and len(host.memo) == 0


def test_a_memo_shared_by_hosts_is_dropped_by_any_of_them():
    memo = QueryMemo()
    runner = counting_runner()
    first, second = Host(runner=runner, memo=memo), Host(runner=runner, memo=memo)
    first.query(["jls"])
    second.query(["jls"])
    assert len(runner.calls) == 1
    second.run(["jail", "-r", "p1"])
    first.query(["jls"])
    assert [c.tool for c in runner.calls] == ["jls", "jail", "jls"]


def test_jailconf_parse_results_are_shared_but_editing_one_leaves_the_other():
    text = "a { path = /a; }\n"
    one, two = jailconf.parse(text, "/etc/jail.conf"), jailconf.parse(text, "/etc/jail.conf")
    assert one.statements is two.statements            # parsed once
    one.set_block("b", [("path", "/b")])
    assert two.render() == text and two.jails() == ["a"]
    assert one.jails() == ["a", "b"]
    assert jailconf.parse(text, "/etc/jail.conf").jails() == ["a"]


def test_rcconf_parse_results_are_shared_but_editing_one_leaves_the_other():
    text = 'hostname="h"\njail_enable="NO"\n'
    one, two = rcconf.parse(text, "/etc/rc.conf"), rcconf.parse(text, "/etc/rc.conf")
    assert one.set("jail_enable", "YES") and one.set("jail_list", "p1")
    assert one.render() == 'hostname="h"\njail_enable="YES"\njail_list="p1"\n'
    assert two.render() == text and two.get("jail_enable") == "NO"
    assert rcconf.parse(text, "/etc/rc.conf").get("jail_enable") == "NO"
    assert two.delete("hostname") and rcconf.parse(text, "/etc/rc.conf").get("hostname") == "h"


def test_parse_errors_are_raised_every_time():
    for _ in range(2):
        with pytest.raises(Exception, match="expected"):
            jailconf.parse("a { path = ; }\n", "/etc/jail.conf")
