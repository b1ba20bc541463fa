"""The real-FreeBSD tier: salt_jail against FreeBSD's own jail(8), jls(8), jexec(8), mount(8) and chflags(1).

These tests create real jails, mount devfs, add addresses to ``lo1`` and (the formula test) edit
``/etc/rc.conf``, so every test here is skipped, with the reason, unless all of these hold:

* the platform is FreeBSD (``sys.platform`` starts with ``freebsd``),
* the effective uid is 0,
* ``SALT_JAIL_FREEBSD_TESTS=1`` is set (an explicit opt-in).

What the tier claims and how it cleans up is in :mod:`tests.freebsd.hostenv` and README.md.  Settings
(environment):

``SALT_JAIL_FREEBSD_RELEASE``
    the release extracted into the prisoners; default: this host's userland (``freebsd-version -u``
    without ``-pN``), so a prisoner never runs a newer userland than the kernel.
``SALT_JAIL_FREEBSD_MIRROR``
    one mirror laid out as download.freebsd.org (``https://``, ``http://``, ``ftp://`` or ``file://``);
    default: download.freebsd.org, then the archive mirror (releases past end of life move there).
``SALT_JAIL_FREEBSD_CACHE``
    a release cache kept between runs; default ``WORK/cache``, removed with WORK.
"""

import copy
import dataclasses
import os
import re
import stat
import sys

import pytest

from .hostenv import (
    HOST_IP, HOSTNAMES, INTERFACE, JAIL_CONF, JAIL_ROOT, P1, P1_JID, P2, PRISONER_IPS, RESOLV_CONF, WORK,
    IFCONFIG, interface_addresses, jls_fields, remove_tree, reset_host, sh,
)

#: /etc files the formula may edit (rc.conf variables, pw.conf) or that must stay untouched; each is put
#: back byte for byte (mode and owner too) at teardown when it differs.
HOST_FILES = ("/etc/rc.conf", "/etc/rc.conf.local", "/etc/rc.conf.d/jail", "/etc/pw.conf", "/etc/jail.conf")

#: sha512-crypt of "changeme" (``openssl passwd -6``), as in pillar.example.
ROOT_HASH = "$6$jailprov$xrBdFXW89ldvwyQrQLxzfEmJPf24RckPPM5rKAtIDKWrMHGuXw2EXSRiEbCnCMCechLGa3Jyaex0gBmnnC6hQ1"

#: ``hw.machine_arch`` -> the pillar's ``arch``.
ARCHES = {"amd64": "amd64", "aarch64": "arm64", "i386": "i386", "riscv64": "riscv64", "armv7": "armv7"}


def _skip_reason():
    if not sys.platform.startswith("freebsd"):
        return f"the real-FreeBSD tier needs FreeBSD (this is {sys.platform})"
    if os.geteuid() != 0:
        return "the real-FreeBSD tier needs root (it creates jails and mounts devfs)"
    if os.environ.get("SALT_JAIL_FREEBSD_TESTS") != "1":
        return (f"the real-FreeBSD tier creates jails under {WORK}, adds addresses to {INTERFACE} and edits "
                "/etc/rc.conf (restored afterwards): set SALT_JAIL_FREEBSD_TESTS=1 to run it")
    return None


