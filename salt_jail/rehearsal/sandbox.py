"""Running a command "inside" a simulated jail, on Linux, without letting it touch the real host.

A FreeBSD jail chroots its processes and gives them the jail's hostname and addresses.  The rehearsal
host has no FreeBSD binaries to chroot into, so a jailed command runs as a Linux process with:

* a new UTS namespace carrying the jail's ``host.hostname`` (``hostname`` answers as in the jail) and a
  new, empty network namespace (no packet can leave: ``lo`` is down, there is no other interface);
* a Landlock sandbox that lets it write only below the scratch root (and to ``/dev`` for ``/dev/null``),
  so even ``rm -rf /`` inside a rehearsal jail cannot harm the machine;
* the stand-ins first on ``PATH``, and :data:`JID_ENV <salt_jail.rehearsal.scratch.JID_ENV>` naming the
  jail, so ``ping``, ``chflags``, ``sysctl`` ... answer as they would inside that jail;
* its current directory in the jail root (or the directory the FreeBSD tool would chdir to).

The program is chosen the way the jail's execvp would find it, then mapped to something Linux can run
(:func:`program`): a stand-in by its name; a ``#!`` script found in the jail root is run by the host's
interpreter of the same name; a FreeBSD binary of the jail root, or a command the jail root does not
have at all, is played by the host's tool of the same name (``hostname``, ``cat``, ``sh``).  Absolute
paths *inside* such scripts and commands still name the Linux host's files (read-only to them).

Requirements: Linux with Landlock (5.13+) and the right to create namespaces (root or CAP_SYS_ADMIN).
Without them jailed commands fail with a clear message instead of running unconfined.
"""

import ctypes
import dataclasses
import errno
import functools
import os
import re
import shutil
import socket
import struct
import subprocess

from . import netns
from .scratch import BY_ENV, JID_ENV

#: Where the host's own tools are looked up when a jailed command needs one.
HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#: Exit status of a jailed command whose sandbox could not be set up (EX_OSERR).
SANDBOX_FAILED = 71

_CLONE_NEWUTS = 0x04000000
_CLONE_NEWNET = 0x40000000
_PR_SET_NO_NEW_PRIVS = 38
_SYS_LANDLOCK_CREATE_RULESET, _SYS_LANDLOCK_ADD_RULE, _SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446
_LANDLOCK_CREATE_RULESET_VERSION = 1
_LANDLOCK_RULE_PATH_BENEATH = 1
# LANDLOCK_ACCESS_FS_* rights that change the filesystem (ABI 1), REFER (ABI 2), TRUNCATE (ABI 3).
_FS_WRITE_V1 = (1 << 1) | sum(1 << bit for bit in range(4, 13))
_FS_REFER = 1 << 13
_FS_TRUNCATE = 1 << 14


