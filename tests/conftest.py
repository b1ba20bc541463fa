"""Fixtures shared by every tier."""

import copy
import logging

import pytest
import yaml

from salt_jail import rehearsal
from tests.support.paths import REPO

# Salt's log handlers flush at interpreter exit, after pytest closed its capture streams; without this
# every daemon test run ends with pages of "--- Logging error ---" after pytest's summary line.
logging.raiseExceptions = False


@pytest.fixture(scope="session")
def salt_factories_config(tmp_path_factory):
    """pytest-salt-factories keeps every daemon's root_dir inside pytest's tmp dir."""
    return {"root_dir": str(tmp_path_factory.mktemp("salt-factories")), "start_timeout": 120}


@pytest.fixture(scope="session")
def repo_dir():
    return REPO


@pytest.fixture(scope="session")
def seed_pillar_data():
    """The whole seed pillar from pillar.example (``{"jailprov": {...}}``)."""
    with open(REPO / "pillar.example", encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@pytest.fixture
def seed_pillar(seed_pillar_data):
    return copy.deepcopy(seed_pillar_data)


@pytest.fixture(scope="session")
def small_release_url(tmp_path_factory):
    """A local HTTP mirror (127.0.0.1) of the small synthetic 14.2-RELEASE amd64 base, for the session."""
    from salt_jail.rehearsal import mirror

    directory = tmp_path_factory.mktemp("small-release-mirror")
    # a private generator cache: the default one is hard-linked into every mirror made on this machine, so a
    # test elsewhere that rewrites a mirror's MANIFEST in place would change this one under us
    mirror.make_release(str(directory), release="14.2-RELEASE", arch="amd64", dists=("base",), size="small",
                        cache_dir=str(tmp_path_factory.mktemp("small-release-cache")))
    url, stop = mirror.serve(str(directory))
    yield url
    stop()

@pytest.fixture
def rehearsal_root(tmp_path):
    """A fresh rehearsal host (its scratch root, as a str); its immutable files are released afterwards, even
    when the test failed, so that pytest can remove tmp_path."""
    path = str(tmp_path / "host")
    rehearsal.setup(path)
    yield path
    rehearsal.clear_file_flags(path)
    rehearsal.clear_network(path)
