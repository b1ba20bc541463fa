"""lifecycle: every rule checked against a scripted command runner (exact argv lists, in order)."""

import copy
import dataclasses
import json
import os
import pathlib
import shutil

import pytest

from salt_jail.core import model
from salt_jail.core.features import lifecycle
from salt_jail.core.errors import CommandError, JailprovError, PartialError, ValidationError
from salt_jail.core.io.host import Host
from tests.support.runner import FakeRunner, jls_json
from tests.support.samples import SEED_PING  # the tutorial's own ping output
from tests.support.tree import snapshot

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "lifecycle"

PILLAR = {"jailprov": {
    "jail_root": "/home/jail",
    "release": "14.2-RELEASE",
    "interface": "em0",
    "host": {"rc_aliases": True},
    "prisoners": {
        "prisoner1": {"jid": 1, "ip4": "192.168.11.31", "hostname": "bsd1.korodes.com"},
        "prisoner2": {"jid": 2, "ip4": "192.168.11.32", "hostname": "bsd2.korodes.com"},
    },
}}

JLS = ["jls", "-v", "--libxo", "json"]
MOUNT_P = ["mount", "-p"]
SECURELEVEL = ["sysctl", "-n", "kern.securelevel"]


def stamp(tree):
    """Give ``tree`` jailprov's install stamp: a prisoner jailprov installed (destroy removes only those)."""
    (tree / "var/db").mkdir(parents=True, exist_ok=True)
    (tree / "var/db/jailprov-base.json").write_text(json.dumps({"format": 1, "state": "installed",
                                                                "release": "14.2-RELEASE"}))


def jls(*jails):
    """jls -v --libxo json output for (name, jid[, ipv4]) tuples."""
    entries = []
    for name, jid, *ip in jails:
        entries.append({"jid": jid, "hostname": f"{name}.example", "path": f"/home/jail/{name}", "name": name,
                        "state": "ACTIVE", "cpusetid": jid + 1, "ipv4_addrs": ip, "ipv6_addrs": []})
    return jls_json(entries)


@pytest.fixture
def root(tmp_path):
    """The host's files: the seed jail.conf and rc.conf, both prisoner roots with a /dev."""
    (tmp_path / "etc").mkdir()
    shutil.copy(FIXTURES / "jail.conf", tmp_path / "etc/jail.conf")
    shutil.copy(FIXTURES / "rc.conf", tmp_path / "etc/rc.conf")
    (tmp_path / "var/run").mkdir(parents=True)
    for name in ("prisoner1", "prisoner2"):
        (tmp_path / f"home/jail/{name}/dev").mkdir(parents=True)
        (tmp_path / f"home/jail/{name}/etc").mkdir()
        (tmp_path / f"home/jail/{name}/etc/rc.conf").write_text('hostname="x"\n')
        stamp(tmp_path / f"home/jail/{name}")
    return tmp_path


@pytest.fixture
def runner():
    """A scripted runner: each command must be the next expected argv; answers with its scripted result."""
    run = FakeRunner(default=None)
    yield run
    run.assert_done()


@pytest.fixture
def host(root, runner):
    return Host(root=str(root), runner=runner)


@pytest.fixture
def cfg():
    return model.from_pillar(PILLAR)


def edit_rc(root, text):
    (root / "etc/rc.conf").write_text(text)


# ------------------------------------------------------------------------------------------------
# list
# ------------------------------------------------------------------------------------------------
def test_list_all_stopped(host, runner, cfg):
    runner.expect(JLS, jls())
    assert lifecycle.list_jails(host, cfg) == [
        {"name": "prisoner1", "jid": 1, "state": "stopped", "hostname": "bsd1.korodes.com",
         "path": "/home/jail/prisoner1", "ipv4": ["192.168.11.31"], "ipv6": [], "managed": True, "type": "thick"},
        {"name": "prisoner2", "jid": 2, "state": "stopped", "hostname": "bsd2.korodes.com",
         "path": "/home/jail/prisoner2", "ipv4": ["192.168.11.32"], "ipv6": [], "managed": True, "type": "thick"},
        # the administrator's own jail in jail.conf, stopped: listed, not managed
        {"name": "web", "jid": None, "state": "stopped", "hostname": "web.example.org",
         "path": "/usr/jails/web", "ipv4": [], "ipv6": [], "managed": False, "type": None},
    ]


def test_list_names_compared_exactly(host, runner, cfg):
    """prisoner10 and prisoner are other jails, not prisoner1: no substring or prefix matching."""
    runner.expect(JLS, jls(("prisoner10", 7, "10.0.0.10"), ("prisoner", 8), ("prisoner2", 2, "192.168.11.32")))
    listed = lifecycle.list_jails(host, cfg)
    assert [(e["name"], e["state"], e["jid"], e["managed"], e["type"]) for e in listed] == [
        ("prisoner1", "stopped", 1, True, "thick"),
        ("prisoner2", "running", 2, True, "thick"),
        ("prisoner10", "running", 7, False, None),
        ("prisoner", "running", 8, False, None),
        ("web", "stopped", None, False, None),
    ]
    assert listed[1]["hostname"] == "prisoner2.example"            # a running jail is shown as jls has it
    assert listed[2]["ipv4"] == ["10.0.0.10"]


def test_list_leaves_out_absent_prisoners_unless_running(host, runner):
    pillar = copy.deepcopy(PILLAR)
    pillar["jailprov"]["prisoners"]["prisoner2"]["absent"] = True
    runner.expect(JLS, jls(("prisoner2", 2)))
    listed = lifecycle.list_jails(host, model.from_pillar(pillar))
    assert [(e["name"], e["state"], e["managed"]) for e in listed] == [
        ("prisoner1", "stopped", True), ("prisoner2", "running", False), ("web", "stopped", False)]


def test_list_prisoner_never_built_is_absent_not_stopped(host, runner, cfg, root):
    """Issue 16: a prisoner whose root does not exist is ``absent``; one whose root exists is ``stopped``."""
    shutil.rmtree(root / "home/jail/prisoner2")
    runner.expect(JLS, jls())
    listed = lifecycle.list_jails(host, cfg)
    assert [(e["name"], e["state"], e["managed"]) for e in listed] == [
        ("prisoner1", "stopped", True), ("prisoner2", "absent", True), ("web", "stopped", False)]


def test_list_stopped_unmanaged_jails_from_includes_with_their_addresses(host, runner, cfg, root):
    """Stopped jails jailprov does not manage, from jail.conf and what it includes, as jail(8) reads them;
    a running one is listed once (from jls); a jail the pillar marks absent is not 'unmanaged'."""
    (root / "etc/jail.conf.d").mkdir()
    (root / "etc/jail.conf.d/db.conf").write_text(
        'db { jid = 40; path = "/usr/jails/db"; host.hostname = db.example.org;\n'
        '     ip4.addr = "em0|10.0.0.40/24", 10.0.0.41; ip6.addr = "2001:db8::40/64"; }\n'
        'mail { path = /usr/jails/mail; host.hostname = mail.example.org; }\n')
    with open(root / "etc/jail.conf", "a", encoding="utf-8") as fh:
        fh.write('.include "/etc/jail.conf.d/*.conf";\n')
    runner.expect(JLS, jls(("mail", 9, "10.0.0.9")))
    names = [e["name"] for e in lifecycle.list_jails(host, cfg)]
    assert names.count("mail") == 1
    runner.expect(JLS, jls(("mail", 9, "10.0.0.9")))
    listed = {e["name"]: e for e in lifecycle.list_jails(host, cfg)}
    assert listed["db"] == {"name": "db", "jid": 40, "state": "stopped", "hostname": "db.example.org",
                            "path": "/usr/jails/db", "ipv4": ["10.0.0.40", "10.0.0.41"], "ipv6": ["2001:db8::40"],
                            "managed": False, "type": None}
    assert (listed["mail"]["state"], listed["mail"]["jid"]) == ("running", 9)


