"""Issue 12, finding 6: prisoner addresses the host or an unmanaged jail already uses (core/features/hostaddr.py),
on the rehearsal host."""

import os

import pytest

from salt_jail import rehearsal
from salt_jail.core import model
from salt_jail.core.features import hostaddr, hostconf
from salt_jail.core.errors import ValidationError
from salt_jail.core.io.host import Host


def _pillar(prisoners):
    return {"jail_root": "/home/jail", "release": "14.2-RELEASE", "interface": "em0", "prisoners": prisoners}


@pytest.fixture
def host_root(rehearsal_root):
    """The rehearsal host: em0 has 192.168.11.30/24 (rc.conf: ifconfig_em0="inet 192.168.11.30 ...")."""
    return rehearsal_root


def _host(root):
    return Host(root=root, bindir=os.path.join(root, ".rehearsal", "bin"))


def test_a_prisoner_given_the_hosts_own_address_is_an_error_naming_both(host_root):
    cfg = model.parse(_pillar(prisoners={"p1": {"ip4": ["192.168.11.30"], "hostname": "p1.example.org"}}))
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
