"""Fixtures of the unit tests."""

import pytest

from salt_jail import rehearsal


@pytest.fixture
def rehearsal_root(tmp_path):
    """A fresh rehearsal host (its scratch root, as a str); its immutable files are released afterwards, even
    when the test failed, so that pytest can remove tmp_path."""
    path = str(tmp_path / "host")
    rehearsal.setup(path)
    yield path
    rehearsal.clear_file_flags(path)
    rehearsal.clear_network(path)
