"""The query memo (salt_jail.core.io.memo): filled once, emptied by any command that may change the host, never
giving a stale answer after a change."""

import pytest

from salt_jail.core.io.memo import QueryMemo, may_change_host


class Kernel:
    """A host whose jail list changes when ``jail -c`` runs: answers say how many jails run."""

    def __init__(self):
        self.jails = 0
        self.asked = 0

    def ask(self):
        self.asked += 1
        return f"{self.jails} jails"

    def run(self, memo, argv):
        memo.command(argv)
        if argv[:2] == ["jail", "-c"]:
            self.jails += 1


def test_filled_once():
    memo, kernel = QueryMemo(), Kernel()
    assert [memo.answer(["jls"], kernel.ask) for _ in range(5)] == ["0 jails"] * 5
    assert kernel.asked == 1 and len(memo) == 1 and ["jls"] in memo
    assert memo.answer(["mount", "-p"], kernel.ask) == "0 jails" and kernel.asked == 2   # another query: asked


@pytest.mark.parametrize("argv", [
    ["jail", "-c", "p1"], ["jail", "-q", "-f", "/etc/jail.conf", "-r", "p1"], ["jail", "-f", "/etc/jail.conf", "-m", "p1"],
    ["mount", "-t", "devfs", "devfs", "/home/jail/p1/dev"], ["mount", "-p", "/x"], ["umount", "/home/jail/p1/dev"],
    ["zfs", "create", "-p", "zroot/jails/p1"], ["zfs", "destroy", "-r", "zroot/jails/p1"],
    ["zfs", "-v", "snapshot", "zroot/r@s"], ["zpool", "create", "x"], ["ifconfig", "bridge0", "create"],
    ["ifconfig", "em0", "inet", "10.0.0.1", "alias"], ["sysctl", "kern.securelevel=1"], ["sysctl"],
    ["jexec", "p1", "/bin/sh"], ["service", "jail", "start"], ["tar", "-xpf", "base.txz"], ["chflags", "-R", "0", "/x"],
    ["pw", "usermod", "root"], ["devfs", "-m", "/x", "rule", "-s", "4", "applyset"], ["/usr/sbin/jail", "-c", "p1"],
    ["anything-unknown"],
])
def test_a_command_that_may_change_the_host_empties_it(argv):
    assert may_change_host(argv)
    memo, kernel = QueryMemo(), Kernel()
    memo.answer(["jls"], kernel.ask)
    memo.command(argv)
    assert len(memo) == 0
    memo.answer(["jls"], kernel.ask)
    assert kernel.asked == 2


@pytest.mark.parametrize("argv", [
    ["jls"], ["jls", "-v", "--libxo", "json"], ["/usr/sbin/jls", "-j", "p1"], ["mount"], ["mount", "-p"],
    ["zfs", "list", "-H", "-o", "name", "zroot"], ["zfs", "get", "-Hp", "origin", "zroot/x"], ["zpool", "list"],
    ["zpool", "status", "zroot"], ["ifconfig", "-a"], ["ifconfig"], ["sysctl", "-n", "kern.securelevel"],
    ["ping", "-c", "1", "192.168.11.31"],
])
def test_a_read_only_command_keeps_it(argv):
    assert not may_change_host(argv)
    memo, kernel = QueryMemo(), Kernel()
    memo.answer(["jls"], kernel.ask)
    memo.command(argv)
    assert memo.answer(["jls"], kernel.ask) == "0 jails" and kernel.asked == 1


def test_a_stale_answer_never_survives_a_change():
    memo, kernel = QueryMemo(), Kernel()
    for step in range(1, 6):
        assert memo.answer(["jls"], kernel.ask) == f"{step - 1} jails"
        kernel.run(memo, ["ping", "-c", "1", "10.0.0.1"])
        assert memo.answer(["jls"], kernel.ask) == f"{step - 1} jails"      # kept: nothing changed
        kernel.run(memo, ["jail", "-c", f"p{step}"])
        assert memo.answer(["jls"], kernel.ask) == f"{step} jails"          # the change is seen at once
        assert memo.answer(["jls"], kernel.ask) == f"{step} jails"
    assert kernel.asked == 6


def test_invalidate_drops_answers_not_notes():
    memo, kernel = QueryMemo(), Kernel()
    memo.answer(["jls"], kernel.ask)
    memo.notes["jail_conf_new"] = ["p1"]
    memo.invalidate()
    assert len(memo) == 0 and memo.notes == {"jail_conf_new": ["p1"]}
    memo.answer(["jls"], kernel.ask)
    assert kernel.asked == 2


def test_a_failed_query_is_not_kept():
    memo, kernel = QueryMemo(), Kernel()

    def failing():
        kernel.asked += 1
        raise RuntimeError("jls: boom")

    for _ in range(2):
        with pytest.raises(RuntimeError, match="boom"):
            memo.answer(["jls"], failing)
    assert len(memo) == 0 and memo.answer(["jls"], kernel.ask) == "0 jails" and kernel.asked == 3
