"""The seed's prisoner file steps (features root, prisoner_files, uid_ranges, clock, root_password) on a
scratch host root with a fake pw: dry runs, idempotence, symlink escapes, secrets."""

import dataclasses
import os
import re
import stat

import pytest

from salt_jail.core import registry
from salt_jail.core.features import clock, prisoner_files, uid_ranges
from salt_jail.core.features import root as root_step
from salt_jail.core.features import root_password as root_password_step
from salt_jail.core.errors import CommandError, JailprovError, ValidationError
from salt_jail.core.io.host import CmdResult, Host
from salt_jail.core.model import Config, HostConfig, IdRange, Prisoner, PwRange
from tests.support.runner import FakeRunner, play_jails
from tests.support.tree import snapshot, timeless

HASH = "$6$jailprovtest$" + "Q" * 86
OLD_HASH = "$6$fixture$oldroothash"
HOST_RESOLV = "nameserver 192.0.2.53\n"
HOST_HOSTS = "127.0.0.1\tlocalhost\n"
SYSLOG = "*.err;kern.warning;auth.notice;mail.crit\t\t/dev/console\nsecurity.*\t\t/var/log/security\n"
CRONTAB = "SHELL=/bin/sh\n0\t*\t*\t*\t*\troot\tnewsyslog\n1,31\t0-5\t*\t*\t*\troot\tadjkerntz -a\n"
MASTER = f"root:{OLD_HASH}:0:0::0:0:Charlie &:/root:/bin/sh\ndaemon:*:1:1::0:0:Owner:/root:/usr/sbin/nologin\n"
GROUP = "wheel:*:0:root\ndaemon:*:1:\n"


JAIL_PW = ["/usr/sbin/jail", "-c", "path=/home/jail/web", "command=/usr/sbin/pw", "usermod", "root"]


def fake_pw(host_root, fail=None, effective=True, running=()):
    """A runner playing pw run confined to a prisoner — ``jail -c path=DIR command=/usr/sbin/pw usermod root
    -H 0 | -h -`` (stopped) or ``jexec NAME /usr/sbin/pw ...`` (running, per ``running``) — by editing
    DIR/etc/master.passwd (unless not ``effective``; exit 67 and ``fail`` when given).  ``jls`` answers with the
    ``running`` jails; :func:`pw_calls` leaves those queries out."""
    running = dict(running)  # name -> path

    def pw(call):
        argv, stdin = call.argv, call.stdin
        if fail:
            return CmdResult(67, "", fail)
        if argv[0] == "/usr/sbin/jexec":
            path, command = running[argv[1]], argv[2:]
        else:
            assert argv[:2] == ["/usr/sbin/jail", "-c"] and argv[2].startswith("path=")
            path, command = argv[2][len("path="):], [argv[3][len("command="):]] + argv[4:]
        assert command[:3] == ["/usr/sbin/pw", "usermod", "root"] and "-R" not in command
        new_hash = "*" if command[3:] == ["-h", "-"] else stdin.rstrip("\n")
        if effective:
            path = os.path.join(host_root, path.lstrip("/"), "etc", "master.passwd")
            with open(path) as f:
                lines = f.read().split("\n")
            lines = [":".join([ln.split(":")[0], new_hash] + ln.split(":")[2:]) if ln.startswith("root:") else ln
                     for ln in lines]
            with open(path, "w") as f:
                f.write("\n".join(lines))
        return CmdResult(0)

    return play_jails(FakeRunner(default=pw), running)


def pw_calls(runner):
    """What ran besides the jls queries: argv (tool paths), stdin and secret of each command."""
    return [{"argv": c.argv, "stdin": c.stdin, "secret": c.secret} for c in runner.calls if c.tool != "jls"]


def _prisoner(**changes):
    base = Prisoner(
        name="web", path="/home/jail/web", jid=None, ip4=("10.0.0.5",), ip6=("fd00::5",),
        hostname="web.example.org", pw_range=PwRange(IdRange(2000, 2999), IdRange(2000, 2999)),
        defaultpasswd="no", timezone="Asia/Tokyo", wall_cmos_clock=True, root_password=HASH,
    )
    return dataclasses.replace(base, **changes)


