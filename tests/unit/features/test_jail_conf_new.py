"""Issue 16: on a first highstate the shared jail.conf gets the blocks of all new prisoners in one edit (one
diff for the file); each prisoner's own jail_conf then finds its block correct."""

import os

from salt_jail.core.features import hostconf
from salt_jail.core.formats import jailconf
from tests.unit.features.test_hostconf import cfg_for, host_for, root  # noqa: F401  (pytest fixture)


def _snapshot(path):
    return {p: open(os.path.join(d, p), "rb").read() for d, _, files in os.walk(path) for p in files}


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


def test_existing_and_running_prisoners_are_left_to_their_own_state(root, seed_pillar):  # noqa: F811
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
