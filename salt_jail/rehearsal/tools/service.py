"""service(8) for ``/etc/rc.d/jail`` (usr.sbin/service/service.sh, libexec/rc/rc.d/jail, rc.subr; FreeBSD 14).

``service [-v] jail [fast|force|one|quiet]start|stop|restart|status|enabled|describe|extracommands [jail ...]``
follows rc.d/jail line by line, running the ``jail`` and ``jls`` stand-ins as it runs jail(8) and jls(8):

* the rc.conf variables come from ``/etc/rc.conf``, ``/etc/rc.conf.local``, ``/etc/rc.conf.d/jail`` and
  ``/usr/local/etc/rc.conf.d/jail`` of the scratch host, *evaluated by sh* as load_rc_config does (over
  the defaults of ``/etc/defaults/rc.conf``: ``jail_enable=NO``, ``jail_conf=/etc/jail.conf``,
  ``jail_list=""``, ``jail_parallel_start=NO``, ``jail_reverse_stop=NO``);
* without ``jail_enable=YES`` (and without the ``one`` prefix) the answer is rc.subr's ``Cannot 'start'
  jail. Set jail_enable to YES in /etc/rc.conf or use 'onestart' instead of 'start'.``, exit 0;
* ``start`` with no names uses ``jail_list``, or when it is empty runs ``jail -f $jail_conf -c -p1`` (only
  that file and what it includes); named jails each run ``jail -i -f CONF -c NAME`` with CONF picked as
  parse_options() does (``jail_NAME_conf``, ``/etc/jail.NAME.conf``, ``/etc/jail.conf.d/NAME.conf`` unless
  ``$jail_conf`` ``.include``s that directory, ``$jail_conf``) and write ``/var/run/jail_NAME.id``;
  the output is rc.d/jail's (``Starting jails: web.``, ``cannot start jail  "web": `` and jail(8)'s
  messages), and the exit status 0 even when a jail failed, as on FreeBSD;
* ``stop`` skips jails that are not running (``jls -j``) and runs ``jail -q -f CONF -r NAME``, or, with
  no names, ``jail -f $jail_conf -r NAME`` for every running jail (reversed with ``jail_reverse_stop``);
  ``restart`` is stop then start; ``status`` is ``jls -N``.

Not simulated (exit 70 with a message): other rc.d scripts, ``-e -l -r -R -j``, the ``config``,
``console``, ``rcvar``, ``enable``, ``disable`` and ``delete`` commands, and the obsolete per-jail
``jail_NAME_rootdir``/``jail_NAME_hostname`` configuration.  ``jail_parallel_start=YES`` changes the
command lines as rc.d/jail does but jails still start one after the other.
"""

import io
import os
import re
import subprocess
import tempfile

from .. import cli, sandbox
from ..bsdgetopt import BadOption, getopt
from ..context import Context, Exit

SCRIPT = "/etc/rc.d/jail"
LOCAL_STARTUP = "/usr/local/etc/rc.d"
EX_SOFTWARE = 70
#: load_rc_config jail: the files sourced after /etc/defaults/rc.conf, in order.
RC_FILES = ("/etc/rc.conf", "/etc/rc.conf.local", "/etc/rc.conf.d/jail", "/usr/local/etc/rc.conf.d/jail")
#: etc/defaults/rc.conf (and rc.d/jail's own defaults).
DEFAULTS = {"jail_enable": "NO", "jail_conf": "/etc/jail.conf", "jail_confwarn": "YES",
            "jail_parallel_start": "NO", "jail_list": "", "jail_reverse_stop": "NO", "jail_flags": "",
            "rc_startmsgs": "YES"}
_KEYWORDS = ("start", "stop", "restart", "rcvar", "enable", "disable", "delete", "enabled", "describe",
             "extracommands", "config", "console", "status")


def _usage(ctx):
    ctx.out("\nUsage:\n"
            "service [-j <jail name or id>] -e\n"
            "service [-j <jail name or id>] -R\n"
            "service [-j <jail name or id>] [-v] -l | -r\n"
            "service [-j <jail name or id>] [-v] <rc.d script> start|stop|etc.\n"
            "service -h\n\n"
            "-j\tPerform actions within the named jail\n"
            "-e\tShow services that are enabled\n"
            f"-R\tStop and start enabled {LOCAL_STARTUP} services\n"
            f"-l\tList all scripts in /etc/rc.d and {LOCAL_STARTUP}\n"
            "-r\tShow the results of boot time rcorder\n"
            "-v\tVerbose\n\n")


def checkyesno(value):
    return value.lower() in ("yes", "true", "on", "1")