def test_list_survives_a_jail_conf_it_cannot_parse(host, runner, cfg, root):
    (root / "etc/jail.conf").write_text("web { path = /usr/jails/web;\n")       # unterminated block
    runner.expect(JLS, jls())
    assert [e["name"] for e in lifecycle.list_jails(host, cfg)] == ["prisoner1", "prisoner2"]


# ------------------------------------------------------------------------------------------------
# config_file_for
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("files, rc_conf, expected", [
    ({}, "", "/etc/jail.conf"),
    ({"etc/jail.prisoner1.conf": "prisoner1 {}\n"}, "", "/etc/jail.prisoner1.conf"),
    ({"usr/local/etc/p1.conf": "prisoner1 {}\n"}, 'jail_prisoner1_conf="/usr/local/etc/p1.conf"\n',
     "/usr/local/etc/p1.conf"),
    ({}, 'jail_prisoner1_conf="/usr/local/etc/missing.conf"\n', "/etc/jail.conf"),   # unreadable: next rule
    ({"etc/jail.conf.d/prisoner1.conf": "prisoner1 {}\n"}, "", "/etc/jail.conf.d/prisoner1.conf"),
    ({"etc/jail.conf.d/prisoner1.conf": "prisoner1 {}\n",
      "etc/jail.conf": '  .include "/etc/jail.conf.d/*.conf";\n'}, "", "/etc/jail.conf"),
    ({"etc/jail.conf.d/prisoner1.conf": "prisoner1 {}\n",
      "etc/jail.conf": ".include /etc/jail.conf.d/prisoner1.conf;\n"}, "", "/etc/jail.conf"),
    ({"etc/jail.conf.d/prisoner1.conf": "prisoner1 {}\n",
      "etc/jail.conf": '# .include "/etc/jail.conf.d/*.conf";\n'}, "", "/etc/jail.conf.d/prisoner1.conf"),
    ({"usr/local/etc/jail.conf": "prisoner1 {}\n"}, 'jail_conf="/usr/local/etc/jail.conf"\n',
     "/usr/local/etc/jail.conf"),
    ({"etc/rc.conf.d/jail": 'jail_conf="/usr/local/etc/jail.conf"\n', "usr/local/etc/jail.conf": ""},
     'jail_conf="/etc/other.conf"\n', "/usr/local/etc/jail.conf"),                    # rc.conf.d/jail wins
])
def test_config_file_for(host, root, cfg, files, rc_conf, expected):
    edit_rc(root, rc_conf)
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    assert lifecycle.config_file_for(host, cfg, "prisoner1") == expected


def test_config_file_for_without_any_file(host, root, cfg):
    (root / "etc/jail.conf").unlink()
    with pytest.raises(JailprovError, match="no configuration for jail prisoner1"):
        lifecycle.config_file_for(host, cfg, "prisoner1")


def test_config_file_for_refuses_obsolete_rc_conf_jail(host, root, cfg):
    edit_rc(root, 'jail_prisoner1_rootdir="/home/jail/prisoner1"\njail_prisoner1_hostname="bsd1"\n')
    with pytest.raises(JailprovError, match="obsolete rc.conf variables jail_prisoner1_rootdir"):
        lifecycle.config_file_for(host, cfg, "prisoner1")


# ------------------------------------------------------------------------------------------------
# start / stop / restart
# ------------------------------------------------------------------------------------------------
START1 = ["jail", "-f", "/etc/jail.conf", "-c", "prisoner1"]
STOP1 = ["jail", "-q", "-f", "/etc/jail.conf", "-r", "prisoner1"]


def test_start(host, runner, cfg):
    runner.expect(JLS, jls(("prisoner10", 10))).expect(START1, "prisoner1: created\n").expect(
        JLS, jls(("prisoner10", 10), ("prisoner1", 1)))
    result = lifecycle.start(host, cfg, "prisoner1")
    assert result.changed and result.comment == "jail prisoner1 started (jid 1)"
    assert result.data == {"argv": START1, "jid": 1}


def test_start_already_running(host, runner, cfg):
    runner.expect(JLS, jls(("prisoner1", 1)))
    result = lifecycle.start(host, cfg, "prisoner1")
    assert not result.changed and result.comment == "jail prisoner1 is already running (jid 1)"


def test_start_test_mode_runs_nothing(host, runner, cfg):
    runner.expect(JLS, jls())
    result = lifecycle.start(host, cfg, "prisoner1", test=True)
    assert result.changed and result.comment == "jail prisoner1 would be started: jail -f /etc/jail.conf -c prisoner1"


def test_start_failure_returns_jails_own_message(host, runner, cfg):
    message = "jail: prisoner1: mount.devfs: /home/jail/prisoner1/dev: No such file or directory\n"
    runner.expect(JLS, jls()).expect(START1, stderr=message, retcode=1)
    with pytest.raises(CommandError) as info:
        lifecycle.start(host, cfg, "prisoner1")
    assert info.value.retcode == 1 and message.strip() in str(info.value)
    assert str(info.value).startswith("cannot start jail prisoner1:")


@pytest.mark.parametrize("holder", ["web", "prisoner2"])
def test_start_refuses_a_jid_held_by_another_jail(host, runner, cfg, holder):
    runner.expect(JLS, jls((holder, 1)))                  # no jail(8) call follows
    with pytest.raises(JailprovError, match=f"gives it jid 1, which the running jail {holder} holds"):
        lifecycle.start(host, cfg, "prisoner1")


def test_start_jail_without_block(host, runner, cfg):
    runner.expect(JLS, jls())
    with pytest.raises(JailprovError, match="cannot read the parameters of jail ghost from /etc/jail.conf"):
        lifecycle.start(host, cfg, "ghost")


def test_start_when_jail_exits_at_once(host, runner, cfg):
    runner.expect(JLS, jls()).expect(START1).expect(JLS, jls())
    with pytest.raises(JailprovError, match="jls does not show jail prisoner1 running"):
        lifecycle.start(host, cfg, "prisoner1")


@pytest.mark.parametrize("name", ["-r", "", "pris\0oner"])
def test_names_that_would_be_options_are_refused(host, runner, cfg, name):
    with pytest.raises(ValidationError):
        lifecycle.start(host, cfg, name)


def test_stop(host, runner, cfg):
    runner.expect(JLS, jls(("prisoner1", 1))).expect(STOP1)
    result = lifecycle.stop(host, cfg, "prisoner1")
    assert result.changed and result.comment == "jail prisoner1 stopped (was jid 1)"


