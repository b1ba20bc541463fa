"""Issue 12, finding 6: the validation holes — jail_root normalisation and system directories, full-string
matching (no trailing newline), length limits with the key path, and prisoner addresses the host or an
unmanaged jail already uses."""

import copy
import os

import pytest

from salt_jail import rehearsal
from salt_jail.core import model
from salt_jail.core.features import hostaddr, hostconf
from salt_jail.core.errors import ValidationError
from salt_jail.core.io.host import Host

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


# ------------------------------------------------------------------------------------------------------------
# Addresses the host already has


@pytest.fixture
def host_root(rehearsal_root):
    """The rehearsal host: em0 has 192.168.11.30/24 (rc.conf: ifconfig_em0="inet 192.168.11.30 ...")."""
    return rehearsal_root


def _host(root):
    return Host(root=root, bindir=os.path.join(root, ".rehearsal", "bin"))


def test_a_prisoner_given_the_hosts_own_address_is_an_error_naming_both(host_root):
    cfg = model.parse(_set(_pillar(), "name", "p1") | {"prisoners": {"p1": {
        "ip4": ["192.168.11.30"], "hostname": "p1.example.org"}}})
    errors = hostaddr.conflicts(_host(host_root), cfg)
    assert len(errors) == 1
    assert errors[0].startswith("jailprov:prisoners:p1:ip4[0]: 192.168.11.30 is already used by the host's own")
    assert "em0" in errors[0]
    # jail_conf refuses to write a block that would take the address over; nothing is written
    before = open(os.path.join(host_root, "etc/rc.conf")).read()
    with pytest.raises(ValidationError) as info:
        hostconf.jail_conf(_host(host_root), cfg, "p1")
    assert "192.168.11.30" in str(info.value.errors)
    assert not os.path.exists(os.path.join(host_root, "etc/jail.conf"))
    assert open(os.path.join(host_root, "etc/rc.conf")).read() == before


def test_an_address_only_in_rc_conf_counts(host_root):
    with open(os.path.join(host_root, "etc/rc.conf"), "a") as fh:
        fh.write('ifconfig_em0_alias0="inet 10.9.8.7 netmask 255.255.255.0"\n'      # the host's second subnet
                 'ifconfig_em0_alias1="inet 192.168.11.40 netmask 255.255.255.255"\n')  # the tutorial's, by hand
    cfg = model.parse(_pillar(prisoners={"p1": {"ip4": ["10.9.8.7"], "hostname": "p1.example.org"},
                                         "p2": {"ip4": ["192.168.11.40"], "hostname": "p2.example.org"}}))
    errors = hostaddr.conflicts(_host(host_root), cfg)
    assert len(errors) == 1 and errors[0].startswith("jailprov:prisoners:p1:ip4[0]: 10.9.8.7"), errors
    assert "ifconfig_em0_alias0 in /etc/rc.conf" in errors[0]


def test_an_address_of_an_unmanaged_jail_counts(host_root):
    with open(os.path.join(host_root, "etc/jail.conf"), "w") as fh:
        fh.write('admin {\n\tpath = "/usr/jails/admin";\n\tip4.addr = "em0|192.168.11.50/32";\n\tpersist;\n}\n')
    cfg = model.parse(_pillar(prisoners={"p1": {"ip4": ["192.168.11.50"], "hostname": "p1.example.org"}}))
    errors = hostaddr.conflicts(_host(host_root), cfg)
    assert len(errors) == 1 and "the jail admin defined in /etc/jail.conf" in errors[0], errors
    os.makedirs(os.path.join(host_root, "usr/jails/admin"))
    assert rehearsal.cli.main("jail", ["-f", "/etc/jail.conf", "-c", "admin"], host_root) == 0
    errors = hostaddr.conflicts(_host(host_root), cfg)
    assert len(errors) == 1 and "the running jail admin" in errors[0], errors


def test_the_seed_addresses_and_a_running_prisoner_are_no_conflict(host_root, seed_pillar):
    cfg = model.from_pillar(seed_pillar)
    host = _host(host_root)
    assert hostaddr.conflicts(host, cfg) == []
    # with rc_aliases the prisoners' own aliases are in rc.conf and on em0: still theirs, no conflict
    with open(os.path.join(host_root, "etc/rc.conf"), "a") as fh:
        fh.write('ifconfig_em0_alias0="inet 192.168.11.31 netmask 255.255.255.255"\n')
    assert rehearsal.cli.main("ifconfig", ["em0", "inet", "192.168.11.31", "netmask", "255.255.255.255",
                                           "alias"], host_root) == 0
    assert hostaddr.conflicts(host, cfg) == []