def _config(prisoner=None, **host_changes):
    host = HostConfig(
        pw_range=PwRange(IdRange(1000, 1999), IdRange(1000, 1999)), defaultpasswd="no", rc_aliases=False,
        rc_conf="/etc/rc.conf", jail_list="auto", parallel_start=None, resolv_conf="/etc/resolv.conf",
    )
    prisoner = prisoner or _prisoner()
    gone = _prisoner(name="old", path="/home/jail/old", absent=True)
    return Config(
        jail_root="/home/jail", release="14.2-RELEASE", arch="amd64", mirrors=(), dists=("base",), sha256={},
        cache_dir="/var/cache/jailprov", interface=None, jail_conf="/etc/jail.conf", jail_conf_layout="single",
        host=dataclasses.replace(host, **host_changes), prisoners={prisoner.name: prisoner, "old": gone},
        absent=("old",),
    )


def _write(path, text, mode=0o644):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, mode)


@pytest.fixture
def world(tmp_path):
    """A host root with /etc files and one installed prisoner at /home/jail/web."""
    root = tmp_path / "root"
    for rel, text in (("etc/resolv.conf", HOST_RESOLV), ("etc/hosts", HOST_HOSTS),
                      ("etc/master.passwd", "root:$6$host$hostroothash:0:0::0:0:Charlie &:/root:/bin/sh\n"),
                      ("etc/group", GROUP)):
        _write(root / rel, text, 0o600 if rel == "etc/master.passwd" else 0o644)
    web = root / "home" / "jail" / "web"
    for rel, text in (("etc/syslog.conf", SYSLOG), ("etc/crontab", CRONTAB), ("etc/hosts", HOST_HOSTS),
                      ("etc/master.passwd", MASTER), ("etc/group", GROUP),
                      ("usr/share/zoneinfo/Asia/Tokyo", "TZif-tokyo"), ("usr/share/zoneinfo/UTC", "TZif-utc")):
        _write(web / rel, text)
    os.chmod(web, 0o755)
    os.chmod(root / "home" / "jail", 0o755)
    runner = fake_pw(str(root))
    return Host(root=str(root), runner=runner), root, web, runner


#: The registry's steps that these feature modules implement (seed steps 1, 3-7, 9), in order, as
#: ``(step id, function jailprov.provision calls)``.
MODULES = {m.__name__ for m in (root_step, prisoner_files, uid_ranges, clock, root_password_step)}
STEPS = [(s.id, s.provision_fn or s.fn) for s in registry.PRISONER_STEPS if (s.provision_fn or s.fn).__module__ in MODULES]
PRISONER_STEPS = [fn for _, fn in STEPS]
FILE_STEPS = [
    (prisoner_files.resolv_conf, "etc/resolv.conf", "+nameserver 192.0.2.53"),
    (prisoner_files.syslog_console, "etc/syslog.conf", "+#*.err;kern.warning;auth.notice;mail.crit\t\t/dev/console"),
    (prisoner_files.crontab_adjkerntz, "etc/crontab", "+#1,31\t0-5\t*\t*\t*\troot\tadjkerntz -a"),
    (prisoner_files.hosts, "etc/hosts", "+10.0.0.5\t\tweb.example.org web"),
    (uid_ranges.pw_conf, "etc/pw.conf", "+minuid = 2000"),
    (clock.wall_cmos_clock, "etc/wall_cmos_clock", "+++ b/etc/wall_cmos_clock"),
    (clock.localtime, "etc/localtime", "+symbolic link to /usr/share/zoneinfo/Asia/Tokyo"),
]


def test_steps_are_listed_in_seed_order():
    assert [step_id for step_id, _ in STEPS] == [
        "root", "resolv_conf", "syslog", "crontab", "hosts", "pw_conf", "wall_cmos_clock", "localtime",
        "root_password"]


