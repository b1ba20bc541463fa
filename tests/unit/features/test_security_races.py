"""Issue 12, findings 1 and 2: the prisoner's root user races the host's root-password and devfs steps.

Each attempt plays the attack the way it works on FreeBSD (see :mod:`tests.unit.attacker`): the attacker
waits until the host's command (pw, mount) has started — every check of the step is done by then — and
atomically exchanges the prisoner's ``etc`` (or ``dev``) with a symbolic link to ``../../../etc``, the host's
/etc.  In a running and in a stopped prisoner, for a bounded number of attempts; after every attempt the
host's files are unchanged.  Before issue 12 (``pw -R``, a devfs mount into a running prisoner) the attack
got through every time.
"""

import os
import shutil

import pytest

from salt_jail import rehearsal
from salt_jail.core import model
from salt_jail.core.features import lifecycle, root_password as root_password_step
from salt_jail.core.tools import jailcmd
from salt_jail.core.errors import JailprovError
from salt_jail.core.io.host import Host

from tests.support.attacker import Attacker, hook_tool
from tests.support.tree import entry

HASH = "$6$jailprov$" + "B" * 86
OLD = "$6$old$" + "C" * 86
ATTEMPTS = 3
HOST_FILES = ("etc/master.passwd", "etc/group", "etc/rc.conf", "etc/hosts")


def _cfg(**prisoner):
    p1 = {"ip4": ["192.168.11.31"], "hostname": "p1.example.org", "root_password": HASH}
    p1.update(prisoner)
    return model.parse({"jail_root": "/home/jail", "release": "14.2-RELEASE", "interface": "em0",
                        "prisoners": {"p1": p1}})


@pytest.fixture
def host(rehearsal_root):
    """The rehearsal host with a minimal prisoner p1 (etc/master.passwd with root's hash OLD, etc/group,
    a dev directory); the jail.conf block drops mount.devfs, as in the issue."""
    tree = os.path.join(rehearsal_root, "home/jail/p1")
    for directory in ("etc", "dev", "root", "tmp"):
        os.makedirs(os.path.join(tree, directory))
    _set_prisoner_hash(rehearsal_root, OLD)
    shutil.copy(os.path.join(rehearsal_root, "etc/group"), os.path.join(tree, "etc/group"))
    with open(os.path.join(rehearsal_root, "etc/jail.conf"), "w", encoding="utf-8") as fh:
        fh.write('p1 {\n\tpath = "/home/jail/p1";\n\thost.hostname = "p1.example.org";\n\tpersist;\n}\n')
    return Host(root=rehearsal_root, bindir=os.path.join(rehearsal_root, ".rehearsal", "bin"))


