"""Issue 16: the sdist and the wheel carry the formula, the example pillar and the licence; a wheel installed
beside the Salt already there keeps that Salt and works from any directory (formula path, rehearsal, exit
code of a bad pillar's validation through a real ``salt-call --local``).

The wheel is built from the sdist (so the sdist is proven complete) with the running setuptools, and installed
by pip, with its dependencies resolved, into a throwaway virtualenv that sees this environment's packages —
Salt among them — but not its salt_jail.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile

import pytest
import salt.version
import yaml

import salt_jail

REPO = pathlib.Path(__file__).resolve().parents[2]
FORMULA = sorted(p.name for p in (REPO / "states" / "jail").iterdir() if p.is_file())
_SKIP_COPY = shutil.ignore_patterns(".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__", "demo-root",
                                    ".hypothesis", ".pytest_cache", "out")


def _build(hook, source, out):
    """Run a PEP 517 hook of setuptools' backend in ``source``; the built file's path."""
    code = f"import sys; from setuptools import build_meta as b; print(b.{hook}(sys.argv[1]))"
    proc = subprocess.run([sys.executable, "-c", code, str(out)], cwd=source, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out / proc.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def dists(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("i16-dist")
    shutil.copytree(REPO, tmp / "src", ignore=_SKIP_COPY)
    sdist = _build("build_sdist", tmp / "src", tmp / "dist")
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp / "unpacked", filter="data")
    (top,) = (tmp / "unpacked").iterdir()
    wheel = _build("build_wheel", top, tmp / "dist")
    return sdist, wheel


def test_sdist_carries_the_formula_pillar_example_and_licence(dists):
    sdist, _ = dists
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    for needed in [f"states/jail/{f}" for f in FORMULA] + ["pillar.example", "LICENSE", "CHANGELOG.md",
                                                             "setup.py", "setup.cfg", "README.md"]:
        assert needed in names, needed


def test_wheel_carries_the_formula_pillar_example_and_licence(dists):
    _, wheel = dists
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        info = f"salt_jail-{salt_jail.__version__}.dist-info"
        metadata = zf.read(f"{info}/METADATA").decode()
        for f in FORMULA:
            assert zf.read(f"salt_jail/formula/jail/{f}") == (REPO / "states" / "jail" / f).read_bytes(), f
        assert zf.read("salt_jail/examples/pillar.example") == (REPO / "pillar.example").read_bytes()
        licence = zf.read(f"{info}/LICENSE").decode()
    assert "Apache License" in licence and "Version 2.0, January 2004" in licence
    assert "END OF TERMS AND CONDITIONS" in licence
    assert f"Version: {salt_jail.__version__}\n" in metadata            # single-sourced from __init__
    assert "Requires-Dist: salt>=3006\n" in metadata                    # a range, never a pin
    assert "Project-URL: Source, " in metadata and "Home-page: " in metadata
    assert not [n for n in names if n.startswith(("tests/", "states/", "bench/"))]


@pytest.fixture(scope="module")
def installed(dists, tmp_path_factory):
    """A virtualenv that sees this environment's packages except salt_jail, with the wheel pip-installed."""
    _, wheel = dists
    tmp = tmp_path_factory.mktemp("i16-venv")
    outer = pathlib.Path(sysconfig.get_paths()["purelib"])
    visible = tmp / "outer-site-packages"
    visible.mkdir()
    for entry in outer.iterdir():
        if not entry.name.lower().startswith(("salt_jail", "salt-jail", "__editable__")):
            (visible / entry.name).symlink_to(entry)
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    purelib = subprocess.run([str(venv / "bin/python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    pathlib.Path(purelib, "outer.pth").write_text(f"{visible}\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin/python"), "install",
                           "--no-index", "--disable-pip-version-check", str(wheel)],
                          capture_output=True, text=True, check=False, cwd=tmp)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return venv, purelib, proc.stdout


def test_pip_install_keeps_the_salt_that_is_there(installed):
    venv, purelib, pip_out = installed
    collected = [line for line in pip_out.splitlines() if line.startswith("Installing collected packages")]
    assert collected == ["Installing collected packages: salt-jail"], pip_out
    code = "import salt.version, salt_jail; print(salt.version.__version__); print(salt_jail.__file__)"
    out = subprocess.run([str(venv / "bin/python"), "-c", code], capture_output=True, text=True, check=True,
                         cwd="/").stdout.split()
    assert out[0] == salt.version.__version__
    assert out[1].startswith(purelib)


def test_formula_path_from_any_directory(installed, tmp_path):
    venv, purelib, _ = installed
    for argv in ([str(venv / "bin/salt-jail"), "formula-path"],
                 [str(venv / "bin/python"), "-m", "salt_jail", "formula-path"]):
        out = subprocess.run(argv, capture_output=True, text=True, check=True, cwd=tmp_path).stdout.strip()
        path = pathlib.Path(out)
        assert path == pathlib.Path(purelib, "salt_jail", "formula")
        assert sorted(p.name for p in (path / "jail").iterdir()) == FORMULA
    example = subprocess.run([str(venv / "bin/salt-jail"), "pillar-example"], capture_output=True, text=True,
                             check=True, cwd=tmp_path).stdout
    assert example == (REPO / "pillar.example").read_text(encoding="utf-8")


def _rehearse(venv, cwd, *args):
    proc = subprocess.run([str(venv / "bin/salt-jail-rehearse"), *args], capture_output=True, text=True,
                          check=False, cwd=cwd, timeout=600)
    return proc.returncode, proc.stdout + proc.stderr


def _unflag(root):
    subprocess.run(["chattr", "-R", "-i", "-a", str(root)], capture_output=True, check=False)


def test_rehearse_demo_and_own_pillar_from_an_installed_wheel(installed, tmp_path):
    venv, _, _ = installed
    try:
        rc, out = _rehearse(venv, tmp_path, "--demo")      # default root: ./demo-root of the working directory
        assert rc == 0, out
        assert "FAILED" not in out and "not idempotent" not in out
        assert (tmp_path / "demo-root/home/jail/prisoner1/etc/syslog.conf").is_file()
        assert (tmp_path / "demo-root/etc/jail.conf").is_file()

        seed = yaml.safe_load((REPO / "pillar.example").read_text(encoding="utf-8"))
        mine = {"jailprov": dict(seed["jailprov"], prisoners={"solo": dict(
            seed["jailprov"]["prisoners"]["prisoner1"], hostname="solo.example.org")})}
        (tmp_path / "mine.sls").write_text(yaml.safe_dump(mine), encoding="utf-8")
        rc, out = _rehearse(venv, tmp_path, "--pillar", "mine.sls", "--root", "mine-root")
        assert rc == 0, out
        assert "No matching sls" not in out
        assert "solo.example.org" in (tmp_path / "mine-root/home/jail/solo/etc/hosts").read_text()
    finally:
        for root in ("demo-root", "mine-root"):
            _unflag(tmp_path / root)


def test_salt_call_validate_of_a_bad_pillar_exits_non_zero(installed, tmp_path):
    venv, _, _ = installed
    pillar = tmp_path / "pillar"
    pillar.mkdir()
    (pillar / "top.sls").write_text("base:\n  '*':\n    - bad\n", encoding="utf-8")
    (pillar / "bad.sls").write_text(yaml.safe_dump({"jailprov": {"release": "14.2-RELEASE", "arch": "amd46"}}),
                                    encoding="utf-8")
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "minion").write_text(yaml.safe_dump({
        "id": "i16-validate", "file_client": "local", "root_dir": str(tmp_path / "salt"),
        "pillar_roots": {"base": [str(pillar)]}, "jailprov": {"rehearsal": True, "root": str(tmp_path / "scratch")},
    }), encoding="utf-8")
    salt_call = [str(venv / "bin/python"), "-c", "import salt.scripts; salt.scripts.salt_call()",
                 "--local", "-c", str(conf), "--out=json", "-l", "quiet"]
    proc = subprocess.run([*salt_call, "jailprov.validate"], capture_output=True, text=True, check=False, cwd="/")
    assert proc.returncode != 0, proc.stdout + proc.stderr
    ret = json.loads(proc.stdout)["local"]
    assert ret["valid"] is False and any(e.startswith("jailprov:arch:") for e in ret["errors"])

    (pillar / "bad.sls").write_text(yaml.safe_dump({"jailprov": {"release": "14.2-RELEASE"}}), encoding="utf-8")
    proc = subprocess.run([*salt_call, "jailprov.validate"], capture_output=True, text=True, check=False, cwd="/")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["local"] == {"valid": True, "errors": []}
