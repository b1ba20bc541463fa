"""Issue 16 through real daemons: exit codes that gate CI (salt-call, salt-run) on a minion of its own with
its own scratch root and release mirror."""

import copy

import pytest

from salt_jail import rehearsal
from salt_jail.rehearsal import mirror

from .conftest import write_pillar

pytestmark = pytest.mark.integration

HOST_IP = "192.168.11.30"
SILENT_IP = "192.0.2.1"       # TEST-NET-1: the rehearsal's ping model has no host there (no packet is sent)


@pytest.fixture(scope="module")
def release_mirror(tmp_path_factory):
    directory = tmp_path_factory.mktemp("i16-mirror")
    mirror.make_release(str(directory), release="14.2-RELEASE", arch="amd64", dists=("base",), size="small")
    url, stop = mirror.serve(str(directory))
    yield url
    stop()


@pytest.fixture(scope="module")
def root16(tmp_path_factory):
    root = tmp_path_factory.mktemp("i16-scratch")
    yield root
    rehearsal.clear_file_flags(str(root))


@pytest.fixture(scope="module")
def minion16(salt_master, root16):
    factory = salt_master.salt_minion_daemon(
        "jailer16", defaults={"jailprov": {"rehearsal": True, "root": str(root16)}})
    with factory.started():
        yield factory


@pytest.fixture(scope="module")
def built(salt_master, salt_cli, minion16, pillar_dir, seed_pillar_data, release_mirror):
    """The seed's two prisoners built on jailer16 by a highstate from the master."""
    pillar = copy.deepcopy(seed_pillar_data)
    pillar["jailprov"]["mirror"] = release_mirror
    write_pillar(pillar_dir, {"jailer16": ["jailer16"]}, {"jailer16": pillar})
    salt_cli.run("saltutil.refresh_pillar", "wait=True", minion_tgt=minion16.id)
    ret = salt_cli.run("state.apply", "jail", minion_tgt=minion16.id, _timeout=600)
    assert ret.returncode == 0, ret
    assert all(s["result"] for s in ret.data.values()), ret.data
    return pillar


def test_exec_and_ping_exit_codes_through_salt_call(minion16, built):
    salt_call = minion16.salt_call_cli(timeout=120)
    ret = salt_call.run("jailprov.exec", "prisoner1", "hostname")
    assert ret.returncode == 0 and ret.data["stdout"] == "bsd1.korodes.com", ret
    ret = salt_call.run("jailprov.exec", "prisoner1", "sh -c 'exit 3'")
    assert ret.returncode != 0, ret
    assert ret.data["retcode"] == 3
    ret = salt_call.run("--retcode-passthrough", "jailprov.exec", "prisoner1", "sh -c 'exit 3'")
    assert ret.returncode == 3, ret

    ret = salt_call.run("jailprov.ping", "prisoner1", HOST_IP, "count=1")
    assert ret.returncode == 0 and ret.data["ok"] is True, ret
    ret = salt_call.run("jailprov.ping", "prisoner1", SILENT_IP, "count=1")
    assert ret.returncode != 0, ret
    assert ret.data["ok"] is False and ret.data["received"] == 0


def test_validate_exit_code_through_salt_call(salt_cli, minion16, built, pillar_dir):
    salt_call = minion16.salt_call_cli(timeout=120)
    assert salt_call.run("jailprov.validate").returncode == 0
    bad = copy.deepcopy(built)
    bad["jailprov"]["prisoners"]["prisoner2"]["jid"] = 0
    write_pillar(pillar_dir, {"jailer16": ["bad16"]}, {"bad16": bad})
    try:
        ret = salt_call.run("jailprov.validate", "pillar={}".format(__import__("json").dumps(bad)))
        assert ret.returncode != 0, ret
        assert any(e.startswith("jailprov:prisoners:prisoner2:jid") for e in ret.data["errors"]), ret.data
        salt_cli.run("saltutil.refresh_pillar", "wait=True", minion_tgt=minion16.id)
        ret = salt_call.run("jailprov.validate")
        assert ret.returncode != 0 and ret.data["valid"] is False, ret
    finally:
        write_pillar(pillar_dir, {"jailer16": ["jailer16"]}, {"jailer16": built})
        salt_cli.run("saltutil.refresh_pillar", "wait=True", minion_tgt=minion16.id)


def test_fleet_check_exit_codes_through_salt_run(salt_master, minion16, salt_minion, built, pillar_dir):
    run_cli = salt_master.salt_run_cli(timeout=120)
    other = {"jailprov": {"release": "14.2-RELEASE", "prisoners": {
        "web1": {"ip4": "192.168.11.41", "hostname": "web1.example.org"}}}}
    write_pillar(pillar_dir, {"jailer16": ["jailer16"], salt_minion.id: ["other"]},
                 {"jailer16": built, "other": other})
    ret = run_cli.run("jailprov.check")
    assert ret.returncode == 0, ret
    assert ret.data["ok"] is True and ret.data["minions"]["jailer16"]["prisoners"] == 2

    # the same address on two minions
    other["jailprov"]["prisoners"]["web1"]["ip4"] = built["jailprov"]["prisoners"]["prisoner1"]["ip4"]
    write_pillar(pillar_dir, {"jailer16": ["jailer16"], salt_minion.id: ["other"]},
                 {"jailer16": built, "other": other})
    ret = run_cli.run("jailprov.check")
    assert ret.returncode != 0, ret
    assert ret.data["ok"] is False and ret.data["collisions"][0]["kind"] == "address"

    # a pillar that does not render is an error of that minion, never "0 prisoners, ok"
    (pillar_dir / "broken16.sls").write_text("jailprov:\n  release: [unclosed\n", encoding="utf-8")
    write_pillar(pillar_dir, {"jailer16": ["broken16"]}, {})
    ret = run_cli.run("jailprov.check", "tgt=jailer16")
    assert ret.returncode != 0, ret
    entry = ret.data["minions"]["jailer16"]
    assert ret.data["ok"] is False and entry["valid"] is False and entry["prisoners"] is None
    assert entry["errors"] and all(e.startswith("pillar did not render: ") for e in entry["errors"])
    assert "broken16" in " ".join(entry["errors"])

    write_pillar(pillar_dir, {"jailer16": ["jailer16"]}, {"jailer16": built})
