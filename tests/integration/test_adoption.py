"""Issue 16 through real daemons, on a minion of its own with its own scratch root and release mirror:
progress events on the master's bus during a first build; exit codes that gate CI (salt-call, salt-run)."""

import copy
import re
import time

import pytest

from .conftest import rehearsal_minion, served_release, write_pillar

pytestmark = pytest.mark.integration

HOST_IP = "192.168.11.30"
SILENT_IP = "192.0.2.1"       # TEST-NET-1: the rehearsal's ping model has no host there (no packet is sent)


@pytest.fixture(scope="module")
def jailer16(salt_master, tmp_path_factory):
    """``(minion, scratch root, release mirror URL)`` of jailer16."""
    with served_release(tmp_path_factory, "i16-mirror") as url, \
            rehearsal_minion(salt_master, tmp_path_factory, "jailer16") as (minion, root):
        yield minion, root, url


@pytest.fixture(scope="module")
def minion16(jailer16):
    return jailer16[0]


@pytest.fixture(scope="module")
def first_build(salt_master, salt_cli, jailer16, pillar_dir, seed_pillar_data, event_listener):
    """The seed's two prisoners built on jailer16 by a highstate from the master, and the ``jailprov/*``
    events the master's bus carried meanwhile."""
    minion16, _, url = jailer16
    pillar = copy.deepcopy(seed_pillar_data)
    pillar["jailprov"]["mirror"] = url
    write_pillar(pillar_dir, {"jailer16": ["jailer16"]}, {"jailer16": pillar})
    salt_cli.run("saltutil.refresh_pillar", "wait=True", minion_tgt=minion16.id)
    predicted = salt_cli.run("state.apply", "jail", "test=True", minion_tgt=minion16.id, _timeout=600)
    assert predicted.returncode == 0, predicted
    started = time.time()
    ret = salt_cli.run("state.apply", "jail", minion_tgt=minion16.id, _timeout=600)
    assert ret.returncode == 0, ret
    assert all(s["result"] for s in ret.data.values()), ret.data
    # event.send is asynchronous: the last extraction's events may reach the master's bus after the job
    # returned, so wait (bounded) until both prisoners' final extraction events are there
    deadline = time.time() + 60
    while True:
        events = event_listener.get_events([(salt_master.id, "jailprov/*")], after_time=started)
        finished = {e.data["data"]["prisoner"] for e in events
                    if e.data["data"]["step"] == "release/extract" and e.data["data"]["done"] == e.data["data"]["total"]}
        if {"prisoner1", "prisoner2"} <= finished or time.time() > deadline:
            break
        time.sleep(0.5)
    return pillar, {"test": predicted.data, "run": ret.data}, sorted(events, key=lambda e: e.stamp)


@pytest.fixture(scope="module")
def built(first_build):
    return first_build[0]


