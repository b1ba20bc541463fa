"""
Master-side checks of the ``jailprov`` pillar across the whole fleet.

:depends: the salt_jail package installed on the master.
"""

import salt.key

from salt_jail.core.features import fleet

__virtualname__ = "jailprov"


def __virtual__():
    return __virtualname__


def check(tgt="*"):
    """
    Render every accepted minion's pillar on the master and report, before anyone applies:

    - each minion's own validation errors (key paths as ``jailprov.validate`` gives them);
    - collisions across the fleet: the same prisoner address or hostname on two minions, and for VNET
      prisoners the same MAC address (an explicit ``network:mac`` or a derived one).

    (A jid, address or hostname reused on one host is a validation error of that minion.)

    - each minion whose pillar did not render (a Salt ``_errors`` entry): an error of that minion;

    Returns ``{"ok": bool, "retcode": 0|1, "minions": {...}, "collisions": [...]}``; ``salt-run`` exits with
    ``retcode`` (1 when anything above was found), so the check can gate a CI pipeline.

    CLI Example:

    .. code-block:: bash

        salt-run jailprov.check
        salt-run jailprov.check tgt='web*'
    """
    import fnmatch  # pylint: disable=import-outside-toplevel

    keys = salt.key.get_key(__opts__).list_keys()
    minions = [m for m in keys.get("minions", []) if fnmatch.fnmatch(m, tgt)]
    pillars = {m: __salt__["pillar.show_pillar"](m) for m in minions}
    report = fleet.check(pillars)
    report["retcode"] = 0 if report["ok"] else 1  # salt-run exits with a returned dict's "retcode"
    return report