class RcJail:
    """One run of /etc/rc.d/jail."""

    def __init__(self, ctx, names):
        self.ctx = ctx
        self.vars = self._load_rc_config(names)

    def _load_rc_config(self, names):
        """The rc.conf variables rc.d/jail reads (global ones and those of ``names``), evaluated by sh."""
        wanted = list(DEFAULTS) + [f"jail_{_jv(n)}_{s}" for n in names
                                   for s in ("conf", "rootdir", "hostname", "flags", "program")]
        files = []
        for path in RC_FILES:
            real = self.ctx.scratch.resolve(path)[1]
            if os.path.isfile(real):
                files.append(real)
        script = "".join(f"{k}='{v}'\n" for k, v in DEFAULTS.items())
        script += 'for f in "$@"; do . "$f"; done\n'
        script += "".join(f'printf "%s\\0" "${{{name}}}"\n' for name in wanted)
        with tempfile.TemporaryFile() as out:
            sandbox.run_confined(["/bin/sh", "-c", script, "sh", *files], root=self.ctx.scratch.root,
                                 env={"PATH": sandbox.HOST_PATH}, cwd=self.ctx.scratch.root,
                                 stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.DEVNULL)
            out.seek(0)
            values = out.read().decode("utf-8", "replace").split("\0")
        return dict(zip(wanted, values))

    def var(self, name):
        return self.vars.get(name, "")

    # -- helpers -----------------------------------------------------------------------------------
    def warn(self, *words):
        self.ctx.stderr.write(f"{SCRIPT}: WARNING: {' '.join(words)}\n")

    def startmsg(self, text, newline=True):
        if checkyesno(self.var("rc_startmsgs") or "YES"):
            self.ctx.out(text + ("\n" if newline else ""))

    def run(self, prog, argv):
        """Run stand-in ``prog`` with its output collected (rc.d/jail's ``>> $_tmp 2>&1``)."""
        buffer = io.StringIO()
        self.ctx.scratch.log_nested(self.ctx.prog, [prog, *argv])
        nested = Context(self.ctx.scratch, prog, io.StringIO(), buffer, buffer, jail=self.ctx.jail,
                         by=self.ctx.prog)
        return cli.run(nested, argv), buffer.getvalue()

    def running(self, name):
        return self.run("jls", ["-j", name])[0] == 0

    def write_id(self, name, jid_text):
        path = self.ctx.scratch.resolve(f"/var/run/jail_{name}.id")[1]
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(jid_text.strip() + "\n")

    def remove_id(self, name):
        try:
            os.unlink(self.ctx.scratch.resolve(f"/var/run/jail_{name}.id")[1])
        except FileNotFoundError:
            pass

    def parse_options(self, j, jv):
        """rc.d/jail parse_options(): the configuration file for jail ``j``, or None (with a warning)."""
        jconf = self.var(f"jail_{jv}_conf") or f"/etc/jail.{j}.conf"
        jconfdir = f"/etc/jail.conf.d/{j}.conf"
        if self.var(f"jail_{jv}_rootdir") and self.var(f"jail_{jv}_hostname"):
            self.ctx.stderr.write(f"{SCRIPT}: rehearsal: the obsolete jail_{jv}_* configuration is not simulated; "
                                  f"jail {j} was ignored\n")
            return None
        jail_conf = self.var("jail_conf")
        if self._readable(jconf):
            return jconf
        if self._readable(jconfdir) and not self._includes_confdir(jail_conf):
            return jconfdir
        if self._readable(jail_conf):
            return jail_conf
        self.warn(f"Invalid configuration for {j} ", "(no jail.conf, no hostname, or no path).  ",
                  f"Jail {j} was ignored.")
        return None

    def _readable(self, path):
        return bool(path) and os.path.exists(self.ctx.scratch.resolve(path)[1])

    def _includes_confdir(self, jail_conf):
        try:
            with open(self.ctx.scratch.resolve(jail_conf)[1], encoding="utf-8", errors="replace") as fh:
                text = fh.read()
        except OSError:
            return False
        return re.search(r"^\s*\.include\s*[\"']?/etc/jail\.conf\.d/", text, re.M) is not None

    def _flags(self, jv=None):
        flags = (self.var(f"jail_{jv}_flags") if jv else "") or self.var("jail_flags")
        return flags.split()

    # -- commands ----------------------------------------------------------------------------------
    def start(self, names):
        if not names:
            return
        self.startmsg("Starting jails:", newline=False)
        parallel = checkyesno(self.var("jail_parallel_start"))
        if names[0] == "_ALL":
            args = self._flags() + ["-f", self.var("jail_conf"), "-c"] + ([] if parallel else ["-p1"])
            status, output = self.run("jail", args)
            if status == 0:
                for line in self.run("jls", ["jid", "name"])[1].splitlines():
                    jid, _, name = line.partition(" ")
                    self.startmsg(f" {name}", newline=False)
                    self.write_id(name, jid)
            else:
                self.ctx.out(output)
            self.startmsg(".")
            return
        for name in names:
            j = _j(name)
            jv = _jv(j)
            conf = self.parse_options(j, jv)
            if conf is None:
                continue
            status, output = self.run("jail", self._flags(jv) + ["-i", "-f", conf, "-c", j])
            if status == 0:
                self.startmsg(f" {j}", newline=False)
                self.write_id(j, self.run("jls", ["-j", j, "jid"])[1])
            else:
                self.startmsg(f' cannot start jail  "{j}": ')
                self.ctx.out(output)
        self.startmsg(".")

    def stop(self, names):
        if not names:
            return
        self.ctx.out("Stopping jails:")
        if names[0] == "_ALL":
            running = self.run("jls", ["name"])[1].split()
            if checkyesno(self.var("jail_reverse_stop")):
                running.reverse()
            for j in running:
                self.ctx.out(f" {j}")
                output = self.run("jail", self._flags() + ["-f", self.var("jail_conf"), "-r", j])[1]
                self._after_stop(j, output)
            self.ctx.out(".\n")
            return
        if checkyesno(self.var("jail_reverse_stop")):
            names = names[::-1]
        for name in names:
            j = _j(name)
            conf = self.parse_options(j, _jv(j))
            if conf is None or not self.running(j):
                continue
            self.ctx.out(f" {j}")
            self._after_stop(j, self.run("jail", ["-q", "-f", conf, "-r", j])[1])
        self.ctx.out(".\n")

    def _after_stop(self, j, output):
        if self.running(j):
            self.ctx.out(output)
        else:
            self.remove_id(j)

    def status(self):
        status, output = self.run("jls", ["-N"])
        self.ctx.out(output)
        return status


