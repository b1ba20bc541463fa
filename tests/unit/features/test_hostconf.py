"""Host configuration (seed step 10): jail.conf blocks and rc.conf, on an administrator's own files."""

import copy
import pathlib

import pytest

from salt_jail.core import model
from salt_jail.core.features import day2, hostconf
from salt_jail.core.formats import jailconf
from salt_jail.core.errors import JailprovError, ValidationError
from salt_jail.core.io.host import Host
from tests.support.runner import FakeRunner, play_jails

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "hostconf"


@pytest.fixture
def root(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "jail.conf").write_text((FIXTURES / "admin.jail.conf").read_text())
    (tmp_path / "etc" / "rc.conf").write_text((FIXTURES / "admin.rc.conf").read_text())
    return tmp_path


def host_for(root, running=()):
    """A host on ``root`` whose runner plays jls/jail for the ``running`` jail names; it records every argv."""
    runner = play_jails(FakeRunner(), {name: f"/home/jail/{name}" for name in running}, follow_jail=True)
    return Host(root=str(root), runner=runner, bindir="/nonexistent")


def cfg_for(seed_pillar, **changes):
    pillar = copy.deepcopy(seed_pillar)
    pillar["jailprov"].update(changes)
    return model.from_pillar(pillar)


def test_block_params_follow_the_tutorial_order(seed_pillar):
    cfg = cfg_for(seed_pillar)
    keys = [k for k, _ in hostconf.block_params(cfg, cfg.prisoners["prisoner1"])]
    assert keys[:5] == ["jid", "path", "ip4.addr", "host.hostname", "interface"]
    assert keys[5:] == list(cfg.prisoners["prisoner1"].params)


def test_sysvipc_becomes_own_namespace(seed_pillar):
    seed_pillar["jailprov"]["prisoners"]["prisoner1"]["sysvipc"] = True
    seed_pillar["jailprov"]["prisoners"]["prisoner2"]["sysvipc"] = "inherit"
    cfg = model.from_pillar(seed_pillar)
    p1 = dict(hostconf.block_params(cfg, cfg.prisoners["prisoner1"]))
    p2 = dict(hostconf.block_params(cfg, cfg.prisoners["prisoner2"]))
    assert [p1[k] for k in hostconf.SYSVIPC_PARAMS] == ["new"] * 3
    assert [p2[k] for k in hostconf.SYSVIPC_PARAMS] == ["inherit"] * 3


def test_jail_conf_keeps_admin_bytes_and_is_idempotent(root, seed_pillar):
    cfg = cfg_for(seed_pillar)
    host = host_for(root)
    before = (root / "etc/jail.conf").read_text()
    dry = [hostconf.jail_conf(host, cfg, n, test=True) for n in ("prisoner1", "prisoner2")]
    assert (root / "etc/jail.conf").read_text() == before          # test mode wrote nothing
    real = hostconf.jail_conf(host, cfg, "prisoner1")
    assert real.changed and real.diff == dry[0].diff               # the dry run predicted the diff exactly
    hostconf.jail_conf(host, cfg, "prisoner2")
    after = (root / "etc/jail.conf").read_text()
    assert after.startswith(before)                                # every administrator byte kept, in place
    doc = jailconf.parse(after)
    assert doc.jails() == ["www", "prisoner1", "prisoner2"]
    read = jailconf.fs_reader(str(root))
    eff = jailconf.effective_params("/etc/jail.conf", "prisoner1", read=read)
    assert eff["path"] == ["/home/jail/prisoner1"] and eff["ip4.addr"] == ["192.168.11.31"]
    assert eff["host.hostname"] == ["bsd1.korodes.com"] and eff["devfs_ruleset"] == ["4"]
    assert eff["allow.raw_sockets"] is True and eff["interface"] == ["em0"]
    for name in ("prisoner1", "prisoner2"):
        again = hostconf.jail_conf(host, cfg, name)
        assert not again.changed and "already correct" in again.comment
    assert (root / "etc/jail.conf").read_text() == after


def test_changed_value_with_quotes_and_dollar_round_trips(root, seed_pillar):
    seed_pillar["jailprov"]["prisoners"]["prisoner1"]["params"] = {
        "exec.poststart": 'logger "started $name; ok" \\ done'}
    cfg = model.from_pillar(seed_pillar)
    hostconf.jail_conf(host_for(root), cfg, "prisoner1")
    eff = jailconf.effective_params("/etc/jail.conf", "prisoner1", read=jailconf.fs_reader(str(root)))
    assert eff["exec.poststart"] == ['logger "started $name; ok" \\ done']