@pytest.mark.parametrize("running, held", [
    (jls(("prisoner1", 7), ("www", 1)), "jid 1 is the running jail www"),
    (jls(("prisoner1", 7)), "no running jail has jid 1"),
])
def test_stop_refuses_when_the_configured_jid_is_another_jail(host, runner, cfg, running, held):
    """usr.sbin/jail/jail.c running_jid(): ``jail -r prisoner1`` looks the configured jail up by its jid
    parameter (jail.conf: jid = 1) before its name -- with prisoner1 running as jid 7, it would remove jid 1."""
    runner.expect(JLS, running)
    with pytest.raises(JailprovError) as err:
        lifecycle.stop(host, cfg, "prisoner1")
    assert "/etc/jail.conf gives it jid 1, but the running prisoner1 has jid 7" in str(err.value)
    assert held in str(err.value)
    assert runner.pending() == []                      # no jail -r ran


@pytest.mark.parametrize("running", [jls(), jls(("prisoner10", 10), ("prisoner", 3))])
def test_stop_not_running(host, runner, cfg, running):
    runner.expect(JLS, running)
    assert not lifecycle.stop(host, cfg, "prisoner1").changed


def test_stop_failure(host, runner, cfg):
    runner.expect(JLS, jls(("prisoner1", 1))).expect(STOP1, stderr="jail: prisoner1: exec.stop failed\n", retcode=1)
    runner.expect(JLS, jls(("prisoner1", 1)))                   # still running: the stop failed
    with pytest.raises(CommandError, match="cannot stop jail prisoner1: .* exec.stop failed"):
        lifecycle.stop(host, cfg, "prisoner1")


def test_stop_that_removed_the_jail_then_failed_an_unmount_is_a_stop(host, runner, cfg):
    """jail(8) goes on after the removal when an unmount fails (a mount already gone): the jail is stopped."""
    said = "jail: prisoner1: mount.fstab: /home/jail/prisoner1/usr/share: not a mount point\n"
    runner.expect(JLS, jls(("prisoner1", 1))).expect(STOP1, stderr=said, retcode=1).expect(JLS, jls())
    result = lifecycle.stop(host, cfg, "prisoner1")
    assert result.changed and "stopped" in result.comment and "not a mount point" in result.comment


def test_stop_test_mode(host, runner, cfg):
    runner.expect(JLS, jls(("prisoner1", 1)))
    result = lifecycle.stop(host, cfg, "prisoner1", test=True)
    assert result.changed and "jail -q -f /etc/jail.conf -r prisoner1" in result.comment


def test_restart_running(host, runner, cfg):
    runner.expect(JLS, jls(("prisoner1", 1))).expect(STOP1).expect(START1).expect(JLS, jls(("prisoner1", 1)))
    result = lifecycle.restart(host, cfg, "prisoner1")
    assert result.changed and result.comment == "jail prisoner1 stopped (was jid 1); jail prisoner1 started (jid 1)"


def test_restart_stopped_just_starts(host, runner, cfg):
    runner.expect(JLS, jls()).expect(START1).expect(JLS, jls(("prisoner1", 1)))
    assert lifecycle.restart(host, cfg, "prisoner1").comment == "jail prisoner1 started (jid 1)"


def test_restart_test_mode(host, runner, cfg):
    runner.expect(JLS, jls(("prisoner1", 1)))
    result = lifecycle.restart(host, cfg, "prisoner1", test=True)
    assert result.changed and "would be stopped" in result.comment and "would be started" in result.comment


@pytest.mark.parametrize("rc_conf, verb, running, expected", [
    # jail_list names, in its order
    ('jail_list="prisoner2 prisoner1"\n', "start", jls(("prisoner2", 2)),
     [["jail", "-f", "/etc/jail.conf", "-c", "prisoner1"]]),
    # empty jail_list: every jail of jail.conf, the admin's own "web" included
    ('jail_list=""\n', "start", jls(),
     [["jail", "-f", "/etc/jail.conf", "-c", n] for n in ("prisoner1", "prisoner2", "web")]),
    ("", "stop", jls(("prisoner1", 1), ("prisoner2", 2), ("other", 9)),
     [["jail", "-q", "-f", "/etc/jail.conf", "-r", n] for n in ("prisoner1", "prisoner2")]),
    ('jail_reverse_stop="YES"\n', "stop", jls(("prisoner1", 1), ("prisoner2", 2), ("web", 3)),
     [["jail", "-q", "-f", "/etc/jail.conf", "-r", n] for n in ("web", "prisoner2", "prisoner1")]),
])
def test_all_follows_jail_list(host, root, runner, cfg, rc_conf, verb, running, expected):
    edit_rc(root, rc_conf)
    runner.expect(JLS, running)
    for argv in expected:
        runner.expect(argv)
        if verb == "start":      # jls after jail -c proves the jail runs; then the list is read again
            runner.expect(JLS, jls((argv[-1], 5)))
        runner.expect(JLS, running)
    result = getattr(lifecycle, verb)(host, cfg, lifecycle.ALL)
    assert result.changed
    assert [n for n, r in result.data["jails"].items() if r["changed"]] == [argv[-1] for argv in expected]


def test_all_reports_every_failure_and_goes_on(host, root, runner, cfg):
    edit_rc(root, 'jail_list="prisoner1 prisoner2"\n')
    runner.expect(JLS, jls()).expect(START1, stderr="jail: prisoner1: failed\n", retcode=1)
    runner.expect(["jail", "-f", "/etc/jail.conf", "-c", "prisoner2"]).expect(JLS, jls(("prisoner2", 2)))
    runner.expect(JLS, jls(("prisoner2", 2)))
    with pytest.raises(JailprovError) as info:
        lifecycle.start(host, cfg, lifecycle.ALL)
    assert "jail: prisoner1: failed" in str(info.value) and "jail prisoner2 started (jid 2)" in str(info.value)


def test_all_with_nothing_to_do(host, root, runner, cfg):
    edit_rc(root, "")
    (root / "etc/jail.conf").write_text("exec.clean;\n")
    runner.expect(JLS, jls())
    assert not lifecycle.start(host, cfg, lifecycle.ALL).changed


# ------------------------------------------------------------------------------------------------
# devfs
# ------------------------------------------------------------------------------------------------
DEV2 = "/home/jail/prisoner2/dev"
RULES4 = "100 include 1\n200 include 2\n300 include 3\n400 path fuse unhide\n"
MOUNT_DEVFS2 = ["mount", "-t", "devfs", "-o", "ruleset=4", "devfs", DEV2]
TABLE = "/dev/ada0p2\t\t/\t\t\tufs\trw\t\t1 1\ndevfs\t\t\t/dev\t\t\tdevfs\trw,multilabel\t0 0\n"


def set_prisoner2_param(root, line):
    """Replace prisoner2's devfs_ruleset line in jail.conf by ``line``."""
    conf = root / "etc/jail.conf"
    conf.write_text(conf.read_text().replace("    devfs_ruleset = 4;\n}\n\nweb", f"    {line}\n}}\n\nweb"))


