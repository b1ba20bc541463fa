"""The real-FreeBSD CI workflow (.github/workflows/freebsd.yml) runs on a release FreeBSD still supports.

A VM of a release past its end of life meets "Newer FreeBSD version for package" prompts from pkg (its
packages are built for the branch's newer minor release): the workflow installs with IGNORE_OSVERSION=yes
and runs a supported release, while the prisoners it builds stay 14.2-RELEASE, fetched from the archive
mirror where FreeBSD keeps releases past end of life.
"""

import pathlib

import yaml

WORKFLOW = pathlib.Path(__file__).resolve().parents[3] / ".github" / "workflows" / "freebsd.yml"
#: FreeBSD releases past end of life at the time of writing (www.freebsd.org/security/unsupported).
UNSUPPORTED = ("13.3", "13.4", "14.0", "14.1", "14.2", "14.3", "15.0")


def _job():
    (job,) = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"].values()
    return job


def _vm_step(job):
    (step,) = [s for s in job["steps"] if str(s.get("uses", "")).startswith("vmactions/freebsd-vm")]
    return step


def test_the_vm_runs_a_supported_release():
    release = str(_vm_step(_job())["with"]["release"])
    assert release not in UNSUPPORTED and release.split(".")[0] == "14"


def test_packages_are_installed_with_ignore_osversion():
    prepare = _vm_step(_job())["with"]["prepare"]
    installs = [line for line in prepare.splitlines() if "pkg install" in line]
    assert installs and all("IGNORE_OSVERSION=yes" in line for line in installs)


def test_the_prisoners_are_14_2_release_from_the_archive_mirror():
    job = _job()
    assert job["env"]["SALT_JAIL_FREEBSD_RELEASE"] == "14.2-RELEASE"
    (download,) = [s for s in job["steps"] if "base.txz" in str(s.get("run", ""))]
    mirrors = [line.strip() for line in download["run"].splitlines() if line.strip().startswith("for mirror in")]
    assert mirrors == ["for mirror in http://ftp-archive.freebsd.org/pub/FreeBSD-Archive/old-releases; do"]
