"""The step registry (salt_jail.core.registry) and jailprov.provision, which runs what it declares.

The provision tests use a scratch registry of recording steps (no host needed): the order, which steps a
prisoner has, the arguments each step gets, the stop at the first failure, and test mode's prediction of a
MissingError.  The formula side of the same scratch registry is in tests/functional/test_registry_formula.py.
"""

import copy
import dataclasses

import pytest

from salt_jail.core import model, registry
from salt_jail.core.errors import CommandError, MissingError
from salt_jail.core.features import day2, provision, root, zfsprov
from salt_jail.core.result import StepResult

SEED_ORDER = ["root", "base", "resolv_conf", "syslog", "crontab", "hosts", "pw_conf", "devfs", "wall_cmos_clock",
              "localtime", "root_password"]


@pytest.fixture
def cfg(seed_pillar):
    return model.from_pillar(seed_pillar)


def _cfg(seed_pillar, zfs=False, thin=()):
    data = copy.deepcopy(seed_pillar)
    if zfs:
        data["jailprov"]["zfs"] = {"dataset": "zroot/jails"}
    for name in thin:
        data["jailprov"]["prisoners"][name]["type"] = "thin"
    return model.from_pillar(data)


# ---------------------------------------------------------------------------------------------- the real registry

def test_the_seed_order_thin_fstab_and_zfs_steps(seed_pillar):
    ids = lambda cfg, name: [s.id for s in registry.prisoner_steps(cfg, name)]  # noqa: E731
    plain = _cfg(seed_pillar)
    assert ids(plain, "prisoner1") == SEED_ORDER
    thin = _cfg(seed_pillar, thin=["prisoner2"])
    assert ids(thin, "prisoner1") == SEED_ORDER
    assert ids(thin, "prisoner2") == SEED_ORDER[:2] + ["fstab"] + SEED_ORDER[2:]
    zfs = _cfg(seed_pillar, zfs=True)
    assert ids(zfs, "prisoner1") == ["dataset"] + SEED_ORDER + ["snapshots"]
    # the prisoner's start requires the last step that gates it: root_password, not the snapshots after it
    assert registry.last_before_start(zfs, "prisoner1") == registry.last_before_start(plain, "prisoner1") \
        == "root_password"


def test_formula_steps_carry_the_step_id_and_host_requisites(seed_pillar):
    out = registry.formula_steps(_cfg(seed_pillar, zfs=True), "prisoner1")
    by_id = {s["id"]: s for s in out}
    assert by_id["dataset"] == {"id": "dataset", "requires": ["jailprov-zfs"]}
    assert by_id["base"] == {"id": "base", "requires": ["jailprov-release"]}
    assert by_id["hosts"] == {"id": "hosts", "requires": []}
    assert by_id["devfs"] == {"id": "devfs", "requires": []}


def test_aliases_are_the_names_before_the_registry():
    assert set(registry.ALIASES) == {
        ("exec", "prisoner_root", "root"), ("state", "prisoner_root", "root"),
        ("exec", "install_base", "base"), ("state", "base_installed", "base"),
        ("exec", "syslog_console", "syslog"), ("state", "syslog_console", "syslog"),
        ("exec", "crontab_adjkerntz", "crontab"), ("state", "crontab_adjkerntz", "crontab"),
        ("exec", "mount_devfs", "devfs"), ("state", "devfs_mounted", "devfs"),
        ("state", "dataset_present", "dataset"), ("state", "snapshots_present", "snapshots"),
    }


def test_the_functions_behind_each_step():
    assert registry.by_id("root").fn is day2.ensure_root               # the formula's: knows about moves
    assert registry.by_id("root").provision_fn is root.ensure_root
    assert registry.by_id("dataset").provision_fn is zfsprov.provision_dataset   # with the host's datasets
    with pytest.raises(KeyError, match="no prisoner step 'nope' .*known: dataset, root, base"):
        registry.by_id("nope")


@pytest.mark.parametrize("bad,message", [
    (dict(id="Bad-Id"), "not a lower-case identifier"),
    (dict(id="x", state_alias="x y"), "not a lower-case identifier"),
    (dict(id="hosts"), "declared twice"),
])
def test_check_refuses_names_the_formula_and_the_modules_cannot_use(bad, message):
    extra = registry.Step(fn=None, doc="x.", **bad)
    with pytest.raises(ValueError, match=message):
        registry.check(registry.PRISONER_STEPS + (extra,))


@pytest.mark.parametrize("kind", ["exec", "state"])
def test_generated_functions_and_aliases_live_in_their_module(kind):
    """Salt injects a state's ``__running__``/``__instance_id__`` into the globals of the function it calls (the
    query memo reads them there): every generated function and alias must have its module's globals."""
    import salt_jail.modules.jailprov as exec_mod
    import salt_jail.states.jailprov as state_mod

    module = exec_mod if kind == "exec" else state_mod
    names = [s.id for s in registry.PRISONER_STEPS] + [old for k, old, _ in registry.ALIASES if k == kind]
    for name in names:
        fn = getattr(module, name)
        fn = getattr(fn, "__wrapped__", fn)        # the exec module's _guard
        assert fn.__globals__ is vars(module) and fn.__module__ == module.__name__, name


def test_host_steps_name_existing_functions():
    import salt_jail.modules.jailprov as exec_mod
    import salt_jail.states.jailprov as state_mod

    for step in registry.HOST_STEPS:
        assert callable(getattr(exec_mod, step.exec_name)) and callable(getattr(state_mod, step.state_name))


# ---------------------------------------------------------------------------------------------- provision

