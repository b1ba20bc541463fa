"""Where the tests find the repository and the project's shared reference files."""

import os
import pathlib

REPO = pathlib.Path(__file__).resolve().parents[2]


def shared_dir():
    """The project's shared reference dir (FreeBSD files, corpus), or None when absent."""
    env = os.environ.get("SALT_JAIL_SHARED")
    path = pathlib.Path(env) if env else REPO.parent / "shared"
    return path if path.is_dir() else None
