"""VNET prisoners in the pillar model: the network keys, their defaults and refusals, the derived interface
names and MACs.  (What the VNET feature builds from them is tested in tests/unit/features/test_vnet.py.)"""

import copy
import re

import pytest

from salt_jail.core import model
from salt_jail.core.features import hostconf, vnet
from salt_jail.core.model import network

from tests.support.pillar import VNET_NETWORK as NET, errors_for, with_prisoners as pillar


def test_shared_ip_stays_the_default(seed_pillar):
    cfg = model.from_pillar(seed_pillar)
    assert all(p.network is None for p in cfg.present)
    block = hostconf.block_params(cfg, cfg.prisoners["prisoner1"])
    assert ("interface", "em0") in block and not any(k.startswith("vnet") for k, _ in block)


def test_network_in_defaults_merges_one_level(seed_pillar):
    data = copy.deepcopy(seed_pillar)
    data["jailprov"]["defaults"]["network"] = {"mode": "vnet", "bridge": "bridge0", "gateway": "10.19.0.1"}
    for i, name in enumerate(("prisoner1", "prisoner2")):
        p = data["jailprov"]["prisoners"][name]
        del p["ip4"]
        p["network"] = {"ip4": f"10.19.0.{11 + i}/24"}
    cfg = model.from_pillar(data)
    assert [p.network.address4 for p in cfg.present] == ["10.19.0.11", "10.19.0.12"]
    assert {p.network.bridge for p in cfg.present} == {"bridge0"}


@pytest.mark.parametrize("net, extra, path, words", [
    (dict(NET), {"ip4": "10.19.0.5"}, "network:mode", "vnet jails cannot have IP address restrictions"),
    (dict(NET, ip4="10.19.0.11"), {}, "network:ip4", "needs a prefix length"),
    (dict(NET, ip4="10.19.0.0/24"), {}, "network:ip4", "network address"),
    (dict(NET, ip4="10.19.0.255/24"), {}, "network:ip4", "broadcast address"),
    (dict(NET, ip4="10.19.0.11/33"), {}, "network:ip4", "not an IPv4 address with a prefix length"),
    (dict(NET, gateway="10.20.0.1"), {}, "network:gateway", "outside the prisoner's prefix 10.19.0.0/24"),
    (dict(NET, gateway="10.19.0.11"), {}, "network:gateway", "the prisoner's own address"),
    (dict(NET, ip6="2001:db8::10", ip4=None, gateway=None), {}, "network:ip6", "needs a prefix length"),
    (dict(NET, gateway6="2001:db9::1", ip6="2001:db8::10/64"), {}, "network:gateway6", "outside"),
    (dict(NET, bridge="br0"), {}, "network:bridge", "bridgeN"),
    (dict(NET, bridge=None), {}, "network:bridge", "is required"),
    (dict(NET, uplink="em0; rm -rf /"), {}, "network:uplink", "not a network interface name"),
    (dict(NET, uplink="averyverylonguplink0"), {}, "network:uplink", "at most 15"),
    (dict(NET, mac="01:00:5e:00:00:01"), {}, "network:mac", "multicast"),
    (dict(NET, mac="02:00:5e"), {}, "network:mac", "not a MAC address"),
    (dict(NET, mode="bridged"), {}, "network:mode", "not a network mode"),
    (dict(NET, brige="bridge0"), {}, "network:brige", "unknown key"),
    ({"mode": "shared", "ip4": "10.0.0.1/24"}, {}, "network:ip4", "only for mode: vnet"),
    ({"mode": "vnet", "bridge": "bridge0"}, {}, "network:ip4", "needs an address"),
    (dict(NET), {"params": {"vnet.interface": "em1"}}, "params:vnet.interface", "written from jailprov"),
])
def test_bad_network(seed_pillar, net, extra, path, words):
    data = pillar(seed_pillar, web={"hostname": "web.korodes.com", "network": {k: v for k, v in net.items()
                                                                                 if v is not None}, **extra})
    errors = errors_for(data)
    assert any(e.startswith(f"jailprov:prisoners:web:{path}: ") and words in e for e in errors), errors


