"""The jail lifecycle on a real FreeBSD host, through the core API with ``Host(root="/")``.

The rehearsal's lifecycle scenario, against FreeBSD's own tools and the default SubprocessRunner:
provision two prisoners (root, base from a real release, the seed's files, their jail.conf blocks),
start both, list them (``jls -v --libxo json`` parsed by salt_jail, checked against jls's plain
output), ``hostname`` inside each, ping the host's lo1 address from prisoner 1, the destroy guards,
destroy prisoner 2 with file flags set inside it, stop prisoner 1.

The tests run in file order and build on each other (one module-scoped host); see README.md.
"""

import contextlib
import os
import stat

import pytest

from .hostenv import (
    HOST_IP, HOSTNAMES, INTERFACE, JAIL_CONF, JAIL_ROOT, P1, P1_JID, P2, PRISONER_IPS, WORK,
    file_flags, interface_addresses, jls_fields, mounts_below, running_jails, sh,
)

PRISONERS = (P1, P2)


@pytest.fixture(scope="module")
def world(clean_host, pillar_data):
    """``(host, cfg)``: the real host and the tier's validated pillar."""
    from salt_jail.core import model
    from salt_jail.core.io.host import Host

    return Host(root="/"), model.from_pillar(pillar_data)


def absent_cfg(pillar_data, *names):
    """The tier's pillar with ``names`` listed under ``jailprov:absent``."""
    from salt_jail.core import model

    data = {"jailprov": dict(pillar_data["jailprov"], absent=list(names))}
    return model.from_pillar(data)


def provision(host, cfg, name, test=False):
    """Seed step 10 for ``name`` (its jail.conf block, as host.sls does first), then ``provision``
    (steps 1-9).  Returns ``{step_id: {changed, comment, ...}}``; a failed step fails the test."""
    from salt_jail.core.features import hostconf
    from salt_jail.core.features.provision import provision as provision_steps

    results = {"jail_conf": hostconf.jail_conf(host, cfg, name, test=test).as_dict()}
    run = provision_steps(host, cfg, name, test=test)
    assert run["result"], f"{name}: provisioning failed: {run['steps']}"
    results.update(run["steps"])
    return results


def prisoner_file(cfg, name, rel):
    return os.path.join(cfg.prisoners[name].path, rel)


def read(path):
    with open(path, encoding="utf-8") as fh:
        return fh.read()


# ------------------------------------------------------------------------------------------------
# Provisioning
# ------------------------------------------------------------------------------------------------
def test_provision_builds_both_prisoners_then_changes_nothing(world):
    host, cfg = world
    for name in PRISONERS:
        first = provision(host, cfg, name)
        unchanged = {step: r["comment"] for step, r in first.items() if not r["changed"]}
        # With mount.devfs, jail(8) mounts devfs itself at start: the devfs step has nothing to do.
        assert set(unchanged) == {"devfs"}, f"{name}: steps that changed nothing on a fresh prisoner: {unchanged}"
        for test in (False, True):
            again = provision(host, cfg, name, test=test)
            changed = {step: r["comment"] for step, r in again.items() if r["changed"]}
            assert not changed, f"{name}: a run after the build (test={test}) changed: {changed}"


@pytest.mark.parametrize("name", PRISONERS)
def test_provisioned_files_follow_the_seed(world, freebsd, name):
    from salt_jail.core import release

    host, cfg = world
    prisoner = cfg.prisoners[name]
    assert release.userland_version(host, prisoner.path) == freebsd.release
    # tar -p restored base.txz's file flags: /var/empty is schg in FreeBSD's mtree.
    assert file_flags(prisoner_file(cfg, name, "var/empty")) & stat.SF_IMMUTABLE
    syslog_conf = read(prisoner_file(cfg, name, "etc/syslog.conf")).splitlines()
    assert [line for line in syslog_conf if "/dev/console" in line and not line.startswith("#")] == []
    crontab = read(prisoner_file(cfg, name, "etc/crontab")).splitlines()
    assert [line for line in crontab if "adjkerntz" in line and not line.startswith("#")] == []
    hosts = read(prisoner_file(cfg, name, "etc/hosts")).split("\n")
    assert any(line.split() == [PRISONER_IPS[name], HOSTNAMES[name], HOSTNAMES[name].split(".")[0]]
               for line in hosts)
    assert os.readlink(prisoner_file(cfg, name, "etc/localtime")) == "/usr/share/zoneinfo/Asia/Tokyo"
    assert os.path.isfile(prisoner_file(cfg, name, "etc/wall_cmos_clock"))
    root_entry = next(line for line in read(prisoner_file(cfg, name, "etc/master.passwd")).splitlines()
                      if line.startswith("root:"))
    assert root_entry.split(":")[1] == ("*" if prisoner.root_password == "locked" else prisoner.root_password)