def test_running_prisoner_keeps_running_its_block_is_kept_and_a_live_change_needs_no_restart(root, seed_pillar):
    cfg = cfg_for(seed_pillar)
    host = host_for(root)
    hostconf.jail_conf(host, cfg, "prisoner1")
    old_block = (root / "etc/jail.conf").read_text()
    seed_pillar["jailprov"]["prisoners"]["prisoner1"]["params"] = {"devfs_ruleset": 5}
    cfg2 = model.from_pillar(seed_pillar)
    host = host_for(root, running=["prisoner1"])
    dry = hostconf.jail_conf(host, cfg2, "prisoner1", test=True)
    assert "keeps running" in dry.comment and (root / "etc/jail.conf").read_text() == old_block
    assert not (root / "var/run/jailprov/prisoner1.conf").exists()
    res = hostconf.jail_conf(host, cfg2, "prisoner1")
    assert res.changed and "keeps running" in res.comment
    assert host.runner.commands("jail") == []       # never stopped by the jail.conf state
    kept = jailconf.effective_params(jailconf.parse((root / "var/run/jailprov/prisoner1.conf").read_text()),
                                     "prisoner1", read=lambda _p: [])
    assert kept["devfs_ruleset"] == ["4"] and kept["path"] == ["/home/jail/prisoner1"]
    assert day2.converge(host, cfg2, "prisoner1", test=True).comment.startswith("jail prisoner1 (jid 1) would be "
                                                                               "changed live (devfs_ruleset)")
    res = day2.converge(host, cfg2, "prisoner1")
    assert res.changed and "no restart" in res.comment
    assert host.runner.commands("jail") == [["jail", "-f", "/etc/jail.conf", "-m", "prisoner1"]]
    assert not (root / "var/run/jailprov/prisoner1.conf").exists()
    assert not day2.converge(host, cfg2, "prisoner1").changed


def test_running_prisoner_is_restarted_last_stopped_with_the_block_it_was_started_with(root, seed_pillar):
    cfg = cfg_for(seed_pillar)
    hostconf.jail_conf(host_for(root), cfg, "prisoner1")
    seed_pillar["jailprov"]["prisoners"]["prisoner1"]["params"] = {"exec.start": "/bin/sh /etc/rc.new"}
    cfg2 = model.from_pillar(seed_pillar)
    seen_at_stop = []
    host = host_for(root, running=["prisoner1"])

    def watch(call):    # returns None: jail -r then runs as before
        seen_at_stop.append((root / call.argv[call.argv.index("-f") + 1].lstrip("/")).read_text())

    host.runner.on(lambda command: command[0] == "jail" and "-r" in command, watch)
    hostconf.jail_conf(host, cfg2, "prisoner1")
    dry = day2.converge(host, cfg2, "prisoner1", test=True)
    assert "needs a restart because exec.start changed" in dry.comment
    res = day2.converge(host, cfg2, "prisoner1")
    assert res.changed and "restarted because exec.start changed" in res.comment
    assert len(seen_at_stop) == 1 and "/etc/rc.new" not in seen_at_stop[0] and "/etc/rc" in seen_at_stop[0]
    jail_calls = host.runner.commands("jail")
    assert jail_calls == [["jail", "-q", "-f", "/var/run/jailprov/prisoner1.conf", "-r", "prisoner1"],
                          ["jail", "-f", "/etc/jail.conf", "-c", "prisoner1"]]
    assert dry.data["stop"] == jail_calls[0] and dry.data["start"] == jail_calls[1]


def test_auto_restart_false_refuses_the_restart_and_changes_nothing(root, seed_pillar):
    hostconf.jail_conf(host_for(root), cfg_for(seed_pillar), "prisoner1")
    seed_pillar["jailprov"]["defaults"]["auto_restart"] = False
    seed_pillar["jailprov"]["prisoners"]["prisoner1"]["jid"] = 7
    cfg2 = model.from_pillar(seed_pillar)
    host = host_for(root, running=["prisoner1"])
    hostconf.jail_conf(host, cfg2, "prisoner1")
    for test in (True, False):
        with pytest.raises(JailprovError, match=r"restart needed because jid changed \(1 -> 7\)"):
            day2.converge(host, cfg2, "prisoner1", test=test)
    assert host.runner.commands("jail") == []


