"""jail(8), jls(8), jexec(8) and service(8) on the rehearsal host, driven by a jail.conf as the product does."""

import json
import os
import pathlib
import shutil

import pytest

from salt_jail import rehearsal

from tests.support.standins import run

# Commands "inside" a jail run in new UTS and network namespaces (salt_jail.rehearsal.sandbox): root only.
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="jailed commands need root (namespaces)")

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "rehearsal"
SCRIPTS = {
    "etc/rc": "#!/bin/sh\nhostname > started\n",
    "etc/rc.shutdown": '#!/bin/sh\necho "$1" > stopped\n',
    "etc/rc.fail": "#!/bin/sh\nexit 3\n",
}


@pytest.fixture
def root(rehearsal_root):
    path = rehearsal_root
    shutil.copy(FIXTURES / "jail.conf", os.path.join(path, "etc/jail.conf"))
    for name in ("prisoner1", "web", "bad"):
        top = os.path.join(path, "home/jail", name)
        for directory in ("bin", "dev", "etc", "root", "tmp"):
            os.makedirs(os.path.join(top, directory))
        with open(os.path.join(top, "bin/sh"), "wb") as fh:
            fh.write(b"\x7fELF (a FreeBSD binary the rehearsal never executes)")
        with open(os.path.join(top, "etc/master.passwd"), "w", encoding="utf-8") as fh:
            fh.write("root::0:0::0:0:Charlie &:/root:/bin/sh\n")
        for script, text in SCRIPTS.items():
            with open(os.path.join(top, script), "w", encoding="utf-8") as fh:
                fh.write(text)
    return path




def jail(root, *args):
    return run(root, "jail", *args)


def read(root, path):
    with open(os.path.join(root, path.lstrip("/")), encoding="utf-8") as fh:
        return fh.read()


def nested(root, by="jail"):
    return [(n["argv"], n.get("ran", True)) for n in rehearsal.nested_commands(root) if n["by"] == by]


# -- jail -c / -r --------------------------------------------------------------------------------------

def test_create_from_jail_conf(root):
    result = jail(root, "-f", "/etc/jail.conf", "-c", "prisoner1")
    assert (result.returncode, result.stdout, result.stderr) == (0, "prisoner1: created\n", "")
    view = rehearsal.kernel(root)
    assert [(j["jid"], j["name"], j["path"], j["hostname"], j["ip4"]) for j in view.jails] == [
        (1, "prisoner1", "/home/jail/prisoner1", "prisoner1.example.org", ["192.168.11.31"])]
    assert view.aliases["em0"] == ["192.168.11.31"]
    assert view.mounts[-1] == ("devfs", "/home/jail/prisoner1/dev", "devfs")
    assert nested(root) == [
        (["ifconfig", "em0", "inet", "192.168.11.31", "netmask", "255.255.255.255", "alias"], True),
        (["mount", "-t", "devfs", "-oruleset=4", ".", "/home/jail/prisoner1/dev"], True),
        (["/bin/sh", "/etc/rc"], True)]
    # exec.start really ran /etc/rc of the jail, in the jail's home (exec.clean), under the jail's hostname.
    assert read(root, "/home/jail/prisoner1/root/started") == "prisoner1.example.org\n"
    assert rehearsal.commands(root) == [["jail", "-f", "/etc/jail.conf", "-c", "prisoner1"]]


def test_freebsd_rc_scripts_are_recorded_not_run(root):
    with open(os.path.join(root, "home/jail/prisoner1/etc/rc"), "w", encoding="utf-8") as fh:
        fh.write("#!/bin/sh\n. /etc/rc.subr\nrun_rc_command start\nhostname > started\n")
    result = jail(root, "-f", "/etc/jail.conf", "-c", "prisoner1")
    assert (result.returncode, result.stderr) == (0, "")
    assert nested(root)[-1] == (["/bin/sh", "/etc/rc"], False)
    assert not os.path.exists(os.path.join(root, "home/jail/prisoner1/root/started"))


