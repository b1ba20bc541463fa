"""jail(8): create, change and remove simulated jails (usr.sbin/jail: jail.c, config.c, command.c, state.c).

Command lines (FreeBSD 14.2)::

    jail [-dhilqv] [-J jid_file] [-u username] [-U username] -[cmr] param=value ... [command=command ...]
    jail [-dqv] [-f conf_file] [-p limit] -[cmr] [jail]
    jail [-qv] [-f conf_file] [-p limit] -[rR] ['*' | jail ...]
    jail [-dhilqv] [-J jid_file] [-u username] [-U username] [-n jailname] [-s securelevel]
         path hostname ip[,...] command ...
    jail [-f conf_file] -e separator

jail.conf is read with the rehearsal's own reader, :mod:`salt_jail.rehearsal.jailcfg` (jaillex.l,
jailparse.y and config.c; files below the scratch root, ``.include`` globs too).  A jail is started as jail(8) does it, step by step, with its messages:
``exec.prepare``; an ``ifconfig IF inet ADDR netmask 255.255.255.255 alias`` per ``ip4.addr`` when
``interface`` is set or the address names one (``em0|10.0.0.5/24``), ``inet6 ADDR prefixlen 128`` for
``ip6.addr``; ``mount``/``mount.fstab`` lines (``mount -t TYPE [-o OPTS] SPECIAL NODE``); ``mount.devfs``
(``mount -t devfs -oruleset=N . PATH/dev``, N = ``devfs_ruleset`` or 4), ``mount.fdescfs``,
``mount.procfs``; ``exec.prestart``; the kernel's jail_set(2) (``NAME: created`` on standard output,
the jid first with ``-i``); ``exec.created``; ``exec.start`` or ``command``; ``exec.poststart``.  When a
step fails (``jail: NAME: COMMAND: failed``) the steps already done are undone in reverse.  Removal is
``exec.prestop``, ``exec.stop``, the kernel's jail_remove(2) (``NAME: removed``), ``exec.poststop``,
the unmounts and ``-alias`` commands in reverse, ``exec.release``; as in jail(8) it uses the
configuration it is given now, and a failure after the removal does not stop the rest.

The kernel side checks what FreeBSD's checks (``jail "NAME" already exists``, ``jail N already exists``,
``name cannot be numeric (unless it is the jid)``, ``new jail must persist or attach``, ``IPv4 addresses
clash``, ``unknown parameter: X``, ``path /x: No such file or directory``, value syntax) and records the
jail with its parameters, its canonical path, and ``host.hostname`` (the host's name when not given).

What runs, and where (every command is recorded in ``nested.log``, see :func:`salt_jail.rehearsal.nested_commands`):

* ``ifconfig``, ``mount``, ``umount`` and every other FreeBSD tool the rehearsal plays run as their
  stand-ins, in-process, against the simulated kernel;
* commands *in the jail* (``exec.start``, ``command``, ``exec.stop``) really run, in the jail's sandbox
  (:mod:`salt_jail.rehearsal.sandbox`): ``/bin/sh /etc/rc`` runs the host's ``/bin/sh`` on the jail's
  ``etc/rc`` script, in the jail root, with the jail's hostname and no network; ``exec.clean``,
  ``exec.jail_user`` (environment only: everything runs as root), ``exec.timeout`` and
  ``exec.consolelog`` apply.  FreeBSD's real ``/etc/rc`` and ``/etc/rc.shutdown`` (any ``sh`` script
  that sources ``/etc/rc.subr``) cannot run on Linux and are recorded instead, as succeeding;
* other *system-environment* commands (``exec.prestart = "cp ..."``, anything through ``/bin/sh -c``)
  name files of the real FreeBSD host and are only recorded (``"ran": false``), as are commands ending
  in ``&``, ``vnet.interface`` and ``zfs.dataset``.

A jail lives on after jail(8) exits when it has ``persist``, or ``exec.start`` (whose daemons would keep
it alive on FreeBSD); a jail created with only ``command`` or ``exec.poststart`` dies when they are done,
leaving its addresses and mounts behind as on FreeBSD.  Not simulated: dying jails (``-d`` and
``allow.dying`` are accepted and change nothing), nested jails (a dotted name needs a running parent
and then fails with ``prison limit exceeded``), parallel starts (``-p`` is accepted, jails run one at a
time), processes left in a jail (``stop.timeout`` has nothing to wait for).
"""

import errno
import fnmatch
import functools
import glob
import io
import ipaddress
import os
import posixpath
import re
import subprocess
import tempfile

from .. import cli, jailcfg, sandbox, vnet
from ..bsdgetopt import BadOption, getopt
from ..context import Exit, strerror
from ..simkernel import JAIL_MAX, PARAMS, param_type, strip_no

USAGE = ("usage: jail [-dhilqv] [-J jid_file] [-u username] [-U username]\n"
         "            -[cmr] param=value ... [command=command ...]\n"
         "       jail [-dqv] [-f file] -[cmr] [jail]\n"
         "       jail [-qv] [-f file] -[rR] ['*' | jail ...]\n"
         "       jail [-dhilqv] [-J jid_file] [-u username] [-U username]\n"
         "            [-n jailname] [-s securelevel]\n"
         "            path hostname [ip[,...]] command ...\n"
         "       jail [-f file] -e separator\n")
CONF_FILE = "/etc/jail.conf"
PATH_IFCONFIG, PATH_MOUNT, PATH_UMOUNT, PATH_BSHELL = "/sbin/ifconfig", "/sbin/mount", "/sbin/umount", "/bin/sh"
#: sh(1) metacharacters that make jail(8) run a command string with ``/bin/sh -c`` (command.c).
SHELL_METACHARS = "!\"$&'()*;<>?[\\]`{|}~"