def expect_mount(runner, argv=MOUNT_DEVFS2):
    """The mount itself: the table before, the mount, the table after (a devfs that landed elsewhere is caught)."""
    runner.expect(MOUNT_P, TABLE).expect(argv).expect(MOUNT_P, TABLE + f"devfs\t{argv[-1]}\tdevfs\trw\t0 0\n")


def test_mount_devfs(host, runner, cfg):
    runner.expect(MOUNT_P, TABLE).expect(JLS, jls()).expect(["devfs", "rule", "-s", "4", "show"], RULES4)
    expect_mount(runner)
    result = lifecycle.mount_devfs(host, cfg, "prisoner2")
    assert result.changed and result.comment == f"devfs mounted on {DEV2} with ruleset 4"


def test_mount_devfs_test_mode(host, runner, cfg):
    runner.expect(MOUNT_P, TABLE).expect(JLS, jls()).expect(["devfs", "rule", "-s", "4", "show"], RULES4)
    result = lifecycle.mount_devfs(host, cfg, "prisoner2", test=True)
    assert result.changed and " ".join(MOUNT_DEVFS2) in result.comment


def test_mount_devfs_other_ruleset(host, root, runner, cfg):
    set_prisoner2_param(root, "devfs_ruleset = 5;")
    runner.expect(MOUNT_P, TABLE).expect(JLS, jls()).expect(["devfs", "rule", "-s", "5", "show"], RULES4)
    expect_mount(runner, ["mount", "-t", "devfs", "-o", "ruleset=5", "devfs", DEV2])
    assert lifecycle.mount_devfs(host, cfg, "prisoner2").changed


@pytest.mark.parametrize("table", [
    TABLE + f"devfs\t\t\t{DEV2} devfs\trw\t\t0 0\n",
    TABLE + "devfs\t\t\t/usr/home/jail/prisoner2/dev devfs\trw\t0 0\n",   # /home -> /usr/home, as mount(8) shows it
])
def test_mount_devfs_already_mounted(host, root, runner, cfg, table):
    if "/usr/home" in table:
        (root / "usr").mkdir()
        (root / "home").rename(root / "usr/home")
        (root / "home").symlink_to("usr/home")
    runner.expect(MOUNT_P, table)
    result = lifecycle.mount_devfs(host, cfg, "prisoner2")
    assert not result.changed and result.comment == f"devfs is already mounted on {DEV2}"


def test_mount_devfs_refuses_an_unloaded_ruleset(host, runner, cfg):
    runner.expect(MOUNT_P, TABLE).expect(JLS, jls()).expect(["devfs", "rule", "-s", "4", "show"], "")
    with pytest.raises(JailprovError, match="devfs ruleset 4 is not loaded .* every device of the host"):
        lifecycle.mount_devfs(host, cfg, "prisoner2")


def test_mount_devfs_left_to_jail_with_mount_devfs(host, runner, cfg):
    runner.expect(MOUNT_P, TABLE)
    result = lifecycle.mount_devfs(host, cfg, "prisoner1")
    assert not result.changed and "sets mount.devfs in /etc/jail.conf" in result.comment


@pytest.mark.parametrize("line, set_", [
    ("mount.devfs = 1;", True), ("mount.devfs = TRUE;", True), ('mount.devfs = "2";', True),
    ("mount.devfs = 0;", False), ("mount.nodevfs;", False), ("mount.devfs = false;", False),
])
def test_mount_devfs_reads_booleans_as_jail_does(host, root, runner, cfg, line, set_):
    set_prisoner2_param(root, line)
    runner.expect(MOUNT_P, TABLE)
    if not set_:
        runner.expect(JLS, jls()).expect(["devfs", "rule", "-s", "4", "show"], RULES4)
        expect_mount(runner)
    assert lifecycle.mount_devfs(host, cfg, "prisoner2").changed is not set_


@pytest.mark.parametrize("ruleset", ["0", "jail"])
def test_mount_devfs_refuses_unusable_rulesets(host, root, runner, cfg, ruleset):
    set_prisoner2_param(root, f"devfs_ruleset = {ruleset};")
    runner.expect(MOUNT_P, TABLE).expect(JLS, jls())
    with pytest.raises(JailprovError, match="is not usable for mounting"):
        lifecycle.mount_devfs(host, cfg, "prisoner2")


def test_mount_devfs_refuses_a_symlinked_dev(host, root, runner, cfg):
    dev = root / "home/jail/prisoner2/dev"
    dev.rmdir()
    dev.symlink_to("/etc")                  # mounted through, devfs would cover the host's /etc
    with pytest.raises(JailprovError, match="is a symbolic link"):
        lifecycle.mount_devfs(host, cfg, "prisoner2")


def test_mount_devfs_refuses_another_file_system_there(host, runner, cfg):
    runner.expect(MOUNT_P, TABLE + f"tmpfs\t{DEV2}\ttmpfs\trw\t0 0\n")
    with pytest.raises(JailprovError, match="already has a tmpfs file system"):
        lifecycle.mount_devfs(host, cfg, "prisoner2")


def test_mount_devfs_only_for_pillar_prisoners(host, runner, cfg):
    with pytest.raises(ValidationError, match="'web' is not a prisoner of the pillar"):
        lifecycle.mount_devfs(host, cfg, "web")


def test_umount_devfs(host, runner, cfg):
    runner.expect(MOUNT_P, TABLE + f"devfs\t{DEV2}\tdevfs\trw\t0 0\n").expect(["umount", DEV2])
    assert lifecycle.umount_devfs(host, cfg, "prisoner2").changed


def test_umount_devfs_not_mounted(host, runner, cfg):
    runner.expect(MOUNT_P, TABLE + "devfs\t/home/jail/prisoner2/dev/fd\tfdescfs\trw\t0 0\n")
    assert not lifecycle.umount_devfs(host, cfg, "prisoner2").changed


# ------------------------------------------------------------------------------------------------
# exec, ping
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, argv", [
    ({}, ["jexec", "-l", "prisoner1", "hostname"]),
    ({"user": "www"}, ["jexec", "-l", "-U", "www", "prisoner1", "hostname"]),
    ({"login": False}, ["jexec", "prisoner1", "hostname"]),
])
def test_exec(host, runner, cfg, kwargs, argv):
    runner.expect(JLS, jls(("prisoner1", 1))).expect(argv, "bsd1.korodes.com\n", "", 0)
    assert lifecycle.exec_in(host, cfg, "prisoner1", ["hostname"], **kwargs) == {
        "stdout": "bsd1.korodes.com\n", "stderr": "", "retcode": 0}


def test_exec_returns_the_commands_failure(host, runner, cfg):
    runner.expect(JLS, jls(("prisoner1", 1))).expect(["jexec", "-l", "prisoner1", "false"], "", "", 1)
    assert lifecycle.exec_in(host, cfg, "prisoner1", ["false"])["retcode"] == 1


def test_exec_in_a_stopped_jail(host, runner, cfg):
    runner.expect(JLS, jls(("prisoner10", 10)))
    with pytest.raises(JailprovError, match="jail prisoner1 is not running"):
        lifecycle.exec_in(host, cfg, "prisoner1", ["hostname"])


