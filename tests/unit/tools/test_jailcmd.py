"""jailcmd: argv builders and the parsers of jls, ping, mount -p and devfs output."""

import json

import pytest

from salt_jail.core.tools import jailcmd
from salt_jail.core.errors import ParseError, ValidationError
from salt_jail.core.tools.jailcmd import MountEntry
from tests.support.samples import SEED_PING  # the tutorial's own ping output


# ------------------------------------------------------------------------------------------------
# argv builders
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv, expected", [
    (jailcmd.jail_create_argv("/etc/jail.conf", "prisoner1"), ["jail", "-f", "/etc/jail.conf", "-c", "prisoner1"]),
    (jailcmd.jail_remove_argv("/etc/jail.conf", "prisoner1"),
     ["jail", "-q", "-f", "/etc/jail.conf", "-r", "prisoner1"]),
    (jailcmd.jexec_argv("prisoner1", ["hostname"]), ["jexec", "-l", "prisoner1", "hostname"]),
    (jailcmd.jexec_argv("prisoner1", ["id", "-u"], user="www"), ["jexec", "-l", "-U", "www", "prisoner1", "id", "-u"]),
    (jailcmd.jexec_argv("prisoner1", ["env"], login=False), ["jexec", "prisoner1", "env"]),
    (jailcmd.ping_argv("192.168.11.30", 3), ["ping", "-c", "3", "192.168.11.30"]),
    (jailcmd.mount_devfs_argv(4, "/home/jail/p1/dev"),
     ["mount", "-t", "devfs", "-o", "ruleset=4", "devfs", "/home/jail/p1/dev"]),
    (jailcmd.umount_argv("/home/jail/p1/dev"), ["umount", "/home/jail/p1/dev"]),
    (jailcmd.devfs_rules_argv(4), ["devfs", "rule", "-s", "4", "show"]),
    (jailcmd.chflags_clear_argv("/home/jail/p1"), ["chflags", "-R", "0", "/home/jail/p1"]),
    (list(jailcmd.JLS_ARGV), ["jls", "-v", "--libxo", "json"]),
    (list(jailcmd.MOUNT_TABLE_ARGV), ["mount", "-p"]),
    (list(jailcmd.SECURELEVEL_ARGV), ["sysctl", "-n", "kern.securelevel"]),
])
def test_argv(argv, expected):
    assert argv == expected


@pytest.mark.parametrize("build", [
    lambda: jailcmd.jail_create_argv("/etc/jail.conf", "-r"),           # a name read as an option
    lambda: jailcmd.jail_remove_argv("/etc/jail.conf", ""),
    lambda: jailcmd.jail_create_argv("-f", "prisoner1"),
    lambda: jailcmd.jexec_argv("prisoner1", "hostname"),                # a string, not an argv list
    lambda: jailcmd.jexec_argv("prisoner1", []),
    lambda: jailcmd.jexec_argv("prisoner1", ["ls", 3]),
    lambda: jailcmd.jexec_argv("prisoner1", ["id"], user="-x"),
    lambda: jailcmd.ping_argv("-f", 3),                                  # flood ping through the target
    lambda: jailcmd.ping_argv("192.168.11.30", 0),
    lambda: jailcmd.ping_argv("192.168.11.30", True),
    lambda: jailcmd.ping_argv("192.168.11.30", "3"),
    lambda: jailcmd.umount_argv("a\0b"),
])
def test_argv_refuses_operands_read_as_options_or_malformed(build):
    with pytest.raises(ValidationError):
        build()


# ------------------------------------------------------------------------------------------------
# jls -v --libxo json
# ------------------------------------------------------------------------------------------------
def jls_doc(*jails):
    return json.dumps({"__version": "2", "jail-information": {"jail": list(jails)}})


P1 = {"jid": 1, "hostname": "bsd1.korodes.com", "path": "/home/jail/prisoner1", "name": "prisoner1",
      "state": "ACTIVE", "cpusetid": 2}
P1_PARSED = {"name": "prisoner1", "jid": 1, "hostname": "bsd1.korodes.com", "path": "/home/jail/prisoner1",
             "ipv4": ["192.168.11.31"], "ipv6": [], "state": "ACTIVE"}


@pytest.mark.parametrize("ipv4_addrs, ipv6_addrs, ipv4, ipv6", [
    (["192.168.11.31"], [], ["192.168.11.31"], []),                             # leaf list
    ("192.168.11.31", "", ["192.168.11.31"], []),                               # single string / empty string
    ([{"ipv4_addr": "192.168.11.31"}], [{"ipv6_addr": "fd00::31"}], ["192.168.11.31"], ["fd00::31"]),
    ({"ipv4_addr": ["192.168.11.31", "10.0.0.1"]}, {"ipv6_addr": "fd00::31"},
     ["192.168.11.31", "10.0.0.1"], ["fd00::31"]),
    ([["192.168.11.31"]], None, ["192.168.11.31"], []),
])
def test_jls_address_list_shapes(ipv4_addrs, ipv6_addrs, ipv4, ipv6):
    entry = dict(P1, ipv4_addrs=ipv4_addrs)
    if ipv6_addrs is not None:
        entry["ipv6_addrs"] = ipv6_addrs
    [jail] = jailcmd.parse_jls_json(jls_doc(entry))
    assert jail == dict(P1_PARSED, ipv4=ipv4, ipv6=ipv6)