#: jail(8)'s own (pseudo-)parameters and their value syntax: "bool", "int" or None (strings).
INTERNAL = {
    "allow.dying": "bool", "command": None, "depend": None, "exec.clean": "bool", "exec.consolelog": None,
    "exec.created": None, "exec.fib": "int", "exec.jail_user": None, "exec.poststart": None,
    "exec.poststop": None, "exec.prepare": None, "exec.prestart": None, "exec.prestop": None,
    "exec.release": None, "exec.start": None, "exec.stop": None, "exec.system_jail_user": "bool",
    "exec.system_user": None, "exec.timeout": "int", "interface": None, "ip_hostname": "bool",
    "mount": None, "mount.devfs": "bool", "mount.fdescfs": "bool", "mount.fstab": None,
    "mount.procfs": "bool", "stop.timeout": "int", "vnet.interface": None, "zfs.dataset": None,
}
# Steps (jail.c startcommands/stopcommands); "_..." are jail(8)'s internal ones.
START_STEPS = ("exec.prepare", "_ip4", "_ip6", "mount", "_fstab", "mount.devfs", "mount.fdescfs", "mount.procfs",
               "exec.prestart", "_op", "exec.created", "zfs.dataset", "vnet.interface", "exec.start", "command",
               "exec.poststart")
STOP_STEPS = ("exec.prestop", "exec.stop", "stop.timeout", "_op", "exec.poststop", "mount.procfs",
              "mount.fdescfs", "mount.devfs", "_fstab", "mount", "_ip6", "_ip4", "exec.release")
#: Steps undone in reverse value order when stopping (PF_REV).
REVERSED = ("mount", "_fstab", "_ip4", "_ip6")
#: Steps not undone when a creation fails.
NOT_UNDONE = ("exec.prepare", "exec.prestart", "exec.created", "exec.start", "command", "exec.poststart")
IN_JAIL = ("exec.start", "command", "exec.stop")
_DUMMY = object()

START, SET, STOP = 1, 2, 4
_BOOL_WORDS = ("false", "true")
_JAILSYS_WORDS = ("disable", "new", "inherit")


class _Failed(Exception):
    """A step of one jail failed (its message is out)."""


# --------------------------------------------------------------------------------------------------
# config.c helpers

def _strtol(text):
    """strtol(3) base 10: ``(value, rest)`` (value 0 and the whole text when nothing parses)."""
    match = re.match(r"\s*([+-]?\d+)", text)
    return (int(match.group(1)), text[match.end():]) if match else (0, text)


def quoted(value):
    """jail.c quoted_print()."""
    qc = ('"' if not value or "'" in value else "'" if '"' in value
          else '"' if " " in value or "\t" in value else "")
    body = "".join("\\" + c if c == "\\" or (qc and c == qc) else c for c in value)
    return f"{qc}{body}{qc}"


class Param:
    """config.c struct cfparam: a name as written (``allow.nomount``) and its strings."""

    def __init__(self, name, values):
        self.name = name
        self.values = list(values)


class CfJail:
    """config.c struct cfjail: one jail as jail(8) handles it."""

    def __init__(self, name):
        self.name = name        # j->name: None for a jail given on the command line
        self.params = []
        self.jid = 0            # 0: not looked up yet, -1: not running
        self.flags = 0
        self.failed = False
        self.wild = False       # selected by a wildcard (or all): a running/missing jail is no error
        self.depend = False     # only started/stopped because another jail depends on it
        self.ifaddrs = {"_ip4": [], "_ip6": []}
        self.fstab = []
        self.kernel_params = []  # [(name, typed value, exported text)] after import_params()
        self.persisting = False  # "persist" added by jail(8) for the commands (JF_PERSIST)

    def find(self, name):
        return next((p for p in self.params if jailcfg.equalopts(p.name, name)), None)

    def add(self, name, value=None):
        """config.c add_param() with PF_APPEND: a value adds to the list, no value empties it."""
        param = self.find(name)
        if param is None:
            self.params.append(Param(name, [] if value is None else [value]))
            return
        param.name = name
        if value is None:
            param.values = []
        if value is not None:
            param.values.append(value)

    def string(self, name):
        param = self.find(name)
        return param.values[-1] if param and param.values else None

    def boolean(self, name):
        """config.c bool_param()."""
        param = self.find(name)
        if param is None:
            return False
        last = param.name.rpartition(".")[2]
        value = (not param.values or param.values[-1].lower() == "true" or _strtol(param.values[-1])[0] != 0)
        return last.startswith("no") != value

    def integer(self, name):
        """config.c int_param(): None when unset."""
        value = self.string(name)
        return None if value is None else _strtol(value)[0]

    def values(self, name):
        param = self.find(name)
        return list(param.values) if param else []

    def label(self):
        """How jail_quoted_warnx() names the jail, or None."""
        return self.name or self.string("jid") or self.string("name")


def _internal(name):
    return next((n for n in INTERNAL if jailcfg.equalopts(n, name)), None)


# --------------------------------------------------------------------------------------------------

