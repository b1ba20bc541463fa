"""Thin prisoners in the pillar model: type (thick by default, thin from defaults), releases_dir, and the keys a
thin prisoner refuses, each named by its key path.  (What the thin feature builds: tests/unit/features/test_thin.py.)"""

import pytest

from salt_jail.core import model
from salt_jail.core.errors import ValidationError
from tests.support.pillar import thin_pillar as pillar, thin_prisoner


def test_type_defaults_to_thick_and_releases_dir_to_a_name_no_prisoner_can_take():
    cfg = model.from_pillar(pillar(p1={"hostname": "p1.example.org"}, p2=thin_prisoner(2)))
    assert cfg.prisoners["p1"].type == "thick" and cfg.prisoners["p2"].type == "thin"
    assert cfg.releases_dir == "/home/jail/.releases"
    with pytest.raises(ValidationError) as err:
        model.from_pillar(pillar(**{".releases": {"hostname": "x.example.org"}}))
    assert "jailprov:prisoners:.releases" in str(err.value)


def test_defaults_can_make_every_prisoner_thin():
    data = pillar(p1={"hostname": "p1.example.org"}, p2={"hostname": "p2.example.org", "type": "thick"})
    data["jailprov"]["defaults"] = {"type": "thin"}
    cfg = model.from_pillar(data)
    assert (cfg.prisoners["p1"].type, cfg.prisoners["p2"].type) == ("thin", "thick")


@pytest.mark.parametrize("change, words", [
    ({"prisoners": {"p1": {"hostname": "p1.example.org", "type": "slim"}}},
     ["jailprov:prisoners:p1:type", "'slim'", "thick", "thin"]),
    ({"prisoners": {"p1": thin_prisoner(1, params={"mount.fstab": "/etc/fstab.mine"})}},
     ["jailprov:prisoners:p1:params:mount.fstab", "/etc/fstab.<name>"]),
    ({"releases_dir": "/home/jail/p1"}, ["jailprov:releases_dir", "overlaps prisoner 'p1'"]),
    ({"releases_dir": "/home/jail"}, ["jailprov:releases_dir", "of its own"]),
    ({"releases_dir": "releases"}, ["jailprov:releases_dir", "not an absolute path"]),
])
def test_bad_thin_keys_name_the_key(change, words):
    data = pillar()
    data["jailprov"].update(change)
    with pytest.raises(ValidationError) as err:
        model.from_pillar(data)
    for word in words:
        assert word in str(err.value)
