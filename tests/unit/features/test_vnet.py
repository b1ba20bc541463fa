"""VNET prisoners' features (core/features/vnet.py): their jail.conf block and hooks, the prisoner's rc.conf, the
live changes of a running one, the parsers of ifconfig and route, and the fleet check of their MACs.  (Their
pillar keys are tested in tests/unit/model/test_vnet_model.py.)"""

import copy

import pytest

from salt_jail.core import model
from salt_jail.core.features import fleet, hostconf, vnet
from salt_jail.core.formats import jailconf
from tests.support.pillar import VNET_NETWORK as NET, with_prisoners as pillar
from tests.support.runner import FakeRunner


def test_vnet_prisoner_block_hooks_and_ruleset(seed_pillar):
    data = pillar(seed_pillar, web={"hostname": "web.korodes.com", "network": dict(NET)})
    cfg = model.from_pillar(data)
    web = cfg.prisoners["web"]
    assert web.network.jail_if == "e0b_web" and web.network.host_if == "e0a_web"
    params = dict(hostconf.block_params(cfg, web))
    assert params["vnet"] is True and params["vnet.interface"] == "e0b_web"
    assert "ip4.addr" not in params and "interface" not in params
    # the seed's defaults:params devfs_ruleset 4 is meant for shared-IP prisoners: a VNET one gets 5
    assert params["devfs_ruleset"] == 5
    bridge, epair = params["exec.prestart"]
    assert bridge.startswith("ifconfig bridge0 > /dev/null 2>&1 || ")
    assert "epair=$(ifconfig epair create)" in epair and "ifconfig bridge0 addm e0a_web" in epair
    assert epair.startswith("ifconfig e0a_web destroy")  # a left-over epair is no error
    assert params["exec.poststop"][0] == "ifconfig e0a_web destroy > /dev/null 2>&1 || true"
    text = jailconf.render_block("web", list(params.items()))
    assert r"epair=\$(ifconfig epair create)" in text  # jail.conf would expand an unescaped $epair
    parsed = {p.key: p.value for p in jailconf.parse(text, "x").block("web")}
    assert parsed["exec.prestart"] == [bridge, epair]


def test_own_devfs_ruleset_and_hooks_are_kept(seed_pillar):
    data = pillar(seed_pillar, web={"hostname": "web.korodes.com", "network": dict(NET),
                                    "params": {"devfs_ruleset": 7, "exec.prestart": "logger starting",
                                               "exec.poststop": ["logger a", "logger b"]}})
    cfg = model.from_pillar(data)
    params = hostconf.block_params(cfg, cfg.prisoners["web"])
    keys = [k for k, _ in params]
    assert keys.count("exec.prestart") == 1 and keys.count("exec.poststop") == 1  # `=` twice would override
    values = dict(params)
    assert values["devfs_ruleset"] == 7
    assert values["exec.prestart"][-1] == "logger starting"
    assert values["exec.poststop"][-2:] == ["logger a", "logger b"]


RC_BEFORE = '# my jail\nhostname="web"   # kept\nsendmail_enable="NONE"\nifconfig_e0b_old="inet 10.0.0.5/24"\n'


@pytest.mark.parametrize("old, net_changes, expected", [
    (None, {}, 'ifconfig_e0b_web="inet 10.19.0.11/24"\ndefaultrouter="10.19.0.1"\n'),
    (RC_BEFORE, {}, '# my jail\nhostname="web"   # kept\nsendmail_enable="NONE"\n'
                    'ifconfig_e0b_web="inet 10.19.0.11/24"\ndefaultrouter="10.19.0.1"\n'),
    ('defaultrouter="10.19.0.254"  # ours\nifconfig_e0b_web="inet 10.19.0.11/24"\n', {"gateway": None},
     'ifconfig_e0b_web="inet 10.19.0.11/24"\n'),
    ('ifconfig_e0b_web="inet 10.19.0.9/24"\n', {"ip6": "2001:db8::11/64", "gateway6": "2001:db8::1"},
     'ifconfig_e0b_web="inet 10.19.0.11/24"\nifconfig_e0b_web_ipv6="inet6 2001:db8::11/64"\n'
     'defaultrouter="10.19.0.1"\nipv6_defaultrouter="2001:db8::1"\n'),
])
def test_prisoner_rc_conf_is_edited_in_place(seed_pillar, old, net_changes, expected):
    net = {k: v for k, v in dict(NET, **net_changes).items() if v is not None}
    cfg = model.from_pillar(pillar(seed_pillar, web={"hostname": "web.korodes.com", "network": net}))
    network = cfg.prisoners["web"].network
    new = vnet.plan_rc_conf(old, network, stale_ifs=vnet._stale_interfaces(old, network))
    assert new == expected
    assert vnet.plan_rc_conf(new, network) == new


def test_parsers_of_ifconfig_and_route_get():
    text = ("e0b_web: flags=1008843<UP> metric 0 mtu 1500\n\tinet 10.19.0.11 netmask 0xffffff00 broadcast "
            "10.19.0.255\n\tinet6 fe80::1%e0b_web prefixlen 64 scopeid 0x2\n\tinet6 2001:db8::11 prefixlen 64\n")
    assert vnet.parse_ifconfig(text) == {"inet": ["10.19.0.11/24"], "inet6": ["2001:db8::11/64"]}
    assert vnet.parse_route_get("   route to: default\n    gateway: 10.19.0.1\n") == "10.19.0.1"
    assert vnet.parse_route_get("") is None


