"""The pillar schema (core/model/schema.py): every key declared once, the rest derived from it.

A key added to a scratch schema is parsed, defaulted, validated (its error names the key path and what was
expected), merged from defaults or refused there when unique, in the absent prisoner's placeholder and in the
reference table; the README holds the table the schema generates; the model stays loader-free.
"""

import ast
import copy
import dataclasses
import pathlib
import re
import subprocess
import sys

import pytest

from salt_jail.core import model
from salt_jail.core.errors import ValidationError
from salt_jail.core.model import schema
from salt_jail.core.model.schema import Key

ROOT = pathlib.Path(__file__).resolve().parents[3]


# --------------------------------------------------------------------------------------------------
# A new key in a scratch schema


def _motd(ctx, path, raw, default):
    """A made-up prisoner key: one line of at most 40 characters."""
    if raw is None:
        return default
    if not isinstance(raw, str) or "\n" in raw or len(raw) > 40:
        ctx.errs.add(path, f"{raw!r} is not a motd line (expected one line of at most 40 characters)")
        return default
    return raw


def _serial(ctx, path, raw, _default):
    if raw is not None and not isinstance(raw, int):
        ctx.errs.add(path, f"{raw!r} is not a serial number (expected an integer)")
        return None
    return raw


MOTD = Key("motd", _motd, "one line for the prisoner's /etc/motd", default="Welcome", absent="")
SERIAL = Key("serial", _serial, "the prisoner's inventory number", unique=True,
             identities=lambda v: [("serial", v, "serial")] if v is not None else [])


@pytest.fixture
def scratch():
    return model.SCHEMA.with_key("prisoner", MOTD).with_key("prisoner", SERIAL, after="jid")


def _errors(scratch, data):
    with pytest.raises(ValidationError) as info:
        scratch.parse(data["jailprov"])
    return info.value.errors


def test_new_key_is_parsed_and_defaulted(scratch, seed_pillar):
    data = copy.deepcopy(seed_pillar)
    data["jailprov"]["prisoners"]["prisoner1"]["motd"] = "prisoner one"
    cfg = scratch.parse(data["jailprov"])
    assert cfg.prisoners["prisoner1"].motd == "prisoner one"
    assert cfg.prisoners["prisoner2"].motd == "Welcome"                   # the declared default
    assert isinstance(cfg, scratch.Config) and "motd" in {f.name for f in dataclasses.fields(scratch.Prisoner)}
    # jailprov:defaults takes it (not unique), and the prisoner's own value wins
    data["jailprov"]["defaults"]["motd"] = "from defaults"
    cfg = scratch.parse(data["jailprov"])
    assert cfg.prisoners["prisoner2"].motd == "from defaults"
    assert cfg.prisoners["prisoner1"].motd == "prisoner one"
    # the real schema is untouched
    assert "motd" not in model.PRISONER_KEYS and not hasattr(model.from_pillar(seed_pillar).prisoners["prisoner1"],
                                                              "motd")


def test_new_key_is_validated_with_its_key_path(scratch, seed_pillar):
    data = copy.deepcopy(seed_pillar)
    data["jailprov"]["prisoners"]["prisoner1"]["motd"] = ["not", "a", "line"]
    data["jailprov"]["defaults"]["motd"] = "x" * 41
    data["jailprov"]["prisoners"]["prisoner1"]["mtod"] = "typo"
    data["jailprov"]["release"] = "14.2"                                  # every error in one pass
    errors = _errors(scratch, data)
    assert "jailprov:prisoners:prisoner1:motd: ['not', 'a', 'line'] is not a motd line (expected one line of " \
           "at most 40 characters)" in errors
    assert any(e.startswith("jailprov:prisoners:prisoner2:motd: 'xxx") for e in errors), errors
    assert "jailprov:prisoners:prisoner1:mtod: unknown key 'mtod'; did you mean 'motd'?" in errors
    assert any(e.startswith("jailprov:release:") for e in errors), errors


