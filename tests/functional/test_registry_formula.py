"""The step registry as Salt sees it: a step inserted in a scratch registry is in ``jailprov.provision``'s order,
has its execution and state functions, and is rendered by the formula (``prisoners.sls``) in its place with its
requisites; the names the steps had before the registry still load and do what the new names do.

The registry is patched before the loaders load the jailprov modules (they generate their step functions from it
when Salt loads them) and before the formula renders (``jailprov.formula_names`` reads it at render time).
"""

import pytest

from salt_jail.core import registry
from salt_jail.core.features import prisoner as prisoner_
from salt_jail.core.io import textedit

from tests.support.states import apply_jail

SEED_ORDER = ["root", "base", "resolv_conf", "syslog", "crontab", "hosts", "pw_conf", "devfs", "wall_cmos_clock",
              "localtime", "root_password"]


def motd(host, cfg, name, test=False):
    """A scratch feature: the prisoner's etc/motd.template names it."""
    root = prisoner_.open_root(host, prisoner_.present(cfg, name))
    text = f"{name}: provisioned by jailprov\n"
    return prisoner_.file_result(
        textedit.edit(root, "etc/motd.template", lambda old: (text, ""), test=test, create=True), test)


@pytest.fixture
def scratch_registry(monkeypatch):
    """The real registry with step ``motd`` inserted after ``hosts``."""
    ids = [s.id for s in registry.PRISONER_STEPS]
    at = ids.index("hosts") + 1
    step = registry.Step("motd", motd, seed="x", doc="The prisoner's ``/etc/motd.template`` names it.")
    monkeypatch.setattr(registry, "PRISONER_STEPS",
                        registry.PRISONER_STEPS[:at] + (step,) + registry.PRISONER_STEPS[at:])
    return SEED_ORDER[:6] + ["motd"] + SEED_ORDER[6:]


@pytest.fixture
def pillar(seed_pillar, small_release_url):
    seed_pillar["jailprov"]["mirror"] = small_release_url
    return seed_pillar


def _requires(high, sid):
    return [r["jailprov"] for arg in high[sid]["jailprov"] if isinstance(arg, dict) and "require" in arg
            for r in arg["require"]]


def test_a_step_inserted_in_a_scratch_registry_is_in_provision_and_the_formula(scratch_registry, make_loaders,
                                                                                pillar, scratch):
    order = scratch_registry
    loaders = make_loaders(pillar)
    assert "jailprov.motd" in loaders.modules and "jailprov.motd" in loaders.states
    assert "etc/motd.template" in loaders.modules.sys.doc("jailprov.motd")["jailprov.motd"]

    out = loaders.modules.jailprov.provision("prisoner1", test=True)
    assert out["result"] is True, out
    assert list(out["steps"]) == order
    assert out["steps"]["motd"]["changed"]                  # predicted: the root does not exist yet

    high = loaders.modules.state.show_sls("jail")
    assert isinstance(high, dict), high
    for name in ("prisoner1", "prisoner2"):
        assert "motd" in high[f"jailprov-{name}-motd"]["jailprov"]
        assert _requires(high, f"jailprov-{name}-motd") == [f"jailprov-{name}-hosts"]
        assert _requires(high, f"jailprov-{name}-pw_conf") == [f"jailprov-{name}-motd"]

    states = apply_jail(loaders, test=True)
    assert not [s for s in states.values() if s["result"] is False], states
    runs = sorted((s["__run_num__"], sid) for sid, s in states.items() if sid.startswith("jailprov-prisoner1-"))
    ran = [sid.rsplit("-", 1)[1] for _, sid in runs]
    assert [step for step in ran if step in order] == order          # jail_conf (host.sls) and running: not steps
    assert ran[-2:] == ["running", "restart_pending"]
    assert states["jailprov-prisoner1-motd"]["result"] is None and not (scratch / "home").exists()


def test_the_names_before_the_registry_load_and_do_what_the_new_names_do(loaders, scratch):
    for kind, old, new in registry.ALIASES:
        functions = loaders.modules if kind == "exec" else loaders.states
        assert f"jailprov.{old}" in functions and f"jailprov.{new}" in functions, (kind, old)
    docs = loaders.modules.sys.doc("jailprov")
    assert "Alias of ``jailprov.devfs``" in docs["jailprov.mount_devfs"]
    assert "salt '*' jailprov.mount_devfs prisoner1" in docs["jailprov.mount_devfs"]

    assert loaders.modules.jailprov.prisoner_root("prisoner1", test=True) == \
        loaders.modules.jailprov.root("prisoner1", test=True)
    old = loaders.states.jailprov.prisoner_root(name="prisoner1")
    assert old.result is True and old.changes and (scratch / "home" / "jail" / "prisoner1").is_dir()
    new = loaders.states.jailprov.root(name="prisoner1")
    assert new.result is True and not new.changes and "already correct" in new.comment
    again = loaders.states.jailprov.prisoner_root(name="prisoner1")
    assert (again.result, again.changes, again.comment) == (new.result, new.changes, new.comment)
    # an option of a step (force for base) is an argument of both names; an unknown one is refused
    with pytest.raises(Exception, match="unknown argument forse"):
        loaders.modules.jailprov.devfs("prisoner1", test=True, forse=True)
