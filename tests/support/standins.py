"""The rehearsal's stand-ins run the way the product runs them, for the rehearsal's own tests."""

import os
import subprocess


def run(root, tool, *args, input=None, cwd="/"):  # pylint: disable=redefined-builtin
    """Run stand-in ``tool`` of the rehearsal host at ``root``: empty environment, ``/`` as the cwd."""
    return subprocess.run([os.path.join(root, ".rehearsal", "bin", tool), *args], input=input, cwd=cwd,
                          capture_output=True, text=True, env={}, check=False)
