"""Issue 16: the messages an administrator reads name functions that exist, and read well."""

import ast
import inspect
import pathlib
import re

import salt_jail
from salt_jail.modules import jailprov as exec_module
from salt_jail.runners import jailprov as runner_module
from salt_jail.states import jailprov as state_module

PACKAGE = pathlib.Path(salt_jail.__file__).parent
MENTION = re.compile(r"\bjailprov\.([a-z_]+)\b(?!\.)")


def _public(module, aliases=None):
    names = {n for n, f in vars(module).items() if inspect.isfunction(f) and not n.startswith("_")
             and f.__module__ == module.__name__}
    aliases = aliases or {}
    return {aliases.get(n, n) for n in names}


def _messages(tree):
    """String constants that are not docstrings (f-strings included, piece by piece)."""
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            if node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant):
                docstrings.add(id(node.body[0].value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.lineno, node.value


def test_every_jailprov_function_named_in_a_message_exists():
    functions = (_public(exec_module, exec_module.__func_alias__) | _public(runner_module)
                 | _public(state_module))
    assert {"prisoner_root", "list", "exec", "check", "validate"} <= functions
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for line, text in _messages(ast.parse(path.read_text(encoding="utf-8"))):
            if re.fullmatch(r"jailprov\.[\w.]+", text):
                continue                       # a __context__ key ("jailprov.config"), not prose
            wrong += [f"{path.relative_to(PACKAGE)}:{line}: jailprov.{name}" for name in MENTION.findall(text)
                      if name not in functions]
    assert not wrong, wrong


def test_no_doubled_quote_possessive():
    """``'web1''s`` reads as a typo: no message builds a possessive on a quoted name."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        offenders += [f"{path.relative_to(PACKAGE)}: {m.group(0)}" for m in re.finditer(r"\{[^{}]*!r\}'s\b", text)]
    assert not offenders, offenders


def test_overlap_message_reads_well(seed_pillar):
    import pytest

    from salt_jail.core import model
    from salt_jail.core.errors import ValidationError

    seed_pillar["jailprov"]["prisoners"]["prisoner2"]["pw_range"] = {"uid": [20000, 20010], "gid": [20000, 20010]}
    with pytest.raises(ValidationError) as err:
        model.from_pillar(seed_pillar)
    overlap = [e for e in err.value.errors if "overlaps" in e]
    assert overlap and not [e for e in overlap if "''s" in e or "'s [" in e], overlap
    assert any("overlaps prisoner 'prisoner1' (its uid range is [20000, 29999]" in e for e in overlap), overlap