def test_layout_switch_moves_blocks_never_twice(root, seed_pillar):
    host = host_for(root)
    single = cfg_for(seed_pillar)
    hostconf.jail_conf(host, single, "prisoner1")
    split = cfg_for(seed_pillar, jail_conf_layout="jail.conf.d")
    res = hostconf.jail_conf(host, split, "prisoner1")
    assert res.changed
    main = jailconf.parse((root / "etc/jail.conf").read_text())
    assert "prisoner1" not in main.jails() and main.has_include("/etc/jail.conf.d/*.conf")
    assert jailconf.parse((root / "etc/jail.conf.d/prisoner1.conf").read_text()).jails() == ["prisoner1"]
    assert jailconf.defined_jails("/etc/jail.conf", read=jailconf.fs_reader(str(root))).count("prisoner1") == 1
    assert not hostconf.jail_conf(host, split, "prisoner1").changed
    back = hostconf.jail_conf(host, single, "prisoner1")
    assert back.changed and not (root / "etc/jail.conf.d/prisoner1.conf").exists()
    assert jailconf.defined_jails("/etc/jail.conf", read=jailconf.fs_reader(str(root))).count("prisoner1") == 1


def test_duplicate_block_in_admin_file_is_an_error_and_nothing_written(root, seed_pillar):
    text = (root / "etc/jail.conf").read_text() + "\nprisoner1 { path = /x; }\nprisoner1 { path = /y; }\n"
    (root / "etc/jail.conf").write_text(text)
    with pytest.raises(JailprovError, match="defined 2 times"):
        hostconf.jail_conf(host_for(root), cfg_for(seed_pillar), "prisoner1")
    assert (root / "etc/jail.conf").read_text() == text


def test_malformed_jail_conf_is_an_error_and_nothing_written(root, seed_pillar):
    text = "www {\n  path = /x\n}\n"
    (root / "etc/jail.conf").write_text(text)
    with pytest.raises(JailprovError, match="line"):
        hostconf.jail_conf(host_for(root), cfg_for(seed_pillar), "prisoner1")
    assert (root / "etc/jail.conf").read_text() == text


def test_rc_conf_keeps_admin_aliases_and_list(root, seed_pillar):
    cfg = cfg_for(seed_pillar)
    host = host_for(root)
    before = (root / "etc/rc.conf").read_text()
    dry = hostconf.rc_conf(host, cfg, test=True)
    assert dry.changed and (root / "etc/rc.conf").read_text() == before
    res = hostconf.rc_conf(host, cfg)
    assert res.diff == dry.diff
    text = (root / "etc/rc.conf").read_text()
    assert 'jail_enable="YES"' in text and 'jail_list="www prisoner1 prisoner2"' in text
    assert 'ifconfig_em0_alias0="inet 192.168.11.80 netmask 255.255.255.255"   # www jail' in text
    assert 'ifconfig_em0_alias1="inet 192.168.11.31 netmask 255.255.255.255"' in text
    assert 'ifconfig_em0_alias2="inet 192.168.11.32 netmask 255.255.255.255"' in text
    assert "jail(8)" in res.comment                                 # interface + rc_aliases note
    assert not hostconf.rc_conf(host, cfg).changed
    assert not hostconf.rc_conf(host, cfg, test=True).changed


def test_unmanaged_reports_admin_jails(root, seed_pillar):
    cfg = cfg_for(seed_pillar)
    host = host_for(root, running=["www", "other"])
    hostconf.jail_conf(host, cfg, "prisoner1")
    assert hostconf.unmanaged(host, cfg) == ["www", "other"]


def test_rc_conf_jail_conf_elsewhere_is_a_clear_error(root, seed_pillar):
    with open(root / "etc/rc.conf", "a") as fh:
        fh.write('jail_conf="/usr/local/etc/jail.conf"\n')
    before = (root / "etc/jail.conf").read_text()
    with pytest.raises(JailprovError, match="jailprov:jail_conf: /usr/local/etc/jail.conf"):
        hostconf.jail_conf(host_for(root), cfg_for(seed_pillar), "prisoner1")
    assert (root / "etc/jail.conf").read_text() == before
    cfg = cfg_for(seed_pillar, jail_conf="/usr/local/etc/jail.conf")
    assert hostconf.jail_conf(host_for(root), cfg, "prisoner1").changed
    assert "prisoner1" in (root / "usr/local/etc/jail.conf").read_text()


