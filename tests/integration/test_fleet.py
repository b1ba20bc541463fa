"""Issue 7 through real daemons: one master, two rehearsal minions, a local HTTP release mirror, the seed
pillar split across the minions plus a third prisoner; build, list, ping, remove by pillar, silent rerun,
and the fleet check runner."""

import copy
import pathlib

import pytest

from salt_jail import rehearsal
from salt_jail.rehearsal import mirror

from tests.support.states import changed, failed, salt_apply as apply

from .conftest import rehearsal_minion, write_pillar

pytestmark = pytest.mark.integration

HOST_IP = "192.168.11.30"


@pytest.fixture(scope="module")
def jailer2(salt_master, tmp_path_factory):
    with rehearsal_minion(salt_master, tmp_path_factory, "jailer2") as both:
        yield both


@pytest.fixture(scope="module")
def second_root(jailer2):
    return jailer2[1]


@pytest.fixture(scope="module")
def second_minion(jailer2):
    return jailer2[0]


def split_pillars(seed, url):
    base = copy.deepcopy(seed["jailprov"])
    base["mirror"] = url
    prisoners = base.pop("prisoners")
    one = dict(copy.deepcopy(base), prisoners={"prisoner1": prisoners["prisoner1"]})
    two = dict(copy.deepcopy(base), prisoners={
        "prisoner2": prisoners["prisoner2"],
        "prisoner3": {"jid": 3, "ip4": "192.168.11.33", "hostname": "bsd3.korodes.com",
                      "pw_range": {"uid": [40000, 49999], "gid": [40000, 49999]}},
    })
    return {"jailer1": {"jailprov": one}, "jailer2": {"jailprov": two}}