def test_remove_uses_the_configuration(root):
    jail(root, "-f", "/etc/jail.conf", "-c", "prisoner1")
    result = jail(root, "-q", "-f", "/etc/jail.conf", "-r", "prisoner1")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    view = rehearsal.kernel(root)
    assert (view.jails, view.aliases["em0"]) == ([], [])
    assert view.mounts == [("/dev/ada0p2", "/", "ufs"), ("devfs", "/dev", "devfs")]
    assert read(root, "/home/jail/prisoner1/root/stopped") == "jail\n"
    assert nested(root)[3:] == [
        (["/bin/sh", "/etc/rc.shutdown", "jail"], True),
        (["umount", "/home/jail/prisoner1/dev"], True),
        (["ifconfig", "em0", "inet", "192.168.11.31", "netmask", "255.255.255.255", "-alias"], True)]
    again = jail(root, "-f", "/etc/jail.conf", "-r", "prisoner1")
    assert (again.returncode, again.stderr) == (1, 'jail: "prisoner1" not found\n')
    assert jail(root, "-q", "-f", "/etc/jail.conf", "-r", "prisoner1").stderr == ""


def test_depend_starts_the_dependency_first_and_addresses_with_interface_and_mask(root):
    result = jail(root, "-f", "/etc/jail.conf", "-c", "web")
    assert (result.returncode, result.stdout) == (0, "prisoner1: created\nweb: created\n")
    view = rehearsal.kernel(root)
    assert [(j["jid"], j["name"]) for j in view.jails] == [(1, "prisoner1"), (7, "web")]
    assert view.aliases["em0"] == ["192.168.11.31", "192.168.11.40"]
    assert (["ifconfig", "em0", "inet", "192.168.11.40/24", "alias"], True) in nested(root)
    assert (["mount", "-t", "devfs", "-oruleset=5", ".", "/home/jail/web/dev"], True) in nested(root)


def test_already_exists(root):
    jail(root, "-f", "/etc/jail.conf", "-c", "prisoner1")
    before = len(rehearsal.nested_commands(root))
    result = jail(root, "-f", "/etc/jail.conf", "-c", "prisoner1")
    assert (result.returncode, result.stdout, result.stderr) == (1, "", 'jail: "prisoner1" already exists\n')
    assert len(rehearsal.nested_commands(root)) == before  # nothing was run
    # A jid held by another jail counts too (jail(8) looks the jail up by jid first).
    assert jail(root, "-c", "jid=7", "name=other", "path=/home/jail/bad", "persist").returncode == 0
    clash = jail(root, "-f", "/etc/jail.conf", "-c", "web")
    assert (clash.returncode, clash.stderr) == (1, 'jail: "web" already exists\n')
    kernel_clash = jail(root, "-c", "name=third", "path=/home/jail/bad", "persist", "ip4.addr=10.0.0.1")
    assert kernel_clash.returncode == 0
    named = jail(root, "-c", "name=third", "path=/home/jail/bad", "persist")
    assert (named.returncode, named.stderr) == (1, 'jail: "third" already exists\n')


@pytest.mark.parametrize("first, second, clash", [
    ("10.0.0.1", "10.0.0.1", False),                      # one address each: may be shared
    ("10.0.0.1,10.0.0.2", "10.0.0.1", True),              # a single-address jail against a multi-address one
    ("10.0.0.1", "10.0.0.1,10.0.0.3", True),
    ("10.0.0.1,10.0.0.2", "10.0.0.3,10.0.0.4", False),    # nothing shared
])
def test_ip_clash_follows_the_kernel(root, first, second, clash):
    """sys/kern/kern_jail.c prison_ip_conflict_check(): a jail's address may be another jail's only when both
    have exactly one address (``if (tpr->pr_ip4 == NULL || (ip4s == 1 && tpr->pr_ip4s == 1)) continue;``)."""
    assert jail(root, "-c", "name=one", "path=/home/jail/bad", "persist", f"ip4.addr={first}").returncode == 0
    result = jail(root, "-c", "name=two", "path=/home/jail/bad", "persist", f"ip4.addr={second}")
    if clash:
        assert (result.returncode, result.stderr) == (1, "jail: IPv4 addresses clash\n")
        assert [j["name"] for j in rehearsal.kernel(root).jails] == ["one"]
    else:
        assert result.returncode == 0, result.stderr


def test_create_all_skips_running_jails_and_reports_failures(root):
    jail(root, "-f", "/etc/jail.conf", "-c", "prisoner1")
    result = jail(root, "-f", "/etc/jail.conf", "-c")
    assert result.returncode == 1
    assert result.stdout == "web: created\nbad: created\nbad: removed\n"
    assert result.stderr == ("jail: bad: /bin/sh /etc/rc.fail: failed\n"
                             "jail: ghost: path /home/jail/ghost: No such file or directory\n")
    view = rehearsal.kernel(root)
    assert [j["name"] for j in view.jails] == ["prisoner1", "web"]
    assert view.aliases["em0"] == ["192.168.11.31", "192.168.11.40"]  # bad's alias was taken back
    assert ("devfs", "/home/jail/bad/dev", "devfs") not in view.mounts


