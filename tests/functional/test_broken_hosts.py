"""No tracebacks (issue 15): every execution function, driven against broken hosts, either works or raises
CommandExecutionError / SaltInvocationError — never OSError, ValueError or anything else — and a failure names
the path it could not use."""

import copy
import inspect

import pytest
from salt.exceptions import CommandExecutionError, SaltInvocationError

import salt_jail.modules.jailprov as exec_mod
from salt_jail import rehearsal

ARGS = {"name": "prisoner1", "cmd": "hostname", "host": "127.0.0.1", "count": 1, "snapshot": "before-upgrade"}


def _functions():
    return sorted(name for name, fn in vars(exec_mod).items()
                  if inspect.isfunction(fn) and not name.startswith("_") and fn.__module__ == exec_mod.__name__)


def _broken_file_for_dir(scratch, pillar):
    (scratch / "srv").mkdir()
    (scratch / "srv/file").write_text("a regular file\n")
    pillar["jailprov"].update(jail_root="/srv/file/jail", cache_dir="/srv/file/cache")
    return "/srv/file"


def _broken_name_too_long(scratch, pillar):
    long = "/" + "x" * 300
    pillar["jailprov"].update(jail_root=long + "/jail", cache_dir=long + "/cache")
    return long


def _broken_dirs_for_files(scratch, pillar):
    for path in ("etc/jail.conf", "etc/rc.conf", "etc/pw.conf", "etc/resolv.conf"):
        target = scratch / path
        if target.exists():
            target.unlink()
        target.mkdir()
    return "/etc/"


@pytest.mark.parametrize("breakage", [_broken_file_for_dir, _broken_name_too_long, _broken_dirs_for_files])
def test_every_execution_function_fails_cleanly_on_a_broken_host(make_loaders, seed_pillar, scratch, breakage):
    rehearsal.setup(str(scratch))
    pillar = copy.deepcopy(seed_pillar)
    pillar["jailprov"]["mirror"] = "http://127.0.0.1:9/releases"      # nothing listens: never leaves loopback
    path = breakage(scratch, pillar)
    loaders = make_loaders(pillar)
    funcs = _functions()
    assert {"prisoner_root", "fetch_release", "jail_conf", "host_rc_conf", "ensure_running", "destroy"} <= set(funcs)
    failures, naming = {}, 0
    for name in funcs:
        params = inspect.signature(getattr(exec_mod, name)).parameters
        kwargs = {k: v for k, v in ARGS.items() if k in params}
        if "force" in params and name == "destroy":
            kwargs["force"] = True
        for test in ((True, False) if "test" in params else (None,)):
            if test is not None:
                kwargs["test"] = test
            try:
                loaders.modules[f"jailprov.{name.rstrip('_')}"](**kwargs)
            except (CommandExecutionError, SaltInvocationError) as exc:
                failures[(name, test)] = str(exc)
                naming += path in str(exc)
            except Exception as exc:  # pylint: disable=broad-except
                pytest.fail(f"jailprov.{name}(test={test}) raised {type(exc).__name__}: {exc}")
    assert failures, "a broken host made nothing fail"
    assert naming, f"no failure names {path}: {failures}"
