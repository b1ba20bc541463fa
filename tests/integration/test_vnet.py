"""Issue 19 through real daemons: two VNET prisoners on one bridge and one shared-IP prisoner, built by one
highstate on the rehearsal host, whose bridges, epairs and VNET jails are real Linux bridges, veth pairs and
network namespaces (all inside namespaces of the scratch root's own); pings really cross the bridge."""

import copy
import re

import pytest

from salt_jail import rehearsal
from salt_jail.rehearsal import netns

from tests.support.states import changed, failed, salt_apply as _apply

from .conftest import write_pillar

pytestmark = pytest.mark.integration

ALPHA, BRAVO = "vnetprisoner-alpha01", "vnetprisoner-bravo02"  # 20 characters: longer than an ifname allows


@pytest.fixture(scope="module")
def vnet_root(tmp_path_factory):
    ok, reason = netns.available()
    if not ok:
        pytest.skip(f"VNET rehearsal needs network namespaces: {reason}")
    root = tmp_path_factory.mktemp("i19-vnet")
    yield root
    rehearsal.clear_network(str(root))
    rehearsal.clear_file_flags(str(root))


@pytest.fixture(scope="module")
def vnet_minion(salt_master, vnet_root):
    factory = salt_master.salt_minion_daemon(
        "jailer-vnet", defaults={"jailprov": {"rehearsal": True, "root": str(vnet_root)}})
    with factory.started():
        yield factory


def vnet_pillar(seed, url):
    data = copy.deepcopy(seed["jailprov"])
    data["mirror"] = url
    shared = data["prisoners"]["prisoner1"]
    net = {"mode": "vnet", "bridge": "bridge0", "gateway": "10.19.0.1"}
    data["prisoners"] = {
        "prisoner1": shared,
        ALPHA: {"hostname": "alpha.korodes.com", "network": dict(net, ip4="10.19.0.11/24")},
        BRAVO: {"hostname": "bravo.korodes.com", "network": dict(net, ip4="10.19.0.12/24")},
    }
    return {"jailprov": data}


def apply(salt_cli, minion_id, *args):
    return _apply(salt_cli, minion_id, *args).data


def ping(salt_cli, minion, name, target):
    ret = salt_cli.run("jailprov.ping", name, target, "count=2", minion_tgt=minion.id)
    assert isinstance(ret.data, dict), ret
    return ret.data


def host_links(root):
    name = netns.host_ns(str(root))
    return netns.links(name) if netns.exists(name) else {}