def _j(name):
    """rc.d/jail: ``echo $_j | tr /. _``."""
    return name.replace("/", "_").replace(".", "_")


def _jv(name):
    """rc.d/jail: ``echo -n $_j | tr -c '[:alnum:]' _``."""
    return re.sub(r"[^A-Za-z0-9]", "_", name)


def main(ctx, argv):
    try:
        opts, args = getopt(argv, "j:ehlrRv", ctx.prog, ctx.stderr)
    except BadOption:
        _usage(ctx)
        raise Exit(1) from None
    letters = [letter for letter, _ in opts]
    if "h" in letters:
        _usage(ctx)
        return 0
    unsupported = [letter for letter in letters if letter in "jelrR"]
    if unsupported:
        ctx.errx(EX_SOFTWARE, f"option -{unsupported[0]} is not simulated by the rehearsal host")
    if len(args) <= 1:
        _usage(ctx)
        raise Exit(1)
    script, rc_args = args[0], args[1:]
    if script != "jail":
        ctx.errx(EX_SOFTWARE, f"the rc.d script {script} is not simulated by the rehearsal host")
    if "v" in letters:
        ctx.out("jail is located in /etc/rc.d\n")
    return _rc_jail(ctx, rc_args)


def _rc_jail(ctx, rc_args):
    """/etc/rc.d/jail with its arguments: rc.subr's run_rc_command() for this script."""
    rc_arg, names = rc_args[0], rc_args[1:]
    prefix = next((p for p in ("fast", "force", "one", "quiet") if rc_arg.startswith(p)), "")
    command = rc_arg[len(prefix):]
    if command not in _KEYWORDS:
        ctx.stderr.write(f"{SCRIPT}: unknown directive '{rc_arg}'.\n"
                         f"Usage: {SCRIPT} [fast|force|one|quiet]({'|'.join(_KEYWORDS)})\n")
        raise Exit(1)
    rc = RcJail(ctx, names)
    if not names:
        names = rc.var("jail_list").split() or ["_ALL"]
    else:
        rc.vars["jail_reverse_stop"] = "no"
    if command == "describe":
        ctx.out("Manage system jails\n")
        return 0
    if command == "extracommands":
        ctx.out("config console status\n")
        return 0
    if command == "enabled":
        return 0 if checkyesno(rc.var("jail_enable")) else 1
    if command in ("config", "console", "rcvar", "enable", "disable", "delete"):
        ctx.errx(EX_SOFTWARE, f"'{command}' of {SCRIPT} is not simulated by the rehearsal host")
    if prefix != "one" and not checkyesno(rc.var("jail_enable")):
        if prefix != "quiet":
            ctx.out(f"Cannot '{command}' jail. Set jail_enable to YES in /etc/rc.conf or use "
                    f"'one{command}' instead of '{command}'.\n")
        return 0
    if command == "status":
        return rc.status()
    if command in ("stop", "restart"):
        rc.stop(names)
    if command in ("start", "restart"):
        rc.start(names)
    return 0
