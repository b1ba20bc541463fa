"""Build hook only: metadata and options are in setup.cfg.

The formula stays where the design card puts it (``states/jail/`` at the top of the repository, next to
``pillar.example``); a wheel built from a checkout or from the sdist carries copies of both inside the
package, at ``salt_jail/formula/jail/`` and ``salt_jail/examples/pillar.example`` — ``salt-jail formula-path``
prints the first for ``file_roots``.  An editable install (``pip install -e``) copies nothing: there
:mod:`salt_jail.resources` finds the checkout's own ``states/`` and ``pillar.example``.
"""

import pathlib
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = pathlib.Path(__file__).resolve().parent
# source (relative to the repository) -> destination (relative to the built package tree)
PACKAGED_DATA = {
    "states/jail": "salt_jail/formula/jail",
    "pillar.example": "salt_jail/examples/pillar.example",
}


class BuildPyWithFormula(build_py):
    """``build_py`` that also copies the formula and the example pillar into the built package."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for source, dest in PACKAGED_DATA.items():
            src = HERE / source
            dst = pathlib.Path(self.build_lib) / dest
            if not src.exists():
                raise FileNotFoundError(f"{src}: the package data the wheel must carry is missing")
            if dst.is_dir():
                shutil.rmtree(dst)  # no stale file from an earlier build survives
            dst.parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*"))
            else:
                shutil.copy2(src, dst)


setup(cmdclass={"build_py": BuildPyWithFormula})
