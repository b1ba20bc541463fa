"""Fleet-wide checks over every minion's ``jailprov`` pillar, before anyone applies it.

Within one minion the model already rejects a jid, address or hostname used twice.  Across minions,
two hosts giving prisoners the same address or the same hostname collide on the network; this module
reports those, plus each minion's own validation errors.
"""

from . import model
from .errors import ValidationError


def check(pillars):
    """``pillars``: ``{minion_id: whole pillar dict}``.

    Returns ``{"ok": bool, "minions": {id: {"valid", "errors", "prisoners"}}, "collisions": [...]}``;
    minions without a ``jailprov`` key are listed with ``prisoners: 0`` and no errors.
    """
    report = {"ok": True, "minions": {}, "collisions": []}
    owners = {}  # (kind, value) -> [(minion, prisoner)]
    for minion in sorted(pillars):
        pillar = pillars[minion] or {}
        entry = {"valid": True, "errors": [], "prisoners": 0}
        report["minions"][minion] = entry
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