SKIP_REASON = _skip_reason()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Mark every test of this directory ``freebsd``; skip it before any fixture touches the host."""
    item.add_marker(pytest.mark.freebsd)
    if SKIP_REASON:
        pytest.skip(SKIP_REASON)


# ------------------------------------------------------------------------------------------------
# /etc files: snapshot and restore
# ------------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class _Saved:
    path: str
    data: bytes        # None: the file did not exist
    mode: int = 0o644
    uid: int = 0
    gid: int = 0


def _snapshot(path):
    try:
        st = os.lstat(path)
        with open(path, "rb") as fh:
            return _Saved(path, fh.read(), st.st_mode & 0o7777, st.st_uid, st.st_gid)
    except FileNotFoundError:
        return _Saved(path, None)


def _restore(saved):
    """Put ``saved`` back when the file differs now; returns a problem, or None."""
    if _snapshot(saved.path).data == saved.data:
        return None
    try:
        if saved.data is None:
            os.unlink(saved.path)
            return None
        tmp = f"{saved.path}.sjtest-restore"
        with open(tmp, "wb") as fh:
            fh.write(saved.data)
        os.chmod(tmp, saved.mode)
        os.chown(tmp, saved.uid, saved.gid)
        os.replace(tmp, saved.path)
    except OSError as err:
        return f"cannot restore {saved.path}: {err}"
    return None


# ------------------------------------------------------------------------------------------------
# Session: settings, lo1, a clean WORK, teardown that always runs
# ------------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Settings:
    release: str
    arch: str
    mirrors: tuple
    cache_dir: str


def _settings():
    from salt_jail.core import release  # pylint: disable=import-outside-toplevel

    machine_arch = sh("/sbin/sysctl", "-n", "hw.machine_arch").stdout.strip()
    if machine_arch not in ARCHES:
        pytest.skip(f"hw.machine_arch {machine_arch!r}: FreeBSD publishes no release set salt_jail knows for it")
    userland = re.sub(r"-p\d+$", "", sh("/bin/freebsd-version", "-u").stdout.strip())
    mirror = os.environ.get("SALT_JAIL_FREEBSD_MIRROR")
    return Settings(
        release=os.environ.get("SALT_JAIL_FREEBSD_RELEASE") or userland,
        arch=ARCHES[machine_arch],
        mirrors=(mirror,) if mirror else (release.MAIN_MIRROR, release.ARCHIVE_MIRROR),
        cache_dir=os.environ.get("SALT_JAIL_FREEBSD_CACHE") or f"{WORK}/cache",
    )


def _check_work_dir():
    """Fail unless WORK is absent or a real directory only root can write to.

    WORK lies in the world-writable /var/tmp: a directory (or symbolic link) another user made there
    would let that user choose what the tier extracts, mounts and removes as root.
    """
    try:
        st = os.lstat(WORK)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != 0 or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        pytest.fail(f"{WORK} exists but is not a directory owned by root and writable only by root "
                    f"(mode {stat.filemode(st.st_mode)}, uid {st.st_uid}); check who made it, then remove it")


def _check_free():
    """Skip, naming the conflict, when the host already uses what the tier needs."""
    from salt_jail.core.formats import rcconf  # pylint: disable=import-outside-toplevel

    configured = interface_addresses()
    taken = [ip for ip in PRISONER_IPS.values() if ip in configured]
    if HOST_IP in configured and HOST_IP not in interface_addresses(INTERFACE):
        taken.append(HOST_IP)  # on another interface; on lo1 it is simply used (and left there)
    if taken:
        pytest.skip(f"address(es) {', '.join(taken)} already configured on this host; the tier needs them")
    holder = jls_fields(str(P1_JID), "name")
    if holder is not None:
        pytest.skip(f"jid {P1_JID} is held by the running jail {holder['name']}; the tier gives it to {P1}")
    for path in rcconf.JAIL_RC_FILES:
        if os.path.exists(path):
            with open(path, encoding="utf-8", errors="replace") as fh:
                if rcconf.parse(fh.read(), filename=path).get("jail_conf") not in (None, JAIL_CONF):
                    pytest.skip(f"{path} sets jail_conf: salt_jail would start jails from that file, not from "
                                f"the tier's {JAIL_CONF}")


@pytest.fixture(scope="session")
def freebsd():
    """The tier's :class:`Settings`, with lo1 carrying HOST_IP and WORK ready; always cleans up after.

    Teardown: :func:`~tests.freebsd.hostenv.reset_host`, remove WORK, take HOST_IP off lo1 (or destroy
    lo1) when the tier added it, and restore :data:`HOST_FILES`.  A problem it cannot fix fails the run.
    """
    _check_work_dir()
    problems = reset_host()  # leftovers of an interrupted run
    if problems:
        pytest.fail("the host still holds an earlier run's jails or mounts: " + "; ".join(problems))
    _check_free()
    settings = _settings()
    saved = [_snapshot(path) for path in HOST_FILES]
    created_lo1 = sh(IFCONFIG, INTERFACE, check=False).returncode != 0
    added_ip = HOST_IP not in interface_addresses(INTERFACE)
    try:
        if created_lo1:
            sh(IFCONFIG, INTERFACE, "create")
        if added_ip:
            sh(IFCONFIG, INTERFACE, "inet", f"{HOST_IP}/32", "alias")
        sh(IFCONFIG, INTERFACE, "up")
        if not os.path.isdir(WORK):
            os.mkdir(WORK, 0o700)  # the prisoners' setuid binaries stay out of the host users' reach
        with open(RESOLV_CONF, "w", encoding="utf-8") as fh:
            fh.write("# salt_jail real-FreeBSD tier\nnameserver 127.0.0.1\n")
        yield settings
    finally:
        problems = reset_host()
        if not problems:
            problems += remove_tree(WORK)
        if created_lo1:
            sh(IFCONFIG, INTERFACE, "destroy", check=False)
        elif added_ip:
            sh(IFCONFIG, INTERFACE, "inet", HOST_IP, "-alias", check=False)
        problems += [p for p in map(_restore, saved) if p]
        if problems:
            pytest.fail("teardown left the host unclean: " + "; ".join(problems))


@pytest.fixture(scope="module")
def clean_host(freebsd):
    """A test module starts and ends with no ``sjtest_*`` jail, prisoner tree, mount or jail.conf."""
    problems = reset_host()
    assert not problems, problems
    yield freebsd
    problems = reset_host()
    assert not problems, problems


@pytest.fixture(scope="session")
def pillar_data(freebsd):
    """The tier's pillar, ``{"jailprov": ...}``: the seed's two prisoners, on lo1, under WORK."""
    return {"jailprov": {
        "jail_root": JAIL_ROOT,
        "jail_conf": JAIL_CONF,
        "release": freebsd.release,
        "arch": freebsd.arch,
        "mirrors": list(freebsd.mirrors),
        "cache_dir": freebsd.cache_dir,
        "interface": INTERFACE,
        "host": {"resolv_conf": RESOLV_CONF},
        "defaults": {
            "timezone": "Asia/Tokyo",
            "wall_cmos_clock": True,
            "params": {
                "allow.chflags": True,
                "allow.raw_sockets": True,
                "exec.start": "/bin/sh /etc/rc",
                "exec.stop": "/bin/sh /etc/rc.shutdown jail",
                "exec.clean": True,
                "mount.devfs": True,
                "devfs_ruleset": 4,
            },
        },
        "prisoners": {
            P1: {"jid": P1_JID, "ip4": [PRISONER_IPS[P1]], "hostname": HOSTNAMES[P1],
                 "pw_range": {"uid": [20000, 29999], "gid": [20000, 29999]}, "root_password": ROOT_HASH},
            P2: {"ip4": PRISONER_IPS[P2], "hostname": HOSTNAMES[P2],
                 "pw_range": {"uid": [30000, 39999], "gid": [30000, 39999]}, "root_password": "locked"},
        },
    }}


@pytest.fixture
def pillar(pillar_data):
    """A copy of the tier's pillar that a test may change."""
    return copy.deepcopy(pillar_data)
