"""VNET on the rehearsal host: bridges, epairs and VNET jails are real Linux bridges, veth pairs and network
namespaces — all inside namespaces of the scratch root's own; pings really cross the bridge."""

import os
import subprocess

import pytest

from salt_jail import rehearsal
from salt_jail.rehearsal import netns, vnet
from salt_jail.rehearsal.cli import TOOLS

from tests.support.standins import run

OK, REASON = netns.available()
pytestmark = pytest.mark.skipif(not OK, reason=f"VNET rehearsal needs network namespaces: {REASON}")


def _machine_links():
    """The links of the machine's own network namespace (never to be touched)."""
    out = subprocess.run([netns.ip_binary(), "-o", "link", "show"], capture_output=True, text=True, check=True)
    return sorted(line.split(":")[1].strip() for line in out.stdout.splitlines())


@pytest.fixture
def root(rehearsal_root):
    before = _machine_links()
    yield rehearsal_root
    rehearsal.clear_network(rehearsal_root)
    assert rehearsal.network_namespaces(rehearsal_root) == []
    assert _machine_links() == before


def _jail_root(root, name):
    path = f"/home/jail/{name}"
    os.makedirs(root + path + "/etc", exist_ok=True)
    return path


def _vnet_jail(root, name, bridge, address, gateway=None):
    """A running VNET jail on ``bridge`` with ``address`` (and a default route), made by hand with the tools."""
    path = _jail_root(root, name)
    epair = run(root, "ifconfig", "epair", "create").stdout.strip()
    assert epair.startswith("epair") and epair.endswith("a")
    assert run(root, "ifconfig", epair, "name", f"e0a_{name}").stdout == f"e0a_{name}\n"
    assert run(root, "ifconfig", epair[:-1] + "b", "name", f"e0b_{name}").returncode == 0
    assert run(root, "ifconfig", bridge, "addm", f"e0a_{name}", "up").returncode == 0
    assert run(root, "ifconfig", f"e0a_{name}", "up").returncode == 0
    created = run(root, "jail", "-c", f"name={name}", f"path={path}", "persist", "vnet",
                  f"vnet.interface=e0b_{name}", "allow.raw_sockets")
    assert created.returncode == 0, created.stderr
    assert run(root, "jexec", name, "ifconfig", f"e0b_{name}", "inet", address).returncode == 0
    if gateway:
        added = run(root, "jexec", name, "route", "add", "default", gateway)
        assert (added.returncode, added.stdout) == (0, f"add net default: gateway {gateway}\n")
    return name


def _ping(root, name, target):
    return run(root, "jexec", name, "ping", "-c", "1", target)


def test_ifconfig_clones_renames_bridges_and_destroys(root):
    assert run(root, "ifconfig", "bridge0", "create").stdout == ""  # the asked-for name is not printed
    taken = run(root, "ifconfig", "bridge0", "create")
    assert (taken.returncode, taken.stderr) == (1, "ifconfig: SIOCIFCREATE2: File exists\n")
    assert run(root, "ifconfig", "bridge", "create").stdout == "bridge1\n"
    assert run(root, "ifconfig", "epair", "create").stdout == "epair0a\n"
    assert run(root, "ifconfig", "epair0a", "name", "e0a_x").stdout == "e0a_x\n"
    # the unit stays taken after a rename (if_clone.c): the next epair is epair1
    assert run(root, "ifconfig", "epair", "create").stdout == "epair1a\n"
    assert run(root, "ifconfig", "bridge0", "addm", "e0a_x").returncode == 0
    again = run(root, "ifconfig", "bridge0", "addm", "e0a_x")
    assert (again.returncode, again.stderr) == (1, "ifconfig: BRDGADD e0a_x: File exists\n")
    busy = run(root, "ifconfig", "bridge1", "addm", "e0a_x")
    assert (busy.returncode, busy.stderr) == (1, "ifconfig: BRDGADD e0a_x: Device busy\n")
    listing = run(root, "ifconfig", "bridge0").stdout.splitlines()
    assert listing[0].startswith("bridge0: flags=1008802<BROADCAST,SIMPLEX,MULTICAST,LOWER_UP>")
    assert "\tmember: e0a_x flags=143<LEARNING,DISCOVER,AUTOEDGE,AUTOPTP>" in listing
    assert run(root, "ifconfig", "-l").stdout == "em0 lo0 bridge0 bridge1 e0a_x epair0b epair1a epair1b\n"
    links = netns.links(netns.host_ns(root))
    assert links["e0a_x"]["master"] == "bridge0" and links["epair0b"]["kind"] == "veth"
    # destroying one half destroys the pair, and its bridge membership
    assert run(root, "ifconfig", "epair0b", "destroy").returncode == 0
    assert run(root, "ifconfig", "-l").stdout == "em0 lo0 bridge0 bridge1 epair1a epair1b\n"
    assert "member:" not in run(root, "ifconfig", "bridge0").stdout
    assert set(netns.links(netns.host_ns(root))) == {"lo", "bridge0", "bridge1", "epair1a", "epair1b"}
    gone = run(root, "ifconfig", "e0a_x", "destroy")
    assert (gone.returncode, gone.stderr) == (1, "ifconfig: interface e0a_x does not exist\n")


