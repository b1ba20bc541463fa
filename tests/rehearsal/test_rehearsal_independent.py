"""The rehearsal host agrees with FreeBSD, not with the product: none of its modules uses salt_jail.core.

A stand-in that parsed jail.conf with the product's parser (or edited master.passwd with its text layer)
would accept whatever the product writes, so a product bug could never fail a rehearsal or integration
test.  Checked twice: statically (every import statement of every module below salt_jail/rehearsal,
relative ones resolved) and at run time (importing every rehearsal module loads no salt_jail.core module).
"""

import ast
import pathlib
import subprocess
import sys

import salt_jail.rehearsal

PACKAGE = pathlib.Path(salt_jail.rehearsal.__file__).parent
MODULES = sorted(PACKAGE.rglob("*.py"))


def _module_name(path):
    parts = ("salt_jail", "rehearsal", *path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(path, text=None):
    """Every module ``path`` imports (its own text, or ``text`` read as if it were at ``path``), as absolute
    names; ``from X import Y`` counts ``X`` and ``X.Y``."""
    tree = ast.parse(path.read_text(encoding="utf-8") if text is None else text, str(path))
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            names += [base] + [f"{base}.{alias.name}" for alias in node.names]
    return names


def test_the_check_resolves_the_forms_the_rehearsal_used():
    """What the stand-ins imported before they had readers of their own is seen, relative or not."""
    source = ("from ...core import jailconf\nfrom ...core.host import Host\nimport salt_jail.core.passwd\n"
              "from .. import sandbox\n")
    names = _imported(PACKAGE / "tools" / "jail.py", source)
    assert [n for n in names if n.startswith("salt_jail.core")] == [
        "salt_jail.core", "salt_jail.core.jailconf", "salt_jail.core.host", "salt_jail.core.host.Host",
        "salt_jail.core.passwd"]
    assert "salt_jail.rehearsal.sandbox" in names


def test_no_rehearsal_module_imports_the_products_core():
    assert MODULES and len(MODULES) > 10
    offenders = {str(p.relative_to(PACKAGE)): [n for n in _imported(p) if n == "salt_jail.core"
                                                or n.startswith("salt_jail.core.")] for p in MODULES}
    assert {p: names for p, names in offenders.items() if names} == {}


def test_importing_the_rehearsal_loads_nothing_of_the_core():
    modules = [_module_name(p) for p in MODULES if p.name != "__main__.py"]
    code = ("import importlib, sys\n"
            f"for name in {modules!r}:\n    importlib.import_module(name)\n"
            "print(sorted(m for m in sys.modules if m == 'salt_jail.core' or m.startswith('salt_jail.core.')))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
