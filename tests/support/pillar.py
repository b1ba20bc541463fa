"""Pillar helpers shared by the model, tools and features tests."""

import copy

import pytest

from salt_jail.core import model
from salt_jail.core.errors import ValidationError


def errors_for(pillar):
    """The error messages ``model.from_pillar`` raises for ``pillar`` (fails the test when it accepts it)."""
    with pytest.raises(ValidationError) as info:
        model.from_pillar(pillar)
    return info.value.errors


#: A VNET prisoner's ``network`` (on bridge0, 10.19.0.0/24).
VNET_NETWORK = {"mode": "vnet", "bridge": "bridge0", "ip4": "10.19.0.11/24", "gateway": "10.19.0.1"}


def with_prisoners(seed, **prisoners):
    """A copy of the pillar ``seed`` with ``prisoners`` ({name: mapping}) added or replaced."""
    data = copy.deepcopy(seed)
    data["jailprov"]["prisoners"].update(prisoners)
    return data


def thin_pillar(url="http://127.0.0.1:9/releases", **prisoners):
    """A small pillar (``{"jailprov": ...}``) of ``prisoners``, by default one thin prisoner p1."""
    return {"jailprov": {"jail_root": "/home/jail", "release": "14.2-RELEASE", "mirror": url, "interface": "em0",
                         "prisoners": prisoners or {"p1": thin_prisoner(1)}}}


def thin_prisoner(i, **extra):
    """Thin prisoner number ``i`` (jid i, 192.168.11.30+i)."""
    return {"jid": i, "ip4": f"192.168.11.{30 + i}", "hostname": f"p{i}.example.org", "type": "thin",
            "params": {"persist": True}, **extra}