def _landlock(writable):
    """Restrict this process (and its children) to writing below the ``writable`` directories."""
    libc = ctypes.CDLL(None, use_errno=True)
    abi = libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, None, 0, _LANDLOCK_CREATE_RULESET_VERSION)
    if abi < 1:
        raise OSError(ctypes.get_errno(), "Landlock is not available: " + os.strerror(ctypes.get_errno()))
    handled = _FS_WRITE_V1 | (_FS_REFER if abi >= 2 else 0) | (_FS_TRUNCATE if abi >= 3 else 0)
    attr = ctypes.c_uint64(handled)
    ruleset = libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.sizeof(attr), 0)
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset: " + os.strerror(ctypes.get_errno()))
    try:
        for path in writable:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                rule = ctypes.create_string_buffer(struct.pack("=Qi", handled, fd))
                if libc.syscall(_SYS_LANDLOCK_ADD_RULE, ruleset, _LANDLOCK_RULE_PATH_BENEATH, rule, 0) != 0:
                    raise OSError(ctypes.get_errno(), f"landlock_add_rule {path}: {os.strerror(ctypes.get_errno())}")
            finally:
                os.close(fd)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS): " + os.strerror(ctypes.get_errno()))
        if libc.syscall(_SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self: " + os.strerror(ctypes.get_errno()))
    finally:
        os.close(ruleset)


def _enter(hostname, writable, netns_fd=None, empty_net=False):
    """preexec_fn of a jailed command: namespaces (when ``hostname`` is given), then Landlock.

    A VNET jail's command joins the jail's own network namespace (``netns_fd``) instead of an empty one;
    ``empty_net`` gives a host-side hook an empty network namespace (it reaches the rehearsal's namespaces
    only through the stand-ins, which name them).
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if hostname is not None:
            flags = _CLONE_NEWUTS | (0 if netns_fd is not None else _CLONE_NEWNET)
            if libc.unshare(flags) != 0:
                raise OSError(ctypes.get_errno(), "unshare(UTS, NET): " + os.strerror(ctypes.get_errno()))
            socket.sethostname(hostname)
            if netns_fd is not None and libc.setns(netns_fd, _CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns(NET): " + os.strerror(ctypes.get_errno()))
        elif empty_net and libc.unshare(_CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "unshare(NET): " + os.strerror(ctypes.get_errno()))
        _landlock(writable)
    except OSError as error:
        os.write(2, f"rehearsal: cannot sandbox the jailed command: {error.strerror or error}\n".encode())
        os._exit(SANDBOX_FAILED)


def _is_script(real):
    """The ``#!`` line's words of the file ``real``, or None when it is not a script."""
    try:
        with open(real, "rb") as fh:
            head = fh.read(256)
    except OSError:
        return None
    if not head.startswith(b"#!"):
        return None
    return head[2:].split(b"\n", 1)[0].decode("utf-8", "replace").split()


def _host_tool(name):
    found = shutil.which(os.path.basename(name), path=HOST_PATH)
    if found is None:
        raise OSError(errno.ENOENT, os.strerror(errno.ENOENT), name)
    return found


def program(scratch, view, argv, search_path, standins):
    """The Linux argv that plays FreeBSD ``argv`` run inside the jail rooted at host path ``view``.

    ``search_path`` is the jail-side ``PATH`` execvp(3) searches for a name without a slash;
    ``standins`` the FreeBSD tool names the rehearsal plays.  Raises :class:`OSError` (ENOENT) where
    the jail's execvp would fail.
    """
    name, args = argv[0], list(argv[1:])
    base = os.path.basename(name)
    if base in standins:
        return [os.path.join(scratch.bindir, base), *args]
    real = None
    if "/" in name:
        real = scratch.resolve(name, view=view)[1]
        if not os.path.isfile(real):
            raise OSError(errno.ENOENT, os.strerror(errno.ENOENT), name)
    else:
        for directory in search_path.split(":"):
            candidate = scratch.resolve(f"{directory or '.'}/{name}", view=view)[1]
            if os.path.isfile(candidate):
                real = candidate
                break
    shebang = _is_script(real) if real else None
    if shebang:
        return [_host_tool(shebang[0]), *shebang[1:], real, *args]
    if base in ("sh", "bash", "csh", "tcsh") and args and not args[0].startswith("-"):
        script = scratch.resolve(args[0], view=view)[1] if args[0].startswith("/") else None
        if script and os.path.isfile(script):
            args[0] = script
    return [_host_tool(name), *args]


def run(scratch, jail, argv, *, env, cwd, by, standins, stdin=None, stdout=None, stderr=None, timeout=None):
    """Run FreeBSD ``argv`` inside ``jail`` (a kernel record); returns the exit status.

    ``env`` is the environment the FreeBSD tool would give the command (its ``PATH`` is searched in the
    jail, then gets the stand-ins' directory in front); ``cwd`` a real directory inside the jail root.
    Raises :class:`OSError` where execvp(3) would fail and :class:`subprocess.TimeoutExpired`.
    """
    search_path = env.get("PATH") or "/bin:/usr/bin"
    exec_argv = program(scratch, jail["path"], argv, search_path, standins)
    env = dict(env)
    env["PATH"] = f"{scratch.bindir}:{search_path}"
    env[BY_ENV] = by
    env[JID_ENV] = str(jail["jid"])
    tmp = scratch.resolve("/tmp", view=jail["path"])[1]
    env["TMPDIR"] = tmp if os.path.isdir(tmp) else scratch.tmpdir
    netns_fd = None
    if jail["params"].get("vnet") == "new":
        try:
            netns_fd = os.open(netns.jail_ns_path(scratch.root, jail["jid"]), os.O_RDONLY | os.O_CLOEXEC)
        except OSError as error:
            raise OSError(error.errno, f"the VNET jail's network namespace is missing: {error.strerror}") from None
    enter = functools.partial(_enter, jail["params"]["host.hostname"], [scratch.root, "/dev"], netns_fd)
    try:
        return subprocess.run(exec_argv, env=env, cwd=cwd, stdin=stdin, stdout=stdout, stderr=stderr,
                              preexec_fn=enter, timeout=timeout, check=False).returncode
    finally:
        if netns_fd is not None:
            os.close(netns_fd)


def run_host_hook(scratch, argv, *, env, cwd, stdout=None, stderr=None, timeout=None):
    """Run a jail(8) system-environment hook made only of stand-ins (see :func:`salt_jail.rehearsal.vnet.
    runnable_hook`): confined to writing below the scratch root, in an empty network namespace of its own.
    Returns the exit status."""
    enter = functools.partial(_enter, None, [scratch.root, "/dev"], None, True)
    return subprocess.run(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                          preexec_fn=enter, timeout=timeout, check=False).returncode


@dataclasses.dataclass(frozen=True)
class PwEntry:
    """The fields of struct passwd the stand-ins use, from one master.passwd(5) line."""

    name: str
    uid: int
    gid: int
    login_class: str
    home: str
    shell: str


def _read_in(scratch, view, path):
    """The text of ``path`` as seen from host path ``view`` (the jail's root), or None."""
    try:
        with open(scratch.resolve(path, view=view)[1], encoding="utf-8", errors="surrogateescape") as fh:
            return fh.read()
    except OSError:
        return None


def user_entry(scratch, view, name=None, uid=0):
    """getpwnam(3)/getpwuid(3) in the master.passwd seen from host path ``view``: a :class:`PwEntry`, or None
    (no such user, or no readable master.passwd).  Lines pwd_mkdb(8) would not accept are skipped."""
    for line in (_read_in(scratch, view, "/etc/master.passwd") or "").splitlines():
        fields = line.split(":")
        if line.startswith(("#", "+", "-")) or len(fields) != 10 or not (fields[2].isdigit() and fields[3].isdigit()):
            continue
        if (fields[0] == name) if name is not None else (int(fields[2]) == uid):
            return PwEntry(fields[0], int(fields[2]), int(fields[3]), fields[4], fields[8], fields[9])
    return None


def _login_records(text):
    """getcap(3) records of a login.conf(5): ``{name: [capability, ...]}`` (``\\``-newline continues)."""
    records = {}
    for line in re.sub(r"\\\n[ \t]*", "", text).splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        names, _, caps = line.partition(":")
        fields = [cap.strip() for cap in caps.split(":") if cap.strip()]
        for record_name in names.split("|"):
            records.setdefault(record_name.strip(), fields)
    return records


def _capability(records, name, cap, depth=0):
    """cgetstr(3): the first ``cap=value`` of record ``name``, ``tc=`` records read where they stand."""
    for field in records.get(name, ()) if depth <= 32 else ():
        if field.startswith(cap + "="):
            return field[len(cap) + 1:]
        if field == cap + "@":
            return None
        if field.startswith("tc="):
            found = _capability(records, field[3:], cap, depth + 1)
            if found is not None:
                return found
    return None


def login_path(scratch, view, user):
    """PATH as setusercontext(3) sets it with LOGIN_SETPATH (what ``jexec -l`` and ``exec.clean`` do after
    starting from ``PATH=/bin:/usr/bin``): the ``path`` capability of the user's login class in the jail's
    /etc/login.conf (lib/libutil login_cap.c login_getpwclass(): the class field, else ``root`` for uid 0,
    falling back to ``default``; login_class.c substvar(): ``~`` is the home directory, ``$`` the user, and
    the words are joined by ``:``).  None without a login.conf or a path there (PATH is then left alone);
    a stock login.conf gives ``/sbin:/bin:/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin:$HOME/bin``."""
    text = _read_in(scratch, view, "/etc/login.conf")
    if text is None:
        return None
    records = _login_records(text)
    wanted = user.login_class or ("root" if user.uid == 0 else "default")
    value = _capability(records, wanted if wanted in records else "default", "path")
    if value is None:
        return None
    home = user.home.rstrip("/")
    words = [home + word[1:] if word.startswith("~") else word for word in re.split(r"[ \t,]+", value) if word]
    return ":".join(word.replace("$", user.name) for word in words)


def start_confined(argv, *, root, env=None, cwd=None, stdin=None, stdout=None, stderr=None):
    """Start a host program allowed to write only below ``root`` (and ``/dev``); returns its Popen.

    The confinement runs between fork and exec (``preexec_fn``): start no thread before calling this.
    """
    enter = functools.partial(_enter, None, [root, "/dev"])
    return subprocess.Popen(argv, env=env, cwd=cwd, stdin=stdin, stdout=stdout, stderr=stderr,
                            preexec_fn=enter)


def run_confined(argv, *, root, env=None, cwd=None, stdin=None, stdout=None, stderr=None):
    """Run a host program allowed to write only below ``root`` (and ``/dev``); returns the exit status."""
    with start_confined(argv, root=root, env=env, cwd=cwd, stdin=stdin, stdout=stdout, stderr=stderr) as proc:
        return proc.wait()