@pytest.mark.parametrize("fn,rel,diff_line", FILE_STEPS, ids=[f[1] for f in FILE_STEPS])
def test_dry_run_then_real_run_then_no_change(world, fn, rel, diff_line):
    host, root, web, _ = world
    cfg = _config()
    before = snapshot(root)
    dry = fn(host, cfg, "web", test=True)
    assert snapshot(root) == before, "test mode wrote something"
    assert dry.changed and diff_line in dry.diff.splitlines()
    assert dry.comment.startswith(f"/home/jail/web/{rel} would be changed")
    assert f"--- a/{rel}" in dry.diff or "--- /dev/null" in dry.diff
    real = fn(host, cfg, "web")
    assert (real.changed, real.diff) == (dry.changed, dry.diff)
    assert real.comment == dry.comment.replace("would be changed", "was changed")
    assert timeless(snapshot(root)) != timeless(before)
    again = fn(host, cfg, "web")
    assert (again.changed, again.diff) == (False, "")
    assert again.comment.startswith(f"/home/jail/web/{rel} is already correct")
    assert fn(host, cfg, "web", test=True) == again


def test_resolv_conf_copies_mode_and_follows_host_changes(world):
    host, root, web, _ = world
    os.chmod(root / "etc" / "resolv.conf", 0o640)
    prisoner_files.resolv_conf(host, _config(), "web")
    assert stat.S_IMODE(os.stat(web / "etc" / "resolv.conf").st_mode) == 0o640
    (root / "etc" / "resolv.conf").write_text("nameserver 192.0.2.54\n")
    result = prisoner_files.resolv_conf(host, _config(), "web")
    assert result.changed and "-nameserver 192.0.2.53\n+nameserver 192.0.2.54\n" in result.diff


# sys/kern/kern_jail.c, prison_remote_ip4(): a non-VNET jail's connection to 127.0.0.1 goes to the jail's own
# first address -- the host's local_unbound on 127.0.0.1 is out of reach, DNS in the prisoner fails.
LOCAL_UNBOUND = "# Generated by resolvconf\nsearch example.org\nnameserver 127.0.0.1\noptions edns0\n"


def test_resolv_conf_with_the_hosts_loopback_resolver_warns(world):
    host, root, web, _ = world
    (root / "etc" / "resolv.conf").write_text(LOCAL_UNBOUND)
    for test in (True, False):
        result = prisoner_files.resolv_conf(host, _config(), "web", test=test)
        assert result.changed and "WARNING" in result.comment and "127.0.0.1" in result.comment
        assert "jailprov:prisoners:web:resolvers" in result.comment and "prison_remote_ip4" in result.comment
    assert (web / "etc" / "resolv.conf").read_text() == LOCAL_UNBOUND
    again = prisoner_files.resolv_conf(host, _config(), "web")
    assert not again.changed and "WARNING" in again.comment          # said on every run, not only the first
    vnet = _config(_prisoner(params={"vnet": "new"}))
    assert "WARNING" not in prisoner_files.resolv_conf(host, vnet, "web").comment   # its own loopback


def test_resolv_conf_with_the_prisoners_own_resolvers(world):
    host, root, web, _ = world
    (root / "etc" / "resolv.conf").write_text(LOCAL_UNBOUND)
    cfg = _config(_prisoner(resolvers=("192.168.11.1", "2001:db8::53")))
    dry = prisoner_files.resolv_conf(host, cfg, "web", test=True)
    assert dry.changed and not (web / "etc" / "resolv.conf").exists()
    result = prisoner_files.resolv_conf(host, cfg, "web")
    assert result.diff == dry.diff and "WARNING" not in result.comment
    assert (web / "etc" / "resolv.conf").read_text() == (
        "# Generated by resolvconf\nsearch example.org\nnameserver 192.168.11.1\nnameserver 2001:db8::53\n"
        "options edns0\n")
    assert not prisoner_files.resolv_conf(host, cfg, "web").changed


def test_resolv_conf_without_host_file_is_a_clear_error(world):
    host, root, web, _ = world
    os.unlink(root / "etc" / "resolv.conf")
    with pytest.raises(JailprovError, match=r"^/etc/resolv.conf does not exist; step resolv_conf copies it"):
        prisoner_files.resolv_conf(host, _config(), "web")
    assert not (web / "etc" / "resolv.conf").exists()


