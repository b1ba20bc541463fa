"""ifconfig(8) and ping(8) stand-ins: the simulated network of the rehearsal host."""

import re
import time

import pytest

from salt_jail import rehearsal
from salt_jail.core.tools import jailcmd

from tests.support.paths import shared_dir

from tests.support.standins import run


@pytest.fixture
def root(rehearsal_root):
    return rehearsal_root




# -- ifconfig ----------------------------------------------------------------------------------------

def test_ifconfig_lists_an_interface_in_freebsd_layout(root):
    out = run(root, "ifconfig", "em0").stdout.splitlines()
    assert out[0] == "em0: flags=1008843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST,LOWER_UP> metric 0 mtu 1500"
    assert "\tinet 192.168.11.30 netmask 0xffffff00 broadcast 192.168.11.255" in out
    assert out[-2:] == ["\tstatus: active", "\tnd6 options=29<PERFORMNUD,IFDISABLED,AUTO_LINKLOCAL>"]
    assert run(root, "ifconfig", "-l").stdout == "em0 lo0\n"


def test_ifconfig_aliases_as_jail8_adds_and_removes_them(root):
    add = ["em0", "inet", "192.168.11.31", "netmask", "255.255.255.255", "alias"]
    assert run(root, "ifconfig", *add).returncode == 0
    assert run(root, "ifconfig", *add).returncode == 0  # SIOCAIFADDR replaces an existing address
    assert "\tinet 192.168.11.31 netmask 0xffffffff broadcast 192.168.11.31" in run(root, "ifconfig", "em0").stdout
    assert rehearsal.kernel(root).aliases["em0"] == ["192.168.11.31"]
    assert run(root, "ifconfig", "em0", "inet6", "fd00::31", "prefixlen", "128", "alias").returncode == 0
    assert "\tinet6 fd00::31 prefixlen 128" in run(root, "ifconfig", "em0").stdout
    assert run(root, "ifconfig", "em0", "inet", "192.168.11.31", "-alias").returncode == 0
    assert run(root, "ifconfig", "em0", "inet6", "fd00::31", "-alias").returncode == 0
    assert rehearsal.kernel(root).aliases["em0"] == []


@pytest.mark.parametrize("argv, status, stderr", [
    (["em0", "inet", "192.168.11.99", "-alias"], 1, "ifconfig: ioctl (SIOCDIFADDR): Can't assign requested address\n"),
    (["nosuch"], 1, "ifconfig: interface nosuch does not exist\n"),
])
def test_ifconfig_errors(root, argv, status, stderr):
    result = run(root, "ifconfig", *argv)
    assert (result.returncode, result.stderr) == (status, stderr)


def test_ifconfig_usage(root):
    result = run(root, "ifconfig", "-z")
    assert result.returncode == 1
    assert result.stderr.startswith("ifconfig: illegal option -- z\nusage: ifconfig [-j jail] [-f type:format]")


# -- ping ----------------------------------------------------------------------------------------------

def _filter(text):
    """sbin/ping/tests/ping_test.sh check_ping_statistics(): the numbers FreeBSD's own tests ignore."""
    for pattern, repl in ((r"0.[0-9]{3}", ""), (r"[1-9][0-9]*.[0-9]{3}", ""),
                          (r"localhost \([0-9]{1,3}(\.[0-9]{1,3}){1,3}\)", "localhost"),
                          (r"from [0-9]{1,3}(\.[0-9]{1,3}){1,3}", "from"), (r"ttl=[0-9][0-9]*", "ttl="),
                          (r"hlim=[0-9][0-9]*", "hlim=")):
        text = re.sub(pattern, repl, text)
    return text