def test_ping(host, runner, cfg):
    runner.expect(JLS, jls(("prisoner1", 1))).expect(
        ["jexec", "-l", "prisoner1", "ping", "-c", "3", "192.168.11.30"], SEED_PING)
    assert lifecycle.ping(host, cfg, "prisoner1", "192.168.11.30") == {
        "transmitted": 3, "received": 3, "duplicates": 0, "loss_pct": 0.0,
        "rtt": {"min": 0.044, "avg": 0.051, "max": 0.057, "stddev": 0.005}, "ok": True}


def test_ping_nothing_back(host, runner, cfg):
    out = "PING 192.168.11.99 (192.168.11.99): 56 data bytes\n\n--- 192.168.11.99 ping statistics ---\n" \
          "1 packets transmitted, 0 packets received, 100.0% packet loss\n"
    runner.expect(JLS, jls(("prisoner1", 1))).expect(
        ["jexec", "-l", "prisoner1", "ping", "-c", "1", "192.168.11.99"], out, "", 2)
    result = lifecycle.ping(host, cfg, "prisoner1", "192.168.11.99", count=1)
    assert (result["received"], result["loss_pct"], result["rtt"], result["ok"]) == (0, 100.0, None, False)


def test_ping_failure_carries_pings_message(host, runner, cfg):
    runner.expect(JLS, jls(("prisoner1", 1))).expect(
        ["jexec", "-l", "prisoner1", "ping", "-c", "3", "nowhere.invalid"], "",
        "ping: cannot resolve nowhere.invalid: Unknown host\n", 68)
    with pytest.raises(CommandError, match="ping from jail prisoner1 failed: .* Unknown host"):
        lifecycle.ping(host, cfg, "prisoner1", "nowhere.invalid")


# ------------------------------------------------------------------------------------------------
# destroy
# ------------------------------------------------------------------------------------------------
ROOT2 = "/home/jail/prisoner2"
STOP2 = ["jail", "-q", "-f", "/etc/jail.conf", "-r", "prisoner2"]
CHFLAGS2 = ["chflags", "-R", "0", ROOT2]


@pytest.fixture
def absent_cfg():
    pillar = copy.deepcopy(PILLAR)
    pillar["jailprov"]["prisoners"]["prisoner2"] = {"absent": True}
    return model.from_pillar(pillar)


def test_destroy(host, root, runner, absent_cfg):
    (root / "home/jail/prisoner2/usr/ports").mkdir(parents=True)
    leftover = f"/usr/ports\t{ROOT2}/usr/ports\tnullfs\tro\t0 0\n"
    runner.expect(SECURELEVEL, "-1\n").expect(JLS, jls(("prisoner1", 1), ("prisoner2", 2)))
    runner.expect(MOUNT_P, TABLE + leftover).expect(STOP2)      # the plan reads the table before the stop
    runner.expect(MOUNT_P, TABLE + leftover).expect(["umount", f"{ROOT2}/usr/ports"]).expect(MOUNT_P, TABLE)
    runner.expect(CHFLAGS2)
    result = lifecycle.destroy(host, absent_cfg, "prisoner2")
    assert result.changed
    assert result.comment == ("prisoner prisoner2 destroyed: stop jail prisoner2 (jid 2); unmount "
                              f"{ROOT2}/usr/ports; clear the file flags below {ROOT2} and remove it; edit "
                              "/etc/jail.conf; edit /etc/rc.conf")
    assert not (root / "home/jail/prisoner2").exists() and (root / "home/jail/prisoner1/etc/rc.conf").exists()
    jail_conf = (root / "etc/jail.conf").read_text()
    assert "prisoner2" not in jail_conf.replace("// prisoner2 gets", "")
    assert "prisoner1 {" in jail_conf and "web {" in jail_conf
    rc_conf = (root / "etc/rc.conf").read_text()
    assert "192.168.11.32" not in rc_conf and 'jail_list="prisoner1"' in rc_conf
    assert "192.168.11.31" in rc_conf
    assert result.data == {"stopped": True, "unmounted": [f"{ROOT2}/usr/ports"], "removed": ROOT2,
                           "files": ["/etc/jail.conf", "/etc/rc.conf"]}
    assert "-    ip4.addr = \"em0|192.168.11.32/32\";" in result.diff


def test_destroy_test_mode_removes_nothing(host, root, runner, absent_cfg):
    before = snapshot(root)
    runner.expect(SECURELEVEL, "0\n").expect(JLS, jls(("prisoner2", 2)))
    runner.expect(MOUNT_P, TABLE + f"devfs\t{ROOT2}/dev\tdevfs\trw\t0 0\n")
    result = lifecycle.destroy(host, absent_cfg, "prisoner2", test=True)
    assert result.changed and result.comment.startswith("prisoner prisoner2 would be destroyed: stop jail prisoner2")
    assert f"unmount {ROOT2}/dev" in result.comment and "edit /etc/rc.conf" in result.comment
    assert "-jail_list=\"prisoner1 prisoner2\"" in result.diff
    assert snapshot(root) == before


def test_destroy_own_jail_conf_d_file_is_removed(host, root, runner, absent_cfg):
    (root / "etc/jail.conf").write_text('exec.clean;\n.include "/etc/jail.conf.d/*.conf";\n')
    (root / "etc/jail.conf.d").mkdir()
    (root / "etc/jail.conf.d/prisoner2.conf").write_text("prisoner2 {\n    ip4.addr = 192.168.11.32;\n}\n")
    (root / "etc/jail.conf.d/prisoner1.conf").write_text("prisoner1 {\n    ip4.addr = 192.168.11.31;\n}\n")
    shutil.rmtree(root / "home/jail/prisoner2")
    runner.expect(JLS, jls()).expect(MOUNT_P, TABLE)
    result = lifecycle.destroy(host, absent_cfg, "prisoner2")
    assert "remove /etc/jail.conf.d/prisoner2.conf" in result.comment
    assert sorted(os.listdir(root / "etc/jail.conf.d")) == ["prisoner1.conf"]
    assert (root / "etc/jail.conf").read_text() == 'exec.clean;\n.include "/etc/jail.conf.d/*.conf";\n'


def test_destroy_name_only_in_absent_list_takes_addresses_from_jail_conf(host, root, runner):
    pillar = copy.deepcopy(PILLAR)
    del pillar["jailprov"]["prisoners"]["prisoner2"]
    pillar["jailprov"]["absent"] = ["prisoner2"]
    shutil.rmtree(root / "home/jail/prisoner2")
    runner.expect(JLS, jls()).expect(MOUNT_P, TABLE)
    lifecycle.destroy(host, model.from_pillar(pillar), "prisoner2")
    assert "192.168.11.32" not in (root / "etc/rc.conf").read_text()


def test_destroy_jail_outside_the_pillar(host, root, runner, cfg):
    conf = root / "etc/jail.conf"
    conf.write_text(conf.read_text() + "ghost {\n    path = /home/jail/ghost/;\n    ip4.addr = 192.168.11.99;\n"
                                       "    persist;\n}\n")
    (root / "etc/rc.conf").write_text('ifconfig_em0_alias7="inet 192.168.11.99 netmask 255.255.255.255"\n'
                                      'jail_enable="YES"\njail_list="prisoner1 prisoner2 ghost"\n')
    (root / "home/jail/ghost").mkdir()
    stamp(root / "home/jail/ghost")  # jailprov installed it, then it was dropped from the pillar
    runner.expect(SECURELEVEL, "0\n").expect(JLS, jls()).expect(MOUNT_P, TABLE)
    runner.expect(["chflags", "-R", "0", "/home/jail/ghost"])
    lifecycle.destroy(host, cfg, "ghost")
    assert "ghost" not in conf.read_text() and "192.168.11.99" not in (root / "etc/rc.conf").read_text()
    assert not (root / "home/jail/ghost").exists()


