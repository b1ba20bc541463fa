"""A real salt-master and salt-minion (pytest-salt-factories), the minion in rehearsal mode.

The factories' root_dir, the master's file/pillar roots and the rehearsal scratch root all live in
pytest's tmp dir.
"""

import contextlib
import shutil

import pytest
import yaml

from salt_jail import rehearsal

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def pillar_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("pillar")


def write_pillar(pillar_dir, tops, pillars):
    """tops: {minion_glob: [sls, ...]}; pillars: {sls: data}."""
    (pillar_dir / "top.sls").write_text(yaml.safe_dump({"base": tops}), encoding="utf-8")
    for name, data in pillars.items():
        (pillar_dir / f"{name}.sls").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


@pytest.fixture(scope="session")
def master_files(tmp_path_factory):
    """A second file_roots dir on the master: ``salt://releases/<arch-path>/<release>/`` for air-gapped
    fleets (a synthetic 14.1-RELEASE, so no minion has it cached from the HTTP mirror tests)."""
    from salt_jail.rehearsal import mirror

    root = tmp_path_factory.mktemp("master-files")
    mirror.make_release(str(root / "releases"), release="14.1-RELEASE", arch="amd64", dists=("base",))
    return root


@pytest.fixture(scope="session")
def salt_master(salt_factories, repo_dir, pillar_dir, master_files):
    config = {
        "file_roots": {"base": [str(repo_dir / "states"), str(master_files)]},
        "pillar_roots": {"base": [str(pillar_dir)]},
        "open_mode": True,
    }
    factory = salt_factories.salt_master_daemon("jailprov-master", defaults=config)
    with factory.started():
        yield factory


@pytest.fixture(scope="session")
def scratch_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("scratch")
    yield root
    from salt_jail import rehearsal

    rehearsal.unmount_all(str(root))        # thin prisoners' nullfs mounts are real (read-only binds)
    rehearsal.clear_network(str(root))    # VNET prisoners' namespaces, bridges and veth pairs
    # Immutable (schg) files would make the tmp dir impossible to clean.
    if shutil.which("chattr"):
        import subprocess

        subprocess.run(["chattr", "-R", "-i", str(root)], capture_output=True, check=False)


@pytest.fixture(scope="session")
def salt_minion(salt_master, scratch_root):
    config = {"jailprov": {"rehearsal": True, "root": str(scratch_root)}}
    factory = salt_master.salt_minion_daemon("jailer1", defaults=config)
    with factory.started():
        yield factory


@pytest.fixture(scope="session")
def salt_cli(salt_master):
    return salt_master.salt_cli(timeout=300)


@contextlib.contextmanager
def served_release(tmp_path_factory, name):
    """A small synthetic 14.2-RELEASE served on 127.0.0.1 from a new tmp dir; yields its base URL."""
    from salt_jail.rehearsal import mirror

    directory = tmp_path_factory.mktemp(name)
    mirror.make_release(str(directory), release="14.2-RELEASE", arch="amd64", dists=("base",), size="small")
    url, stop = mirror.serve(str(directory))
    try:
        yield url
    finally:
        stop()


@pytest.fixture(scope="module")
def release_mirror(tmp_path_factory):
    """A served small release for the tests of one module (:func:`served_release`); yields its base URL."""
    with served_release(tmp_path_factory, "mirror") as url:
        yield url


@contextlib.contextmanager
def rehearsal_minion(salt_master, tmp_path_factory, minion_id):
    """A salt-minion daemon of ``salt_master`` in rehearsal mode on a scratch root of its own; yields
    ``(factory, root)``.  Afterwards its key is deleted from the master (a stopped minion whose key is still
    accepted makes every later ``salt '*' ...`` wait for it until the timeout) and the root's file flags are
    cleared."""
    root = tmp_path_factory.mktemp(f"scratch-{minion_id}")
    try:
        factory = salt_master.salt_minion_daemon(
            minion_id, defaults={"jailprov": {"rehearsal": True, "root": str(root)}})
        with factory.started():
            yield factory, root
    finally:
        salt_master.salt_key_cli().run("-d", minion_id, "-y")
        rehearsal.clear_file_flags(str(root))
