"""Where the files that ship with salt_jail are, wherever it was installed from.

A wheel (from the package index, a built wheel, the sdist) carries the formula in the package:
``<site-packages>/salt_jail/formula/jail/*.sls`` and ``salt_jail/examples/pillar.example`` (setup.py copies
them at build time).  A checkout or an editable install (``pip install -e``) has them at the top of the
repository instead: ``states/jail/`` and ``pillar.example``.  These functions answer for both.
"""

import pathlib

PACKAGE_DIR = pathlib.Path(__file__).resolve().parent
_CHECKOUT = PACKAGE_DIR.parent


class NotShippedError(FileNotFoundError):
    """A file salt_jail should ship is in neither the installed package nor a checkout."""


def formula_dir():
    """The directory to put in ``file_roots``: it holds ``jail/init.sls`` (``state.apply jail``)."""
    for candidate in (PACKAGE_DIR / "formula", _CHECKOUT / "states"):
        if (candidate / "jail" / "init.sls").is_file():
            return candidate
    raise NotShippedError(
        f"the jail formula is neither in the package ({PACKAGE_DIR / 'formula' / 'jail'}) nor in a checkout "
        f"({_CHECKOUT / 'states' / 'jail'}): reinstall salt-jail from a wheel or an sdist")


def pillar_example():
    """The example pillar (the FreeBSD tutorial's two prisoners, every key commented)."""
    for candidate in (PACKAGE_DIR / "examples" / "pillar.example", _CHECKOUT / "pillar.example"):
        if candidate.is_file():
            return candidate
    raise NotShippedError(
        f"pillar.example is neither in the package ({PACKAGE_DIR / 'examples'}) nor in a checkout "
        f"({_CHECKOUT}): reinstall salt-jail from a wheel or an sdist")
