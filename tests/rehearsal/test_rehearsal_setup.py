"""The rehearsal host's scratch root: setup(), the wrappers, the logs, the kernel state, sysctl(8)."""

import concurrent.futures
import json
import os
import sys

import pytest

from salt_jail import rehearsal

from tests.support.standins import run


@pytest.fixture
def root(rehearsal_root):
    return rehearsal_root




def test_setup_creates_every_wrapper_with_absolute_interpreter(root):
    bindir = os.path.join(root, ".rehearsal", "bin")
    expected = {"chflags", "devfs", "ifconfig", "jail", "jexec", "jls", "mount", "ping", "ping6", "pw",
                "service", "sysctl", "tar", "umount", "zfs", "zpool", "route"}
    assert set(os.listdir(bindir)) == expected == set(rehearsal.TOOLS)
    for tool in expected:
        path = os.path.join(bindir, tool)
        assert os.access(path, os.X_OK)
        with open(path, encoding="utf-8") as fh:
            first, body = fh.readline(), fh.read()
        assert first.startswith(f"#!{sys.executable} ")
        assert repr(os.path.realpath(root)) in body


def test_setup_is_idempotent_and_keeps_state(root):
    with open(os.path.join(root, "etc/rc.conf"), "a", encoding="utf-8") as fh:
        fh.write('jail_enable="YES"\n')
    rehearsal.set_securelevel(root, 2)
    wrapper = os.path.join(root, ".rehearsal/bin/jls")
    with open(wrapper, "w", encoding="utf-8") as fh:
        fh.write("broken")
    assert rehearsal.setup(root) == os.path.join(os.path.realpath(root), ".rehearsal", "bin")
    with open(os.path.join(root, "etc/rc.conf"), encoding="utf-8") as fh:
        assert fh.read().endswith('jail_enable="YES"\n')
    assert rehearsal.kernel(root).securelevel == 2
    lowered = run(root, "sysctl", "kern.securelevel=0")
    assert (lowered.returncode, lowered.stderr) == (1, "sysctl: kern.securelevel=0: Operation not permitted\n")
    assert run(root, "jls").returncode == 0  # the damaged wrapper was rewritten


def test_host_files(tmp_path):
    root = str(tmp_path / "h")
    rehearsal.setup(root, interface="vtnet0", host_ipv4="10.9.8.7", hostname="h.example.net",
                    resolv_conf="nameserver 10.9.8.1\n")
    try:
        with open(os.path.join(root, "etc/rc.conf"), encoding="utf-8") as fh:
            assert fh.read() == 'hostname="h.example.net"\nifconfig_vtnet0="inet 10.9.8.7 netmask 255.255.255.0"\n'
        with open(os.path.join(root, "etc/resolv.conf"), encoding="utf-8") as fh:
            assert fh.read() == "nameserver 10.9.8.1\n"
        with open(os.path.join(root, "etc/master.passwd"), encoding="utf-8") as fh:
            assert fh.readline() == "root::0:0::0:0:Charlie &:/root:/bin/sh\n"
        assert oct(os.stat(os.path.join(root, "etc/master.passwd")).st_mode & 0o777) == "0o600"
        with open(os.path.join(root, "etc/group"), encoding="utf-8") as fh:
            assert fh.readline() == "wheel:*:0:root\n"
        view = rehearsal.kernel(root)
        assert view.hostname == "h.example.net"
        assert view.interfaces == {"vtnet0": ["10.9.8.7"], "lo0": ["127.0.0.1", "::1"]}
    finally:
        rehearsal.clear_file_flags(root)


def test_initial_kernel_state(root):
    view = rehearsal.kernel(root)
    assert view.securelevel == -1
    assert view.jails == []
    assert view.mounts == [("/dev/ada0p2", "/", "ufs"), ("devfs", "/dev", "devfs")]
    assert view.aliases == {"em0": [], "lo0": []}
    assert sorted(view.devfs_rulesets) == [1, 2, 3, 4, 5]
    assert view.devfs_rulesets[1] == ["hide"]
    assert view.devfs_rulesets[4] == ["include 1", "include 2", "include 3", "path fuse unhide", "path zfs unhide"]
    assert view.devfs_rulesets[5][-1] == "path pf unhide"
    assert "path urandom unhide" in view.devfs_rulesets[2]


def test_commands_log_uses_freebsd_names(root):
    run(root, "jls", "-N")
    run(root, "ping6", "-c", "1", "::1")
    run(root, "sysctl", "-n", "kern.securelevel")
    assert rehearsal.commands(root) == [["jls", "-N"], ["ping6", "-c", "1", "::1"],
                                        ["sysctl", "-n", "kern.securelevel"]]
    with open(os.path.join(root, ".rehearsal/commands.log"), encoding="utf-8") as fh:
        assert [json.loads(line) for line in fh][0] == ["jls", "-N"]


def test_concurrent_stand_ins_do_not_lose_changes(root):
    def alias(n):
        return run(root, "ifconfig", "em0", "inet", f"192.168.11.{100 + n}", "netmask", "255.255.255.255",
                   "alias").returncode

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert list(pool.map(alias, range(8))) == [0] * 8
    assert sorted(rehearsal.kernel(root).aliases["em0"]) == [f"192.168.11.{100 + n}" for n in range(8)]
    assert len(rehearsal.commands(root)) == 8


@pytest.mark.parametrize("argv, status, stdout, stderr", [
    (["-n", "kern.securelevel"], 0, "-1\n", ""),
    (["kern.securelevel"], 0, "kern.securelevel: -1\n", ""),
    (["-n", "kern.nosuch"], 1, "", "sysctl: unknown oid 'kern.nosuch'\n"),
    (["-q", "kern.nosuch"], 1, "", ""),
    (["kern.securelevel=-1"], 0, "kern.securelevel: -1 -> -1\n", ""),
])
def test_sysctl(root, argv, status, stdout, stderr):
    result = run(root, "sysctl", *argv)
    assert (result.returncode, result.stdout, result.stderr) == (status, stdout, stderr)


def test_securelevel_set_by_tests_and_raised_by_sysctl(root):
    rehearsal.set_securelevel(root, 1)
    assert run(root, "sysctl", "-n", "kern.securelevel").stdout == "1\n"
    result = run(root, "sysctl", "kern.securelevel=2")
    assert (result.returncode, result.stdout) == (0, "kern.securelevel: 1 -> 2\n")
    assert rehearsal.kernel(root).securelevel == 2
    lowered = run(root, "sysctl", "kern.securelevel=0")
    assert (lowered.returncode, lowered.stderr) == (1, "sysctl: kern.securelevel=0: Operation not permitted\n")