def test_twenty_character_names_get_valid_distinct_deterministic_names_and_macs():
    names = ["vnetprisoner-alpha01", "vnetprisoner-alpha02", "vnetprisoner.alpha01"[:0] + "vnetprisoner_alpha01",
             "web", "a-b", "a_b", "x" * 11, "x" * 12, "1234567890abcdefghij"]
    derived = {n: (vnet.interface_names(n), vnet.derived_macs(n)) for n in names}
    all_ifs = [i for (ifs, _) in derived.values() for i in ifs]
    all_macs = [m for (_, macs) in derived.values() for m in macs]
    assert len(set(all_ifs)) == len(all_ifs) and len(set(all_macs)) == len(all_macs)
    for ifname in all_ifs:
        assert len(ifname) <= 15 and re.fullmatch(r"e0[ab]_[A-Za-z0-9_]+", ifname), ifname
    for mac in all_macs:
        first = int(mac[:2], 16)
        assert re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", mac) and first & 2 and not first & 1
    assert vnet.interface_names("web") == ("e0a_web", "e0b_web")
    assert vnet.interface_names("x" * 11) == ("e0a_" + "x" * 11, "e0b_" + "x" * 11)
    # no counter: a name's interfaces do not depend on the other prisoners, or on their order
    assert vnet.interface_names("vnetprisoner-alpha01") == derived["vnetprisoner-alpha01"][0]
    assert vnet.short_name("a-b") != "a-b" and vnet.short_name("a-b") != vnet.short_name("a_b")


def test_duplicate_derived_names_and_macs_are_refused(seed_pillar, monkeypatch):
    monkeypatch.setattr(network, "short_name", lambda name: "same")  # the model derives the names
    data = pillar(seed_pillar, one={"hostname": "one.korodes.com", "network": dict(NET)},
                  two={"hostname": "two.korodes.com", "network": dict(NET, ip4="10.19.0.12/24",
                                                                     mac="02:00:00:00:00:01")},
                  three={"hostname": "three.korodes.com", "network": dict(NET, ip4="10.19.0.13/24",
                                                                         mac="02:00:00:00:00:01")})
    errors = errors_for(data)
    assert any(e.startswith("jailprov:prisoners:two:network: interface name 'e0a_same' is already used by "
                            "prisoner 'one'") for e in errors), errors
    assert any(e.startswith("jailprov:prisoners:three:network:mac: MAC address '02:00:00:00:00:01' is already "
                            "used by prisoner 'two'") for e in errors), errors


def test_same_address_on_a_vnet_and_a_shared_prisoner_is_refused(seed_pillar):
    data = pillar(seed_pillar, web={"hostname": "web.korodes.com", "network": dict(NET, ip4="192.168.11.31/24",
                                                                                   gateway="192.168.11.1")})
    assert any(e.startswith("jailprov:prisoners:web:network:ip4: address '192.168.11.31' is already used")
               for e in errors_for(data))


def test_one_bridge_one_uplink(seed_pillar):
    data = pillar(seed_pillar, one={"hostname": "one.korodes.com", "network": dict(NET, uplink="em0")},
                  two={"hostname": "two.korodes.com", "network": dict(NET, ip4="10.19.0.12/24", uplink="igb0")})
    assert any(e.startswith("jailprov:prisoners:two:network:uplink: 'igb0' differs from 'em0'")
               for e in errors_for(data))
    data["jailprov"]["prisoners"]["two"]["network"]["uplink"] = "em0"
    cfg = model.from_pillar(data)
    assert "ifconfig bridge0 create && ifconfig bridge0 addm em0" in dict(
        hostconf.block_params(cfg, cfg.prisoners["one"]))["exec.prestart"][0]