def _set_prisoner_hash(root, value):
    with open(os.path.join(root, "etc/master.passwd"), encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    lines = [":".join(["root", value] + line.split(":")[2:]) if line.startswith("root:") else line for line in lines]
    with open(os.path.join(root, "home/jail/p1/etc/master.passwd"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))
    os.chmod(os.path.join(root, "home/jail/p1/etc/master.passwd"), 0o600)


def _prisoner_hash(root):
    with open(os.path.join(root, "home/jail/p1/etc/master.passwd"), encoding="utf-8") as fh:
        return next(line.split(":")[1] for line in fh if line.startswith("root:"))


def _start(host):
    assert rehearsal.cli.main("jail", ["-f", "/etc/jail.conf", "-c", "p1"], host.root) == 0
    assert lifecycle.find_running(host, "p1") is not None


def _host_snapshot(host):
    return {rel: entry(host.path("/" + rel)) for rel in HOST_FILES}


# --------------------------------------------------------------------------------------------------
# The root password, confined


@pytest.mark.parametrize("running", [True, False], ids=["running", "stopped"])
def test_root_password_runs_pw_confined(host, running):
    if running:
        _start(host)
    result = root_password_step.root_password(host, _cfg(), "p1")
    assert result.changed and _prisoner_hash(host.root) == HASH
    logged = rehearsal.commands(host.root)
    if running:
        assert ["jexec", "p1", "/usr/sbin/pw", "usermod", "root", "-H", "0"] in logged
    else:
        assert ["jail", "-c", "path=/home/jail/p1", "command=/usr/sbin/pw", "usermod", "root", "-H", "0"] in logged
        assert lifecycle.running_jails(host) == []  # the transient jail is gone with its command
    assert not any(argv[0] == "pw" for argv in logged)  # never pw -R on the host
    assert HASH not in open(os.path.join(host.root, ".rehearsal/commands.log")).read()
    assert HASH not in open(os.path.join(host.root, ".rehearsal/nested.log")).read()
    assert not root_password_step.root_password(host, _cfg(), "p1").changed
    assert not root_password_step.root_password(host, _cfg(root_password="locked"), "p1", test=True).comment.endswith("correct")
    assert root_password_step.root_password(host, _cfg(root_password="locked"), "p1").changed
    assert _prisoner_hash(host.root) == "*"


def test_transient_jail_argv():
    assert jailcmd.transient_jail_argv("/home/jail/p1", ["/usr/sbin/pw", "usermod", "root", "-H", "0"]) == [
        "jail", "-c", "path=/home/jail/p1", "command=/usr/sbin/pw", "usermod", "root", "-H", "0"]


@pytest.mark.parametrize("running", [True, False], ids=["running", "stopped"])
def test_root_password_race_never_reaches_the_host(host, running):
    if running:
        _start(host)
    signals = hook_tool(host.root, "pw")
    etc = host.path("/home/jail/p1/etc")
    before = _host_snapshot(host)
    for attempt in range(ATTEMPTS):
        _set_prisoner_hash(host.root, OLD)
        attacker = Attacker(signals, etc, "../../../etc")
        attacker.start()
        try:
            root_password_step.root_password(host, _cfg(), "p1")
        except JailprovError:
            pass  # pw found no master.passwd inside the prisoner, or the read-back saw the swap: refused
        finally:
            attacker.finish()
            attacker.restore()
        assert attacker.error is None
        assert attacker.swapped, f"attempt {attempt}: pw never started"
        assert _host_snapshot(host) == before, f"attempt {attempt}: the host's files changed"
    assert (lifecycle.find_running(host, "p1") is not None) == running


# --------------------------------------------------------------------------------------------------
# devfs: never mounted into a running prisoner


def _devfs_mounts(host):
    """The devfs mounts besides the host's own /dev."""
    return [m for m in jailcmd.parse_mount_p(host.check(["mount", "-p"]).stdout)
            if m.fstype == "devfs" and m.mountpoint != "/dev"]


def test_devfs_refuses_a_running_prisoner(host):
    _start(host)
    before = _host_snapshot(host)
    signals = hook_tool(host.root, "mount", "*\" -t \"*")
    for attempt in range(ATTEMPTS):
        attacker = Attacker(signals, host.path("/home/jail/p1/dev"), "../../../etc", timeout=2)
        attacker.start()
        try:
            with pytest.raises(JailprovError, match="p1 is running .* refusing to mount devfs into it"):
                lifecycle.mount_devfs(host, _cfg(), "p1")
            with pytest.raises(JailprovError, match="refusing to mount devfs"):
                lifecycle.mount_devfs(host, _cfg(), "p1", test=True)
        finally:
            attacker.finish()
            attacker.restore()
        assert not attacker.swapped, f"attempt {attempt}: mount ran in a running prisoner"
        assert _devfs_mounts(host) == [] and _host_snapshot(host) == before


def test_devfs_in_a_stopped_prisoner_never_stays_on_the_host(host):
    """No process of a stopped prisoner can race; should one (started behind jailprov's back) swap dev for a
    link while mount runs, the mount is found where it landed, taken off again and reported."""
    before = _host_snapshot(host)
    signals = hook_tool(host.root, "mount", "*\" -t \"*")
    for attempt in range(ATTEMPTS):
        attacker = Attacker(signals, host.path("/home/jail/p1/dev"), "../../../etc")
        attacker.start()
        try:
            with pytest.raises(JailprovError, match="devfs landed on /etc, not on /home/jail/p1/dev"):
                lifecycle.mount_devfs(host, _cfg(), "p1")
        finally:
            attacker.finish()
            attacker.restore()
        assert attacker.swapped, f"attempt {attempt}: mount never started"
        assert _devfs_mounts(host) == [], f"attempt {attempt}: devfs left mounted"
        assert _host_snapshot(host) == before
    # without an attacker the stopped prisoner gets its devfs
    os.unlink(os.path.join(host.root, ".rehearsal/bin/mount"))
    os.rename(os.path.join(host.root, ".rehearsal/bin/.mount.real"), os.path.join(host.root, ".rehearsal/bin/mount"))
    assert lifecycle.mount_devfs(host, _cfg(), "p1").changed
    assert [m.mountpoint for m in _devfs_mounts(host)] == ["/home/jail/p1/dev"]


def test_the_rehearsal_jail_hands_its_stdin_to_command(host):
    """command.c run_command() keeps descriptors 0-2 for the command (closefrom(3)): the rehearsal's jail(8)
    does too, which the transient jail running pw relies on for the hash."""
    from tests.support.standins import run

    result = run(host.root, "jail", "-c", "path=/home/jail/p1", "command=cat", input="through stdin\n")
    assert (result.returncode, result.stdout.splitlines()[-1]) == (0, "through stdin"), result
    assert lifecycle.running_jails(host) == []
