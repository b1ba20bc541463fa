"""The prisoner steps of the seed procedure in order, as one call (``jailprov.provision``)."""

from . import lifecycle, steps, thin, zfsprov
from .. import release
from ..errors import JailprovError, MissingError
from ..result import StepResult

#: (step id, function) in the tutorial's order; ``base`` and ``devfs`` come from their own modules, ``dataset``
#: (first) and ``snapshots`` (last) from zfsprov: no change for a prisoner stored in a directory.
ORDER = (
    (("dataset", zfsprov.provision_dataset),)
    + steps.STEPS[:1]
    + (("base", release.install_base), ("fstab", thin.fstab))
    + steps.STEPS[1:6]
    + (("devfs", lifecycle.mount_devfs),)
    + steps.STEPS[6:]
    + (("snapshots", zfsprov.declared_snapshots),)
)

#: Steps that take the release fetcher and progress callback.
_FETCHING = {"base", "dataset"}


def provision(host, cfg, name, test=False, fetcher=None, progress=None):
    """Run every prisoner step for ``name`` in order; stop at the first failure.

    Returns ``{"result": bool, "steps": {step_id: {changed, comment, diff} or {"error": message}}}``.
    In test mode a step whose input an earlier step would create first (the root before the base, the base
    before the file edits) is reported as a predicted change, as the formula's states report it.
    """
    out = {"result": True, "steps": {}}
    for sid, fn in ORDER:
        if sid == "fstab" and not thin.applies(cfg, name):
            continue                        # thin prisoners only: their read-only release mounts
        kwargs = {"fetcher": fetcher, "progress": progress} if sid in _FETCHING else {}
        try:
            res = fn(host, cfg, name, test=test, **kwargs)
        except MissingError as exc:
            if not test:
                out["result"] = False
                out["steps"][sid] = {"error": str(exc)}
                break
            # a fresh host: an earlier step of this run would create what this one needs
            res = StepResult(True, f"would run once the earlier steps have created what it needs ({exc})")
        except JailprovError as exc:
            out["result"] = False
            out["steps"][sid] = {"error": str(exc)}
            break
        out["steps"][sid] = res.as_dict()
    return out