def test_syslog_without_the_rule_is_no_change_with_a_comment(world):
    host, _, web, _ = world
    (web / "etc" / "syslog.conf").write_text("security.*\t/var/log/security\n")
    result = prisoner_files.syslog_console(host, _config(), "web")
    assert not result.changed and "no console rule" in result.comment


def test_binary_file_is_an_error_and_nothing_is_written(world):
    host, root, web, _ = world
    (web / "etc" / "crontab").write_bytes(b"\x00\x01binary")
    before = snapshot(root)
    with pytest.raises(JailprovError, match="/home/jail/web/etc/crontab is a binary file"):
        prisoner_files.crontab_adjkerntz(host, _config(), "web")
    assert snapshot(root) == before


def test_missing_base_file_names_the_base_step(world):
    host, _, web, _ = world
    os.unlink(web / "etc" / "syslog.conf")
    with pytest.raises(JailprovError, match="syslog.conf does not exist; .*step 'base' installs"):
        prisoner_files.syslog_console(host, _config(), "web")


# ---------------------------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("fn", PRISONER_STEPS, ids=[s for s, _ in STEPS])
def test_unknown_and_absent_prisoners_are_refused(world, fn):
    host = world[0]
    with pytest.raises(ValidationError, match="no prisoner named 'nope' in the pillar"):
        fn(host, _config(), "nope")
    with pytest.raises(ValidationError, match="old: the prisoner is marked absent"):
        fn(host, _config(), "old")


@pytest.mark.parametrize("fn", PRISONER_STEPS[1:], ids=[s for s, _ in STEPS[1:]])
def test_missing_prisoner_root_names_step_root(world, fn):
    host = world[0]
    cfg = _config(_prisoner(name="db", path="/home/jail/db"))
    with pytest.raises(JailprovError, match=r"prisoner root /home/jail/db does not exist; step 'root'"):
        fn(host, cfg, "db", test=True)


# ---------------------------------------------------------------------------------------------- symlink escapes

def test_hosts_link_to_an_absolute_host_path_never_touches_the_host(world):
    host, root, web, _ = world
    host_hosts = root / "etc" / "hosts"
    os.unlink(web / "etc" / "hosts")
    (web / "etc" / "hosts").symlink_to(host_hosts)  # the host file's real absolute path
    with pytest.raises(JailprovError, match="etc/hosts is a symbolic link to .* which does not exist inside"):
        prisoner_files.hosts(host, _config(), "web")
    assert host_hosts.read_text() == HOST_HOSTS


def test_resolv_conf_link_to_a_host_file_is_replaced_not_written_through(world):
    host, root, web, _ = world
    target = root / "etc" / "hosts"
    (web / "etc" / "resolv.conf").symlink_to(target)
    result = prisoner_files.resolv_conf(host, _config(), "web")
    assert result.changed and "replaced the symbolic link" in result.comment
    assert target.read_text() == HOST_HOSTS
    assert not (web / "etc" / "resolv.conf").is_symlink()


def test_etc_link_climbing_to_the_host_etc_is_refused_by_every_step(world):
    host, root, web, _ = world
    for child in ("syslog.conf", "crontab", "hosts", "master.passwd", "group"):
        os.unlink(web / "etc" / child)
    os.rmdir(web / "etc")
    # /home/jail/web/etc -> ../../../etc is the host's /etc the host's way (one more ../ on /usr/home).
    (web / "etc").symlink_to("../../../etc")
    assert (web / "etc" / "hosts").read_text() == HOST_HOSTS  # the host's way does reach the host
    before = snapshot(root / "etc")
    for _, fn in STEPS[1:]:  # inside the prisoner, etc -> /etc is a loop; pw is not even run
        with pytest.raises(JailprovError, match="symbolic link"):
            fn(host, _config(), "web")
    assert snapshot(root / "etc") == before
    assert pw_calls(world[3]) == []