class Jail8:
    """One run of jail(8)."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.verbose = 0
        self.iflag = False
        self.note_remove = False
        self.jidfile = None
        self.oldcl = False
        self.error = 0

    # -- messages ----------------------------------------------------------------------------------
    def note(self, j, text):
        self.ctx.out(f"{j.name}: {text}" if j.name else text)
        self.ctx.stdout.flush()

    def warnx(self, j, text):
        self.ctx.warnx(f"{j.name}: {text}" if j.name else text)
        self.ctx.stderr.flush()

    def quoted_warnx(self, j, name_msg, noname_msg):
        label = j.label()
        self.ctx.warnx(f'"{label}" {name_msg}' if label else noname_msg)

    def fail(self, j, text=None):
        if text is not None:
            self.warnx(j, text)
        j.failed = True
        raise _Failed()

    # -- files -------------------------------------------------------------------------------------
    def _real(self, path, follow=True):
        return self.ctx.resolve(path, follow=follow)[1]

    def exists(self, path):
        try:
            return os.path.exists(self._real(path))
        except OSError:
            return False

    def reader(self, pattern):
        """The ``read`` callback of :func:`salt_jail.rehearsal.jailcfg.load`: glob(3) below the scratch root."""
        paths = ["/"]
        for part in [p for p in pattern.split("/") if p]:
            expanded = []
            for base in paths:
                if glob.has_magic(part):
                    try:
                        names = os.listdir(self._real(base))
                    except OSError:
                        continue
                    expanded += [posixpath.join(base, n) for n in sorted(names)
                                 if fnmatch.fnmatchcase(n, part) and (part.startswith(".") or not n.startswith("."))]
                else:
                    expanded.append(posixpath.join(base, part))
            paths = expanded
        found = []
        for path in sorted(paths):
            try:
                with open(self._real(path), encoding="utf-8", errors="surrogateescape") as fh:
                    found.append((path, fh.read()))
            except OSError:  # missing, a directory, a symlink loop: glob(3) would not return it
                continue
        return found

    def load_config(self, cfname):
        """config.c load_config(): every jail of the file (wildcards applied), in file order."""
        if cfname == "-":
            text, filename = self.ctx.stdin.read(), "STDIN"
        else:
            try:
                canonical, real = self.ctx.resolve(cfname)
                with open(real, encoding="utf-8", errors="surrogateescape") as fh:
                    text = fh.read()
            except OSError as error:
                self.ctx.err(1, cfname, error)
            filename = cfname if cfname.startswith("/") else canonical
        try:
            loaded = jailcfg.load(text, filename, self.reader)
        except jailcfg.ConfigError as error:
            self.ctx.errx(1, str(error))
        jails = []
        for found in loaded:
            j = CfJail(found.name)
            j.params = [Param(name, values) for name, values in found.params]
            for message in found.errors:
                self.warnx(j, message)
            j.failed = bool(found.errors)
            jails.append(j)
        return jails

    # -- parameters --------------------------------------------------------------------------------
    def _lookup_host(self, hostname):
        """getaddrinfo() through the scratch host's /etc/hosts: IPv4 then IPv6 addresses."""
        found = []
        try:
            with open(self._real("/etc/hosts"), encoding="utf-8") as fh:
                for line in fh:
                    words = line.split("#", 1)[0].split()
                    if len(words) > 1 and hostname in words[1:] and words[0] not in found:
                        found.append(words[0])
        except OSError:
            pass
        return found

    def check_intparams(self, j):
        """config.c check_intparams(): value syntax, ip_hostname, the ifconfig and fstab steps."""
        bad = False
        for param in j.params:
            kind = INTERNAL.get(_internal(param.name) or "")
            if not param.values or kind is None:
                continue
            value = param.values[-1]
            if kind == "bool" and value.lower() not in _BOOL_WORDS and not re.fullmatch(r"\s*[+-]?\d+", value):
                self.warnx(j, f'{param.name}: unknown boolean value "{value}"')
                bad = True
            elif kind == "int" and not re.fullmatch(r"\s*[+-]?\d+", value):
                self.warnx(j, f'{param.name}: non-integer value "{value}"')
                bad = True
        hostname = j.string("host.hostname")
        if (not (j.flags & STOP) or j.string("interface") is not None) and j.boolean("ip_hostname") and hostname:
            j.params = [p for p in j.params if not jailcfg.equalopts(p.name, "ip_hostname")]
            addresses = self._lookup_host(hostname)
            if not addresses:
                self.warnx(j, f"host.hostname {hostname}: hostname nor servname provided, or not known")
                bad = True
            for addr in addresses:
                j.add("ip6.addr" if ":" in addr else "ip4.addr", addr)
        defif = j.string("interface") is not None
        for family, step in (("ip4.addr", "_ip4"), ("ip6.addr", "_ip6")):
            param = j.find(family)
            if param is None:
                continue
            j.ifaddrs[step] = [s for s in param.values if "|" in s or defif]
            param.values = [s.split("|", 1)[-1].split("/", 1)[0].split(" ", 1)[0] for s in param.values]
        for fstab in j.values("mount.fstab"):
            if not fstab:
                continue
            try:
                with open(self._real(fstab), encoding="utf-8", errors="surrogateescape") as fh:
                    j.fstab += [line.rstrip("\n").split("#", 1)[0] for line in fh]
            except OSError as error:
                self.warnx(j, f"mount.fstab: {fstab}: {strerror(error.errno)}")
                bad = True
        if bad:
            self.fail(j)

    def import_params(self, j):
        """config.c import_params() and libjail's jailparam_import(): the kernel parameters, typed."""
        bad = False
        j.kernel_params = []
        for param in j.params:
            if _internal(param.name):
                continue
            try:
                j.kernel_params.append(_import(param))
            except ValueError as error:
                self.warnx(j, str(error))
                bad = True
        if bad:
            self.fail(j)

    # -- kernel ------------------------------------------------------------------------------------
    def running_jid(self, j):
        """jail.c running_jid(): the jid of the running jail ``j`` names (by jid, else name), or -1."""
        jid_text, name = j.string("jid"), j.string("name")
        with self.ctx.scratch.kernel(write=False) as kernel:
            if jid_text is not None:
                jid, rest = _strtol(jid_text)
                found = kernel.find_jail(jid=jid) if jid and not rest else None
            elif name is not None:
                found = kernel.find_jail(name=name)
            else:
                found = None
        return found["jid"] if found else -1

    def create_jail(self, j):
        """jail.c create_jail(): path checks, then the kernel's jail_set(JAIL_CREATE)."""
        path = j.string("path")
        if path is not None:
            if j.name is not None and not path.startswith("/"):
                self.fail(j, f"path {path}: not an absolute pathname")
            try:
                real = self._real(path)
            except OSError as error:
                self.fail(j, f"path {path}: {strerror(error.errno)}")
            if not os.path.exists(real):
                self.fail(j, f"path {path}: {strerror(errno.ENOENT)}")
            if not os.path.isdir(real):
                self.fail(j, f"path {path}: {strerror(errno.ENOTDIR)}")
        j.persisting = not j.boolean("persist") and any(
            j.values(p) for p in ("exec.start", "command", "exec.poststart"))
        params = [(n, v, t) for n, v, t in j.kernel_params if not (j.persisting and n == "persist")]
        if j.persisting:
            params.insert(0, ("persist", True, None))
        error = None
        with self.ctx.scratch.kernel() as kernel:
            try:
                j.jid = self._kernel_create(kernel, params)
            except _KernelError as failure:
                error = failure.message
        self._note_set(j, "JAIL_CREATE", params, error)
        if error:
            self.fail(j, error)

    def _note_set(self, j, op, params, error):
        if self.verbose > 0:
            shown = "".join(f" {n}" if t is None else f" {n}={quoted(t)}" for n, _, t in params)
            self.note(j, f"jail_set({op}){shown}{': ' + error if error else ''}\n")

    def _kernel_create(self, kernel, params):
        """kern_jail.c kern_jail_set(JAIL_CREATE) over the simulated kernel; returns the new jid."""
        if self.ctx.jail:
            raise _KernelError(f"jail_set: {strerror(errno.EPERM)}")
        values = dict((n, v) for n, v, _ in params)
        jid = values.pop("jid", 0)
        if jid < 0 or jid > JAIL_MAX:
            raise _KernelError(f"jail_set: {strerror(errno.EINVAL)}")
        if jid and kernel.find_jail(jid=jid):
            raise _KernelError(f"jail {jid} already exists")
        name = values.pop("name", None)
        if name is not None:
            if name.isdigit() and int(name) != jid:
                raise _KernelError("name cannot be numeric (unless it is the jid)")
            if "." in name:
                parent = name.rpartition(".")[0]
                if kernel.find_jail(name=parent) is None:
                    raise _KernelError(f'jail "{parent}" not found')
                raise _KernelError("prison limit exceeded")
            if kernel.find_jail(name=name):
                raise _KernelError(f'jail "{name}" already exists')
        if not values.get("persist"):
            raise _KernelError("new jail must persist or attach")
        if values.get("vnet") == "new" and ("ip4.addr" in values or "ip6.addr" in values
                                           or "new" in (values.get("ip4"), values.get("ip6"))):
            raise _KernelError("vnet jails cannot have IP address restrictions")  # kern_jail.c kern_jail_set()
        for family in ("ip4", "ip6"):
            addresses = values.get(f"{family}.addr") or []
            # sys/kern/kern_jail.c, prison_ip_conflict_check(): an address may be shared only when both jails
            # have exactly one address; VNET jails have stacks of their own.
            for other in kernel.jails if addresses else ():
                theirs = kernel.jail_param(other, f"{family}.addr")
                if not theirs or (len(addresses) == 1 and len(theirs) == 1) or kernel.jail_param(other, "vnet") == "new":
                    continue
                if set(addresses) & set(theirs):
                    raise _KernelError(f"IPv{family[-1]} addresses clash")
            if f"{family}.addr" in values:
                values.setdefault(family, "new" if addresses else "disable")
            else:
                values.setdefault(family, "disable")
        if any(n.startswith("host.") for n in values):
            values.setdefault("host", "new")
        values.setdefault("host.hostname", kernel.hostname)
        path = values.pop("path", "/")
        canonical = self.ctx.host_path(self.ctx.resolve(path)[0]) if path.startswith("/") else path
        jid = jid or kernel.next_jid()
        if not jid:
            raise _KernelError(f"jail_set: {strerror(errno.EAGAIN)}")
        if values.get("vnet") == "new":
            vnet.create_jail(self.ctx.scratch.root, jid)  # its own stack: a network namespace of its own
        kernel.add_jail({"jid": jid, "name": name if name is not None else str(jid), "path": canonical,
                         "cpusetid": kernel.next_cpuset(), "params": values})
        return jid

    def update_jail(self, j):
        """jail.c rdtun_params() + update_jail(): change the writable parameters of a running jail."""
        error = None
        with self.ctx.scratch.kernel() as kernel:
            current = kernel.find_jail(jid=j.jid)
            if current is None:
                error = f"jail {j.jid} not found"
            else:
                for name, value, _ in j.kernel_params:
                    base = name if name in PARAMS else strip_no(name)
                    if base in ("jid",):
                        continue
                    if PARAMS[base][2] != "wr" and kernel.jail_param(current, base) != value:
                        self.fail(j, f"{base} cannot be changed after creation")
                for name, value, _ in j.kernel_params:
                    base = name if name in PARAMS else strip_no(name)
                    if base == "name":
                        if value != current["name"] and kernel.find_jail(name=value):
                            error = f'jail "{value}" already exists'
                            break
                        current["name"] = value
                    elif PARAMS[base][2] == "wr":
                        current["params"][base] = value
        shown = [("jid", j.jid, str(j.jid))] + [p for p in j.kernel_params if p[0] != "jid"]
        self._note_set(j, "JAIL_UPDATE", shown, error)
        if error:
            self.fail(j, error)

    def remove_jail(self, j):
        with self.ctx.scratch.kernel() as kernel:
            if self.ctx.jail and self.ctx.jail["jid"] == j.jid:
                self.fail(j, f"jail_remove: {strerror(errno.EPERM)}")
            _remove(self.ctx, kernel, j.jid)

    def clear_persist(self, j):
        """jail.c clear_persist(): drop the temporary ``persist``; a jail with nothing left running dies."""
        if not j.persisting:
            return
        j.persisting = False
        with self.ctx.scratch.kernel() as kernel:
            current = kernel.find_jail(jid=j.jid)
            if current is not None:
                current["params"]["persist"] = False
                if not j.values("exec.start"):
                    _remove(self.ctx, kernel, j.jid)
        if self.verbose > 0:
            self.note(j, f"jail_set(JAIL_UPDATE) jid={j.jid} nopersist\n")

    # -- commands ----------------------------------------------------------------------------------
    def _strings(self, j, step, down):
        """The command strings of one step, in the order jail(8) walks them."""
        if step in ("mount.devfs", "mount.fdescfs", "mount.procfs"):
            return [_DUMMY] if j.boolean(step) else []
        if step in ("_op", "stop.timeout"):
            return [_DUMMY]
        if step in ("_ip4", "_ip6"):
            strings = list(j.ifaddrs[step])
        elif step == "_fstab":
            strings = list(j.fstab)
        elif step == "command" and j.name is None:
            strings = [_DUMMY] if j.values("command") else []
        else:
            strings = j.values(step)
        return strings[::-1] if down and step in REVERSED else strings

    def run_steps(self, j, steps, down):
        """Run ``steps``; on a failure while starting, undo what was done (next_command()'s walk back)."""
        done = []
        for step in steps:
            for string in self._strings(j, step, down):
                if string is not _DUMMY and string == "":
                    continue
                try:
                    self.run_command(j, step, string, down)
                except _Failed:
                    j.failed = True
                    if not down:
                        self.undo(j, done)
                        return False
                    if j.jid > 0:  # removal not reached: the jail stays as it is
                        return False
                    continue
                done.append((step, string))
        return not j.failed

    def undo(self, j, done):
        for step, string in reversed(done):
            if step in NOT_UNDONE or (string is not _DUMMY and string == ""):
                continue
            if step == "_op" and j.jid < 0:
                continue
            try:
                self.run_command(j, step, string, down=True)
            except _Failed:
                j.failed = True

    def run_command(self, j, step, string, down):
        """command.c run_command() for one string of one step (raises :class:`_Failed`)."""
        if step == "stop.timeout":
            return
        if step == "_op":
            if down:
                self.remove_jail(j)
                if self.verbose > 0 or (self.verbose == 0 and (self.note_remove if j.flags & STOP else j.name)):
                    self.note(j, "removed\n")
                j.jid = -1
                return
            self.create_jail(j)
            if self.iflag:
                self.ctx.out(f"{j.jid}\n")
                self.ctx.stdout.flush()
            if self.verbose >= 0 and (j.name or self.verbose > 0):
                self.note(j, "created\n")
            return
        argv, background = self._argv(j, step, string, down)
        if not argv:
            return
        injail = step in IN_JAIL
        comline = " ".join(argv)
        username = j.string("exec.jail_user" if injail else "exec.system_user")
        if self.verbose > 0:
            self.note(j, f"run command{' in jail' if injail else ''}{' as ' + username if username else ''}: "
                         f"{comline}\n")
        if step == "vnet.interface" or (not injail and vnet.runnable_hook(argv, cli.TOOLS)):
            # the epair really moves (ifconfig IF vnet JID); ifconfig-only hooks really run (rehearsal.vnet)
            status = (cli.run_nested(self.ctx, "ifconfig", argv[1:]) if step == "vnet.interface"
                      else vnet.run_hook(self.ctx, argv))
            if status:
                self.fail(j, f"{comline}: failed")
            return
        if step in ("vnet.interface", "zfs.dataset") or background or (
                not injail and os.path.basename(argv[0]) not in cli.TOOLS):
            self.ctx.scratch.log_nested(self.ctx.prog, argv, ran=False, jail=j.label(), step=step)
            return
        if not injail:
            status = cli.run_nested(self.ctx, os.path.basename(argv[0]), argv[1:])
        else:
            status = self._run_in_jail(j, step, argv, comline, username)
            if step == "exec.start" and not status:
                vnet.rc_network(self.ctx, j.jid, argv)  # rc.d/netif and rc.d/routing of a VNET jail
        if status:
            self.fail(j, f"{comline}: exited on signal {-status}" if status < 0 else f"{comline}: failed")

    def _argv(self, j, step, string, down):
        """The argv of one command (``([], False)`` for nothing to run) and whether it runs in background."""
        if step in ("_ip4", "_ip6"):
            return self._ifconfig_argv(j, step, string, down), False
        if step == "vnet.interface":
            jid = j.string("jid") or j.string("name")
            return [PATH_IFCONFIG, string, "-vnet" if down else "vnet", jid], False
        if step == "zfs.dataset":
            return ["/sbin/zfs", "unjail" if down else "jail", str(j.jid), string], False
        if step in ("mount", "_fstab"):
            return self._mount_argv(j, step, string, down), False
        if step in ("mount.devfs", "mount.fdescfs", "mount.procfs"):
            fstype = step.partition(".")[2]
            path = j.string("path")
            if path is None:
                self.fail(j, f"{step}: no path")
            node = path + {"devfs": "/dev", "fdescfs": "/dev/fd", "procfs": "/proc"}[fstype]
            self.check_path(j, step, node, False, fstype if down else None)
            if down:
                return [PATH_UMOUNT, node], False
            if fstype == "devfs":
                return [PATH_MOUNT, "-t", "devfs", f"-oruleset={j.string('devfs_ruleset') or '4'}", ".", node], False
            return [PATH_MOUNT, "-t", fstype, ".", node], False
        if step == "command" and j.name is None:
            return j.values("command"), False
        cut = next((i for i, c in enumerate(string) if c in SHELL_METACHARS), None)
        if cut is not None and not (string[cut] == "&" and cut == len(string) - 1):
            return [PATH_BSHELL, "-c", string], False
        background = cut is not None
        return (string[:cut] if background else string).split(), background

    def _ifconfig_argv(self, j, step, string, down):
        words = string.split(" ")
        first, extra = words[0], [w for w in " ".join(words[1:]).split(" ") if w]
        iface, bar, addr = first.partition("|")
        if not bar:
            iface, addr = j.string("interface"), first
        argv = [PATH_IFCONFIG, iface]
        if step == "_ip4":
            address, slash, mask = addr.partition("/")
            if not slash:
                argv += ["inet", addr, "netmask", "255.255.255.255"]
            elif "." in mask:
                argv += ["inet", address, "netmask", mask]
            else:
                argv += ["inet", addr]
        else:
            argv += ["inet6", addr] + ([] if "/" in addr else ["prefixlen", "128"])
        if not down:
            argv += extra
        return argv + ["-alias" if down else "alias"]

    def _mount_argv(self, j, step, string, down):
        words = string.split()[:4]
        name = "mount" if step == "mount" else "mount.fstab"
        if not words:
            return []
        if len(words) < 3:
            self.fail(j, f"{name}: {string}: missing information")
        self.check_path(j, name, words[1], False, words[2] if down else None)
        if down:
            return [PATH_UMOUNT, "-t", words[2], words[1]]
        if len(words) == 4:
            return [PATH_MOUNT, "-t", words[2], "-o", words[3], words[0], words[1]]
        return [PATH_MOUNT, "-t", words[2], words[0], words[1]]

    def check_path(self, j, pname, path, isfile, umount_type):
        """command.c check_path(): absolute, no symlink below the jail path, and (for an unmount) a
        mount point of the right type."""
        if not path.startswith("/"):
            self.fail(j, f"{pname}: {path}: not an absolute pathname")
        jailpath = j.string("path") or ""
        if path.startswith(jailpath) and path[len(jailpath):len(jailpath) + 1] == "/":
            parts = path[len(jailpath) + 1:].split("/")
            for index in range(len(parts)):
                prefix = jailpath + "/" + "/".join(parts[:index + 1])
                real = self._real(prefix, follow=False)
                if not os.path.lexists(real):
                    if isfile and index == len(parts) - 1:
                        break
                    self.fail(j, f"{pname}: {prefix}: {strerror(errno.ENOENT)}")
                if os.path.islink(real):
                    self.fail(j, f"{pname}: {prefix} is a symbolic link")
        if umount_type is not None:
            canonical, real = self.ctx.resolve(path)
            if not os.path.exists(real):
                self.fail(j, f"{pname}: {path}: {strerror(errno.ENOENT)}")
            with self.ctx.scratch.kernel(write=False) as kernel:
                entry = kernel.mounted_on(self.ctx.host_path(canonical))
            if entry is None:
                self.fail(j, f"{pname}: {path}: not a mount point")
            if entry["fstype"] != umount_type:
                self.fail(j, f"{pname}: {path}: not a {umount_type} mount")

    def _user(self, j, view, username):
        """command.c get_user_info() in the passwd file seen from ``view``."""
        user = sandbox.user_entry(self.ctx.scratch, view, name=username)
        if user is None:
            self.warnx(j, f"{username}: no such user" if username else "unknown uid 0")
        return user

    def _run_in_jail(self, j, step, argv, comline, username):
        """The child side of run_command() for a command in the jail; returns its wait status."""
        scratch = self.ctx.scratch
        with scratch.kernel(write=False) as kernel:
            record = kernel.find_jail(jid=j.jid)
        if record is None:
            self.warnx(j, f"jail_attach: {strerror(errno.EINVAL)}")
            return 1
        clean = j.boolean("exec.clean")
        env = dict(os.environ)
        cwd = scratch.resolve("/", view=record["path"])[1]
        if clean or username:
            view = self.ctx.view if j.boolean("exec.system_jail_user") else record["path"]
            user = self._user(j, view, username)
            if user is None:
                return 1
            if clean:
                env = {"PATH": "/bin:/usr/bin"}
                if "TERM" in os.environ:
                    env["TERM"] = os.environ["TERM"]
            env.update(USER=user.name, HOME=user.home, SHELL=user.shell or PATH_BSHELL)
            if clean:
                # setusercontext(LOGIN_SETPATH): the PATH of the login class
                env["PATH"] = sandbox.login_path(scratch, record["path"], user) or env["PATH"]
                home = scratch.resolve(user.home, view=record["path"])[1]
                if not os.path.isdir(home):
                    self.warnx(j, f"chdir {user.home}: {strerror(errno.ENOENT)}")
                    return 1
                cwd = home
        console = j.string("exec.consolelog")
        output = None
        if console is not None:
            self.check_path(j, "exec.consolelog", console, True, None)
            try:
                output = open(self._real(console), "ab")
            except OSError as error:
                self.fail(j, f"open {console}: {strerror(error.errno)}")
        timeout = j.integer("exec.timeout") or None
        if _freebsd_rc_script(scratch, record, cwd, argv):
            scratch.log_nested(self.ctx.prog, argv, ran=False, jail=j.label(), jid=j.jid, step=step)
            return 0
        scratch.log_nested(self.ctx.prog, argv, ran=True, jail=j.label(), jid=j.jid, step=step)
        self.ctx.stdout.flush()
        self.ctx.stderr.flush()
        try:
            return _spawn(self.ctx, scratch, record, argv, env, cwd, output, timeout)
        except OSError as error:
            self.warnx(j, f"exec {argv[0]}: {strerror(error.errno or errno.ENOENT)}")
            return 1
        except subprocess.TimeoutExpired:
            self.fail(j, f"{comline}: timed out")
        finally:
            if output is not None:
                output.close()
        return 1

    # -- jid file ----------------------------------------------------------------------------------
    def print_jail(self, fh, j, separator=" ", running=True):
        """jail.c print_jail(): the -J line (and the -e listing)."""
        if self.oldcl:
            ips = ",".join(j.values("ip4.addr") + j.values("ip6.addr"))
            fh.write(f"{j.jid}\t{','.join(map(quoted, j.values('path')))}\t"
                     f"{','.join(map(quoted, j.values('host.hostname')))}\t{ips}\t"
                     f"{' '.join(map(quoted, j.values('command')))}\n")
            return
        fields = [f"jid={j.jid}"] if running else []
        for param in j.params:
            if param.name != "jid":
                fields.append(param.name + ("=" + ",".join(map(quoted, param.values)) if param.values else ""))
        fh.write(separator.join(fields) + "\n")

    # -- the main loop -----------------------------------------------------------------------------
    def process(self, j):
        """One jail through its operation (the body of jail.c's main loop)."""
        if j.failed:
            return
        self.check_intparams(j)
        if j.flags & (START | SET):
            self.import_params(j)
        if not j.jid:
            j.jid = self.running_jid(j)
        op = j.flags
        if op == START | SET:
            op = START if j.jid < 0 else SET
        elif op == SET | STOP:
            if j.jid < 0:
                self.quoted_warnx(j, "not found", "no jail specified")
                self.fail(j)
            op = STOP | START if self._rdtun_changed(j) else SET
        elif op == START | SET | STOP:
            op = START if j.jid < 0 else STOP | START if self._rdtun_changed(j) else SET
        j.flags = op
        if op == SET:
            if j.jid < 0:
                if not j.depend:
                    self.quoted_warnx(j, "not found", "no jail specified")
                    self.fail(j)
            elif not j.depend:
                self.update_jail(j)
                if self.verbose >= 0 and (j.name or self.verbose > 0):
                    self.note(j, "updated\n")
            return
        if op & STOP:
            if j.jid < 0:
                if not (j.depend or j.wild):
                    if self.verbose >= 0:
                        self.quoted_warnx(j, "not found", None)
                    self.fail(j)
            elif not self.run_steps(j, STOP_STEPS, down=True):
                return
            if not op & START:
                return
            j.flags = START
        if j.jid > 0:
            if not (j.depend or j.wild):
                self.quoted_warnx(j, "already exists", None)
                self.fail(j)
        elif not self.run_steps(j, START_STEPS, down=False):
            return
        self.clear_persist(j)
        if self.jidfile is not None:
            self.print_jail(self.jidfile, j)

    def _rdtun_changed(self, j):
        """rdtun_params(j, 0): whether the configuration changes a create-only parameter."""
        with self.ctx.scratch.kernel(write=False) as kernel:
            current = kernel.find_jail(jid=j.jid)
            if current is None:
                return False
            for name, value, _ in j.kernel_params:
                base = name if name in PARAMS else strip_no(name)
                if base != "jid" and PARAMS[base][2] != "wr" and kernel.jail_param(current, base) != value:
                    return True
        return False