@pytest.mark.parametrize("argv, stderr", [
    (["-c", "name=x", "path=/home/jail/web"], "jail: new jail must persist or attach\n"),
    (["-c", "name=x", "path=/home/jail/web", "persist", "foo=bar"], "jail: unknown parameter: foo\n"),
    (["-c", "name=x", "path=/home/jail/web", "persist", "securelevel=high"],
     'jail: securelevel: non-integer value "high"\n'),
    (["-c", "name=x", "path=/home/jail/web", "persist", "ip4.addr=300.1.1.1"],
     "jail: ip4.addr: not an IPv4 address: 300.1.1.1\n"),
    (["-c", "name=12", "path=/home/jail/web", "persist"], "jail: name cannot be numeric (unless it is the jid)\n"),
    (["-c", "name=x", "path=/home/jail/none", "persist"], "jail: path /home/jail/none: No such file or directory\n"),
    (["-f", "/etc/jail.conf", "-c", "nosuch"], 'jail: "nosuch" not found\n'),
    (["-f", "/etc/nosuch.conf", "-c", "web"], "jail: /etc/nosuch.conf: No such file or directory\n"),
    (["-r", "nosuch"], 'jail: "nosuch" not found\n'),
    (["-m", "name=nosuch", "persist"], 'jail: "nosuch" not found\n'),
])
def test_jail_errors(root, argv, stderr):
    result = jail(root, *argv)
    assert (result.returncode, result.stdout, result.stderr) == (1, "", stderr)
    assert rehearsal.kernel(root).jails == []


@pytest.mark.parametrize("argv", [[], ["-x"], ["-r"], ["-c", "-R", "x"], ["-r", "a=b"], ["/tmp", "h"]])
def test_jail_usage(root, argv):
    result = jail(root, *argv)
    assert result.returncode == 1
    assert result.stderr.endswith(
        "usage: jail [-dhilqv] [-J jid_file] [-u username] [-U username]\n"
        "            -[cmr] param=value ... [command=command ...]\n"
        "       jail [-dqv] [-f file] -[cmr] [jail]\n"
        "       jail [-qv] [-f file] -[rR] ['*' | jail ...]\n"
        "       jail [-dhilqv] [-J jid_file] [-u username] [-U username]\n"
        "            [-n jailname] [-s securelevel]\n"
        "            path hostname [ip[,...]] command ...\n"
        "       jail [-f file] -e separator\n")


def test_i_prints_the_jid_and_J_writes_the_jid_file(root):
    result = jail(root, "-i", "-J", "/tmp/p1.jid", "-f", "/etc/jail.conf", "-c", "prisoner1")
    assert (result.returncode, result.stdout) == (0, "1\n")
    assert read(root, "/tmp/p1.jid").startswith("jid=1 name=prisoner1 exec.start=\"/bin/sh /etc/rc\" ")


def test_command_line_jails(root):
    assert jail(root, "-c", "name=cli", "path=/home/jail/web", "persist", "host.hostname=h1").stdout == ""
    assert rehearsal.kernel(root).jails[0]["hostname"] == "h1"
    assert jail(root, "-m", "name=cli", "host.hostname=h2").returncode == 0
    assert rehearsal.kernel(root).jails[0]["hostname"] == "h2"
    tun = jail(root, "-m", "name=cli", "path=/home/jail/bad")
    assert (tun.returncode, tun.stderr) == (1, "jail: path cannot be changed after creation\n")
    # "removed" is noted because a jail.conf exists (jail.c: note_remove = docf || ...).
    assert jail(root, "-r", "cli").stdout == "cli: removed\n"
    # With only "command" the jail lives while the command runs, then it is gone (no persist).
    once = jail(root, "-c", "name=once", "path=/home/jail/web", "command=/bin/sh", "-c", "hostname > tmp/once")
    assert (once.returncode, once.stderr) == (0, "")
    assert read(root, "/home/jail/web/tmp/once") == "jailer.example.org\n"
    assert rehearsal.kernel(root).jails == []