# ------------------------------------------------------------------------------------------------
# start, list, exec, ping, devfs
# ------------------------------------------------------------------------------------------------
def test_start_both(world):
    from salt_jail.core.features import lifecycle

    host, cfg = world
    started = {name: lifecycle.start(host, cfg, name) for name in PRISONERS}
    assert all(result.changed for result in started.values()), started
    assert started[P1].data["jid"] == P1_JID
    assert set(PRISONERS) <= set(running_jails())
    again = lifecycle.start(host, cfg, P1)
    assert not again.changed and "already running" in again.comment


def test_list_agrees_with_jls(world):
    """salt_jail's reading of ``jls -v --libxo json`` against jls's plain output and the pillar."""
    from salt_jail.core.features import lifecycle

    host, cfg = world
    listed = {entry["name"]: entry for entry in lifecycle.list_jails(host, cfg)}
    for name in PRISONERS:
        plain = jls_fields(name, "jid", "host.hostname", "path", "ip4.addr")
        entry = listed[name]
        assert (entry["state"], entry["managed"]) == ("running", True)
        assert entry["jid"] == int(plain["jid"])
        assert entry["hostname"] == plain["host.hostname"] == HOSTNAMES[name]
        assert entry["path"] == plain["path"] == os.path.realpath(cfg.prisoners[name].path)
        assert entry["ipv4"] == [plain["ip4.addr"]] == [PRISONER_IPS[name]]
        assert entry["ipv6"] == []
    assert listed[P1]["jid"] == P1_JID


@pytest.mark.parametrize("name", PRISONERS)
def test_exec_hostname_answers_the_fqdn(world, name):
    from salt_jail.core.features import lifecycle

    host, cfg = world
    result = lifecycle.exec_in(host, cfg, name, ["hostname"])
    assert (result["retcode"], result["stdout"].strip()) == (0, HOSTNAMES[name])


@pytest.mark.parametrize("name", PRISONERS)
def test_new_accounts_get_ids_from_the_prisoner_s_range(world, name):
    """pw(8) inside the prisoner reads the pw.conf salt_jail wrote (seed step 7)."""
    rng = world[1].prisoners[name].pw_range
    sh("/usr/sbin/jexec", name, "/usr/sbin/pw", "useradd", "sjtestuser")
    try:
        uid = int(sh("/usr/sbin/jexec", name, "/usr/bin/id", "-u", "sjtestuser").stdout)
        gid = int(sh("/usr/sbin/jexec", name, "/usr/bin/id", "-g", "sjtestuser").stdout)
    finally:
        sh("/usr/sbin/jexec", name, "/usr/sbin/pw", "userdel", "sjtestuser")
    assert rng.uid.lo <= uid <= rng.uid.hi and rng.gid.lo <= gid <= rng.gid.hi


def test_ping_host_from_prisoner1(world):
    from salt_jail.core.features import lifecycle

    host, cfg = world
    result = lifecycle.ping(host, cfg, P1, HOST_IP, count=3)
    assert (result["transmitted"], result["received"], result["loss_pct"], result["ok"]) == (3, 3, 0.0, True)
    assert set(result["rtt"]) == {"min", "avg", "max", "stddev"}
    assert result["rtt"]["min"] <= result["rtt"]["avg"] <= result["rtt"]["max"]


@pytest.mark.parametrize("name", PRISONERS)
def test_devfs_mounted_with_ruleset_4(world, name):
    """jail(8) mounted devfs on the prisoner's /dev with devfsrules_jail: /dev/null shown, /dev/mem hidden."""
    _host, cfg = world
    dev = os.path.realpath(prisoner_file(cfg, name, "dev"))
    assert (dev, "devfs") in mounts_below(cfg.prisoners[name].path)
    visible = os.listdir(dev)
    assert "null" in visible and "mem" not in visible


