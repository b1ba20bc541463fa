"""The prisoner steps of the seed procedure in order, as one call (``jailprov.provision``)."""

from . import lifecycle, release, steps
from .errors import JailprovError

#: (step id, function) in the tutorial's order; ``base`` and ``devfs`` come from their own modules.
ORDER = (
    steps.STEPS[:1]
    + (("base", release.install_base),)
    + steps.STEPS[1:6]
    + (("devfs", lifecycle.mount_devfs),)
    + steps.STEPS[6:]
)

#: Steps that take the release fetcher and progress callback.
_FETCHING = {"base"}


def provision(host, cfg, name, test=False, fetcher=None, progress=None):
    """Run every prisoner step for ``name`` in order; stop at the first failure.

    Returns ``{"result": bool, "steps": {step_id: {changed, comment, diff} or {"error": message}}}``.
    In test mode a step whose input a previous step would create first (e.g. the base system before the
    file edits) reports what it can; the first step that cannot be predicted ends the run.
    """
    out = {"result": True, "steps": {}}
    for sid, fn in ORDER:
        kwargs = {"fetcher": fetcher, "progress": progress} if sid in _FETCHING else {}
        try:
            res = fn(host, cfg, name, test=test, **kwargs)
        except JailprovError as exc:
            out["result"] = False
            out["steps"][sid] = {"error": str(exc)}
            break
        out["steps"][sid] = res.as_dict()
    return out