def test_jls_two_jails_in_order_and_string_jid():
    p2 = {"jid": "2", "hostname": "bsd2.korodes.com", "path": "/home/jail/prisoner2", "name": "prisoner2",
          "state": "DYING", "ipv4_addrs": ["192.168.11.32"]}
    jails = jailcmd.parse_jls_json(jls_doc(dict(P1, ipv4_addrs=["192.168.11.31"]), p2))
    assert jails == [P1_PARSED, {"name": "prisoner2", "jid": 2, "hostname": "bsd2.korodes.com",
                                 "path": "/home/jail/prisoner2", "ipv4": ["192.168.11.32"], "ipv6": [],
                                 "state": "DYING"}]


@pytest.mark.parametrize("text, expected", [
    (jls_doc(), []),
    (json.dumps({"__version": "2", "jail-information": {}}), []),               # libxo omits an empty list
    (json.dumps({"__version": "2", "jail-information": {"jail": dict(P1, ipv4_addrs="192.168.11.31")}}),
     [P1_PARSED]),
])
def test_jls_empty_and_single_object(text, expected):
    assert jailcmd.parse_jls_json(text) == expected


@pytest.mark.parametrize("text", [
    "",
    "   JID  IP Address      Hostname                      Path\n",               # text output, not JSON
    json.dumps({"jail": []}),
    json.dumps({"jail-information": {"jail": "prisoner1"}}),
    jls_doc({"jid": 1, "ipv4": "192.168.11.31", "hostname": "h", "path": "/p"}),  # default mode: no name
    jls_doc(dict(P1, jid="one")),
    jls_doc(dict(P1, jid=True)),
    jls_doc(dict(P1, ipv4_addrs=5)),
])
def test_jls_malformed(text):
    with pytest.raises(ParseError):
        jailcmd.parse_jls_json(text)


# ------------------------------------------------------------------------------------------------
# ping summary
# ------------------------------------------------------------------------------------------------

NOTHING_BACK = """\
PING 192.168.11.99 (192.168.11.99): 56 data bytes

--- 192.168.11.99 ping statistics ---
3 packets transmitted, 0 packets received, 100.0% packet loss
"""

RTT = {"min": 0.044, "avg": 0.051, "max": 0.057, "stddev": 0.005}


def summary(tx, rx, loss, rtt, ok, dup=0):
    return {"transmitted": tx, "received": rx, "duplicates": dup, "loss_pct": loss, "rtt": rtt, "ok": ok}


@pytest.mark.parametrize("text, retcode, expected", [
    (SEED_PING, 0, summary(3, 3, 0.0, RTT, True)),
    (NOTHING_BACK, 2, summary(3, 0, 100.0, None, False)),
    ("--- h ping statistics ---\n3 packets transmitted, 2 packets received, 33.3% packet loss\n"
     "round-trip min/avg/max/stddev = 1.000/2.500/4.000/1.500 ms\n", 0,
     summary(3, 2, 33.3, {"min": 1.0, "avg": 2.5, "max": 4.0, "stddev": 1.5}, True)),
    ("--- h ping statistics ---\n3 packets transmitted, 3 packets received, +2 duplicates, 0.0% packet loss\n"
     "round-trip min/avg/max/stddev = 0.044/0.051/0.057/0.005 ms\n", 0, summary(3, 3, 0.0, RTT, True, dup=2)),
    # FreeBSD 14's ping, sbin/ping/main.c pr_summary(): "-- somebody's duplicating packets!"
    ("--- h ping statistics ---\n2 packets transmitted, 3 packets received, -- somebody's duplicating packets!\n"
     "round-trip min/avg/max/stddev = 0.044/0.051/0.057/0.005 ms\n", 0, summary(2, 3, None, RTT, True)),
    # ping.c before the 14.x rewrite: "-- somebody's printing up packets!"
    ("--- h ping statistics ---\n2 packets transmitted, 3 packets received, -- somebody's printing up packets!\n"
     "round-trip min/avg/max/stddev = 0.044/0.051/0.057/0.005 ms\n", 0, summary(2, 3, None, RTT, True)),
    ("--- h ping statistics ---\n3 packets transmitted, 3 packets received, 0.0% packet loss, "
     "1 packets out of wait time\nround-trip min/avg/max/stddev = 0.044/0.051/0.057/0.005 ms\n", 0,
     summary(3, 3, 0.0, RTT, True)),
    ("--- h ping statistics ---\n0 packets transmitted, 0 packets received, \n", 2,   # interrupted at once
     summary(0, 0, None, None, False)),
    ("--- ::1 ping6 statistics ---\n1 packets transmitted, 1 packets received, 0.0% packet loss\n"
     "round-trip min/avg/max/std-dev = 0.044/0.051/0.057/0.005 ms\n", 0, summary(1, 1, 0.0, RTT, True)),
    (SEED_PING, 2, summary(3, 3, 0.0, RTT, False)),                 # ping's exit status has the last word
    (NOTHING_BACK + SEED_PING, 0, summary(3, 3, 0.0, RTT, True)),    # the last summary counts
])
def test_parse_ping(text, retcode, expected):
    assert jailcmd.parse_ping(text, retcode) == expected