def test_show_parameters(root):
    result = jail(root, "-e", " ; ")
    assert result.returncode == 0
    assert result.stdout.splitlines()[0] == (
        'name=prisoner1 ; exec.start="/bin/sh /etc/rc" ; exec.stop="/bin/sh /etc/rc.shutdown jail" ; exec.clean'
        " ; path=/home/jail/prisoner1 ; host.hostname=prisoner1.example.org ; ip4.addr=192.168.11.31"
        " ; interface=em0 ; mount.devfs")


# -- jls -----------------------------------------------------------------------------------------------

@pytest.fixture
def running(root):
    assert jail(root, "-f", "/etc/jail.conf", "-c", "web").returncode == 0
    return root


def test_jls_text(running):
    assert run(running, "jls").stdout == (
        "   JID  IP Address      Hostname                      Path\n"
        "     1  192.168.11.31   prisoner1.example.org         /home/jail/prisoner1\n"
        "     7  192.168.11.40   web.example.org               /home/jail/web\n")
    assert run(running, "jls", "-N", "-j", "web").stdout == (
        " JID             IP Address      Hostname                      Path\n"
        " web             192.168.11.40   web.example.org               /home/jail/web\n")
    assert run(running, "jls", "-v", "-j", "7").stdout == (
        "   JID  Hostname                      Path\n"
        "        Name                          State\n"
        "        CPUSetID\n"
        "        IP Address(es)\n"
        "     7  web.example.org               /home/jail/web\n"
        "        web                           ACTIVE\n"
        "        3\n"
        "        192.168.11.40\n")
    assert run(running, "jls", "jid", "name").stdout == "1 prisoner1\n7 web\n"
    assert run(running, "jls", "-n", "-j", "web", "name", "persist", "ip4.addr").stdout == (
        "name=web nopersist ip4.addr=192.168.11.40\n")
    assert run(running, "jls", "-h", "-j", "1", "jid", "host.hostname").stdout == (
        "jid host.hostname\n1 prisoner1.example.org\n")


def test_jls_json(running):
    out = run(running, "jls", "--libxo", "json").stdout
    assert json.loads(out) == {"__version": "2", "jail-information": {"jail": [
        {"jid": 1, "ipv4": "192.168.11.31", "hostname": "prisoner1.example.org", "path": "/home/jail/prisoner1"},
        {"jid": 7, "ipv4": "192.168.11.40", "hostname": "web.example.org", "path": "/home/jail/web"}]}}
    assert out.startswith('{"__version": "2", "jail-information": {"jail": [{"jid":1,"ipv4":"192.168.11.31",')
    verbose = json.loads(run(running, "jls", "--libxo=json", "-v", "-j", "web").stdout)
    assert verbose["jail-information"]["jail"] == [{
        "jid": 7, "hostname": "web.example.org", "path": "/home/jail/web", "name": "web", "state": "ACTIVE",
        "cpusetid": 3, "ipv4_addrs": ["192.168.11.40"], "ipv6_addrs": []}]
    named = json.loads(run(running, "jls", "--libxo", "json", "-N").stdout)["jail-information"]["jail"][0]
    assert list(named) == ["name", "ipv4", "hostname", "path"]
    params = json.loads(run(running, "jls", "--libxo", "json", "-n", "-j", "1", "ip4.addr", "persist").stdout)
    assert params["jail-information"]["jail"] == [{"ip4.addr": ["192.168.11.31"], "persist": False}]


HEADER = "   JID  IP Address      Hostname                      Path\n"


@pytest.mark.parametrize("argv, stdout, stderr", [
    (["-j", "nosuch"], HEADER, 'jls: jail "nosuch" not found\n'),
    (["-j", "42"], HEADER, "jls: jail 42 not found\n"),
    (["-x"], "", "jls: illegal option -- x\njls: usage: jls [-dhNnqv] [-j jail] [param ...]\n"),
    (["bogus"], "", "jls: unknown parameter: bogus\n"),
])
def test_jls_errors(running, argv, stdout, stderr):
    result = run(running, "jls", *argv)
    assert (result.returncode, result.stdout, result.stderr) == (1, stdout, stderr)


# -- jexec ---------------------------------------------------------------------------------------------