class _KernelError(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


def _import(param):
    """libjail jailparam_import() for one kernel parameter: ``(name, value, exported text)``."""
    name = param.name
    kind = param_type(name)
    if kind is None:
        raise ValueError(f"unknown parameter: {name}")
    base = name if name in PARAMS else strip_no(name)
    text = None if not param.values else param.values[-1] if kind not in ("ip4", "ip6") else ",".join(param.values)
    if kind == "bool":
        if text is None:
            value = True
        else:
            number = _enum(text, _BOOL_WORDS)
            if number is None:
                raise ValueError(f'{name}: unknown boolean value "{text}"')
            value = number != 0
        value = value if base == name else not value
        return base, value, None if text is None and base == name else ("true" if value else "false")
    if kind == "jailsys":
        if not text:
            return base, "new", "new"
        number = _enum(text, _JAILSYS_WORDS)
        if number is None or not 0 <= number < len(_JAILSYS_WORDS):
            raise ValueError(f'{name}: unknown jailsys value "{text}"')
        return base, _JAILSYS_WORDS[number], _JAILSYS_WORDS[number]
    if kind in ("int", "uint"):
        text = text or ""
        if text and not re.fullmatch(r"\s*[+-]?\d+", text):
            raise ValueError(f'{name}: non-integer value "{text}"')
        value = int(text) if text else 0
        return base, value, str(value)
    if kind in ("ip4", "ip6"):
        addresses = []
        for item in ([] if text in (None, "", "-") else text.split(",")):
            try:
                address = (ipaddress.IPv4Address if kind == "ip4" else ipaddress.IPv6Address)(item)
            except ValueError:
                raise ValueError(f"{name}: not an IPv{kind[-1]} address: {item}") from None
            addresses.append(str(address))
        return base, addresses, ",".join(addresses)
    return base, text or "", text or ""


def _enum(text, words):
    """libjail jailparam_import_enum(): the index of a word (any case), or a whole integer, or None."""
    lowered = text.lower()
    if lowered in words:
        return words.index(lowered)
    return int(text) if re.fullmatch(r"\s*[+-]?\d+", text) else None


def _remove(ctx, kernel, jid):
    """jail_remove(2): a VNET jail's interfaces return to the host, its namespace goes (vnet_destroy())."""
    record = kernel.find_jail(jid=jid)
    if record is not None and vnet.is_vnet_jail(record):
        vnet.release_jail(kernel, ctx.scratch.root, jid)
    kernel.remove_jail(jid)


def _freebsd_rc_script(scratch, record, cwd, argv):
    """Whether ``argv`` is ``sh SCRIPT ...`` where SCRIPT is one of FreeBSD's own rc scripts (it sources
    /etc/rc.subr, which only FreeBSD has): such a script is recorded, not run on Linux."""
    if os.path.basename(argv[0]) != "sh" or len(argv) < 2 or argv[1].startswith("-"):
        return False
    script = argv[1]
    if not script.startswith("/"):
        script = posixpath.join(scratch.to_host(cwd)[len(record["path"].rstrip("/")):] or "/", script)
    try:
        with open(scratch.resolve(script, view=record["path"])[1], "rb") as fh:
            return b"/etc/rc.subr" in fh.read(65536)
    except OSError:
        return False


def _spawn(ctx, scratch, record, argv, env, cwd, output, timeout):
    """Run a jailed command with jail(8)'s standard input, output and error (or ``output``); its exit status.

    command.c run_command() keeps descriptors 0-2 (closefrom(3)), so ``jail -c path=... command=pw ... -H 0``
    hands jail(8)'s standard input to the command.
    """
    try:
        stdin = ctx.stdin.fileno()
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        stdin = subprocess.DEVNULL  # in-process callers with text streams (tests)
    run = functools.partial(sandbox.run, scratch, record, argv, env=env, cwd=cwd, by=ctx.prog,
                            standins=cli.TOOLS, stdin=stdin, timeout=timeout)
    if output is not None:
        return run(stdout=output, stderr=output)
    try:
        fds = ctx.stdout.fileno(), ctx.stderr.fileno()
    except (AttributeError, io.UnsupportedOperation):
        fds = None
    if fds is not None:
        return run(stdout=fds[0], stderr=fds[1])
    # In-process callers with text streams (tests): collect the output and copy it over.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        status = run(stdout=out, stderr=err)
        for fh, stream in ((out, ctx.stdout), (err, ctx.stderr)):
            fh.seek(0)
            stream.write(fh.read().decode("utf-8", "replace"))
    return status


# --------------------------------------------------------------------------------------------------
# main(): jail.c's command-line styles, state.c's selection and ordering

def _usage(ctx):
    ctx.stderr.write(USAGE)
    raise Exit(1)


def _command_line_jail(anon, args):
    """The ``param=value ... [command=command ...]`` style (jail.c main())."""
    for i, arg in enumerate(args):
        if arg.startswith("command") and arg[7:8] in ("", "="):
            if arg[7:8] == "=":
                anon.add("command", arg[8:])
            for rest in args[i + 1:]:
                anon.add("command", rest)
            return
        if arg.startswith(("ip4.addr=", "ip6.addr=")):
            for address in arg[9:].split(","):
                anon.add(arg[:8], address)
        else:
            name, eq, value = arg.partition("=")
            anon.add(name, value if eq else None)


def _old_style(anon, args):
    """``path hostname ip[,...] command ...`` with the security.jail.* sysctl defaults of a fresh host."""
    anon.add("path", args[0])
    anon.add("host.hostname", args[1])
    if args[2]:
        for address in args[2].split(","):
            try:
                is6 = isinstance(ipaddress.ip_address(address), ipaddress.IPv6Address)
            except ValueError:
                is6 = False
            anon.add("ip6.addr" if is6 else "ip4.addr", address)
    for word in args[3:]:
        anon.add("command", word)
    # security.jail.set_hostname_allowed=1, sysvipc_allowed=0, allow_raw_sockets=0, chflags_allowed=0,
    # mount_allowed=0, socket_unixiproute_only=1 (the defaults of FreeBSD 14).
    anon.add("allow.set_hostname")
    for name in ("allow.sysvipc", "allow.raw_sockets", "allow.chflags", "allow.mount", "allow.socket_af"):
        anon.add(name, "false")


def _select(run, jails, target, docf, state, running):
    """state.c start_state(): mark the jails ``target`` names with ``state``; False when none is found."""
    if target is None or (not docf and state != STOP) or (not running and target == "*"):
        for j in jails:
            j.flags, j.wild = state, docf
        return list(jails)
    if jailcfg.wild_jail_name(target):
        if running:
            with run.ctx.scratch.kernel(write=False) as kernel:
                found = [(k["name"], k["jid"]) for k in kernel.jails if jailcfg.wild_jail_match(k["name"], target)]
            selected = []
            for name, jid in found:
                j = CfJail(name)
                j.jid, j.flags, j.wild = jid, state, True
                selected.append(j)
            return selected
        selected = [j for j in jails if jailcfg.wild_jail_match(j.name, target)]
        for j in selected:
            j.flags, j.wild = state, True
        return selected
    j = next((c for c in jails if c.name == target), None)
    if j is None and state == STOP:
        probe = CfJail(None)
        number, rest = _strtol(target)
        probe.add("jid" if number and not rest else "name", target)
        jid = run.running_jid(probe)
        if jid > 0:
            j = CfJail(target)
            j.jid = jid
    if j is None:
        run.ctx.warnx(f'"{target}" not found')
        return None
    j.flags = state
    return [j]


def _order(run, jails, selected, docf):
    """state.c's dependency handling, run one jail at a time: what ``depend`` pulls in, in order."""
    byname = {j.name: j for j in jails}
    deps = {}
    for j in jails if docf else selected[:1]:
        for name in j.values("depend"):
            if not docf:
                probe = CfJail(None)
                probe.add("name", name)
                if run.running_jid(probe) < 0:
                    run.ctx.warnx(f'depends on nonexistent jail "{name}"')
                    j.failed = True
            elif name in byname:
                deps.setdefault(j.name, []).append(byname[name])
            else:
                run.warnx(j, f'depends on undefined jail "{name}"')
                j.failed = True
    order, seen = [], set()

    def visit(j, stopping):
        if id(j) in seen:
            return
        seen.add(id(j))
        if stopping:
            pulled = [d for d in jails if j in deps.get(d.name, [])]
        else:
            pulled = deps.get(j.name, [])
        for other in pulled:
            if not other.flags:
                other.flags = STOP if stopping else (START if j.flags & START else j.flags)
                other.depend = True
            visit(other, stopping)
        order.append(j)
    for j in selected:
        visit(j, j.flags == STOP)
    return order, deps


def main(ctx, argv):
    try:
        opts, args = getopt(argv, "cde:f:hiJ:lmn:p:qrRs:u:U:v", ctx.prog, ctx.stderr)
    except BadOption:
        _usage(ctx)
    run = Jail8(ctx)
    anon = CfJail(None)
    op, rflag, docf, cfname, jidfile, separator = 0, False, True, CONF_FILE, None, None
    for letter, value in opts:
        if letter == "c":
            op |= START
        elif letter == "e":
            separator = value
        elif letter == "f":
            cfname = value
        elif letter == "h":
            anon.add("ip_hostname")
            docf = False
        elif letter == "i":
            run.iflag, run.verbose = True, -1
        elif letter == "J":
            jidfile = value
        elif letter == "l":
            anon.add("exec.clean")
            docf = False
        elif letter == "m":
            op |= SET
        elif letter in "ns":
            anon.add("name" if letter == "n" else "securelevel", value)
            docf = False
        elif letter == "q":
            run.verbose = -1
        elif letter in "rR":
            op |= STOP
            rflag = rflag or letter == "R"
        elif letter in "uU":
            anon.add("exec.jail_user", value)
            anon.add("exec.system_jail_user", None if letter == "u" else "false")
            docf = False
        elif letter == "v":
            run.verbose = 1

    if separator is not None:
        if op or args or not docf:
            _usage(ctx)
        for j in run.load_config(cfname):
            if not j.failed:
                run.print_jail(ctx.stdout, j, separator, running=False)
        return 0
    if not op:
        if len(args) < 4 or not args[0].startswith("/"):
            _usage(ctx)
        op, docf, run.oldcl = START, False, True
        _old_style(anon, args)
        jails = [anon]
    elif op == STOP:
        if not docf or not args or (not rflag and any("=" in a for a in args)):
            _usage(ctx)
        docf = not rflag and (cfname == "-" or run.exists(cfname))
        jails = run.load_config(cfname) if docf else []
        run.note_remove = docf or len(args) > 1 or jailcfg.wild_jail_name(args[0])
    elif len(args) > 1 or (len(args) == 1 and "=" in args[0]):
        if rflag:
            _usage(ctx)
        docf = False
        _command_line_jail(anon, args)
        jails = [anon]
    else:
        if rflag or not docf:
            _usage(ctx)
        jails = run.load_config(cfname)

    if op == STOP:
        selected = []
        for target in args:
            found = _select(run, jails, target, docf, op, rflag)
            if found is None:
                run.error = 1
            else:
                selected += [j for j in found if j not in selected]
        jails += [j for j in selected if j not in jails]
    else:
        selected = _select(run, jails, args[0] if args else None, docf, op, False)
        if selected is None:
            raise Exit(1)
    order, deps = _order(run, jails, selected, docf)

    if jidfile is not None:
        try:
            run.jidfile = open(run._real(jidfile), "w", encoding="utf-8")
        except OSError as error:
            ctx.err(1, f"open {jidfile}", error)
    try:
        for j in order:
            stopping = j.flags == STOP
            blockers = [d for d in jails if j in deps.get(d.name, [])] if stopping else deps.get(j.name, [])
            if not j.failed and any(b.failed for b in blockers if b.flags):
                if not j.depend and run.verbose >= 0:
                    run.warnx(j, "skipped")
                j.failed = True
            try:
                run.process(j)
            except _Failed:
                pass
            if j.failed:
                run.error = 1
    finally:
        if run.jidfile is not None:
            run.jidfile.close()
    return run.error