def test_new_unique_key_is_refused_in_defaults_and_checked_across_prisoners(scratch, seed_pillar):
    assert "serial" in scratch.UNIQUE_KEYS and "serial" not in scratch.DEFAULT_KEYS
    assert scratch.PRISONER_KEYS.index("serial") == scratch.PRISONER_KEYS.index("jid") + 1
    data = copy.deepcopy(seed_pillar)
    data["jailprov"]["prisoners"]["prisoner1"]["serial"] = 7
    data["jailprov"]["prisoners"]["prisoner2"]["serial"] = 7
    data["jailprov"]["defaults"]["serial"] = 9
    errors = _errors(scratch, data)
    assert "jailprov:defaults:serial: is unique to each prisoner; set it under jailprov:prisoners:<name>" in errors
    assert "jailprov:prisoners:prisoner2:serial: serial 7 is already used by prisoner 'prisoner1' (each " \
           "prisoner needs its own)" in errors
    assert scratch.reference_rows()[[r[0] for r in scratch.reference_rows()].index("`defaults`")][2].count(
        "`serial`") == 1


def test_new_key_in_the_absent_placeholder(scratch, seed_pillar):
    data = copy.deepcopy(seed_pillar)
    data["jailprov"]["absent"] = ["gone"]
    cfg = scratch.parse(data["jailprov"])
    gone = cfg.prisoners["gone"]
    assert gone.absent and gone.motd == "" and gone.serial is None        # the declared placeholder values
    assert scratch.absent_prisoner("x", "/j/x").motd == ""


def test_new_key_in_the_reference_table(scratch):
    table = scratch.reference_table()
    assert "| `prisoners.NAME.motd` | `Welcome` | one line for the prisoner's /etc/motd |" in table.splitlines()
    assert "| `prisoners.NAME.motd`" not in model.SCHEMA.reference_table()


def test_new_host_and_top_keys(seed_pillar):
    def _flag(ctx, path, raw, default):
        if raw is not None and not isinstance(raw, bool):
            ctx.errs.add(path, f"expected true or false, got {raw!r}")
            return default
        return default if raw is None else raw
    scratch = (model.SCHEMA.with_key("host", Key("audit", _flag, "audit the host", default=False))
               .with_key("top", Key("verbose", _flag, "say more", default=True)))
    cfg = scratch.parse(copy.deepcopy(seed_pillar["jailprov"]))
    assert cfg.host.audit is False and cfg.verbose is True
    data = copy.deepcopy(seed_pillar["jailprov"])
    data["host"]["audit"] = "yes please"
    data["verbose"] = 3
    with pytest.raises(ValidationError) as info:
        scratch.parse(data)
    assert "jailprov:host:audit: expected true or false, got 'yes please'" in info.value.errors
    assert "jailprov:verbose: expected true or false, got 3" in info.value.errors
    rows = [r[0] for r in scratch.reference_rows()]
    assert "`host.audit`" in rows and "`verbose`" in rows


# --------------------------------------------------------------------------------------------------
# The real schema


def test_readme_holds_the_generated_table():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert schema.README_BEGIN in text and schema.README_END in text
    assert schema.readme_with_table(text) == text, (
        "README.md's pillar table differs from the schema: run python -m salt_jail.core.model.schema "
        "--readme README.md")