def test_jexec_runs_in_the_jail_uts_namespace(running):
    result = run(running, "jexec", "web", "hostname")
    assert (result.returncode, result.stdout) == (0, "web.example.org\n")
    assert run(running, "jexec", "1", "hostname").stdout == "prisoner1.example.org\n"
    assert run(running, "jexec", "web", "sh", "-c", "hostname new.example.org; hostname").stdout == "new.example.org\n"
    assert rehearsal.kernel(running).hostname == "jailer.example.org"
    login = run(running, "jexec", "-l", "web", "sh", "-c", 'echo "$USER $HOME $SHELL"; pwd')
    assert login.stdout.splitlines() == ["root /root /bin/sh", os.path.join(running, "home/jail/web/root")]


# jexec.c and jail(8)'s exec.clean start from PATH=/bin:/usr/bin, then setusercontext(LOGIN_SETPATH) sets the
# login class's path (lib/libutil login_class.c), "~" being the home directory: in a stock login.conf
# /sbin:/bin:/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin:~/bin.
OUR_LOGIN_CONF = ("# test login.conf\ndefault:\\\n\t:path=/sbin /bin /usr/sbin /usr/bin /usr/local/sbin "
                  "/usr/local/bin ~/bin:\\\n\t:umask=022:\n\nroot:\\\n\t:ignorenologin:\\\n\t:tc=default:\n")
STOCK_PATH = "/sbin:/bin:/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin:/root/bin"


def _jailed_path(root, *argv):
    out = run(root, *argv, "sh", "-c", 'echo "$PATH"').stdout.strip()
    return out.split(":", 1)[1]           # after the rehearsal's own stand-in directory


def test_jexec_l_sets_the_login_class_path(running):
    assert _jailed_path(running, "jexec", "-l", "web") == "/bin:/usr/bin"          # the jail has no login.conf
    with open(os.path.join(running, "home/jail/web/etc/login.conf"), "w", encoding="utf-8") as fh:
        fh.write(OUR_LOGIN_CONF)
    assert _jailed_path(running, "jexec", "-l", "web") == STOCK_PATH


def test_exec_clean_sets_the_login_class_path(root):
    with open(os.path.join(root, "home/jail/prisoner1/etc/login.conf"), "w", encoding="utf-8") as fh:
        fh.write(OUR_LOGIN_CONF)
    with open(os.path.join(root, "home/jail/prisoner1/etc/rc"), "w", encoding="utf-8") as fh:
        fh.write('#!/bin/sh\necho "$PATH" > path.txt\n')
    assert jail(root, "-f", "/etc/jail.conf", "-c", "prisoner1").returncode == 0
    assert read(root, "home/jail/prisoner1/root/path.txt").strip().split(":", 1)[1] == STOCK_PATH


def test_ping_inside_a_jail_is_always_the_stand_in(running):
    direct = run(running, "jexec", "web", "ping", "-c", "1", "192.168.11.31")
    assert direct.returncode == 0
    assert direct.stdout.startswith("PING 192.168.11.31 (192.168.11.31): 56 data bytes\n64 bytes from 192.168.11.31:")
    assert run(running, "jexec", "web", "/sbin/ping", "-c", "1", "192.168.11.40").returncode == 0
    via_shell = run(running, "jexec", "web", "sh", "-c", "ping -c 1 -t 1 192.168.11.99; echo status=$?")
    assert via_shell.stdout.endswith("1 packets transmitted, 0 packets received, 100.0% packet loss\nstatus=2\n")
    assert [argv for argv, _ in nested(running, by="jexec")] == [
        ["ping", "-c", "1", "192.168.11.31"], ["ping", "-c", "1", "192.168.11.40"],
        ["ping", "-c", "1", "-t", "1", "192.168.11.99"]]
    # prisoner1 has no allow.raw_sockets: FreeBSD's ping cannot open its socket there.
    denied = run(running, "jexec", "prisoner1", "ping", "-c", "1", "192.168.11.31")
    assert (denied.returncode, denied.stderr) == (71, "ping: ssend socket: Operation not permitted\n")


def test_jailed_commands_have_no_network(running):
    result = run(running, "jexec", "web", "cat", "/proc/net/dev")
    interfaces = [line.split(":")[0].strip() for line in result.stdout.splitlines()[2:]]
    assert interfaces == ["lo"]


@pytest.mark.parametrize("argv, stderr", [
    (["nosuch", "true"], 'jexec: jail "nosuch" not found\n'),
    ([], "usage: jexec [-l] [-u username | -U username] jail [command ...]\n"),
    (["-u", "a", "-U", "b", "web", "true"], "usage: jexec [-l] [-u username | -U username] jail [command ...]\n"),
    (["web", "/no/such/tool"], "jexec: execvp: /no/such/tool: No such file or directory\n"),
])
def test_jexec_errors(running, argv, stderr):
    result = run(running, "jexec", *argv)
    assert (result.returncode, result.stderr) == (1, stderr)