@pytest.mark.parametrize("text", [
    "",
    "ping: cannot resolve nowhere.invalid: Unknown host\n",
    "--- h ping statistics ---\n",
    "--- h ping statistics ---\n3 packets sent, 3 packets received, 0.0% packet loss\n",
    "3 packets transmitted, 3 packets received, 0.0% packet loss\n",        # no header
])
def test_parse_ping_without_summary(text):
    with pytest.raises(ParseError):
        jailcmd.parse_ping(text, 68)


def test_shared_ping_fixtures_parse(shared_freebsd_ref):
    """FreeBSD's own ping test outputs (numbers stripped) still yield their counts."""
    fixtures = sorted((shared_freebsd_ref / "examples/sbin/ping/tests").glob("*.out"))
    assert fixtures
    for path in fixtures:
        result = jailcmd.parse_ping(path.read_text(), 0)
        assert (result["transmitted"], result["received"], result["loss_pct"], result["ok"]) == (1, 1, 0.0, True)


@pytest.fixture
def shared_freebsd_ref():
    from tests.support.paths import shared_dir  # pylint: disable=import-outside-toplevel

    shared = shared_dir()
    if shared is None or not (shared / "freebsd-ref").is_dir():
        pytest.skip("the shared FreeBSD reference directory is absent (set SALT_JAIL_SHARED)")
    return shared / "freebsd-ref"


# ------------------------------------------------------------------------------------------------
# mount -p, devfs rule show
# ------------------------------------------------------------------------------------------------
MOUNT_P = (
    "/dev/ada0p2\t\t/\t\t\tufs\trw\t\t1 1\n"
    "devfs\t\t\t/dev\t\t\tdevfs\trw,multilabel\t0 0\n"
    "devfs\t\t\t/home/jail/prisoner1/dev devfs\trw\t\t0 0\n"
    "/usr/ports\t\t/home/jail/prisoner1/usr/ports nullfs\tro\t\t0 0\n"
    "zroot/jails/p2\t\t/home/jail/p2\tzfs\trw,nfsv4acls\t0 0\n"
)


@pytest.mark.parametrize("text, expected", [
    (MOUNT_P, [
        MountEntry("/dev/ada0p2", "/", "ufs", "rw"),
        MountEntry("devfs", "/dev", "devfs", "rw,multilabel"),
        MountEntry("devfs", "/home/jail/prisoner1/dev", "devfs", "rw"),
        MountEntry("/usr/ports", "/home/jail/prisoner1/usr/ports", "nullfs", "ro"),
        MountEntry("zroot/jails/p2", "/home/jail/p2", "zfs", "rw,nfsv4acls"),
    ]),
    ("", []),
    ("tmpfs /tmp tmpfs rw\n\n", [MountEntry("tmpfs", "/tmp", "tmpfs", "rw")]),             # no dump/pass
    ("/data/my disk\t/home/jail/p1/my mnt\tnullfs\trw\t0 0\n",                             # whitespace in paths
     [MountEntry("/data/my disk", "/home/jail/p1/my mnt", "nullfs", "rw")]),
    ("devfs\t/home/jail/p1/a b/dev\tdevfs\trw\t0 0\n", [MountEntry("devfs", "/home/jail/p1/a b/dev", "devfs", "rw")]),
    ("/data/x\\040y\t/home/jail/p1/x\\040y\tnullfs\trw\t0 0\n",                           # fstab(5) escapes
     [MountEntry("/data/x y", "/home/jail/p1/x y", "nullfs", "rw")]),
])
def test_parse_mount_p(text, expected):
    assert jailcmd.parse_mount_p(text) == expected


def test_parse_mount_p_malformed():
    with pytest.raises(ParseError) as info:
        jailcmd.parse_mount_p("devfs /dev devfs rw 0 0\nnonsense here\n")
    assert info.value.line == 2


@pytest.mark.parametrize("text, expected", [
    ("", []),
    ("\n  \n", []),
    ("100 include 1\n200 include 2\n300 include 3\n400 path fuse unhide\n",
     ["100 include 1", "200 include 2", "300 include 3", "400 path fuse unhide"]),
])
def test_parse_devfs_rules(text, expected):
    assert jailcmd.parse_devfs_rules(text) == expected