def test_vnet_jails_ping_across_the_bridge_and_fail_where_freebsd_would(root):
    run(root, "ifconfig", "bridge0", "create", "up")
    run(root, "ifconfig", "bridge1", "create", "up")
    assert run(root, "ifconfig", "bridge0", "inet", "10.19.0.1/24", "alias").returncode == 0
    _vnet_jail(root, "one", "bridge0", "10.19.0.11/24", "10.19.0.1")
    _vnet_jail(root, "two", "bridge0", "10.19.0.12/24", "10.19.0.1")
    _vnet_jail(root, "three", "bridge1", "10.19.0.13/24")      # the wrong bridge
    _vnet_jail(root, "four", "bridge0", "10.19.1.14/24")        # the wrong prefix, no route
    kernel = rehearsal.kernel(root)
    assert "e0b_one" not in kernel.interfaces and "e0a_one" in kernel.interfaces

    across = _ping(root, "one", "10.19.0.12")
    lines = across.stdout.splitlines()
    assert across.returncode == 0, across
    assert lines[0] == "PING 10.19.0.12 (10.19.0.12): 56 data bytes"
    assert lines[1].startswith("64 bytes from 10.19.0.12: icmp_seq=0 ttl=64 time=")
    assert lines[3:5] == ["--- 10.19.0.12 ping statistics ---",
                          "1 packets transmitted, 1 packets received, 0.0% packet loss"]
    assert _ping(root, "two", "10.19.0.1").returncode == 0            # the host's address on the bridge
    assert run(root, "ping", "-c", "1", "10.19.0.11").returncode == 0  # and back, from the host
    assert _ping(root, "one", "10.19.0.13").returncode == 2           # other bridge: nothing comes back
    unreachable = _ping(root, "four", "10.19.0.1")
    assert unreachable.returncode == 2
    assert unreachable.stderr == "ping: sendto: Network is unreachable\n"
    assert unreachable.stdout.splitlines()[-1] == "1 packets transmitted, 0 packets received, 100.0% packet loss"
    # a gateway outside every prefix is refused, as route(8) refuses it
    bad = run(root, "jexec", "four", "route", "add", "default", "10.19.0.1")
    assert bad.returncode == 1
    assert bad.stderr == "route: writing to routing socket: Network is unreachable\n"
    assert bad.stdout == "add net default: gateway 10.19.0.1: Network is unreachable\n"
    got = run(root, "jexec", "one", "route", "-n", "get", "default").stdout
    assert "    gateway: 10.19.0.1\n" in got and "  interface: e0b_one\n" in got
    shown = run(root, "jexec", "one", "ifconfig").stdout
    assert shown.startswith("lo0: ") and "\tinet 10.19.0.11 netmask 0xffffff00 broadcast 10.19.0.255" in shown
    assert "e0b_two" not in shown and "em0" not in shown

    # removal: the jail's interface returns to the host (vnet_if_return()) and its namespace goes
    jid = next(j["jid"] for j in rehearsal.kernel(root).jails if j["name"] == "one")
    assert netns.exists(netns.jail_ns(root, jid))
    assert run(root, "jail", "-r", "one").returncode == 0
    assert not netns.exists(netns.jail_ns(root, jid))
    assert "e0b_one" in rehearsal.kernel(root).interfaces
    assert "e0b_one" in netns.links(netns.host_ns(root))