def test_fleet_build_list_ping_remove(salt_master, salt_cli, salt_minion, second_minion, pillar_dir,
                                      seed_pillar_data, release_mirror, scratch_root, second_root):
    pillars = split_pillars(seed_pillar_data, release_mirror)
    write_pillar(pillar_dir, {"jailer1": ["jailer1"], "jailer2": ["jailer2"]}, pillars)
    salt_cli.run("saltutil.refresh_pillar", "wait=True", minion_tgt="*")

    run_cli = salt_master.salt_run_cli(timeout=120)
    ret = run_cli.run("jailprov.check")
    assert ret.data["ok"] is True, ret.data

    # test=True on fresh hosts: lists changes, writes nothing
    for minion in (salt_minion.id, second_minion.id):
        states = apply(salt_cli, minion, "test=True").data
        assert not failed(states), failed(states)
        assert any(s["result"] is None for s in states.values())
    assert not (scratch_root / "home" / "jail").exists()
    assert not (second_root / "etc" / "jail.conf").exists()

    builds = {}
    for minion in (salt_minion.id, second_minion.id):
        builds[minion] = states = apply(salt_cli, minion).data
        assert not failed(states), failed(states)

    # a minion daemon has the event bus the progress events go to, where jailprov looks for it
    assert list(pathlib.Path(salt_minion.config["sock_dir"]).glob("minion_event_*_pull.ipc"))

    for root, names in ((scratch_root, ["prisoner1"]), (second_root, ["prisoner2", "prisoner3"])):
        jail_conf = (root / "etc/jail.conf").read_text()
        rc_conf = (root / "etc/rc.conf").read_text()
        assert 'jail_enable="YES"' in rc_conf
        for name in names:
            p = root / "home/jail" / name
            syslog = (p / "etc/syslog.conf").read_text()
            assert "#*.err;kern.warning;auth.notice;mail.crit" in syslog
            assert any(line.startswith("#") and "adjkerntz -a" in line
                       for line in (p / "etc/crontab").read_text().splitlines())
            assert f"korodes.com" in (p / "etc/hosts").read_text()
            pw = (p / "etc/pw.conf").read_text()
            assert "minuid = " in pw and "maxgid = " in pw
            assert (p / "etc/wall_cmos_clock").exists()
            assert pathlib.Path.readlink(p / "etc/localtime") == pathlib.Path("/usr/share/zoneinfo/Asia/Tokyo")
            assert f"{name} {{" in jail_conf
            assert f"ifconfig_em0_alias" in rc_conf
    assert "minuid = 20000" in (scratch_root / "home/jail/prisoner1/etc/pw.conf").read_text()
    assert "minuid = 10000" in (scratch_root / "etc/pw.conf").read_text()

    # the root password hash appears in no job return and no minion log
    secret = seed_pillar_data["jailprov"]["prisoners"]["prisoner1"]["root_password"]
    assert secret.split("$")[-1] in (scratch_root / "home/jail/prisoner1/etc/master.passwd").read_text()
    assert secret not in str(builds[salt_minion.id])
    assert "jailprov-prisoner1-root_password" in changed(builds[salt_minion.id])
    assert secret not in pathlib.Path(
        salt_minion.config["log_file"]).read_text(errors="replace")

    ret = salt_cli.run("jailprov.list", minion_tgt="*")
    assert ret.returncode == 0, ret
    by_minion = ret.data
    assert {j["name"]: j["state"] for j in by_minion[salt_minion.id]} == {"prisoner1": "running"}
    assert {j["name"]: j["state"] for j in by_minion[second_minion.id]} == {"prisoner2": "running",
                                                                            "prisoner3": "running"}
    assert by_minion[second_minion.id][1]["ipv4"] == ["192.168.11.33"]

    ret = salt_cli.run("jailprov.ping", "prisoner1", HOST_IP, minion_tgt=salt_minion.id)
    assert ret.data["ok"] is True and ret.data["received"] == 3 and ret.data["loss_pct"] == 0.0

    for minion in (salt_minion.id, second_minion.id):
        assert changed(apply(salt_cli, minion).data) == []
        assert changed(apply(salt_cli, minion, "test=True").data) == []
    # a silent rerun of two prisoners asks jls and the mount table once, not once per prisoner
    before = len(rehearsal.commands(str(second_root)))
    assert changed(apply(salt_cli, second_minion.id).data) == []
    tools = [argv[0] for argv in rehearsal.commands(str(second_root))[before:]]
    assert tools.count("jls") == 1 and tools.count("mount") == 1, tools

    # Remove prisoner3 by pillar: destroyed with its host configuration; then silent.
    pillars["jailer2"]["jailprov"]["prisoners"]["prisoner3"]["absent"] = True
    write_pillar(pillar_dir, {"jailer1": ["jailer1"], "jailer2": ["jailer2"]}, pillars)
    salt_cli.run("saltutil.refresh_pillar", "wait=True", minion_tgt=second_minion.id)
    states = apply(salt_cli, second_minion.id).data
    assert not failed(states), failed(states)
    assert "jailprov-prisoner3-absent" in changed(states)
    assert not (second_root / "home/jail/prisoner3").exists()
    assert "prisoner3" not in (second_root / "etc/jail.conf").read_text()
    assert "192.168.11.33" not in (second_root / "etc/rc.conf").read_text()
    ret = salt_cli.run("jailprov.list", minion_tgt=second_minion.id)
    assert [j["name"] for j in ret.data] == ["prisoner2"]
    assert changed(apply(salt_cli, second_minion.id).data) == []

    # A planted duplicate address across minions is flagged before anyone applies.
    pillars["jailer2"]["jailprov"]["prisoners"]["prisoner2"]["ip4"] = "192.168.11.31"
    write_pillar(pillar_dir, {"jailer1": ["jailer1"], "jailer2": ["jailer2"]}, pillars)
    ret = run_cli.run("jailprov.check")
    assert ret.data["ok"] is False
    assert any(c["kind"] == "address" and c["value"] == "192.168.11.31" for c in ret.data["collisions"])