def test_zone_file_is_checked_inside_the_prisoner(world):
    host, root, web, _ = world
    _write(root / "usr" / "share" / "zoneinfo" / "Europe" / "Paris", "TZif-host")
    with pytest.raises(JailprovError, match=r"time zone 'Europe/Paris' is not installed in prisoner web: "
                                            r"/home/jail/web/usr/share/zoneinfo/Europe/Paris does not exist"):
        clock.localtime(host, _config(_prisoner(timezone="Europe/Paris")), "web")
    # a zoneinfo link pointing at the host's real zoneinfo directory resolves inside the prisoner too
    os.rename(web / "usr" / "share" / "zoneinfo", web / "usr" / "share" / "zoneinfo.orig")
    (web / "usr" / "share" / "zoneinfo").symlink_to(root / "usr" / "share" / "zoneinfo")
    with pytest.raises(JailprovError, match="not installed"):
        clock.localtime(host, _config(_prisoner(timezone="Europe/Paris")), "web")
    assert not os.path.lexists(web / "etc" / "localtime")


# ---------------------------------------------------------------------------------------------- step 1

def test_root_creates_a_missing_prisoner_root(world):
    host, root, _, _ = world
    cfg = _config(_prisoner(name="db", path="/home/jail/db"))
    dry = root_step.ensure_root(host, cfg, "db", test=True)
    assert dry.changed and not (root / "home" / "jail" / "db").exists()
    assert dry.comment == "prisoner root /home/jail/db would be changed: create /home/jail/db (mode 0755, root:wheel)"
    real = root_step.ensure_root(host, cfg, "db")
    st = os.stat(root / "home" / "jail" / "db")
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o755, 0, 0)
    assert real.data == dry.data
    assert root_step.ensure_root(host, cfg, "db").changed is False


def test_root_creates_a_missing_jail_root(tmp_path):
    host = Host(root=str(tmp_path))
    result = root_step.ensure_root(host, _config(), "web")
    assert result.data["actions"][0] == "create /home/jail"
    assert (tmp_path / "home" / "jail" / "web").is_dir()


def test_root_fixes_mode_and_owner(world):
    host, _, web, _ = world
    _write(web / "var/db/jailprov-base.json", '{"format": 1, "state": "installed"}\n')  # jailprov installed it
    os.chmod(web, 0o700)
    os.chown(web, 1001, 1001)
    result = root_step.ensure_root(host, _config(), "web")
    assert result.data["actions"] == ["chmod 0700 -> 0755", "chown 1001:1001 -> root:wheel"]
    st = os.stat(web)
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o755, 0, 0)


def test_root_refuses_a_symlinked_prisoner_root(world):
    host, root, _, _ = world
    (root / "elsewhere").mkdir()
    (root / "home" / "jail" / "db").symlink_to(root / "elsewhere")
    with pytest.raises(JailprovError, match="prisoner root /home/jail/db is a symbolic link"):
        root_step.ensure_root(host, _config(_prisoner(name="db", path="/home/jail/db")), "db")
    with pytest.raises(JailprovError, match="prisoner root /home/jail/db is not a directory"):
        prisoner_files.hosts(host, _config(_prisoner(name="db", path="/home/jail/db")), "db")


def test_root_refuses_a_world_writable_jail_root(world):
    host, root, _, _ = world
    os.chmod(root / "home" / "jail", 0o777)
    with pytest.raises(JailprovError, match=r"jail_root /home/jail is writable by everyone \(mode 0777\)"):
        root_step.ensure_root(host, _config(), "web", test=True)


# ---------------------------------------------------------------------------------------------- pw.conf, audit

def test_pw_conf_without_range_is_skipped(world):
    host, _, web, _ = world
    result = uid_ranges.pw_conf(host, _config(_prisoner(pw_range=None)), "web")
    assert not result.changed and "no pw_range" in result.comment
    assert not (web / "etc" / "pw.conf").exists()


def test_host_pw_conf(world):
    host, root, _, _ = world
    dry = uid_ranges.host_pw_conf(host, _config(), test=True)
    assert dry.changed and dry.comment.startswith("/etc/pw.conf would be changed")
    assert not (root / "etc" / "pw.conf").exists()
    assert uid_ranges.host_pw_conf(host, _config()).diff == dry.diff
    assert "minuid = 1000\nmaxuid = 1999\n" in (root / "etc" / "pw.conf").read_text()
    assert not uid_ranges.host_pw_conf(host, _config()).changed
    assert not uid_ranges.host_pw_conf(host, _config(pw_range=None)).changed