def test_fleet_check_reports_a_mac_on_two_minions(seed_pillar):
    one = pillar(seed_pillar, web={"hostname": "web.korodes.com", "network": dict(NET, mac="02:00:00:00:00:01")})
    two = copy.deepcopy(seed_pillar)
    two["jailprov"]["prisoners"] = {"db": {"hostname": "db.korodes.com",
                                           "network": dict(NET, ip4="10.19.0.12/24", mac="02:00:00:00:00:01")}}
    report = fleet.check({"m1": one, "m2": two})
    assert report["ok"] is False
    assert [c["value"] for c in report["collisions"] if c["kind"] == "MAC address"] == ["02:00:00:00:00:01"]
    two["jailprov"]["prisoners"]["db"]["network"].pop("mac")
    two["jailprov"]["prisoners"]["web"] = {"hostname": "web2.korodes.com",
                                           "network": dict(NET, ip4="10.19.0.13/24")}
    report = fleet.check({"m1": one, "m2": two})
    # the same interface names (e0b_web) on two hosts are no collision, and the derived MACs differ: they
    # come from the name and the FQDN, which is unique across the fleet
    assert report["ok"] is True, report["collisions"]
    assert vnet.derived_macs("web", "web.korodes.com") != vnet.derived_macs("web", "web2.korodes.com")


def _live_jail(state):
    """A host whose runner plays ``jexec NAME ifconfig|route ...`` of a running VNET prisoner (the live step),
    with the addresses and gateway of ``state`` ({"inet": [...], "gateway": ...}, which the test may change)."""
    from salt_jail.core.io.host import CmdResult, Host  # pylint: disable=import-outside-toplevel

    def jexec(call):
        command = call.command[2:]
        if command[:2] == ["ifconfig", "e0b_web"] and len(command) == 2:
            lines = "".join(f"\tinet {a.split('/')[0]} netmask 0xffffff00 broadcast 10.19.0.255\n"
                            for a in state["inet"])
            return CmdResult(0, "e0b_web: flags=1008843<UP> metric 0 mtu 1500\n" + lines)
        if command[:3] == ["route", "-n", "get"]:
            if "-inet6" in command or state["gateway"] is None:
                return CmdResult(1, "", "route: route has not been found\n")
            return CmdResult(0, f"   route to: default\n    gateway: {state['gateway']}\n")
        return CmdResult(0)

    return Host(runner=FakeRunner(default=None).on(["jexec", "web"], jexec))


@pytest.mark.parametrize("inet, gateway, expected", [
    (["10.19.0.11/24"], "10.19.0.1", []),
    (["10.19.0.9/24"], "10.19.0.1", [["ifconfig", "e0b_web", "inet", "10.19.0.9", "-alias"],
                                     ["ifconfig", "e0b_web", "inet", "10.19.0.11/24", "alias"]]),
    (["10.19.0.11/24"], "10.19.0.254", [["route", "-q", "delete", "default"],
                                        ["route", "-q", "add", "default", "10.19.0.1"]]),
    ([], None, [["ifconfig", "e0b_web", "inet", "10.19.0.11/24", "alias"],
                ["route", "-q", "add", "default", "10.19.0.1"]]),
])
def test_live_changes_of_a_running_prisoner(seed_pillar, tmp_path, inet, gateway, expected):
    from salt_jail.core.io import textedit  # pylint: disable=import-outside-toplevel

    cfg = model.from_pillar(pillar(seed_pillar, web={"hostname": "web.korodes.com", "network": dict(NET)}))
    (tmp_path / "etc").mkdir()
    rc_conf = tmp_path / "etc/rc.conf"
    rc_conf.write_text('hostname="web"\n')
    root = textedit.Root(str(tmp_path), "/home/jail/web")
    state = {"inet": inet, "gateway": gateway}
    fake = _live_jail(state)

    def ran():
        return [c[2:] for c in fake.runner.commands()]

    predicted = vnet.prisoner_network(fake, cfg, "web", root, test=True, running=True)
    assert rc_conf.read_text() == 'hostname="web"\n'                 # test mode writes nothing
    assert not [c for c in ran() if c[0] == "route" and c[2] != "get" or c[2:3] in (["inet"],)]
    assert predicted.changed and predicted.data.get("live", []) == [" ".join(a) for a in expected]
    done = vnet.prisoner_network(fake, cfg, "web", root, running=True)
    assert done.changed and [c for c in ran() if c not in (["ifconfig", "e0b_web"],)
                             and c[:3] != ["route", "-n", "get"]] == expected
    assert rc_conf.read_text() == 'hostname="web"\nifconfig_e0b_web="inet 10.19.0.11/24"\ndefaultrouter="10.19.0.1"\n'
    state.update(inet=["10.19.0.11/24"], gateway="10.19.0.1")
    assert not vnet.prisoner_network(fake, cfg, "web", root, running=True).changed