# -- service -------------------------------------------------------------------------------------------

def enable(root, *lines):
    with open(os.path.join(root, "etc/rc.conf"), "a", encoding="utf-8") as fh:
        fh.write("".join(line + "\n" for line in lines))


def test_service_refuses_when_not_enabled(root):
    result = run(root, "service", "jail", "start", "prisoner1")
    assert (result.returncode, result.stdout) == (0, "Cannot 'start' jail. Set jail_enable to YES in "
                                                     "/etc/rc.conf or use 'onestart' instead of 'start'.\n")
    assert rehearsal.kernel(root).jails == []
    assert run(root, "service", "jail", "onestart", "prisoner1").stdout == "Starting jails: prisoner1.\n"


def test_service_start_stop_named_jails(root):
    enable(root, 'jail_enable="YES"')
    result = run(root, "service", "jail", "start", "prisoner1")
    assert (result.returncode, result.stdout, result.stderr) == (0, "Starting jails: prisoner1.\n", "")
    assert read(root, "/var/run/jail_prisoner1.id") == "1\n"
    assert nested(root, by="service")[0] == (["jail", "-i", "-f", "/etc/jail.conf", "-c", "prisoner1"], True)
    failed = run(root, "service", "jail", "start", "bad")
    # rc.d/jail runs jail -i: the jid, no "created"/"removed" notes, and status 0 for the service.
    assert (failed.returncode, failed.stdout) == (
        0, 'Starting jails: cannot start jail  "bad": \n2\njail: bad: /bin/sh /etc/rc.fail: failed\n.\n')
    assert run(root, "service", "jail", "status").stdout.splitlines()[1].split() == [
        "prisoner1", "192.168.11.31", "prisoner1.example.org", "/home/jail/prisoner1"]
    stop = run(root, "service", "jail", "stop", "prisoner1", "web")
    assert (stop.returncode, stop.stdout) == (0, "Stopping jails: prisoner1.\n")
    assert not os.path.exists(os.path.join(root, "var/run/jail_prisoner1.id"))
    assert rehearsal.kernel(root).jails == []


def test_service_start_all_uses_jail_list_or_the_whole_file(root):
    enable(root, 'jail_enable="YES"', 'jail_list="web"')
    assert run(root, "service", "jail", "start").stdout == "Starting jails: web.\n"
    assert [j["name"] for j in rehearsal.kernel(root).jails] == ["prisoner1", "web"]
    assert run(root, "service", "jail", "stop").stdout == "Stopping jails: web.\n"
    enable(root, 'jail_list=""')
    result = run(root, "service", "jail", "restart")
    assert result.stdout.startswith("Stopping jails: prisoner1.\nStarting jails:prisoner1: created\n")
    assert (["jail", "-f", "/etc/jail.conf", "-c", "-p1"], True) in nested(root, by="service")


@pytest.mark.parametrize("argv, status, stdout, stderr", [
    (["jail", "bogus"], 1, "", "/etc/rc.d/jail: unknown directive 'bogus'.\nUsage: /etc/rc.d/jail "
     "[fast|force|one|quiet](start|stop|restart|rcvar|enable|disable|delete|enabled|describe|extracommands"
     "|config|console|status)\n"),
    (["jail", "enabled"], 1, "", ""),
    (["jail", "describe"], 0, "Manage system jails\n", ""),
])
def test_service_other_directives(root, argv, status, stdout, stderr):
    result = run(root, "service", *argv)
    assert (result.returncode, result.stdout, result.stderr) == (status, stdout, stderr)


def test_service_picks_jail_conf_d(root):
    enable(root, 'jail_enable="YES"')
    os.makedirs(os.path.join(root, "etc/jail.conf.d"))
    with open(os.path.join(root, "etc/jail.conf.d/solo.conf"), "w", encoding="utf-8") as fh:
        fh.write('solo { path = "/home/jail/web"; persist; }\n')
    assert run(root, "service", "jail", "start", "solo").stdout == "Starting jails: solo.\n"
    assert nested(root, by="service")[0] == (["jail", "-i", "-f", "/etc/jail.conf.d/solo.conf", "-c", "solo"], True)