def test_destroy_refuses_a_jail_whose_path_is_elsewhere(host, root, runner, cfg):
    (root / "home/jail/web").mkdir()
    before = snapshot(root)
    runner.expect(SECURELEVEL, "0\n")
    with pytest.raises(JailprovError, match="/etc/jail.conf gives it path /usr/jails/web, not /home/jail/web"):
        lifecycle.destroy(host, cfg, "web")
    assert snapshot(root) == before


def test_destroy_already_absent(host, root, runner, absent_cfg):
    shutil.rmtree(root / "home/jail/prisoner2")
    (root / "etc/rc.conf").write_text('jail_enable="YES"\njail_list="prisoner1"\n'
                                      'ifconfig_em0_alias0="inet 192.168.11.31 netmask 255.255.255.255"\n')
    conf = root / "etc/jail.conf"
    conf.write_text(conf.read_text().split("// prisoner2")[0])
    runner.expect(JLS, jls(("prisoner1", 1))).expect(MOUNT_P, TABLE)
    result = lifecycle.destroy(host, absent_cfg, "prisoner2")
    assert not result.changed and result.comment == "prisoner prisoner2 is already absent"


def test_destroy_refuses_a_prisoner_still_in_the_pillar(host, root, runner, cfg):
    before = snapshot(root)
    with pytest.raises(JailprovError, match="still a prisoner in the pillar"):
        lifecycle.destroy(host, cfg, "prisoner2")
    assert snapshot(root) == before


def test_destroy_force(host, root, runner, cfg):
    runner.expect(SECURELEVEL, "0\n").expect(JLS, jls()).expect(MOUNT_P, TABLE).expect(CHFLAGS2)
    assert lifecycle.destroy(host, cfg, "prisoner2", force=True).changed
    assert not (root / "home/jail/prisoner2").exists()


@pytest.mark.parametrize("path, message", [
    ("/etc", "not strictly inside jail_root"),
    ("/home/jail", "not strictly inside jail_root"),
    ("/", "not strictly inside jail_root"),
    ("/home/jailbreak", "not strictly inside jail_root"),
    ("/home/jail/../prisoner2", "not a normalised absolute path"),
    ("home/jail/prisoner2", "not a normalised absolute path"),
])
def test_destroy_refuses_paths_outside_jail_root(host, root, runner, absent_cfg, path, message):
    prisoners = dict(absent_cfg.prisoners)
    prisoners["prisoner2"] = dataclasses.replace(prisoners["prisoner2"], path=path)
    before = snapshot(root)
    with pytest.raises(JailprovError, match=message):
        lifecycle.destroy(host, dataclasses.replace(absent_cfg, prisoners=prisoners), "prisoner2")
    assert snapshot(root) == before


def test_destroy_refuses_a_symlinked_root(host, root, runner, absent_cfg):
    link = root / "home/jail/prisoner2"
    shutil.rmtree(link)
    (root / "precious").mkdir()
    (root / "precious/data").write_text("keep me\n")
    link.symlink_to(root / "precious")
    with pytest.raises(JailprovError, match="is a symbolic link"):
        lifecycle.destroy(host, absent_cfg, "prisoner2")
    assert (root / "precious/data").read_text() == "keep me\n"


def test_destroy_refuses_a_root_that_is_a_mount_point(host, root, runner, absent_cfg):
    before = snapshot(root)
    runner.expect(SECURELEVEL, "0\n").expect(JLS, jls()).expect(MOUNT_P, TABLE + f"zroot/p2\t{ROOT2}\tzfs\trw\t0 0\n")
    with pytest.raises(JailprovError, match="is itself a mount point .zfs from zroot/p2."):
        lifecycle.destroy(host, absent_cfg, "prisoner2")
    assert snapshot(root) == before


def test_destroy_refuses_when_a_mount_stays(host, root, runner, absent_cfg):
    before = snapshot(root)
    mounted = TABLE + f"/data\t{ROOT2}/data\tnullfs\trw\t0 0\n"
    runner.expect(SECURELEVEL, "0\n").expect(JLS, jls()).expect(MOUNT_P, mounted)
    runner.expect(["umount", f"{ROOT2}/data"]).expect(MOUNT_P, mounted)       # umount "succeeded", still there
    with pytest.raises(JailprovError, match=f"{ROOT2}/data is still mounted below it"):
        lifecycle.destroy(host, absent_cfg, "prisoner2")
    assert snapshot(root) == before


def test_destroy_refuses_at_a_positive_securelevel(host, root, runner, absent_cfg):
    before = snapshot(root)
    runner.expect(SECURELEVEL, "1\n")
    with pytest.raises(JailprovError, match="kern.securelevel is 1"):
        lifecycle.destroy(host, absent_cfg, "prisoner2")
    assert snapshot(root) == before


def test_destroy_clears_flags_before_removing(host, root, runner, absent_cfg):
    """An immutable file (chattr +i plays schg) is removable only after the chflags call."""
    locked = root / "home/jail/prisoner2/etc/rc.conf"
    if os.system(f"chattr +i {locked} 2>/dev/null") != 0:
        pytest.skip("chattr +i is not available here")
    try:
        runner.expect(SECURELEVEL, "0\n").expect(JLS, jls()).expect(MOUNT_P, TABLE)
        runner.expect(CHFLAGS2, effect=lambda argv: os.system(f"chattr -R -i {root / argv[-1].lstrip('/')}"))
        lifecycle.destroy(host, absent_cfg, "prisoner2")
        assert not (root / "home/jail/prisoner2").exists()
    finally:
        os.system(f"chattr -R -i {root} 2>/dev/null")


def test_destroy_reports_an_unremovable_file(host, root, runner, absent_cfg):
    locked = root / "home/jail/prisoner2/etc/rc.conf"
    if os.system(f"chattr +i {locked} 2>/dev/null") != 0:
        pytest.skip("chattr +i is not available here")
    try:
        runner.expect(SECURELEVEL, "0\n").expect(JLS, jls()).expect(MOUNT_P, TABLE).expect(CHFLAGS2)
        with pytest.raises(JailprovError, match=f"cannot remove {ROOT2} while destroying prisoner2: .*rc.conf: "
                                                "Operation not permitted"):
            lifecycle.destroy(host, absent_cfg, "prisoner2")
    finally:
        os.system(f"chattr -R -i {root} 2>/dev/null")


def _jid_clash(root, runner):
    """prisoner2 runs as jid 7 while jail.conf gives it jid 2, which the running jail web holds."""
    runner.expect(SECURELEVEL, "0\n").expect(JLS, jls(("prisoner2", 7), ("web", 2)))
    return "refusing to stop jail prisoner2: /etc/jail.conf gives it jid 2, but the running prisoner2 has jid 7"


