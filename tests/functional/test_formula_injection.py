"""Issue 12, finding 3: the formula renders nothing from the pillar until it is valid, and escapes what it renders.

Checked through Salt's own renderer (``state.show_sls jail``, and ``state.sls jail`` for the run), with the
formula's real SLS files and pillars written as files the minion renders.
"""

import copy

import pytest

CMD = "cmd.run"


@pytest.fixture
def yaml_loaders(make_loaders):
    """Loaders whose pillar file is ``#!yaml``: no Jinja pass over the pillar itself, so Jinja metacharacters
    reach the pillar data as they are."""
    return lambda pillar_data: make_loaders(pillar_data, minion_id="inject", shebang="#!yaml")


def _injection(marker):
    """A YAML document smuggled into a name: a ``cmd.run`` state that creates ``marker``."""
    return f'"abc: {{test.nop: []}}\ninjected:\n  {CMD}:\n    - name: touch {marker}\nzz"'


def _show(loaders):
    out = loaders.modules.state.show_sls("jail")
    assert isinstance(out, dict), out     # a list is a render error
    return out


def _functions(states):
    return {(sid, fun) for sid, body in states.items() for fun in body if not fun.startswith("__")}


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "PWNED"
    yield path
    assert not path.exists(), "an injected state ran"


@pytest.mark.parametrize("where", ["absent", "prisoner key", "prisoner key (jinja)"])
def test_injected_names_render_only_the_validation_state(yaml_loaders, seed_pillar, marker, where):
    jp = seed_pillar["jailprov"]
    if where == "absent":                                       # the pillar
        jp["absent"] = [_injection(marker)]
    elif where == "prisoner key":
        jp["prisoners"][_injection(marker)] = copy.deepcopy(jp["prisoners"]["prisoner1"])
    else:
        jp["prisoners"]["{{ salt['cmd.run']('touch " + str(marker) + "') }}"] = {"hostname": "x.example.org"}
    loaders = yaml_loaders(seed_pillar)
    states = _show(loaders)
    assert list(states) == ["jailprov-pillar-valid"], sorted(states)
    ran = loaders.modules.state.sls("jail")
    assert not ran.failed, ran.raw               # rendered, and ran
    assert len(list(ran)) == 1, sorted(ran.raw)
    (only,) = ran
    assert only.result is False and "Invalid jailprov pillar; nothing was changed" in only.comment


def test_an_invalid_pillar_is_one_failing_state_listing_every_error(yaml_loaders, seed_pillar):
    jp = seed_pillar["jailprov"]
    jp["arch"] = "vax"
    jp["release"] = "14.2-RELEASE\n"
    jp["jail_root"] = "//"
    jp["prisoners"]["prisoner2"]["hostname"] = "bad_name!"
    jp["absent"] = ["no/slash"]
    ran = yaml_loaders(seed_pillar).modules.state.sls("jail")
    assert not ran.failed, ran.raw
    assert len(list(ran)) == 1, sorted(ran.raw)          # not one error plus every requisite failing
    (only,) = ran
    assert only.result is False
    for path in ("jailprov:arch:", "jailprov:release:", "jailprov:jail_root:",
                 "jailprov:prisoners:prisoner2:hostname:", "jailprov:absent[0]:"):
        assert path in only.comment, (path, only.comment)


METACHARS = ['{{ 7*7 }}', '{% raw %}x', '"quoted: {a: b}"', "'single'", "x\ninjected:\n  cmd.run: []",
             "- [list]", "&anchor *alias", "!!python/object x", "# comment", "|\n  block", "a: b", "%TAG"]


def test_metacharacters_in_every_free_string_render_no_extra_state(yaml_loaders, seed_pillar):
    """A valid pillar whose free-form strings (jail parameters, default parameters) hold YAML and Jinja
    metacharacters renders exactly the formula's own states, all of them jailprov states."""
    jp = seed_pillar["jailprov"]
    jp["defaults"]["params"] = {f"x.meta{i}": value for i, value in enumerate(METACHARS)}
    jp["prisoners"]["prisoner1"]["params"] = {"exec.prestart": METACHARS[2], "x.list": METACHARS[:3]}
    jp["absent"] = ["old_one"]
    states = _show(yaml_loaders(seed_pillar))
    steps = ("root", "base", "resolv_conf", "syslog", "crontab", "hosts", "pw_conf", "devfs", "wall_cmos_clock",
             "localtime", "root_password", "jail_conf", "network", "running", "restart_pending")
    expected = {"jailprov-pillar-valid", "jailprov-host-pw_conf", "jailprov-host-rc_conf", "jailprov-host-unmanaged",
                "jailprov-host-jail_conf", "jailprov-release", "jailprov-old_one-absent"}
    expected |= {f"jailprov-{name}-{step}" for name in ("prisoner1", "prisoner2") for step in steps}
    assert set(states) == expected
    assert {fun.split(".")[0] for _sid, fun in _functions(states)} == {"jailprov"}
    assert all(states[sid]["__sls__"].startswith("jail") for sid in states)
