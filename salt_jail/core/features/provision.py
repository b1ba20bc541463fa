"""Every step of one prisoner in order, as one call (``jailprov.provision``); the order is the registry's."""

from .. import registry
from ..errors import JailprovError, MissingError
from ..result import StepResult


def provision(host, cfg, name, test=False, fetcher=None, progress=None):
    """Run every prisoner step for ``name`` in the order of :data:`salt_jail.core.registry.PRISONER_STEPS` (only
    the steps that apply to it); stop at the first failure.

    Returns ``{"result": bool, "steps": {step_id: {changed, comment, diff} or {"error": message}}}``, and
    ``{"result": False, "error": message, "steps": {}}`` when ``name`` is not a present prisoner of the pillar.
    In test mode a step whose input an earlier step would create first (the root before the base, the base
    before the file edits) is reported as a predicted change, as the formula's states report it.
    """
    out = {"result": True, "steps": {}}
    try:
        steps = registry.prisoner_steps(cfg, name)
    except JailprovError as exc:
        return {"result": False, "error": str(exc), "steps": {}}
    for step in steps:
        kwargs = {"fetcher": fetcher, "progress": progress} if step.fetches else {}
        try:
            res = (step.provision_fn or step.fn)(host, cfg, name, test=test, **kwargs)
        except MissingError as exc:
            if not test:
                out["result"] = False
                out["steps"][step.id] = {"error": str(exc)}
                break
            # a fresh host: an earlier step of this run would create what this one needs
            res = StepResult(True, f"would run once the earlier steps have created what it needs ({exc})")
        except JailprovError as exc:
            out["result"] = False
            out["steps"][step.id] = {"error": str(exc)}
            break
        out["steps"][step.id] = res.as_dict()
    return out