def _other_file_system(root, runner):
    """A directory below the root on another file system that the mount table does not list."""
    (root / "home/jail/prisoner2/mnt").mkdir()
    runner.expect(SECURELEVEL, "0\n").expect(JLS, jls()).expect(MOUNT_P, TABLE)
    return "refusing to remove /home/jail/prisoner2: /home/jail/prisoner2/mnt is a mount point .another file system."


def _mount_on_root(root, runner):
    runner.expect(SECURELEVEL, "0\n").expect(JLS, jls(("prisoner2", 2)))
    runner.expect(MOUNT_P, TABLE + f"/data\t{ROOT2}\tnullfs\trw\t0 0\n")
    return "refusing to destroy prisoner2: /home/jail/prisoner2 is itself a mount point .nullfs from /data."


def _unmanaged(root, runner):
    (root / "home/jail/prisoner2/var/db/jailprov-base.json").unlink()
    runner.expect(SECURELEVEL, "0\n").expect(JLS, jls())
    return "refusing to destroy prisoner2: it is not a prisoner jailprov installed"


@pytest.mark.parametrize("refusal", [_jid_clash, _other_file_system, _mount_on_root, _unmanaged])
@pytest.mark.parametrize("test", [True, False])
def test_destroy_test_mode_predicts_every_refusal(host, root, runner, absent_cfg, monkeypatch, refusal, test):
    """Deliverable 2 (destroy): test=True plans through the checks a run makes, so it fails with the very
    error the run fails with, before anything changes — the jid clash (_stop_one's check) and another file
    system below the root (_remove_tree's check) were made only by a run before."""
    real_mnt = str(root / "home/jail/prisoner2/mnt")
    monkeypatch.setattr(lifecycle, "_other_file_systems",
                        lambda top: [real_mnt] if os.path.isdir(real_mnt) else [])
    message = refusal(root, runner)
    before = snapshot(root)
    with pytest.raises(JailprovError, match=message) as err:
        lifecycle.destroy(host, absent_cfg, "prisoner2", test=test)
    assert not isinstance(err.value, PartialError)            # refused before any change
    assert snapshot(root) == before


@pytest.mark.parametrize("test", [True, False])
def test_destroy_leaves_a_configured_mount_on_the_root_to_jail_r(host, root, runner, absent_cfg, test):
    """A file system the jail's own ``mount`` parameter mounts on its root is unmounted by ``jail -r``: not a
    refusal, in test mode as in a run (the run re-reads the table after the stop)."""
    set_prisoner2_param(root, f'mount = "/data {ROOT2} nullfs ro 0 0";')
    on_root = TABLE + f"/data\t{ROOT2}\tnullfs\tro\t0 0\n"
    runner.expect(SECURELEVEL, "0\n").expect(JLS, jls(("prisoner2", 2))).expect(MOUNT_P, on_root)
    if not test:
        runner.expect(STOP2).expect(MOUNT_P, TABLE).expect(CHFLAGS2)
    result = lifecycle.destroy(host, absent_cfg, "prisoner2", test=test)
    assert result.changed and "stop jail prisoner2 (jid 2)" in result.comment
    assert (root / "home/jail/prisoner2").exists() is test


def test_destroy_test_mode_and_run_plan_alike(host, root, runner, absent_cfg):
    """The prediction is the run's result word for word, and the run does what the plan listed."""
    runner.expect(SECURELEVEL, "0\n").expect(JLS, jls()).expect(MOUNT_P, TABLE)
    plan = lifecycle.destroy(host, absent_cfg, "prisoner2", test=True)
    runner.expect(SECURELEVEL, "0\n").expect(JLS, jls()).expect(MOUNT_P, TABLE).expect(CHFLAGS2)
    done = lifecycle.destroy(host, absent_cfg, "prisoner2")
    assert done.comment == plan.comment.replace("would be destroyed", "destroyed")
    assert (done.diff, done.data) == (plan.diff, plan.data)


@pytest.mark.parametrize("name", ["a/b", "-f"])
def test_destroy_refuses_odd_names(host, runner, absent_cfg, name):
    with pytest.raises(ValidationError):
        lifecycle.destroy(host, absent_cfg, name)


# ------------------------------------------------------------------------------------------------
# Against the rehearsal host: the real command lines through the strict stand-ins
# ------------------------------------------------------------------------------------------------
@pytest.fixture
def rehearsed(tmp_path):
    """A rehearsal host with the seed's jail.conf and rc.conf and two minimal prisoner trees."""
    from salt_jail import rehearsal  # pylint: disable=import-outside-toplevel

    root = tmp_path / "host"
    root.mkdir()
    bindir = rehearsal.setup(str(root))
    try:
        shutil.copy(FIXTURES / "jail.conf", root / "etc/jail.conf")
        shutil.copy(FIXTURES / "rc.conf", root / "etc/rc.conf")
        for name in ("prisoner1", "prisoner2"):
            tree = root / "home/jail" / name
            for directory in ("bin", "dev", "etc", "root"):
                (tree / directory).mkdir(parents=True)
            (tree / "bin/sh").write_text("")                  # stands for the FreeBSD binary: the host's sh runs
            (tree / "etc/rc").write_text("echo rc started\n")
            (tree / "etc/rc.shutdown").write_text("echo rc.shutdown\n")
            shutil.copy(root / "etc/master.passwd", tree / "etc/master.passwd")
            stamp(tree)
        yield Host(root=str(root), bindir=bindir), root
    finally:
        rehearsal.clear_file_flags(str(root))


def test_rehearsal_seed_prisoners_run(rehearsed, cfg):
    from salt_jail import rehearsal  # pylint: disable=import-outside-toplevel

    host, root = rehearsed
    assert lifecycle.start(host, cfg, "prisoner1").comment == "jail prisoner1 started (jid 1)"
    assert lifecycle.start(host, cfg, "prisoner2").comment == "jail prisoner2 started (jid 2)"
    assert not lifecycle.start(host, cfg, "prisoner1").changed
    listed = lifecycle.list_jails(host, cfg)
    assert [(e["name"], e["jid"], e["state"], e["hostname"], e["path"], e["ipv4"]) for e in listed] == [
        ("prisoner1", 1, "running", "bsd1.korodes.com", "/home/jail/prisoner1", ["192.168.11.31"]),
        ("prisoner2", 2, "running", "bsd2.korodes.com", "/home/jail/prisoner2", ["192.168.11.32"]),
        ("web", None, "stopped", "web.example.org", "/usr/jails/web", []),        # the admin's own, in jail.conf
    ]
    assert lifecycle.exec_in(host, cfg, "prisoner1", ["hostname"]) == {
        "stdout": "bsd1.korodes.com\n", "stderr": "", "retcode": 0}
    summary = lifecycle.ping(host, cfg, "prisoner1", "192.168.11.30")
    assert (summary["transmitted"], summary["received"], summary["loss_pct"], summary["ok"]) == (3, 3, 0.0, True)
    assert set(summary["rtt"]) == {"min", "avg", "max", "stddev"}
    assert lifecycle.stop(host, cfg, "prisoner2").changed
    with pytest.raises(JailprovError, match="jail prisoner2 is not running"):
        lifecycle.exec_in(host, cfg, "prisoner2", ["hostname"])
    logged = rehearsal.commands(str(root))
    for argv in (START1, ["jail", "-f", "/etc/jail.conf", "-c", "prisoner2"], ["jexec", "-l", "prisoner1", "hostname"],
                 ["jexec", "-l", "prisoner1", "ping", "-c", "3", "192.168.11.30"],
                 ["jail", "-q", "-f", "/etc/jail.conf", "-r", "prisoner2"]):
        assert argv in logged