def test_root_password_of_a_running_prisoner_is_set_inside_it(world):
    """Issue 12: pw runs confined (``jexec P1 /usr/sbin/pw usermod root -H 0``), never ``pw -R`` on the host;
    the host's own master.passwd is not touched.  (A stopped prisoner's, in a transient jail, is set by
    the provisioning above.)"""
    import dataclasses

    from salt_jail.core.features import root_password as root_password_step

    host, cfg = world
    with open("/etc/master.passwd", "rb") as fh:
        host_before = fh.read()
    other = "$6$sjtest12$" + "A" * 86
    prisoner = dataclasses.replace(cfg.prisoners[P1], root_password=other)
    changed = dataclasses.replace(cfg, prisoners={**cfg.prisoners, P1: prisoner})
    try:
        assert root_password_step.root_password(host, changed, P1).changed
        root_entry = next(line for line in read(prisoner_file(cfg, P1, "etc/master.passwd")).splitlines()
                          if line.startswith("root:"))
        assert root_entry.split(":")[1] == other
        assert not root_password_step.root_password(host, changed, P1).changed
    finally:
        root_password_step.root_password(host, cfg, P1)  # back to the pillar's hash
    with open("/etc/master.passwd", "rb") as fh:
        assert fh.read() == host_before


# ------------------------------------------------------------------------------------------------
# destroy: guards first (each must refuse and change nothing), then prisoner 2 for real
# ------------------------------------------------------------------------------------------------
# Each guard sets up its case and yields (name, cfg or None for the tier's, error pattern, unchanged()).
@contextlib.contextmanager
def _in_pillar(pillar_data):
    """Prisoner 1 is still in the pillar (and running): destroy needs force=True."""
    yield P1, None, "still a prisoner in the pillar", \
        lambda: P1 in running_jails() and os.path.isdir(f"{JAIL_ROOT}/{P1}/etc")


@contextlib.contextmanager
def _symlink_out(pillar_data):
    """The prisoner root is a symbolic link to a directory outside jail_root."""
    outside, link = f"{WORK}/outside", f"{JAIL_ROOT}/sjtest_link"
    os.makedirs(outside)
    open(f"{outside}/canary", "w").close()
    os.symlink(outside, link)
    try:
        yield "sjtest_link", absent_cfg(pillar_data, "sjtest_link"), "symbolic link", \
            lambda: os.path.islink(link) and os.path.exists(f"{outside}/canary")
    finally:
        sh("/bin/rm", "-rfx", link, outside, check=False)


@contextlib.contextmanager
def _dotdot(pillar_data):
    """A name that is not one path component."""
    os.makedirs(f"{WORK}/outside")
    try:
        yield "../outside", None, "single path component", lambda: os.path.isdir(f"{WORK}/outside")
    finally:
        sh("/bin/rm", "-rfx", f"{WORK}/outside", check=False)


def _stamp(root):
    """jailprov's install stamp in ``root``: destroy removes only trees it installed (issue 12)."""
    os.makedirs(f"{root}/var/db", exist_ok=True)
    with open(f"{root}/var/db/jailprov-base.json", "w", encoding="utf-8") as fh:
        fh.write('{"format": 1, "state": "installed"}\n')


@contextlib.contextmanager
def _not_installed_by_jailprov(pillar_data):
    """A plain directory below jail_root (no install stamp, no jail.conf block): not jailprov's to destroy."""
    root = f"{JAIL_ROOT}/sjtest_plain"
    os.makedirs(root)
    open(f"{root}/canary", "w").close()
    try:
        yield "sjtest_plain", absent_cfg(pillar_data, "sjtest_plain"), "not a prisoner jailprov installed", \
            lambda: os.path.exists(f"{root}/canary")
    finally:
        sh("/bin/rm", "-rfx", root, check=False)


@contextlib.contextmanager
def _root_is_mountpoint(pillar_data):
    """A file system (tmpfs) is mounted on the prisoner root itself."""
    root = f"{JAIL_ROOT}/sjtest_mnt"
    os.makedirs(root)
    sh("/sbin/mount", "-t", "tmpfs", "tmpfs", root)
    try:
        open(f"{root}/canary", "w").close()
        _stamp(root)  # jailprov's: past the "not a prisoner jailprov installed" guard
        yield "sjtest_mnt", absent_cfg(pillar_data, "sjtest_mnt"), "itself a mount point", \
            lambda: os.path.exists(f"{root}/canary")
    finally:
        sh("/sbin/umount", root, check=False)
        sh("/bin/rm", "-rfx", root, check=False)


