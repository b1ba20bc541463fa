"""Formula naming by saltstack-formulas conventions (issue 14, deliverable 6): init.sls builds, absent.sls
destroys what the pillar marks absent (included by init, before anything is built), clean.sls is the inverse
of the formula and is never included by init.sls."""

import pathlib
import re

FORMULA = pathlib.Path(__file__).resolve().parents[3] / "states" / "jail"


def _includes(sls):
    text = (FORMULA / sls).read_text()
    block = re.search(r"^include:\n((?:  - .*\n)+)", text, re.MULTILINE)
    return [line.strip()[2:] for line in block.group(1).splitlines()] if block else []


def test_init_destroys_the_absent_before_building_and_never_includes_clean():
    order = _includes("init.sls")
    assert "jail.clean" not in order
    assert order.index("jail.absent") < min(order.index(s) for s in ("jail.host", "jail.release", "jail.prisoners"))


def test_no_sls_of_the_formula_includes_clean():
    for sls in FORMULA.glob("*.sls"):
        assert "jail.clean" not in _includes(sls.name), sls.name


def test_absent_sls_keeps_the_seed_state_ids():
    assert "('jailprov-' ~ name ~ '-absent')" in (FORMULA / "absent.sls").read_text()
