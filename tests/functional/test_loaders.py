"""The extension as Salt's loader sees it: entry point, __virtual__, docs, and the functions in-process."""

import inspect

import pytest

import salt_jail.modules.jailprov as exec_mod
import salt_jail.runners.jailprov as runner_mod
import salt_jail.states.jailprov as state_mod
from salt_jail.core import registry


def _public(module):
    return [f for n, f in vars(module).items()
            if inspect.isfunction(f) and not n.startswith("_") and f.__module__ == module.__name__]


@pytest.mark.parametrize("module", [exec_mod, runner_mod], ids=["execution", "runner"])
def test_every_public_function_has_a_cli_example(module):
    missing = [f.__name__ for f in _public(module) if "CLI Example:" not in (f.__doc__ or "")]
    assert not missing


def test_every_state_function_has_an_sls_example():
    missing = [f.__name__ for f in _public(state_mod) if ".. code-block:: yaml" not in (f.__doc__ or "")]
    assert not missing


def test_every_registry_step_and_older_name_is_a_documented_public_function():
    """The step functions generated from the registry, and the aliases of their older names, are public functions
    of both modules, so the two checks above cover them; an alias says which function it stands for."""
    exec_fns = {f.__name__: f for f in _public(exec_mod)}
    state_fns = {f.__name__: f for f in _public(state_mod)}
    for step in registry.PRISONER_STEPS:
        assert step.id in exec_fns and step.id in state_fns, step.id
        assert f"salt '*' jailprov.{step.id} prisoner1" in exec_fns[step.id].__doc__
        assert f"jailprov.{step.id}:" in state_fns[step.id].__doc__
    for kind, old, new in registry.ALIASES:
        fn = (exec_fns if kind == "exec" else state_fns)[old]
        assert f"Alias of {'state ' if kind == 'state' else ''}``jailprov.{new}``" in fn.__doc__, (kind, old)
        assert f"jailprov.{old}" in fn.__doc__


def test_loaded_without_sync(loaders):
    """The salt.loader entry point is enough: no saltutil.sync_*."""
    assert "jailprov.validate" in loaders.modules
    assert "jailprov.list" in loaders.modules        # __func_alias__ list_ -> list
    assert "jailprov.exec" in loaders.modules
    assert "jailprov.validated" in loaders.states


def test_not_loaded_on_linux_without_rehearsal(salt_factories, tmp_path):
    factory = salt_factories.salt_minion_daemon("plain", defaults={"file_client": "local"})
    from saltfactories.utils.functional import Loaders

    loaders = Loaders(factory.config.copy())
    try:
        assert "jailprov.validate" not in loaders.modules
        reason = loaders.modules.missing_fun_string("jailprov.validate")
        assert "FreeBSD" in reason and "rehearsal" in reason
    finally:
        loaders.reset_state()


def test_validate_seed_and_passed_pillar(loaders, seed_pillar_data):
    assert loaders.modules.jailprov.validate() == {"valid": True, "errors": []}
    out = loaders.modules.jailprov.validate(pillar={"jailprov": {"release": "14.2"}})
    assert out["valid"] is False
    assert any(e.startswith("jailprov:release:") for e in out["errors"])


def test_sys_doc_reads_well(loaders):
    docs = loaders.modules.sys.doc("jailprov")
    assert "CLI Example" in docs["jailprov.list"]
    assert set(docs) >= {"jailprov.validate", "jailprov.list", "jailprov.provision", "jailprov.destroy"}


def test_validated_state_fails_on_bad_pillar(make_loaders, seed_pillar):
    seed_pillar["jailprov"]["arch"] = "vax"
    ret = make_loaders(seed_pillar).states.jailprov.validated(name="pillar")
    assert ret.result is False
    assert "jailprov:arch" in ret.comment and "nothing was changed" in ret.comment


def test_step_state_test_mode_predicts_and_writes_nothing(loaders, scratch):
    ret = loaders.states.jailprov.prisoner_root(name="prisoner1", test=True)
    assert ret.result is None and ret.changes
    assert not (scratch / "home" / "jail" / "prisoner1").exists()
    ret = loaders.states.jailprov.prisoner_root(name="prisoner1")
    assert ret.result is True and ret.changes
    assert (scratch / "home" / "jail" / "prisoner1").is_dir()
    ret = loaders.states.jailprov.prisoner_root(name="prisoner1")
    assert ret.result is True and not ret.changes and "already" in ret.comment


def test_unknown_prisoner_is_a_clear_error(loaders):
    ret = loaders.states.jailprov.hosts(name="prisoner9")
    assert ret.result is False and "prisoner9" in ret.comment and "prisoner1" in ret.comment