@pytest.mark.parametrize("fixture, argv", [
    ("ping_c1_s56_t1.out", ["ping", "-4", "-c", "1", "-s", "56", "-t", "1", "localhost"]),
    ("ping_c1_s56_t1_S127.out", ["ping", "-c", "1", "-s", "56", "-t", "1", "-S", "127.0.0.1", "localhost"]),
    ("ping_6_c1_s8_t1.out", ["ping", "-6", "-c", "1", "-s", "8", "-t", "1", "localhost"]),
    ("ping_6_c1_s8_t1.out", ["ping6", "-c", "1", "-s", "8", "-t", "1", "localhost"]),
])
def test_ping_matches_freebsd_test_fixtures(root, fixture, argv):
    shared = shared_dir()
    expected = shared and shared / "freebsd-ref/examples/sbin/ping/tests" / fixture
    if not expected or not expected.is_file():
        pytest.skip("FreeBSD ping fixtures not available")
    result = run(root, *argv)
    assert (result.returncode, result.stderr) == (0, "")
    assert _filter(result.stdout) == expected.read_text()


def test_ping_exact_lines_and_no_real_waiting(root):
    start = time.monotonic()
    result = run(root, "ping", "-c", "3", "192.168.11.30")
    assert time.monotonic() - start < 5
    lines = result.stdout.splitlines()
    assert result.returncode == 0
    assert lines[0] == "PING 192.168.11.30 (192.168.11.30): 56 data bytes"
    for seq, line in enumerate(lines[1:4]):
        assert re.fullmatch(rf"64 bytes from 192\.168\.11\.30: icmp_seq={seq} ttl=64 time=\d+\.\d{{3}} ms", line)
    assert lines[4:7] == ["", "--- 192.168.11.30 ping statistics ---",
                          "3 packets transmitted, 3 packets received, 0.0% packet loss"]
    assert re.fullmatch(r"round-trip min/avg/max/stddev = (\d+\.\d{3}/){3}\d+\.\d{3} ms", lines[7])
    assert len(lines) == 8


def test_ping_unanswered_and_remote_hosts(root):
    lost = run(root, "ping", "-c", "2", "192.168.11.1")
    assert lost.returncode == 2
    assert lost.stdout.splitlines()[-1] == "2 packets transmitted, 0 packets received, 100.0% packet loss"
    rehearsal.add_remote_host(root, "192.168.11.1")
    assert run(root, "ping", "-c", "1", "192.168.11.1").returncode == 0


def test_ping_more_replies_than_requests_prints_the_14x_line(root):
    """FreeBSD 14's unified ping, sbin/ping/main.c pr_summary(): ``if (nreceived > ntransmitted)
    fprintf(stream, "-- somebody's duplicating packets!");`` in place of the loss; the product reads it."""
    rehearsal.add_remote_host(root, "192.168.11.1", duplicating=True)
    result = run(root, "ping", "-c", "3", "192.168.11.1")
    assert result.returncode == 0
    assert result.stdout.splitlines()[-2] == ("3 packets transmitted, 4 packets received, "
                                              "-- somebody's duplicating packets!")
    summary = jailcmd.parse_ping(result.stdout, result.returncode)
    assert (summary["transmitted"], summary["received"], summary["loss_pct"], summary["ok"]) == (3, 4, None, True)


@pytest.mark.parametrize("argv, status, stderr_start", [
    (["-4", "-6", "localhost"], 1, "ping: -4 and -6 cannot be used simultaneously"),
    (["-4", "-c", "1", "::1"], 1, "ping: IPv4 requested but IPv6 target address provided"),
    (["-6", "-c", "1", "127.0.0.1"], 1, "ping: IPv6 requested but IPv4 target address provided"),
    (["-c", "x", "127.0.0.1"], 64, "ping: invalid count of packets to transmit: `x'"),
    (["-c", "1", "no.such.host"], 68, "ping: cannot resolve no.such.host: "),
    (["-X", "127.0.0.1"], 1, "ping: illegal option -- X\nusage:\n\tping [-4AaDdfHnoQqRrv]"),
])
def test_ping_errors(root, argv, status, stderr_start):
    result = run(root, "ping", *argv)
    assert result.returncode == status
    assert result.stderr.startswith(stderr_start)


def test_ping_t6_is_a_timeout_not_an_option(root):
    assert run(root, "ping", "-c1", "-t6", "127.0.0.1").returncode == 0
    assert run(root, "ping6", "-c1", "-t4", "::1").returncode == 0
