"""The ``jail`` formula on a real FreeBSD host: ``salt-call --local state.apply jail``, as an admin runs it.

The tier's pillar (two prisoners on lo1 under /var/tmp/salt-jail-tests) is applied with the real Salt
loader and the real FreeBSD tools: the first run builds and starts both prisoners, the second changes
nothing, ``test=True`` after the build predicts nothing, and listing a prisoner under ``absent``
destroys it.  Salt's own files (config, cache, pki, log) stay under WORK/salt.

The tests run in file order and build on each other; see README.md.
"""

import json
import os
import pathlib
import subprocess
import sys

import pytest
import yaml

from .hostenv import (HOSTNAMES, JAIL, JAIL_CONF, JAIL_ROOT, P1, P2, WORK, jls_fields, mounts_below,
                      running_jails, sh)

REPO = pathlib.Path(__file__).resolve().parents[2]
SALT_DIR = pathlib.Path(WORK) / "salt"


@pytest.fixture(scope="module")
def salt(clean_host):
    """A salt-call configuration under WORK/salt whose file_roots serve the repository's formula.

    Returns ``apply(pillar_data, *args)``, which writes the pillar and runs ``state.apply jail *args``,
    returning the states as a dict (the test fails with salt-call's output when there is none).
    """
    pillar_dir = SALT_DIR / "pillar"
    pillar_dir.mkdir(parents=True, exist_ok=True)
    (pillar_dir / "top.sls").write_text("base:\n  '*':\n    - sjtest\n", encoding="utf-8")
    minion = {
        "id": "sjtest",
        "file_client": "local",
        "root_dir": str(SALT_DIR),
        "pki_dir": str(SALT_DIR / "pki"),
        "cachedir": str(SALT_DIR / "cache"),
        "sock_dir": str(SALT_DIR / "sock"),
        "log_file": str(SALT_DIR / "minion.log"),
        "log_level_logfile": "info",
        "file_roots": {"base": [str(REPO / "states")]},
        "pillar_roots": {"base": [str(pillar_dir)]},
    }
    (SALT_DIR / "minion").write_text(yaml.safe_dump(minion), encoding="utf-8")

    def apply(pillar_data, *args):
        (pillar_dir / "sjtest.sls").write_text(yaml.safe_dump(pillar_data, sort_keys=False), encoding="utf-8")
        return salt_call("state.apply", "jail", *args)

    return apply


def salt_call(*args):
    """``salt-call --local`` with the tier's configuration; returns the ``local`` return (a dict of states).

    Run with this interpreter (the virtualenv's Salt), not through salt_jail.rehearse: the real tier
    must not depend on the Linux rehearsal package.
    """
    cmd = [sys.executable, "-c", "import salt.scripts; salt.scripts.salt_call()", "--local", "-c", str(SALT_DIR),
           "--out=json", "--retcode-passthrough", "-l", "quiet", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    try:
        states = json.loads(proc.stdout)["local"]
    except (ValueError, KeyError, TypeError):
        states = None
    assert isinstance(states, dict), f"`salt-call {' '.join(args)}` returned no states:\n{proc.stdout}{proc.stderr}"
    return states


def _id(key, state):
    """The state ID (``jailprov-sjtest_p1-running``) of a return keyed ``jailprov_|-ID_|-NAME_|-FUNCTION``."""
    return state.get("__id__") or key.split("_|-")[1]


def failed(states):
    """``{state ID: comment}`` of the states that failed."""
    return {_id(k, s): s.get("comment") for k, s in states.items() if s.get("result") is False}


def changed(states):
    """``{state ID: changes}`` of the states that changed (or, with test=True, would change) something."""
    return {_id(k, s): s.get("changes") for k, s in states.items() if s.get("changes")}


def show(states):
    """The states, for an assertion message."""
    return json.dumps({_id(k, s): {f: s.get(f) for f in ("result", "comment", "changes")} for k, s in states.items()},
                      indent=1, default=str)


def test_first_apply_builds_and_starts_both(salt, pillar_data):
    states = salt(pillar_data)
    assert not failed(states), show(states)
    assert changed(states), show(states)
    for name in (P1, P2):
        assert f"jailprov-{name}-running" in changed(states)
        assert jls_fields(name, "host.hostname") == {"host.hostname": HOSTNAMES[name]}
        answer = sh("/usr/sbin/jexec", name, "/bin/hostname").stdout.strip()
        assert answer == HOSTNAMES[name]
    assert sh("/usr/sbin/sysrc", "-n", "jail_enable").stdout.strip() == "YES"


def test_a_boot_reads_the_tiers_jail_conf(salt, pillar_data):
    """libexec/rc/rc.d/jail reads ``$jail_conf`` (``load_rc_config jail`` over etc/defaults/rc.conf, whose
    jail_conf="/etc/jail.conf") for ``jail -f $jail_conf -c`` at boot: the formula put the tier's own jail.conf
    there, and that file defines both prisoners (``jail -e``, usr.sbin/jail/jail.c show_jails())."""
    assert sh("/usr/sbin/sysrc", "-n", "jail_conf").stdout.strip() == JAIL_CONF
    loaded = sh("/bin/sh", "-c", '. /etc/rc.subr; load_rc_config jail; echo "$jail_conf"').stdout.strip()
    assert loaded == JAIL_CONF
    lines = sh(JAIL, "-f", loaded, "-e", "|").stdout.splitlines()
    names = {field.split("=", 1)[1] for line in lines for field in line.split("|") if field.startswith("name=")}
    assert {P1, P2} <= names, lines


def test_second_apply_changes_nothing(salt, pillar_data):
    states = salt(pillar_data)
    assert not failed(states), show(states)
    assert changed(states) == {}, show(states)


def test_test_mode_after_the_build_predicts_nothing(salt, pillar_data):
    states = salt(pillar_data, "test=True")
    assert not failed(states), show(states)
    assert changed(states) == {}, show(states)
    assert [_id(k, s) for k, s in states.items() if s.get("result") is None] == [], show(states)


def test_absent_prisoner_is_destroyed_then_nothing_changes(salt, pillar):
    pillar["jailprov"]["absent"] = [P2]
    states = salt(pillar)
    assert not failed(states), show(states)
    assert f"jailprov-{P2}-absent" in changed(states), show(states)
    assert P2 not in running_jails() and P1 in running_jails()
    assert not os.path.lexists(f"{JAIL_ROOT}/{P2}")
    assert mounts_below(f"{JAIL_ROOT}/{P2}") == []
    conf = pathlib.Path(JAIL_CONF).read_text(encoding="utf-8")
    assert P2 not in conf and P1 in conf

    again = salt(pillar)
    assert not failed(again), show(again)
    assert changed(again) == {}, show(again)