# -- rc.d/jail reads $jail_conf ----------------------------------------------------------------------
# libexec/rc/rc.d/jail: parse_options() and jail_start() read "$jail_conf" (jail -f $jail_conf -c), whose
# default is etc/defaults/rc.conf's jail_conf="/etc/jail.conf": blocks written elsewhere start at boot only
# when rc.conf names the file.

def test_non_default_jail_conf_is_written_to_rc_conf(root, seed_pillar):
    cfg = cfg_for(seed_pillar, jail_conf="/usr/local/etc/jail.conf")
    host = host_for(root)
    before = (root / "etc/rc.conf").read_text()
    dry = hostconf.rc_conf(host, cfg, test=True)
    assert dry.changed and (root / "etc/rc.conf").read_text() == before
    assert hostconf.rc_conf(host, cfg).diff == dry.diff
    assert 'jail_conf="/usr/local/etc/jail.conf"' in (root / "etc/rc.conf").read_text().splitlines()
    assert not hostconf.rc_conf(host, cfg).changed
    assert hostconf.jail_conf(host, cfg, "prisoner1").changed        # rc.conf and the pillar now agree


def test_default_jail_conf_adds_nothing_to_rc_conf(root, seed_pillar):
    hostconf.rc_conf(host_for(root), cfg_for(seed_pillar))
    assert "jail_conf" not in (root / "etc/rc.conf").read_text()


def test_an_administrators_other_jail_conf_is_refused_not_replaced(root, seed_pillar):
    with open(root / "etc/rc.conf", "a") as fh:
        fh.write('jail_conf="/etc/jail.admin.conf"\n')
    cfg = cfg_for(seed_pillar, jail_conf="/usr/local/etc/jail.conf")
    result = hostconf.rc_conf(host_for(root), cfg)
    assert 'jail_conf="/etc/jail.admin.conf", so rc.d/jail reads /etc/jail.admin.conf, but jailprov:jail_conf is ' \
           '/usr/local/etc/jail.conf: left alone' in result.comment
    assert 'jail_conf="/etc/jail.admin.conf"\n' in (root / "etc/rc.conf").read_text()
    assert "/usr/local/etc/jail.conf" not in (root / "etc/rc.conf").read_text()
    with pytest.raises(JailprovError, match="jailprov:jail_conf: /etc/jail.admin.conf"):
        hostconf.jail_conf(host_for(root), cfg, "prisoner1")
    assert not (root / "usr/local/etc/jail.conf").exists()


def test_rc_conf_d_jail_on_a_host_without_rc_conf_d(root, seed_pillar):
    """host.rc_conf: /etc/rc.conf.d/jail (a file rc.d/jail sources, load_rc_config) where /etc/rc.conf.d does
    not exist yet: created 0755 as /etc/jail.conf.d is, not a failed write."""
    cfg = cfg_for(seed_pillar, host={**seed_pillar["jailprov"].get("host", {}), "rc_conf": "/etc/rc.conf.d/jail"})
    host = host_for(root)
    dry = hostconf.rc_conf(host, cfg, test=True)
    assert dry.changed and "rc.conf.d/jail" in dry.comment and not (root / "etc/rc.conf.d").exists()
    assert hostconf.rc_conf(host, cfg).changed
    assert (root / "etc/rc.conf.d").stat().st_mode & 0o7777 == 0o755
    assert 'jail_enable="YES"' in (root / "etc/rc.conf.d/jail").read_text()
    assert not hostconf.rc_conf(host, cfg).changed