def test_kernel_refuses_addresses_on_a_vnet_jail(root):
    path = _jail_root(root, "v")
    out = run(root, "jail", "-c", "name=v", f"path={path}", "persist", "vnet", "ip4.addr=10.0.0.5")
    assert (out.returncode, out.stderr) == (1, "jail: vnet jails cannot have IP address restrictions\n")
    assert rehearsal.network_namespaces(root) == []


def test_route_outside_a_vnet_jail(root):
    path = _jail_root(root, "shared")
    assert run(root, "jail", "-c", "name=shared", f"path={path}", "persist").returncode == 0
    denied = run(root, "jexec", "shared", "route", "add", "default", "10.0.0.1")
    assert (denied.returncode, denied.stderr) == (1, "route: writing to routing socket: Operation not permitted\n")
    assert run(root, "route", "add", "default", "10.0.0.1").returncode == 70


@pytest.mark.parametrize("script, runnable", [
    ("ifconfig bridge0 > /dev/null 2>&1 || { ifconfig bridge0 create && ifconfig bridge0 up ; }", True),
    ("e=$(ifconfig epair create) && ifconfig $e name x > /dev/null && ifconfig ${e%a}b name y", True),
    ("ifconfig bridge0 2> /dev/null | grep -Eq 'member:|inet' || ifconfig bridge0 destroy || true", True),
    ("cp /etc/resolv.conf /home/jail/x/etc/ && ifconfig", False),
    ("ifconfig `cat /x`", False),
    ("echo \"$(rm -rf /)\"; ifconfig", False),
    ("/sbin/ifconfig epair create", False),
    ("true", False),
])
def test_which_hooks_the_rehearsal_runs(script, runnable):
    assert vnet.runnable_hook(["/bin/sh", "-c", script], TOOLS) is runnable


def test_jail_conf_hooks_create_and_destroy_the_epair(root):
    path = _jail_root(root, "web")
    with open(os.path.join(root, "etc/jail.conf"), "w", encoding="utf-8") as fh:
        fh.write(f'web {{\n  path = "{path}";\n  persist;\n  vnet;\n  vnet.interface = e0b_web;\n'
                 '  exec.prestart = "ifconfig bridge0 > /dev/null 2>&1 || ifconfig bridge0 create up";\n'
                 '  exec.prestart += "ifconfig e0a_web destroy > /dev/null 2>&1; e=\\$(ifconfig epair create) && '
                 'ifconfig \\$e name e0a_web > /dev/null && ifconfig \\${e%a}b name e0b_web > /dev/null && '
                 'ifconfig bridge0 addm e0a_web";\n'
                 '  exec.poststop = "ifconfig e0a_web destroy";\n}\n')
    for _ in range(2):  # re-runnable
        started = run(root, "jail", "-c", "web")
        assert (started.returncode, started.stdout) == (0, "web: created\n"), started.stderr
        assert "e0b_web" not in rehearsal.kernel(root).interfaces
        assert run(root, "jail", "-r", "web").returncode == 0
        assert set(netns.links(netns.host_ns(root))) == {"lo", "bridge0"}
    ran = [n for n in rehearsal.nested_commands(root) if n["argv"][:2] == ["/bin/sh", "-c"]]
    assert ran and all(n.get("ran") for n in ran)


def test_ipv6_between_vnet_jails(root):
    run(root, "ifconfig", "bridge0", "create", "up")
    for name, last in (("six1", "11"), ("six2", "12")):
        _vnet_jail(root, name, "bridge0", f"10.19.0.{last}/24")
        added = run(root, "jexec", name, "ifconfig", f"e0b_{name}", "inet6", f"2001:db8:19::{last}/64", "alias")
        assert added.returncode == 0, added.stderr
    assert "\tinet6 2001:db8:19::11 prefixlen 64" in run(root, "jexec", "six1", "ifconfig", "e0b_six1").stdout
    result = run(root, "jexec", "six1", "ping", "-6", "-c", "1", "2001:db8:19::12")
    assert result.returncode == 0, result
    lines = result.stdout.splitlines()
    assert lines[0] == "PING(56=40+8+8 bytes) 2001:db8:19::11 --> 2001:db8:19::12"
    assert lines[1].startswith("16 bytes from 2001:db8:19::12, icmp_seq=0 hlim=64 time=")
    assert run(root, "jexec", "six1", "ping", "-6", "-c", "1", "2001:db8:19::99").returncode == 2