@contextlib.contextmanager
def _busy_mount_below(pillar_data):
    """A busy tmpfs below the root: umount refuses (EBUSY) and the tree must stay."""
    root = f"{JAIL_ROOT}/sjtest_busy"
    os.makedirs(f"{root}/mnt")
    open(f"{root}/canary", "w").close()
    _stamp(root)
    sh("/sbin/mount", "-t", "tmpfs", "tmpfs", f"{root}/mnt")
    try:
        with open(f"{root}/mnt/held-open", "w"):
            yield "sjtest_busy", absent_cfg(pillar_data, "sjtest_busy"), "unmount", \
                lambda: os.path.exists(f"{root}/canary") and \
                (os.path.realpath(f"{root}/mnt"), "tmpfs") in mounts_below(root)
    finally:
        sh("/sbin/umount", f"{root}/mnt", check=False)
        sh("/bin/rm", "-rfx", root, check=False)


GUARDS = {
    "still-in-pillar": _in_pillar,
    "symlink-out-of-jail-root": _symlink_out,
    "name-with-dotdot": _dotdot,
    "root-is-a-mount-point": _root_is_mountpoint,
    "busy-mount-below-root": _busy_mount_below,
    "not-installed-by-jailprov": _not_installed_by_jailprov,
}


@pytest.mark.parametrize("guard", GUARDS)
def test_destroy_guard_refuses_and_changes_nothing(world, pillar_data, guard):
    from salt_jail.core.features import lifecycle
    from salt_jail.core.errors import JailprovError

    host, cfg = world
    with GUARDS[guard](pillar_data) as (name, guard_cfg, message, unchanged):
        conf_before = read(JAIL_CONF)
        with pytest.raises(JailprovError, match=message):
            lifecycle.destroy(host, guard_cfg or cfg, name)
        assert unchanged()
        assert read(JAIL_CONF) == conf_before


def test_destroy_prisoner2_with_file_flags(world, pillar_data):
    """Flags set from the host (schg) and by the prisoner's root (sunlnk, allow.chflags) do not stop destroy.

    ``chflags -R noschg`` would leave sunlnk; destroy's ``chflags -R 0`` clears both.  Afterwards: no
    jail, no tree, nothing mounted below the root, no jail.conf block, no lo1 alias; prisoner 1 untouched.
    """
    from salt_jail.core.features import lifecycle

    host, _cfg = world
    root = f"{JAIL_ROOT}/{P2}"
    schg = f"{root}/etc/sjtest-schg"
    open(schg, "w").close()
    sh("/bin/chflags", "schg", schg)
    sunlnk = "/etc/sjtest-sunlnk"
    sh("/usr/sbin/jexec", P2, "/bin/sh", "-c", f"/usr/bin/touch {sunlnk} && /bin/chflags sunlnk {sunlnk}")
    assert file_flags(schg) & stat.SF_IMMUTABLE
    assert file_flags(root + sunlnk) & stat.SF_NOUNLINK

    cfg = absent_cfg(pillar_data, P2)
    preview = lifecycle.destroy(host, cfg, P2, test=True)
    assert preview.changed and "would be destroyed" in preview.comment
    assert P2 in running_jails() and os.path.isfile(schg)

    result = lifecycle.destroy(host, cfg, P2)
    assert result.changed and result.data["stopped"] and result.data["removed"] == root
    assert not os.path.lexists(root)
    assert P2 not in running_jails()
    assert mounts_below(root) == []
    conf = read(JAIL_CONF)
    assert P2 not in conf and P1 in conf
    assert PRISONER_IPS[P2] not in interface_addresses(INTERFACE)
    assert not lifecycle.destroy(host, cfg, P2).changed
    assert P1 in running_jails()


def test_stop_prisoner1(world):
    """jail -r with the block salt_jail wrote: exec.stop runs, devfs and the lo1 alias go."""
    from salt_jail.core.features import lifecycle
    from salt_jail.core.errors import JailprovError

    host, cfg = world
    result = lifecycle.stop(host, cfg, P1)
    assert result.changed
    assert P1 not in running_jails()
    assert mounts_below(cfg.prisoners[P1].path) == []
    assert PRISONER_IPS[P1] not in interface_addresses(INTERFACE)
    assert HOST_IP in interface_addresses(INTERFACE)
    assert not lifecycle.stop(host, cfg, P1).changed
    with pytest.raises(JailprovError, match="not running"):
        lifecycle.exec_in(host, cfg, P1, ["hostname"])