def _strings(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        yield value


def test_comments_name_functions_that_exist_and_are_not_repeated_in_changes(first_build, minion16):
    _, runs, _ = first_build
    functions = set(minion16.salt_call_cli(timeout=120).run("sys.list_functions", "jailprov").data)
    assert {"jailprov.prisoner_root", "jailprov.list", "jailprov.exec"} <= functions
    mentioned = set()
    for mode, states in runs.items():
        for state in states.values():
            comment = state["comment"]
            mentioned |= {f"jailprov.{name}" for name in re.findall(r"\bjailprov\.([a-z_]+)\b", comment)}
            for value in _strings(state["changes"]):
                # a comment's own sentence never reappears as (part of) a value of changes
                assert not (comment.strip() and (comment.strip() in value or value.strip() == comment.strip())), \
                    (mode, state["__id__"], value)
    assert "jailprov.prisoner_root" in mentioned          # the fresh host's test run names step 1's function
    assert mentioned <= functions, mentioned - functions


def test_one_diff_per_shared_file_per_run(first_build):
    _, runs, _ = first_build
    for mode, states in runs.items():
        diffs = [s for s in states.values() if "jail_conf" in s["__id__"] and s["changes"].get("diff")]
        assert len(diffs) == 1, (mode, [(s["__id__"], s["comment"]) for s in diffs])
        others = [s for s in states.values() if s["__id__"].endswith("-jail_conf") and s not in diffs]
        assert others and all("already correct" in s["comment"] and not s["changes"] for s in others), others


def test_list_shows_prisoners_never_built_and_stopped_unmanaged_jails(salt_cli, jailer16, built, pillar_dir):
    minion16, root16, _ = jailer16
    more = copy.deepcopy(built)
    more["jailprov"]["prisoners"]["prisoner3"] = {"ip4": "192.168.11.33", "hostname": "bsd3.korodes.com"}
    write_pillar(pillar_dir, {"jailer16": ["more16"]}, {"more16": more})
    jail_conf = root16 / "etc/jail.conf"
    original = jail_conf.read_text(encoding="utf-8")
    try:
        salt_cli.run("saltutil.refresh_pillar", "wait=True", minion_tgt=minion16.id)
        jail_conf.write_text(original + '\nadmin {\n    path = "/usr/jails/admin";\n    host.hostname = admin.example.org;\n'
                             '    ip4.addr = "em0|192.168.11.99/24";\n}\n', encoding="utf-8")
        ret = minion16.salt_call_cli(timeout=120).run("jailprov.list")
        assert ret.returncode == 0, ret
        listed = {e["name"]: (e["state"], e["managed"]) for e in ret.data}
        assert listed == {"prisoner1": ("running", True), "prisoner2": ("running", True),
                          "prisoner3": ("absent", True), "admin": ("stopped", False)}, ret.data
        admin = next(e for e in ret.data if e["name"] == "admin")
        assert admin["ipv4"] == ["192.168.11.99"] and admin["path"] == "/usr/jails/admin"
    finally:
        jail_conf.write_text(original, encoding="utf-8")
        write_pillar(pillar_dir, {"jailer16": ["jailer16"]}, {"jailer16": built})
        salt_cli.run("saltutil.refresh_pillar", "wait=True", minion_tgt=minion16.id)


def test_release_cache_lists_and_prunes_through_salt_call(jailer16, built):
    minion16, root16, _ = jailer16
    old = root16 / "var/cache/jailprov/13.4-RELEASE/amd64"
    old.mkdir(parents=True)
    (old / "base.txz").write_bytes(b"x" * 4096)
    salt_call = minion16.salt_call_cli(timeout=120)
    ret = salt_call.run("jailprov.release_cache")
    assert ret.returncode == 0, ret
    by = {e["release"]: e for e in ret.data["releases"]}
    assert by["14.2-RELEASE"]["in_use"] and set(by["14.2-RELEASE"]["files"]) >= {"base.txz", "base.tar"}
    assert not by["13.4-RELEASE"]["in_use"] and by["13.4-RELEASE"]["bytes"] == 4096
    ret = salt_call.run("jailprov.release_cache", "prune=True")
    assert ret.data["changed"] and ret.data["removed_bytes"] == 4096 and not old.exists()
    assert (root16 / "var/cache/jailprov/14.2-RELEASE/amd64/base.tar").is_file()


def test_progress_reaches_the_master_during_a_first_build(first_build, minion16):
    _, _, events = first_build
    assert events, "no jailprov/* event on the master's bus"
    by_step = {}
    for event in events:
        # a minion's event as the master publishes it: {"id": minion, "cmd": "_minion_event", "data": {...}}
        assert event.data["id"] == minion16.id
        data = event.data["data"]
        assert data["minion"] == minion16.id and event.tag.startswith(f"jailprov/{data['step']}/{minion16.id}")
        assert 0 <= data["done"] <= data["total"]
        by_step.setdefault((data["step"], data["prisoner"]), []).append(data["done"])
    assert set(by_step) >= {("release/download", None), ("release/decompress", None),
                            ("release/extract", "prisoner1"), ("release/extract", "prisoner2")}, by_step
    for (step, prisoner), done in by_step.items():
        assert done == sorted(done), (step, prisoner, done)
    extract = [e.data["data"] for e in events
               if e.data["data"]["step"] == "release/extract" and e.data["data"]["prisoner"] == "prisoner1"]
    assert extract[0]["done"] == 0 and extract[-1]["done"] == extract[-1]["total"] > 0
    assert events[0].tag.startswith("jailprov/release/download/")


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