def test_rehearsal_jid_clash_is_named_before_jail_runs(rehearsed, cfg):
    from salt_jail import rehearsal  # pylint: disable=import-outside-toplevel

    host, root = rehearsed
    (root / "usr/jails/web").mkdir(parents=True)
    host.check(["jail", "-c", "name=web", "path=/usr/jails/web", "persist", "jid=1"])
    with pytest.raises(JailprovError, match="jid 1, which the running jail web holds"):
        lifecycle.start(host, cfg, "prisoner1")
    assert START1 not in rehearsal.commands(str(root))


def test_rehearsal_destroy(rehearsed, cfg, absent_cfg):
    """Everything goes: the jail, its devfs, its tree with flagged files, its block, alias and jail_list entry."""
    from salt_jail import rehearsal  # pylint: disable=import-outside-toplevel

    host, root = rehearsed
    assert lifecycle.mount_devfs(host, cfg, "prisoner2").changed  # while it is stopped: never into a running jail
    lifecycle.start(host, absent_cfg, "prisoner2")
    for flag, path in (("schg", "etc/rc"), ("uchg", "etc/rc.shutdown"), ("sunlnk", "bin/sh")):
        host.check(["chflags", flag, f"{ROOT2}/{path}"])
    assert rehearsal.kernel(str(root)).file_flags                 # really flagged (chattr +i where Linux can)
    plan = lifecycle.destroy(host, absent_cfg, "prisoner2", test=True)
    assert plan.changed and (root / "home/jail/prisoner2/etc/rc").exists()

    result = lifecycle.destroy(host, absent_cfg, "prisoner2")
    assert result.comment == plan.comment.replace("would be destroyed", "destroyed")
    assert not (root / "home/jail/prisoner2").exists() and (root / "home/jail/prisoner1").is_dir()
    view = rehearsal.kernel(str(root))
    assert [j["name"] for j in view.jails] == []
    assert not [m for m in view.mounts if m[1].startswith(ROOT2)]
    assert "prisoner2 {" not in (root / "etc/jail.conf").read_text()
    rc_conf = (root / "etc/rc.conf").read_text()
    assert "192.168.11.32" not in rc_conf and 'jail_list="prisoner1"' in rc_conf
    assert CHFLAGS2 in rehearsal.commands(str(root))
    assert not lifecycle.destroy(host, absent_cfg, "prisoner2").changed


def guarded_state(root):
    from salt_jail import rehearsal  # pylint: disable=import-outside-toplevel

    view = rehearsal.kernel(str(root))
    return snapshot(root / "home"), snapshot(root / "etc"), view.jails, view.mounts


@pytest.mark.parametrize("violation", ["in pillar", "outside jail_root", "mount on root"])
def test_rehearsal_destroy_guards_change_nothing(rehearsed, absent_cfg, cfg, violation):
    host, root = rehearsed
    use = absent_cfg
    if violation == "in pillar":
        use, message = cfg, "still a prisoner in the pillar"
    elif violation == "outside jail_root":
        prisoners = dict(absent_cfg.prisoners)
        prisoners["prisoner2"] = dataclasses.replace(prisoners["prisoner2"], path="/home/jail")
        use, message = dataclasses.replace(absent_cfg, prisoners=prisoners), "not strictly inside jail_root"
    else:
        (root / "data").mkdir()
        host.check(["mount", "-t", "nullfs", "/data", ROOT2])
        message = "is itself a mount point"
    before = guarded_state(root)
    with pytest.raises(JailprovError, match=message):
        lifecycle.destroy(host, use, "prisoner2")
    assert guarded_state(root) == before


# ------------------------------------------------------------------------------------------------
# dead code
# ------------------------------------------------------------------------------------------------
def test_every_public_lifecycle_function_is_called_somewhere():
    """A public function nothing calls is dead code (``stop_with_config`` was one): each is called by the
    Salt modules, the runner or another function of the core."""
    import inspect
    import pathlib
    import re as re_

    import salt_jail

    package = pathlib.Path(salt_jail.__file__).parent
    sources = {path: path.read_text(encoding="utf-8") for path in package.rglob("*.py")}
    public = [name for name, fn in vars(lifecycle).items()
              if inspect.isfunction(fn) and fn.__module__ == lifecycle.__name__ and not name.startswith("_")]
    unused = [name for name in public
              if sum(len(re_.findall(rf"(?<![\w.]){name}\(|\.{name}\b", text)) for text in sources.values())
              - 1 < 1]  # minus its own "def name("
    assert public and unused == []


def test_a_destroy_refused_after_the_stop_reports_what_it_did(host, root, runner, absent_cfg):
    """Issue 15: the jail was stopped and dev unmounted before the refusal; the error says so (state changes).

    What the plan can see is refused before the stop (test_destroy_test_mode_predicts_every_refusal); here
    the mount and the file system appear between the plan and the run, so only the run's re-check sees them."""
    from salt_jail.core.errors import PartialError

    devfs = f"devfs\t{ROOT2}/dev\tdevfs\trw\t0 0\n"
    runner.expect(SECURELEVEL, "0\n").expect(JLS, jls(("prisoner2", 2))).expect(MOUNT_P, TABLE + devfs).expect(STOP2)
    runner.expect(MOUNT_P, TABLE + devfs + f"zroot/p2\t{ROOT2}\tzfs\trw\t0 0\n")
    with pytest.raises(PartialError, match="is itself a mount point") as err:
        lifecycle.destroy(host, absent_cfg, "prisoner2")
    assert err.value.done == {"stopped": "jail prisoner2 (was jid 2)"}
    assert "Already done: stopped: jail prisoner2 (was jid 2)" in str(err.value)
    assert "Left to do: remove /home/jail/prisoner2" in str(err.value)

    runner.expect(SECURELEVEL, "0\n").expect(JLS, jls(("prisoner2", 2))).expect(MOUNT_P, TABLE + devfs).expect(STOP2)
    runner.expect(MOUNT_P, TABLE + devfs).expect(["umount", f"{ROOT2}/dev"]).expect(MOUNT_P, TABLE)
    (root / "home/jail/prisoner2/mnt").mkdir(parents=True, exist_ok=True)
    real = root / "home/jail/prisoner2/mnt"
    import salt_jail.core.features.lifecycle as lc
    original = lc._other_file_systems
    scans = []
    lc._other_file_systems = lambda top: [str(real)] if scans.append(top) or len(scans) > 1 else []
    try:
        with pytest.raises(PartialError, match="is a mount point .another file system. below it") as err:
            lifecycle.destroy(host, absent_cfg, "prisoner2")
    finally:
        lc._other_file_systems = original
    assert err.value.done == {"stopped": "jail prisoner2 (was jid 2)", "unmounted": [f"{ROOT2}/dev"]}
