"""Salt's loader, in-process (pytest-salt-factories ``Loaders``), with the minion in rehearsal mode."""

import subprocess

import pytest
import yaml
from saltfactories.utils.functional import Loaders


@pytest.fixture
def scratch(tmp_path):
    root = tmp_path / "scratch"
    root.mkdir()
    yield root
    from salt_jail import rehearsal

    rehearsal.unmount_all(str(root))        # thin prisoners' nullfs mounts are real read-only binds
    subprocess.run(["chattr", "-R", "-i", "-a", str(root)], capture_output=True, check=False)


@pytest.fixture
def make_loaders(salt_factories, scratch, tmp_path, repo_dir):
    """Loaders for a rehearsal minion whose pillar is ``pillar_data``; ``shebang`` (e.g. ``#!yaml``) picks the
    pillar file's renderers (default Jinja then YAML)."""
    made = []

    def make(pillar_data, minion_id="functional", shebang=None):
        pillar_dir = tmp_path / f"pillar-{len(made)}"
        pillar_dir.mkdir()
        (pillar_dir / "top.sls").write_text("base:\n  '*':\n    - data\n")
        (pillar_dir / "data.sls").write_text((shebang + "\n" if shebang else "")
                                             + yaml.safe_dump(pillar_data, sort_keys=False))
        factory = salt_factories.salt_minion_daemon(
            f"{minion_id}-{len(made)}",
            defaults={
                "file_client": "local",
                "file_roots": {"base": [str(repo_dir / "states")]},
                "pillar_roots": {"base": [str(pillar_dir)]},
                "jailprov": {"rehearsal": True, "root": str(scratch)},
            },
        )
        made.append(Loaders(factory.config.copy()))
        return made[-1]

    yield make
    for loaders in made:
        loaders.reset_state()


@pytest.fixture
def loaders(make_loaders, seed_pillar_data):
    return make_loaders(seed_pillar_data)
