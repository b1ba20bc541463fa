"""Steps ``wall_cmos_clock`` and ``localtime``: the prisoner's clock settings (seed step 9)."""

from . import prisoner as prisoner_, thin
from ..errors import JailprovError
from ..io import textedit
from ..result import StepResult


def wall_cmos_clock(host, cfg, name, test=False):
    """Step 9: ``etc/wall_cmos_clock`` exists when the pillar says the CMOS clock keeps local time.

    adjkerntz(8) reads only the file's presence.  ``wall_cmos_clock: false`` in the pillar removes it,
    so the pillar fully decides.
    """
    prisoner = prisoner_.present(cfg, name)
    root = prisoner_.open_root(host, prisoner)
    rel = "etc/wall_cmos_clock"
    if prisoner.wall_cmos_clock:
        edit = textedit.edit(
            root, rel,
            lambda old: ("", "created: the CMOS clock keeps local time") if old is None else (old, ""),
            test=test, create=True,
        )
    else:
        edit = textedit.ensure_absent(root, rel, test=test)
    return prisoner_.file_result(edit, test)


def localtime(host, cfg, name, test=False):
    """Step 9: ``etc/localtime`` is a symlink to ``/usr/share/zoneinfo/<timezone>``, and that zone file
    exists inside the prisoner (checked as the prisoner resolves it)."""
    prisoner = prisoner_.present(cfg, name)
    root = prisoner_.open_root(host, prisoner)
    if prisoner.timezone is None:
        return StepResult(False, f"no timezone for prisoner {name}; {root.show('etc/localtime')} left alone")
    zone = f"usr/share/zoneinfo/{prisoner.timezone}"
    if not textedit.is_regular_file(thin.base_view(host, cfg, prisoner, root), zone):
        raise JailprovError(
            f"time zone {prisoner.timezone!r} is not installed in prisoner {name}: {root.show(zone)} does not "
            "exist inside the prisoner (check the name, e.g. Asia/Tokyo, and that base is installed)"
        )
    return prisoner_.file_result(textedit.ensure_symlink(root, "etc/localtime", "/" + zone, test=test), test)
