"""The README's step table is the step registry's (salt_jail.core.registry.readme_table), like docs kept in sync."""

import pathlib
import re

from salt_jail.core import registry

README = pathlib.Path(__file__).resolve().parents[3] / "README.md"
BLOCK = re.compile(r"<!-- BEGIN steps:[^\n]*-->\n(.*?)<!-- END steps -->", re.S)


def readme_steps():
    found = BLOCK.findall(README.read_text(encoding="utf-8"))
    assert len(found) == 1, "README.md must hold one <!-- BEGIN steps: ... --> ... <!-- END steps --> block"
    return found[0]


def test_readme_step_table_is_generated_from_the_registry():
    assert readme_steps() == registry.readme_table(), (
        "README.md's step table differs from the registry: regenerate it with\n  python -c 'from salt_jail.core "
        "import registry; print(registry.readme_table(), end=\"\")' and paste it between the BEGIN/END steps lines")


def test_every_step_and_every_older_name_is_in_the_table():
    table = readme_steps()
    for step in registry.PRISONER_STEPS:
        assert f"| `{step.id}` |" in table and f"`jailprov.{step.id}`" in table
    for _, old, _ in registry.ALIASES:
        assert f"`jailprov.{old}`" in table
    for step in registry.HOST_STEPS:
        assert f"`{step.sls_id}`" in table