class Recorder:
    """Steps that record their calls, in one list, and answer what they are told."""

    def __init__(self):
        self.calls = []

    def step(self, sid, answer=None, **kw):
        def fn(host, cfg, name, test=False, **kwargs):
            self.calls.append((sid, name, test, sorted(kwargs)))
            if isinstance(answer, Exception):
                raise answer
            return answer or StepResult(False, f"{sid} is already correct")
        return registry.Step(sid, fn, doc=f"{sid}.", **kw)


@pytest.fixture
def rec():
    return Recorder()


def test_provision_runs_the_registry_in_order_and_only_what_applies(monkeypatch, cfg, rec):
    odd = lambda cfg, prisoner: prisoner.name == "prisoner2"  # noqa: E731
    monkeypatch.setattr(registry, "PRISONER_STEPS", (
        rec.step("one"), rec.step("two", applies=odd), rec.step("three", fetches=True),
        rec.step("four", answer=StepResult(True, "four was changed", "diff"))))
    out = provision.provision(None, cfg, "prisoner1", fetcher="F", progress="P")
    assert out["result"] is True
    assert list(out["steps"]) == ["one", "three", "four"]
    assert out["steps"]["four"] == {"changed": True, "comment": "four was changed", "diff": "diff"}
    assert rec.calls == [("one", "prisoner1", False, []), ("three", "prisoner1", False, ["fetcher", "progress"]),
                         ("four", "prisoner1", False, [])]
    rec.calls.clear()
    assert list(provision.provision(None, cfg, "prisoner2", test=True)["steps"]) == ["one", "two", "three", "four"]
    assert {call[2] for call in rec.calls} == {True}


def test_a_step_inserted_in_a_scratch_registry_runs_in_its_place(monkeypatch, cfg, rec):
    new = rec.step("motd")
    at = [s.id for s in registry.PRISONER_STEPS].index("hosts") + 1
    monkeypatch.setattr(registry, "PRISONER_STEPS", registry.PRISONER_STEPS[:at] + (new,) + registry.PRISONER_STEPS[at:])
    ids = [s.id for s in registry.prisoner_steps(cfg, "prisoner1")]
    assert ids == SEED_ORDER[:6] + ["motd"] + SEED_ORDER[6:]
    # provision runs it right after hosts (every step replaced by a recorder, the new one kept)
    passing = {s.id: dataclasses.replace(s, fn=rec.step(s.id).fn, provision_fn=None) for s in registry.PRISONER_STEPS}
    monkeypatch.setattr(registry, "PRISONER_STEPS", tuple(passing[i] if i != "motd" else new
                                                          for i in [s.id for s in registry.PRISONER_STEPS]))
    out = provision.provision(None, cfg, "prisoner1")
    assert list(out["steps"]) == ids and out["result"]
    assert [c[0] for c in rec.calls] == ids


def test_provision_stops_at_the_first_failure(monkeypatch, cfg, rec):
    monkeypatch.setattr(registry, "PRISONER_STEPS", (
        rec.step("one", answer=StepResult(True, "one was changed")),
        rec.step("two", answer=CommandError(["jail", "-c"], 1, "", "jail: boom", what="starting x")),
        rec.step("three")))
    out = provision.provision(None, cfg, "prisoner1")
    assert out["result"] is False
    assert list(out["steps"]) == ["one", "two"]
    assert out["steps"]["one"]["changed"] is True
    assert "boom" in out["steps"]["two"]["error"]
    assert [c[0] for c in rec.calls] == ["one", "two"]          # three never ran


def test_a_missing_input_is_a_failure_in_a_run_and_a_prediction_in_test_mode(monkeypatch, cfg, rec):
    missing = MissingError("prisoner root /home/jail/prisoner1 does not exist; step 'root' creates it")
    monkeypatch.setattr(registry, "PRISONER_STEPS", (rec.step("one"), rec.step("two", answer=missing),
                                                     rec.step("three")))
    real = provision.provision(None, cfg, "prisoner1")
    assert real["result"] is False and list(real["steps"]) == ["one", "two"]
    assert real["steps"]["two"] == {"error": str(missing)}
    rec.calls.clear()
    dry = provision.provision(None, cfg, "prisoner1", test=True)
    assert dry["result"] is True and list(dry["steps"]) == ["one", "two", "three"]
    assert dry["steps"]["two"]["changed"] is True
    assert dry["steps"]["two"]["comment"] == f"would run once the earlier steps have created what it needs ({missing})"
    assert [c[0] for c in rec.calls] == ["one", "two", "three"]


def test_provision_of_a_name_that_is_not_a_present_prisoner_runs_nothing(monkeypatch, seed_pillar, rec):
    seed_pillar["jailprov"]["prisoners"]["prisoner2"]["absent"] = True
    cfg = model.from_pillar(seed_pillar)
    monkeypatch.setattr(registry, "PRISONER_STEPS", (rec.step("one"),))
    for name, message in (("nope", "no prisoner named 'nope'"), ("prisoner2", "marked absent")):
        out = provision.provision(None, cfg, name)
        assert out["result"] is False and out["steps"] == {} and message in out["error"]
    assert rec.calls == []


def test_provision_calls_provision_fn_where_the_step_has_one(monkeypatch, cfg, rec):
    alone = rec.step("alone")
    monkeypatch.setattr(registry, "PRISONER_STEPS", (dataclasses.replace(rec.step("one"), provision_fn=alone.fn),))
    provision.provision(None, cfg, "prisoner1")
    assert [c[0] for c in rec.calls] == ["alone"]
