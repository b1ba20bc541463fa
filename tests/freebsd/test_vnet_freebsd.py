"""VNET prisoners on a real FreeBSD host: two prisoners on one bridge ping each other and the host; stop
removes their epairs.  Through the core API with ``Host(root="/")`` and FreeBSD's own jail(8), ifconfig(8)
(epair(4), if_bridge(4)), route(8) and ping(8).

Written from the man pages (jail(8) ``vnet``/``vnet.interface``, epair(4), if_bridge(4), rc.conf(5)
``ifconfig_<if>``/``defaultrouter``) and share/examples/jails/jib; needs a kernel with VIMAGE (GENERIC has it
since 12.0).  The bridge is one the tier creates (the first free ``bridgeN`` from 190) with the host's
address 198.51.100.1/24 (TEST-NET-2) and no uplink: no packet leaves the host.  Teardown destroys every
``e0a_sjtest*``/``e0b_sjtest*`` interface and that bridge.
"""

import re

import pytest

from .hostenv import IFCONFIG, PREFIX, running_jails, sh

V1, V2 = f"{PREFIX}v1", f"{PREFIX}v2"
ADDRESSES = {V1: "198.51.100.11", V2: "198.51.100.12"}
HOST_BRIDGE_IP = "198.51.100.1"


def _interfaces():
    return sh(IFCONFIG, "-l").stdout.split()


def _leftovers():
    return [i for i in _interfaces() if re.match(rf"^e0[ab]_{PREFIX}", i)]


@pytest.fixture(scope="module")
def bridge(clean_host):
    if sh("/sbin/sysctl", "-n", "kern.features.vimage", check=False).stdout.strip() != "1":
        pytest.skip("this kernel has no VIMAGE (options VIMAGE): no VNET jails")
    taken = set(_interfaces())
    name = next(f"bridge{n}" for n in range(190, 1000) if f"bridge{n}" not in taken)
    sh(IFCONFIG, name, "create")
    sh(IFCONFIG, name, "inet", f"{HOST_BRIDGE_IP}/24", "up")
    try:
        yield name
    finally:
        from .hostenv import reset_host  # pylint: disable=import-outside-toplevel

        reset_host()
        for iface in _leftovers():
            sh(IFCONFIG, iface, "destroy", check=False)
        sh(IFCONFIG, name, "destroy", check=False)


@pytest.fixture(scope="module")
def vnet_world(bridge, pillar_data):
    from salt_jail.core import model  # pylint: disable=import-outside-toplevel
    from salt_jail.core.io.host import Host  # pylint: disable=import-outside-toplevel

    data = {"jailprov": dict(pillar_data["jailprov"], prisoners={
        name: {"hostname": f"{name.replace('_', '-')}.sjtest.example",
               "network": {"mode": "vnet", "bridge": bridge, "ip4": f"{address}/24", "gateway": HOST_BRIDGE_IP}}
        for name, address in ADDRESSES.items()})}
    data["jailprov"].pop("interface", None)
    return Host(root="/"), model.from_pillar(data)


def test_two_vnet_prisoners_on_a_bridge(vnet_world, bridge):
    from salt_jail.core.features import hostconf, lifecycle, network as network_step  # pylint: disable=import-outside-toplevel
    from salt_jail.core.features.provision import provision  # pylint: disable=import-outside-toplevel

    host, cfg = vnet_world
    for name in ADDRESSES:
        assert hostconf.jail_conf(host, cfg, name).changed
        assert provision(host, cfg, name)["result"]
        assert network_step.network(host, cfg, name).changed            # etc/rc.conf: ifconfig_e0b_..., defaultrouter
    for name in ADDRESSES:
        assert lifecycle.start(host, cfg, name).changed
    assert set(ADDRESSES) <= set(running_jails())
    # rc(8) inside each prisoner configured its epair from its rc.conf: nothing left to change live
    for name in ADDRESSES:
        assert not network_step.network(host, cfg, name).changed
        assert not hostconf.jail_conf(host, cfg, name).changed

    host_side = {cfg.prisoners[n].network.host_if for n in ADDRESSES}
    jail_side = {cfg.prisoners[n].network.jail_if for n in ADDRESSES}
    present = set(_interfaces())
    assert host_side <= present and not jail_side & present  # the jail halves live in the jails' stacks
    members = sh(IFCONFIG, bridge).stdout
    assert all(f"member: {i} " in members for i in host_side)
    inside = sh("/usr/sbin/jexec", V1, "/sbin/ifconfig", cfg.prisoners[V1].network.jail_if).stdout
    assert f"inet {ADDRESSES[V1]} netmask 0xffffff00" in inside
    assert cfg.prisoners[V1].network.jail_mac in inside

    each_other = lifecycle.ping(host, cfg, V1, ADDRESSES[V2], count=3)
    assert (each_other["received"], each_other["ok"]) == (3, True), each_other
    to_host = lifecycle.ping(host, cfg, V2, HOST_BRIDGE_IP, count=3)
    assert (to_host["received"], to_host["ok"]) == (3, True), to_host

    for name in ADDRESSES:
        assert lifecycle.stop(host, cfg, name).changed
    assert not _leftovers()  # exec.poststop destroyed both epairs
    assert bridge in _interfaces()  # the host's address is on it: kept