def test_jails_of_a_non_default_jail_conf_start_at_boot(rehearsal_root, seed_pillar):
    """The rehearsal's boot: rc.d/jail's ``service jail start`` with only what is on disk (no jail running)."""
    from salt_jail import rehearsal  # pylint: disable=import-outside-toplevel

    from tests.support.standins import run  # pylint: disable=import-outside-toplevel

    root = pathlib.Path(rehearsal_root)
    for name in ("prisoner1", "prisoner2"):
        tree = root / "home/jail" / name
        for directory in ("bin", "dev", "etc", "root"):
            (tree / directory).mkdir(parents=True, exist_ok=True)
        (tree / "bin/sh").write_text("")
        (tree / "etc/rc").write_text("echo rc started\n")
        (tree / "etc/master.passwd").write_text((root / "etc/master.passwd").read_text())
    cfg = cfg_for(seed_pillar, jail_conf="/usr/local/etc/jail.conf")
    host = Host(root=rehearsal_root, bindir=str(root / ".rehearsal" / "bin") + "/")
    hostconf.rc_conf(host, cfg)
    for name in cfg.prisoners:
        hostconf.jail_conf(host, cfg, name)
    assert rehearsal.kernel(rehearsal_root).jails == []
    boot = run(rehearsal_root, "service", "jail", "start")
    assert boot.returncode == 0, boot.stderr
    assert [j["name"] for j in rehearsal.kernel(rehearsal_root).jails] == ["prisoner1", "prisoner2"]
    assert run(rehearsal_root, "service", "jail", "stop").returncode == 0


# -- devfs_ruleset is a number in jail.conf ------------------------------------------------------------
# jail(8) imports devfs_ruleset as an integer (lib/libjail jailparam_import(): "non-integer value"); the
# names are rc.d/devfs's, from the [name=N] headers of /etc/defaults/devfs.rules and /etc/devfs.rules
# (libexec/rc/rc.subr devfs_rulesets_from_file()).

def _devfs_rules(root, own=None):
    (root / "etc/defaults").mkdir(exist_ok=True)
    (root / "etc/defaults/devfs.rules").write_text(
        "# our own test copy\n[devfsrules_hide_all=1]\nadd hide\n\n[devfsrules_jail=4]\nadd include $devfsrules_hide_all\n")
    if own is not None:
        (root / "etc/devfs.rules").write_text(own)


@pytest.mark.parametrize("name, own, number", [
    ("devfsrules_jail", None, 4),
    ("devfsrules_jail_custom", "[devfsrules_jail_custom=10]\nadd include $devfsrules_jail\n", 10),
    ("devfsrules_jail", "  [devfsrules_jail=7]\n", 7),                  # /etc/devfs.rules is loaded last
])
def test_devfs_ruleset_name_is_written_as_its_number(root, seed_pillar, name, own, number):
    _devfs_rules(root, own)
    seed_pillar["jailprov"]["prisoners"]["prisoner1"]["params"] = {"devfs_ruleset": name}
    hostconf.jail_conf(host_for(root), cfg_for(seed_pillar), "prisoner1")
    block = jailconf.parse((root / "etc/jail.conf").read_text()).block("prisoner1")
    assert [p.value for p in block if p.key == "devfs_ruleset"] == [[str(number)]]
    assert not hostconf.jail_conf(host_for(root), cfg_for(seed_pillar), "prisoner1").changed


def test_unknown_devfs_ruleset_name_is_refused_with_its_key(root, seed_pillar):
    _devfs_rules(root)
    seed_pillar["jailprov"]["prisoners"]["prisoner1"]["params"] = {"devfs_ruleset": "devfsrules_nosuch"}
    before = (root / "etc/jail.conf").read_text()
    with pytest.raises(ValidationError) as err:
        hostconf.jail_conf(host_for(root), cfg_for(seed_pillar), "prisoner1", test=True)
    message = str(err.value)
    assert "jailprov:prisoners:prisoner1:params:devfs_ruleset" in message and "'devfsrules_nosuch'" in message
    assert "devfsrules_hide_all=1, devfsrules_jail=4" in message
    with pytest.raises(ValidationError):
        hostconf.jail_conf(host_for(root), cfg_for(seed_pillar), "prisoner1")
    assert (root / "etc/jail.conf").read_text() == before


