"""Fleet-wide checks over every minion's ``jailprov`` pillar, before anyone applies it.

Within one minion the model already rejects a jid, address or hostname used twice.  Across minions,
two hosts giving prisoners the same address or the same hostname collide on the network; this module
reports those, plus each minion's own validation errors.  VNET prisoners add their own addresses and the
MACs of both halves of their epairs (:func:`salt_jail.core.features.vnet.identities`), which a bridge with an uplink
puts on the same LAN as every other host's.
"""

from . import vnet
from .. import model
from ..errors import ValidationError


def render_errors(pillar):
    """The errors Salt left in a pillar it could not render (``_errors``: a missing SLS, a YAML or Jinja
    error...), each prefixed so that it reads as what it is; ``[]`` for a pillar that rendered.  Such a pillar
    may lack the ``jailprov`` key altogether: what it says about prisoners is not to be trusted."""
    errors = pillar.get("_errors") if isinstance(pillar, dict) else None
    if not errors:
        return []
    if isinstance(errors, str):
        errors = [errors]
    return [f"pillar did not render: {err}" for err in errors]


def check(pillars):
    """``pillars``: ``{minion_id: whole pillar dict}``.

    Returns ``{"ok": bool, "minions": {id: {"valid", "errors", "prisoners"}}, "collisions": [...]}``;
    minions without a ``jailprov`` key are listed with ``prisoners: 0`` and no errors.  A minion whose pillar
    failed to render (Salt's ``_errors``) is invalid, with ``prisoners: None`` (unknown), never "0, ok".
    """
    report = {"ok": True, "minions": {}, "collisions": []}
    owners = {}  # (kind, value) -> [(minion, prisoner)]
    for minion in sorted(pillars):
        pillar = pillars[minion] or {}
        entry = {"valid": True, "errors": [], "prisoners": 0}
        report["minions"][minion] = entry
        broken = render_errors(pillar)
        if broken:
            entry.update(valid=False, errors=broken, prisoners=None)
            report["ok"] = False
            continue
        if model.PILLAR_KEY not in pillar:
            continue
        try:
            cfg = model.from_pillar(pillar)
        except ValidationError as exc:
            entry.update(valid=False, errors=exc.errors)
            report["ok"] = False
            continue
        entry["prisoners"] = len(cfg.present)
        for p in cfg.present:
            for addr in p.ip4 + p.ip6:
                owners.setdefault(("address", addr), []).append((minion, p.name))
            # VNET prisoners: their own addresses and their epairs' MACs meet on the LAN behind the bridges
            # (interface names are per host: the same name on two hosts is no collision)
            for kind, value, _sub in vnet.identities(p):
                if kind != "interface name":
                    owners.setdefault((kind, value), []).append((minion, p.name))
            owners.setdefault(("hostname", p.hostname.lower()), []).append((minion, p.name))
    for (kind, value), users in sorted(owners.items()):
        minions = {m for m, _ in users}
        if len(minions) > 1:
            report["ok"] = False
            report["collisions"].append({
                "kind": kind,
                "value": value,
                "used_by": [f"{m}:jailprov:prisoners:{p}" for m, p in users],
                "message": f"{kind} {value!r} is used on {len(minions)} minions: "
                           + ", ".join(f"{p} on {m}" for m, p in users),
            })
    return report
