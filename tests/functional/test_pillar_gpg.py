"""The README's example of keeping the root password hash encrypted in pillar: Salt's gpg renderer.

Salt logs the text its renderers produce at its most verbose level ("Rendered data from file"), so a
``root_password`` written in clear in a Jinja/YAML pillar file ends up in the master's log; with ``#!yaml|gpg``
the file (and so that log) holds only the PGP message, decrypted with the keys in ``gpg_keydir``.  This test
builds exactly the README's example: a key, the hash encrypted to it, the ``#!yaml|gpg`` pillar file, and checks
that the minion's pillar has the hash and that jailprov accepts it.
"""

import shutil
import subprocess

import pytest
import yaml
from saltfactories.utils.functional import Loaders

pytestmark = pytest.mark.skipif(shutil.which("gpg") is None,
                                reason="gpg is not installed (CI installs it: apt-get install gpg)")

HASH = "$6$jailprov$xrBdFXW89ldvwyQrQLxzfEmJPf24RckPPM5rKAtIDKWrMHGuXw2EXSRiEbCnCMCechLGa3Jyaex0gBmnnC6hQ1"
UID = "jailprov pillar <jailprov@example.org>"


def _gpg(home, *args, stdin=None):
    return subprocess.run(["gpg", "--homedir", str(home), "--batch", "--no-tty", *args], input=stdin,
                          capture_output=True, text=True, check=True, timeout=120).stdout


@pytest.fixture
def gpg_keydir(tmp_path):
    home = tmp_path / "gpgkeys"
    home.mkdir(mode=0o700)
    # The README's commands, without a passphrase (the master decrypts unattended):
    _gpg(home, "--passphrase", "", "--quick-generate-key", UID, "default", "default", "never")
    yield home
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], capture_output=True, check=False)


def test_root_password_from_a_gpg_encrypted_pillar(salt_factories, gpg_keydir, tmp_path, repo_dir,
                                                   seed_pillar, scratch):
    # openssl passwd -6 | gpg --armor --trust-model always --encrypt -r jailprov@example.org
    armored = _gpg(gpg_keydir, "--armor", "--trust-model", "always", "--encrypt", "-r", "jailprov@example.org",
                   stdin=HASH)
    assert armored.startswith("-----BEGIN PGP MESSAGE-----") and HASH not in armored

    seed_pillar["jailprov"]["prisoners"]["prisoner1"]["root_password"] = "@ENCRYPTED@"
    text = yaml.safe_dump(seed_pillar, sort_keys=False)
    line = next(ln for ln in text.splitlines() if ln.strip() == "root_password: '@ENCRYPTED@'")
    indent = " " * (len(line) - len(line.lstrip()) + 2)
    block = line.replace("'@ENCRYPTED@'", "|") + "\n" + "".join(indent + ln + "\n" for ln in armored.splitlines())
    pillar_text = "#!yaml|gpg\n" + text.replace(line + "\n", block)
    pillar_dir = tmp_path / "pillar"
    pillar_dir.mkdir()
    (pillar_dir / "top.sls").write_text("base:\n  '*':\n    - jailprov\n")
    (pillar_dir / "jailprov.sls").write_text(pillar_text)
    assert HASH not in pillar_text

    factory = salt_factories.salt_minion_daemon("gpg-pillar", defaults={
        "file_client": "local",
        "file_roots": {"base": [str(repo_dir / "states")]},
        "pillar_roots": {"base": [str(pillar_dir)]},
        "gpg_keydir": str(gpg_keydir),
        "jailprov": {"rehearsal": True, "root": str(scratch)},
    })
    loaders = Loaders(factory.config.copy())
    try:
        # the compiled pillar holds the plain hash (Salt 3008 masks pillar in its own output, not in the data)
        assert loaders.pillar["jailprov"]["prisoners"]["prisoner1"]["root_password"] == HASH
        assert loaders.modules.jailprov.validate() == {"valid": True, "errors": []}
        assert loaders.modules.jailprov.formula_names()["present"] == ["prisoner1", "prisoner2"]
    finally:
        loaders.reset_state()