def test_adopting_an_administrators_jail_conf_d_file_keeps_its_comments(root, seed_pillar):
    """Issue 15: the block is brought to the pillar's; the administrator's comments in the file stay."""
    (root / "etc/jail.conf.d").mkdir()
    admin = ("# prisoner1: the web server, ticket #42\n"
             "prisoner1 {\n"
             "    # keep the jid: the firewall rules name it\n"
             "    jid = 1;\n"
             "    path = /home/jail/prisoner1;   # on the fast pool\n"
             "    exec.start = \"/bin/sh /etc/rc\";\n"
             "    // TODO allow.raw_sockets for ping\n"
             "}\n")
    (root / "etc/jail.conf.d/prisoner1.conf").write_text(admin)
    cfg = cfg_for(seed_pillar, jail_conf_layout="jail.conf.d")
    host = host_for(root)
    assert hostconf.jail_conf(host, cfg, "prisoner1").changed
    text = (root / "etc/jail.conf.d/prisoner1.conf").read_text()
    for comment in ("# prisoner1: the web server, ticket #42\n", "    # keep the jid: the firewall rules name it\n    jid = 1;",
                    '    path = "/home/jail/prisoner1"; # on the fast pool\n', "    // TODO allow.raw_sockets for ping\n"):
        assert comment in text, text
    assert jailconf.effective_params("/etc/jail.conf", "prisoner1", read=jailconf.fs_reader(str(root)))[
        "host.hostname"] == ["bsd1.korodes.com"]
    assert not hostconf.jail_conf(host, cfg, "prisoner1").changed


# --------------------------------------------------------------------------------------------------
# Issue 16: on a first highstate the shared jail.conf gets the blocks of all new prisoners in one edit (one
# diff for the file); each prisoner's own jail_conf then finds its block correct.


def test_fresh_host_one_diff_then_each_prisoner_already_correct(tmp_path, seed_pillar):
    cfg = cfg_for(seed_pillar)
    host = host_for(tmp_path)
    predicted = hostconf.new_blocks(host, cfg, test=True)
    assert not (tmp_path / "etc").exists()                           # test mode writes nothing
    assert predicted.changed and predicted.data == {"added": ["prisoner1", "prisoner2"]}
    assert predicted.diff.startswith("new file mode 0644\n--- /dev/null\n+++ b/etc/jail.conf\n")
    assert predicted.comment == "/etc/jail.conf would be changed (the blocks of the new prisoners prisoner1, prisoner2)"

    done = hostconf.new_blocks(host, cfg)
    assert done.changed and done.diff == predicted.diff
    assert done.comment == "/etc/jail.conf was changed (the blocks of the new prisoners prisoner1, prisoner2)"
    text = (tmp_path / "etc/jail.conf").read_text()
    assert jailconf.parse(text, "/etc/jail.conf").jails() == ["prisoner1", "prisoner2"]
    for name in ("prisoner1", "prisoner2"):
        own = hostconf.jail_conf(host, cfg, name)
        assert not own.changed and own.comment == f"jail.conf entry of {name} is already correct"
    again = hostconf.new_blocks(host, cfg)
    assert not again.changed and again.comment == "no new prisoner to add to /etc/jail.conf"


def test_existing_and_running_prisoners_are_left_to_their_own_state(root, seed_pillar):
    cfg = cfg_for(seed_pillar)
    before = (root / "etc/jail.conf").read_text()
    host = host_for(root, running=["prisoner2"])
    res = hostconf.new_blocks(host, cfg)
    after = (root / "etc/jail.conf").read_text()
    assert res.data.get("added") == ["prisoner1"]                   # prisoner2 runs: its own state restarts it
    assert "prisoner2 {" not in after.replace(before, "")
    assert after.startswith(before.rstrip("\n"))                    # the administrator's bytes are kept


def test_jail_conf_d_layout_has_nothing_shared(tmp_path, seed_pillar):
    cfg = cfg_for(seed_pillar, jail_conf_layout="jail.conf.d")
    res = hostconf.new_blocks(host_for(tmp_path), cfg)
    assert not res.changed and not (tmp_path / "etc").exists()


def test_new_blocks_are_written_as_each_prisoner_state_writes_them(tmp_path, seed_pillar):
    """A devfs_ruleset given by name is written as its number, here as in the prisoner's own state."""
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/devfs.rules").write_text("[devfsrules_jail_web=10]\nadd path 'bpf*' unhide\n")
    seed_pillar["jailprov"]["prisoners"]["prisoner1"].setdefault("params", {})["devfs_ruleset"] = "devfsrules_jail_web"
    cfg = cfg_for(seed_pillar)
    host = host_for(tmp_path)
    assert hostconf.new_blocks(host, cfg).changed
    assert "devfs_ruleset = 10;" in (tmp_path / "etc/jail.conf").read_text()
    assert not hostconf.jail_conf(host, cfg, "prisoner1").changed
