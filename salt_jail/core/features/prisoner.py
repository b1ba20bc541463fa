"""What every prisoner step starts from: the present prisoner of the pillar, its root, and the result of a file edit.

Every prisoner step first checks that ``name`` is a present prisoner of the pillar (:func:`present`:
:class:`ValidationError` otherwise) and, except step ``root`` which creates it, that the prisoner root exists as
a real directory (:func:`open_root`).  All file access below the prisoner root goes through
:mod:`salt_jail.core.io.textedit`, which resolves paths as the prisoner sees them and never follows a link out
of it.  Prisoner paths passed to commands are host paths (``prisoner.path``).  The step contract itself is
documented once, in :mod:`salt_jail.core.registry`.
"""

import os
import stat

from ..errors import JailprovError, MissingError, ValidationError
from ..io import textedit
from ..io.textedit import Root
from ..result import StepResult

#: Where a missing base file comes from.
BASE_HINT = "it is part of the FreeBSD base system, which step 'base' installs"


def present(cfg, name):
    """The present prisoner ``name``, or :class:`ValidationError`."""
    prisoner = cfg.prisoners.get(name)
    if prisoner is None:
        known = ", ".join(cfg.prisoners) or "none"
        raise ValidationError(f"jailprov:prisoners: no prisoner named {name!r} in the pillar (known: {known})")
    if prisoner.absent:
        raise ValidationError(
            f"jailprov:prisoners:{name}: the prisoner is marked absent; it is to be destroyed, not provisioned"
        )
    return prisoner


def open_root(host, prisoner):
    """The prisoner root as a :class:`Root`; it must exist and be a real directory (step 'root')."""
    try:
        st = os.lstat(host.path(prisoner.path))
    except FileNotFoundError:
        raise MissingError(
            f"prisoner root {prisoner.path} does not exist; step 'root' (jailprov.prisoner_root {prisoner.name}) creates it"
        ) from None
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise JailprovError(
            f"prisoner root {prisoner.path} is not a directory (a symbolic link or a file); "
            f"step 'root' (jailprov.prisoner_root {prisoner.name}) refuses to use it — remove it"
        )
    return Root(host.path(prisoner.path), prisoner.path)


def file_result(edit, test):
    """The :class:`StepResult` of one :class:`~salt_jail.core.io.textedit.EditResult`."""
    if not edit.changed:
        comment = f"{edit.shown} is already correct"
    else:
        comment = f"{edit.shown} {'would be' if test else 'was'} changed"
    if edit.note:
        comment += f" ({edit.note})"
    return StepResult(edit.changed, comment, edit.diff)


def parse_base_file(root, rel, parser):
    """``parser(text, shown_path)`` of the base file ``rel`` below ``root`` (a missing one names step 'base')."""
    return parser(textedit.read_text(root, rel, hint=BASE_HINT).text, root.show(rel))