def test_readme_generator_rewrites_a_stale_table(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{schema.README_BEGIN}\n| stale |\n{schema.README_END}\noutro\n", encoding="utf-8")
    assert schema.main(["--readme", str(readme)]) == 0
    text = readme.read_text(encoding="utf-8")
    assert "| stale |" not in text and text.startswith("intro\n") and text.endswith("outro\n")
    assert model.SCHEMA.reference_table() in text


def test_every_declared_key_is_in_the_table_and_in_pillar_example():
    rows = "\n".join(k for k, _d, _m in model.SCHEMA.reference_rows())
    example = (ROOT / "pillar.example").read_text(encoding="utf-8")
    for kind, keys in model.SCHEMA.sections.items():
        for key in keys:
            assert re.search(rf"\b{re.escape(key.name)}:", example), f"{kind} key {key.name} not in pillar.example"
            if key.doc is not None:
                assert re.search(rf"\b{re.escape(key.name)}\b", rows), f"{kind} key {key.name} not in the table"


def test_dataclasses_have_one_field_per_declared_key():
    def fields(cls):
        return [f.name for f in dataclasses.fields(cls)]
    assert fields(model.Prisoner) == ["name", "path"] + list(model.PRISONER_KEYS)
    assert fields(model.HostConfig) == list(model.HOST_KEYS)
    assert set(fields(model.Config)) == set(model.TOP_KEYS) - {"mirror", "defaults"}


def test_key_lists_and_managed_params_as_before():
    """The lists error messages quote ("expected one of: ...") keep their order."""
    assert model.TOP_KEYS == (
        "jail_root", "release", "arch", "mirror", "mirrors", "dists", "sha256", "cache_dir", "interface",
        "jail_conf", "jail_conf_layout", "host", "defaults", "prisoners", "absent", "releases_dir", "zfs",
        "download_deadline", "download_min_rate")
    assert model.HOST_KEYS == ("pw_range", "defaultpasswd", "rc_aliases", "rc_conf", "jail_list", "parallel_start",
                               "resolv_conf")
    assert model.UNIQUE_KEYS == ("jid", "ip4", "ip6", "hostname", "pw_range", "absent", "dataset")
    assert model.MANAGED_PARAMS == {"jid": "jid", "name": "the prisoner's key", "path": "jail_root",
                                    "ip4.addr": "ip4", "ip6.addr": "ip6", "host.hostname": "hostname",
                                    "interface": "interface"}


def test_absent_placeholder():
    p = model.absent_prisoner("old", "/home/jail/old")
    assert p.absent and p.name == "old" and p.path == "/home/jail/old"
    assert (p.jid, p.ip4, p.ip6, p.hostname, p.pw_range, p.network, p.dataset) == (None, (), (), "", None, None, None)
    assert p.params == {} and p.params is not model.absent_prisoner("x", "/x").params     # not shared


def test_a_key_that_depends_on_itself_is_a_declaration_error(seed_pillar):
    loop = Key("loop", lambda ctx, path, raw, default: ctx.value("loop"), "a bad declaration")
    with pytest.raises(RuntimeError, match="depends on itself"):
        model.SCHEMA.with_key("prisoner", loop).parse(copy.deepcopy(seed_pillar["jailprov"]))


def test_model_is_loader_free_and_imports_no_feature():
    for path in (ROOT / "salt_jail" / "core" / "model").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                names = [("." * node.level) + (node.module or "")]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                assert not re.match(r"^(salt(\.|$)|\.\.features|salt_jail\.core\.features)", name), (path.name, name)
    code = ("import sys, salt_jail.core.model; "
            "bad = [m for m in sys.modules if m == 'salt' or m.startswith(('salt.', 'salt_jail.core.features'))]; "
            "sys.exit(str(bad) if bad else 0)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_managed_params_are_the_ones_block_params_writes_from_keys(seed_pillar):
    """A key declared with ``jail_param`` is refused in ``params`` because the jail.conf block writes it."""
    from salt_jail.core.features import hostconf  # pylint: disable=import-outside-toplevel
    data = copy.deepcopy(seed_pillar)
    data["jailprov"]["prisoners"]["prisoner1"].update(jid=5, ip6="fd00::31")
    cfg = model.from_pillar(data)
    written = [k for k, _v in hostconf.block_params(cfg, cfg.prisoners["prisoner1"])]
    assert written[:6] == ["jid", "path", "ip4.addr", "ip6.addr", "host.hostname", "interface"]
    assert set(model.MANAGED_PARAMS) - {"name"} == set(written[:6])
