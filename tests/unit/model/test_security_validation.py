"""Issue 12, finding 6: the validation holes — jail_root normalisation and system directories, full-string
matching (no trailing newline), length limits with the key path.  (Prisoner addresses the host or an unmanaged
jail already uses: tests/unit/features/test_hostaddr.py.)"""

import copy

import pytest

from salt_jail.core import model
from salt_jail.core.errors import ValidationError

HASH = "$6$jailprov$" + "A" * 86


def _pillar(**top):
    data = {
        "jail_root": "/home/jail", "release": "14.2-RELEASE", "interface": "em0",
        "prisoners": {"p1": {"ip4": ["192.168.11.31"], "hostname": "p1.example.org", "root_password": HASH,
                             "timezone": "Asia/Tokyo"}},
    }
    data.update(top)
    return data


def _errors(data):
    with pytest.raises(ValidationError) as info:
        model.parse(data)
    return info.value.errors


@pytest.mark.parametrize("root", ["//", "///", "/", "/./", "//tmp", "/tmp/", "/etc", "/usr//", "/var", "/bin",
                                  "/sbin", "/lib", "/libexec", "/boot", "/dev", "/root", "/usr/local/"])
def test_jail_root_system_directories_are_refused(root):
    errors = _errors(_pillar(jail_root=root))
    assert any(e.startswith("jailprov:jail_root: must not be") for e in errors), errors


@pytest.mark.parametrize("root, normal", [("//home//jail/", "/home/jail"), ("/home/./jail", "/home/jail"),
                                          ("//usr/local/jails", "/usr/local/jails")])
def test_jail_root_is_normalised(root, normal):
    cfg = model.parse(_pillar(jail_root=root))
    assert cfg.jail_root == normal
    assert cfg.prisoners["p1"].path == normal + "/p1"


def _set(data, where, value):
    """Put ``value`` at ``where`` in the pillar (a name is set as a prisoner key)."""
    data = copy.deepcopy(data)
    p1 = data["prisoners"]["p1"]
    if where == "name":
        data["prisoners"] = {value: p1}
    elif where == "absent":
        data["absent"] = [value]
    elif where == "params_key":
        p1["params"] = {value: True}
    elif where in ("hostname", "timezone", "root_password"):
        p1[where] = value
    elif where == "dists":
        data["dists"] = ["base", value]
    elif where == "sha256":
        data["sha256"] = {"base": value}
    else:
        data[where] = value
    return data


@pytest.mark.parametrize("where, good, path", [
    ("name", "p1", "jailprov:prisoners:p1\n"),
    ("absent", "old", "jailprov:absent[0]"),
    ("hostname", "p1.example.org", "jailprov:prisoners:p1:hostname"),
    ("interface", "em0", "jailprov:interface"),
    ("release", "14.2-RELEASE", "jailprov:release"),
    ("timezone", "Asia/Tokyo", "jailprov:prisoners:p1:timezone"),
    ("root_password", HASH, "jailprov:prisoners:p1:root_password"),
    ("params_key", "allow.raw_sockets", "jailprov:prisoners:p1:params:allow.raw_sockets\n"),
    ("dists", "lib32", "jailprov:dists[1]"),
    ("sha256", "a" * 64, "jailprov:sha256:base"),
])
def test_a_trailing_newline_is_refused_everywhere(where, good, path):
    """``$`` matches before a final newline: every value is matched as a whole string instead."""
    model.parse(_set(_pillar(), where, good))  # the value itself is fine
    errors = _errors(_set(_pillar(), where, good + "\n"))
    assert any(e.startswith(path) for e in errors), errors


@pytest.mark.parametrize("where, value, path, limit", [
    ("name", "a" * 300, "jailprov:prisoners:" + "a" * 300, "255"),
    ("absent", "b" * 256, "jailprov:absent[0]", "255"),
    ("interface", "em" + "0" * 20, "jailprov:interface", "15"),
    ("hostname", ("a" * 60 + ".") * 5 + "org", "jailprov:prisoners:p1:hostname", "253"),
    ("timezone", "Asia/" + "T" * 200, "jailprov:prisoners:p1:timezone", "96"),
    ("root_password", "$6$salt$" + "x" * 200, "jailprov:prisoners:p1:root_password", "127"),
    ("params_key", "allow." + "x" * 200, "jailprov:prisoners:p1:params:", "128"),
    ("jail_root", "/" + "j" * 700, "jailprov:jail_root", "PATH_MAX"),
])
def test_length_limits_name_the_key_path(where, value, path, limit):
    errors = _errors(_set(_pillar(), where, value))
    mine = [e for e in errors if e.startswith(path)]
    assert mine and limit in mine[0], errors
    if where == "root_password":
        assert "x" * 20 not in "".join(errors)  # the secret is never echoed