def test_vnet_prisoners_build_ping_restart_stop_destroy(salt_master, salt_cli, vnet_minion, pillar_dir,
                                                         seed_pillar_data, release_mirror, vnet_root):
    pillar = vnet_pillar(seed_pillar_data, release_mirror)
    write_pillar(pillar_dir, {vnet_minion.id: ["vnet"]}, {"vnet": pillar})
    salt_cli.run("saltutil.refresh_pillar", "wait=True", minion_tgt=vnet_minion.id)

    states = apply(salt_cli, vnet_minion.id)
    assert not failed(states), failed(states)
    jail_conf = (vnet_root / "etc/jail.conf").read_text()
    names = {}
    for name in (ALPHA, BRAVO):
        block = jail_conf[jail_conf.index(f"{name} {{"):]
        block = block[:block.index("\n}")]
        assert "vnet;" in block and "devfs_ruleset = 5;" in block and "ip4.addr" not in block
        jail_if = re.search(r"vnet\.interface = (\S+);", block).group(1)
        macs = re.findall(r"ether ([0-9a-f:]{17})", block)
        names[name] = (jail_if, macs)
        assert len(jail_if) <= 15 and re.fullmatch(r"[A-Za-z0-9_]+", jail_if), jail_if
        rc_conf = (vnet_root / "home/jail" / name / "etc/rc.conf").read_text()
        assert f'ifconfig_{jail_if}="inet 10.19.0.1' in rc_conf and 'defaultrouter="10.19.0.1"' in rc_conf
        assert name.split("-")[1][:5] in (vnet_root / "home/jail" / name / "etc/hosts").read_text()
    assert names[ALPHA][0] != names[BRAVO][0]
    assert len(set(names[ALPHA][1] + names[BRAVO][1])) == 4
    assert "192.168.11.31" in jail_conf  # the shared-IP prisoner keeps ip4.addr

    listed = {j["name"]: j["state"] for j in salt_cli.run("jailprov.list", minion_tgt=vnet_minion.id).data}
    assert listed == {"prisoner1": "running", ALPHA: "running", BRAVO: "running"}
    # the jail halves are in the VNET jails, the host halves are members of bridge0 in the host namespace
    links = host_links(vnet_root)
    assert {n for n, link in links.items() if link["master"] == "bridge0"} == {
        names[ALPHA][0].replace("e0b_", "e0a_"), names[BRAVO][0].replace("e0b_", "e0a_")}

    # really across the bridge: VNET prisoner to VNET prisoner, and to the host's own address on the bridge
    result = ping(salt_cli, vnet_minion, ALPHA, "10.19.0.12")
    assert result["ok"] is True and result["received"] == 2, result
    bin_dir = vnet_root / ".rehearsal/bin"
    import subprocess  # pylint: disable=import-outside-toplevel

    subprocess.run([str(bin_dir / "ifconfig"), "bridge0", "inet", "10.19.0.1/24", "alias"], check=True)
    assert ping(salt_cli, vnet_minion, BRAVO, "10.19.0.1")["ok"] is True
    assert ping(salt_cli, vnet_minion, ALPHA, "10.19.0.99")["ok"] is False  # nobody there

    assert changed(apply(salt_cli, vnet_minion.id)) == []
    assert changed(apply(salt_cli, vnet_minion.id, "test=True")) == []

    # an address change is applied live (and persisted); a wrong prefix really isolates the prisoner
    pillar["jailprov"]["prisoners"][BRAVO]["network"]["ip4"] = "10.19.0.13/24"
    write_pillar(pillar_dir, {vnet_minion.id: ["vnet"]}, {"vnet": pillar})
    salt_cli.run("saltutil.refresh_pillar", "wait=True", minion_tgt=vnet_minion.id)
    states = apply(salt_cli, vnet_minion.id)
    assert not failed(states), failed(states)
    assert changed(states) == [f"jailprov-{BRAVO}-hosts", f"jailprov-{BRAVO}-network"]
    assert ping(salt_cli, vnet_minion, ALPHA, "10.19.0.13")["ok"] is True
    assert ping(salt_cli, vnet_minion, ALPHA, "10.19.0.12")["ok"] is False

    # moved to another bridge: its jail.conf block changes, so it is restarted, and it no longer reaches ALPHA
    pillar["jailprov"]["prisoners"][BRAVO]["network"]["bridge"] = "bridge1"
    write_pillar(pillar_dir, {vnet_minion.id: ["vnet"]}, {"vnet": pillar})
    salt_cli.run("saltutil.refresh_pillar", "wait=True", minion_tgt=vnet_minion.id)
    states = apply(salt_cli, vnet_minion.id)
    assert not failed(states), failed(states)
    kept = states[next(k for k in states if f"jailprov-{BRAVO}-jail_conf" in k)]
    assert "keeps running" in kept["comment"], kept["comment"]        # restarted last (issue 15), not here
    restarted = states[next(k for k in states if f"jailprov-{BRAVO}-running" in k)]
    assert "restarted because" in restarted["comment"] and "started" in restarted["comment"], restarted["comment"]
    assert host_links(vnet_root)[names[BRAVO][0].replace("e0b_", "e0a_")]["master"] == "bridge1"
    assert ping(salt_cli, vnet_minion, ALPHA, "10.19.0.13")["ok"] is False
    assert ping(salt_cli, vnet_minion, BRAVO, "10.19.0.11")["ok"] is False
    assert changed(apply(salt_cli, vnet_minion.id)) == []

    # stop removes the jail's namespace and its epair; bridge1 had only BRAVO and no address: it goes too
    ret = salt_cli.run("jailprov.stop", BRAVO, minion_tgt=vnet_minion.id)
    assert ret.returncode == 0, ret
    # left: the host's namespace and ALPHA's (prisoner1 shares the host's stack)
    assert len(rehearsal.network_namespaces(str(vnet_root))) == 2
    assert names[BRAVO][0].replace("e0b_", "e0a_") not in host_links(vnet_root)
    assert "bridge1" not in host_links(vnet_root)

    # destroy both VNET prisoners by pillar: no namespace, veth or unused bridge is left behind
    for name in (ALPHA, BRAVO):
        pillar["jailprov"]["prisoners"][name]["absent"] = True
    write_pillar(pillar_dir, {vnet_minion.id: ["vnet"]}, {"vnet": pillar})
    salt_cli.run("saltutil.refresh_pillar", "wait=True", minion_tgt=vnet_minion.id)
    states = apply(salt_cli, vnet_minion.id)
    assert not failed(states), failed(states)
    assert rehearsal.network_namespaces(str(vnet_root)) == [netns.host_ns(str(vnet_root))]
    links = host_links(vnet_root)
    assert not [n for n, link in links.items() if link["kind"] == "veth"], links
    assert "bridge0" in links  # the host's address is on it: it is the host's now, kept
    assert changed(apply(salt_cli, vnet_minion.id)) == []