def test_audit_ids_reports_shared_ids_and_skips_uninstalled_prisoners(world):
    host, root, web, _ = world
    with open(root / "etc" / "master.passwd", "a") as f:
        f.write("alice:*:1001:1001::0:0::/home/alice:/bin/sh\n")
    with open(web / "etc" / "master.passwd", "a") as f:
        f.write("bob:*:1001:1001::0:0::/home/bob:/bin/sh\n")
    cfg = _config()
    cfg.prisoners["db"] = _prisoner(name="db", path="/home/jail/db")
    before = snapshot(root)
    report = uid_ranges.audit_ids(host, cfg)
    assert report["shared_uids"] == [
        {"id": 1001, "accounts": [{"owner": "host", "name": "alice"}, {"owner": "web", "name": "bob"}]}]
    assert report["uids_out_of_range"] == [{"owner": "web", "name": "bob", "id": 1001, "range": [2000, 2999]}]
    assert list(report["skipped"]) == ["db"] and "step 'root'" in report["skipped"]["db"]
    assert "hostroothash" not in repr(report) and "oldroothash" not in repr(report)
    assert snapshot(root) == before


# ---------------------------------------------------------------------------------------------- step 9

def test_wall_cmos_clock_false_removes_the_file(world):
    host, _, web, _ = world
    (web / "etc" / "wall_cmos_clock").write_text("")
    result = clock.wall_cmos_clock(host, _config(_prisoner(wall_cmos_clock=False)), "web")
    assert result.changed and "deleted file mode 0644" in result.diff
    assert not (web / "etc" / "wall_cmos_clock").exists()
    assert not clock.wall_cmos_clock(host, _config(_prisoner(wall_cmos_clock=False)), "web").changed


def test_localtime_replaces_another_zone(world):
    host, _, web, _ = world
    (web / "etc" / "localtime").symlink_to("/usr/share/zoneinfo/UTC")
    result = clock.localtime(host, _config(), "web")
    assert "-symbolic link to /usr/share/zoneinfo/UTC\n+symbolic link to /usr/share/zoneinfo/Asia/Tokyo\n" \
        in result.diff
    assert os.readlink(web / "etc" / "localtime") == "/usr/share/zoneinfo/Asia/Tokyo"


def _no_secret(result, secret=HASH):
    assert secret not in repr(result) and secret not in repr(result.as_dict())


def test_root_password_sets_the_hash_through_stdin(world):
    host, root, web, runner = world
    dry = root_password_step.root_password(host, _config(), "web", test=True)
    assert (dry.changed, dry.comment, pw_calls(runner)) == (True, "root password of prisoner web would be changed", [])
    result = root_password_step.root_password(host, _config(), "web")
    assert (result.changed, result.comment, result.diff, result.data) == (
        True, "root password of prisoner web was changed", "", {})
    assert pw_calls(runner) == [{"argv": JAIL_PW + ["-H", "0"], "stdin": HASH + "\n", "secret": True}]
    assert HASH in (web / "etc" / "master.passwd").read_text()
    again = root_password_step.root_password(host, _config(), "web")
    assert (again.changed, again.comment, len(pw_calls(runner))) == (
        False, "root password of prisoner web is already correct", 1)
    for res in (dry, result, again):
        _no_secret(res)


def test_root_password_locked_uses_dash_h_dash(world):
    host, _, web, runner = world
    cfg = _config(_prisoner(root_password="locked"))
    result = root_password_step.root_password(host, cfg, "web")
    assert result.changed and "locked" in result.comment
    assert pw_calls(runner) == [{"argv": JAIL_PW + ["-h", "-"], "stdin": None, "secret": True}]
    assert (web / "etc" / "master.passwd").read_text().startswith("root:*:0:0:")
    assert not root_password_step.root_password(host, cfg, "web").changed


@pytest.mark.parametrize("hash_", ["*LOCKED*$6$salt$hash", "*", "*$6$salt$hash"])
def test_root_password_locked_accepts_any_hash_starting_with_a_star(world, hash_):
    """usr.sbin/pw/pw_user.c, pw_set_passwd(): ``-h -`` sets ``*`` only ``if (*pwd->pw_passwd != '*')``,
    so an account locked by ``pw lock`` (``*LOCKED*...``) stays as it is -- and is locked: correct, no change."""
    host, _, web, runner = world
    passwd = web / "etc" / "master.passwd"
    passwd.write_text(re.sub(r"^root:[^:]*:", f"root:{hash_}:", passwd.read_text(), count=1, flags=re.M))
    cfg = _config(_prisoner(root_password="locked"))
    for test in (True, False):
        result = root_password_step.root_password(host, cfg, "web", test=test)
        assert (result.changed, result.comment) == (False, "root password of prisoner web is already correct")
    assert pw_calls(runner) == [] and passwd.read_text().startswith(f"root:{hash_}:0:0:")


def test_root_password_failure_never_shows_the_hash(world):
    host, root, _, _ = world
    host.runner = fake_pw(str(root), fail=f"pw: bad hash {HASH}")
    with pytest.raises(CommandError) as err:
        root_password_step.root_password(host, _config(), "web")
    assert HASH not in str(err.value) and HASH not in repr(err.value.__dict__)
    assert "pw: bad hash <hash>" in str(err.value)
    assert err.value.__cause__ is None and err.value.__context__ is None


def test_root_password_that_did_not_stick_is_an_error(world):
    host, root, _, _ = world
    host.runner = fake_pw(str(root), effective=False)
    with pytest.raises(JailprovError, match="succeeded but root's password .* did not change") as err:
        root_password_step.root_password(host, _config(), "web")
    assert HASH not in str(err.value)


def test_root_password_in_a_running_prisoner_uses_jexec(world):
    host, root, web, _ = world
    host.runner = runner = fake_pw(str(root), running={"web": "/home/jail/web"})
    assert root_password_step.root_password(host, _config(), "web").changed
    assert pw_calls(runner) == [{"argv": ["/usr/sbin/jexec", "web", "/usr/sbin/pw", "usermod", "root", "-H", "0"],
                             "stdin": HASH + "\n", "secret": True}]
    assert HASH in (web / "etc" / "master.passwd").read_text()


@pytest.mark.parametrize("rel", ["etc/master.passwd", "etc/group"])
def test_root_password_links_to_host_files_never_reach_them(world, rel):
    """pw runs confined, so a link in the prisoner resolves inside it; the current hash is read the same way."""
    host, root, web, runner = world
    os.unlink(web / rel)
    (web / rel).symlink_to(root / rel)
    before = snapshot(root / "etc")
    if rel == "etc/master.passwd":  # the link's target does not exist inside the prisoner: nothing to compare
        with pytest.raises(JailprovError, match=f"/home/jail/web/{rel} does not exist"):
            root_password_step.root_password(host, _config(), "web")
        assert pw_calls(runner) == []
    else:
        root_password_step.root_password(host, _config(), "web")
        assert [c["argv"] for c in pw_calls(runner)] == [JAIL_PW + ["-H", "0"]]
    assert snapshot(root / "etc") == before


def test_root_password_not_in_pillar_is_left_alone(world):
    host, _, _, runner = world
    result = root_password_step.root_password(host, _config(_prisoner(root_password=None)), "web")
    assert not result.changed and pw_calls(runner) == []


def test_root_password_without_root_account_is_an_error(world):
    host, _, web, runner = world
    (web / "etc" / "master.passwd").write_text("daemon:*:1:1::0:0:Owner:/root:/usr/sbin/nologin\n")
    with pytest.raises(JailprovError, match="/home/jail/web/etc/master.passwd has no root account"):
        root_password_step.root_password(host, _config(), "web", test=True)
    assert pw_calls(runner) == []


def test_hosts_without_addresses_is_left_alone(world):
    host, _, web, _ = world
    result = prisoner_files.hosts(host, _config(_prisoner(ip4=(), ip6=())), "web")
    assert not result.changed and "no ip4/ip6 address" in result.comment
    assert (web / "etc" / "hosts").read_text() == HOST_HOSTS
