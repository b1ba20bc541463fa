"""pw(8) for what the product needs: setting a password hash, and showing users (usr.sbin/pw, FreeBSD 14).

``pw [-R rootdir | -V etcdir] usermod NAME|UID [-q] [-C config] [-N] [-P] (-H fd | -h fd)`` and
``pw [-R rootdir | -V etcdir] usershow NAME|UID|-a [-P] [-7] [-F]``.

``-H fd`` reads an already encrypted password from descriptor ``fd`` (``0``: the standard input; refused
when it holds ``:``); ``-h fd`` reads a plaintext password and stores its SHA-512 crypt(3) hash (through
Python's ``crypt`` module; without it the hash is a ``$6$``-shaped placeholder, since nothing logs in to a
rehearsal host); ``-h -`` locks the account (password ``*``).  Only the password field of the user's
line in ``master.passwd`` changes, every other byte is kept (the file is replaced atomically, keeping
its mode and owner), and the ``pwd_mkdb`` run pw would do is recorded in nested.log.

Messages and statuses follow pw.c and pw_user.c: ``unknown keyword `x'`` (64), ``no such user `x'``
(67), ``empty password read on file descriptor 0`` and ``bad encrypted password`` (65), ``'-h' and '-H'
are mutually exclusive options`` (64), ``no such directory `x'`` (72), and the help text of ``pw``,
``pw user`` and ``pw usermod`` with exit status 1.  As in pw, an unknown option of a subcommand only
draws getopt(3)'s warning.  Not simulated (exit 70): the other subcommands and usermod changes other
than the password.
"""

import errno
import os
import secrets

from ..bsdgetopt import getopt
from ..context import Exit

EX_USAGE, EX_DATAERR, EX_NOUSER, EX_SOFTWARE, EX_OSFILE, EX_IOERR = 64, 65, 67, 70, 72, 74
PASSWORD_LEN = 128  # _PASSWORD_LEN
MODES = ("add", "del", "mod", "show", "next")
WHICH = ("user", "group")
COMBOS = ("useradd", "userdel", "usermod", "usershow", "usernext", "lock", "unlock",
          "groupadd", "groupdel", "groupmod", "groupshow", "groupnext")
COMBOS2 = ("adduser", "deluser", "moduser", "showuser", "nextuser", "lock", "unlock",
           "addgroup", "delgroup", "modgroup", "showgroup", "nextgroup")
HELP_WHICH = "usage:\n  pw [user|group|lock|unlock] [add|del|mod|show|next] [help|switches/values]\n"
HELP_MODE = "usage:\n  pw {} [add|del|mod|show|next] [help|switches/values]\n"
HELP_USERMOD = (
    "usage: pw usermod [uid|name] [switches]\n"
    "\t-V etcdir      alternate /etc location\n"
    "\t-R rootdir     alternate root directory\n"
    "\t-C config      configuration file\n"
    "\t-q             quiet operation\n"
    "\t-F             force add if no user\n"
    "\t-n name        login name\n"
    "\t-u uid         user id\n"
    "\t-c comment     user name/comment\n"
    "\t-d directory   home directory\n"
    "\t-e date        account expiry date\n"
    "\t-p date        password expiry date\n"
    "\t-g grp         initial group\n"
    "\t-G grp1,grp2   additional groups\n"
    "\t-l name        new login name\n"
    "\t-L class       user class\n"
    "\t-m [ -k dir ]  create and set up home\n"
    "\t-M mode        home directory permissions\n"
    "\t-s shell       name of login shell\n"
    "\t-w method      set new password using method\n"
    "\t-h fd          read password on fd\n"
    "\t-H fd          read encrypted password on fd\n"
    "\t-Y             update NIS maps\n"
    "\t-y path        set NIS passwd file path\n"
    "\t-N             no update\n")
USERMOD_OPTIONS = "C:qn:u:c:d:e:p:g:G:mM:l:k:s:w:L:h:H:NPYy:"
USERSHOW_OPTIONS = "C:qn:u:FPa7"


def _hash(password):
    """pw_pwcrypt() with the sha512 format: ``$6$salt$hash``."""
    try:
        import warnings  # pylint: disable=import-outside-toplevel
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt  # pylint: disable=import-outside-toplevel,deprecated-module
        return crypt.crypt(password, crypt.mksalt(crypt.METHOD_SHA512))
    except ImportError:
        return "$6$" + secrets.token_hex(8) + "$" + secrets.token_urlsafe(64)[:86]


def _read_password(ctx, fd, precrypted):
    """pw_set_passwd(): one line from descriptor ``fd``."""
    try:
        data = os.read(fd, PASSWORD_LEN)
    except OSError as error:
        ctx.err(EX_IOERR, f"-{'H' if precrypted else 'h'} file descriptor", error)
    line = data.decode("utf-8", "surrogateescape").split("\n", 1)[0].split("\r", 1)[0]
    if not line:
        ctx.errx(EX_DATAERR, f"empty password read on file descriptor {fd}")
    if precrypted:
        if ":" in line:
            ctx.errx(EX_DATAERR, "bad encrypted password")
        return line
    return _hash(line)


def _checkfd(ctx, text):
    """pw_checkfd(): ``-`` or a descriptor number."""
    if text == "-":
        return "-"
    if not text.isdigit() or int(text) > 2**31 - 1:
        ctx.errx(EX_USAGE, f"Bad file descriptor '{text}': invalid")
    return int(text)


def _checkid(ctx, text):
    """pw_checkid(): a numeric id."""
    if not text.isdigit() or int(text) > 2**32 - 1:
        ctx.errx(EX_USAGE, f"Bad id '{text}': invalid")
    return int(text)


def _find(lines, name, uid):
    """Index of the master.passwd line of user ``name`` (or ``uid``), or None."""
    for index, line in enumerate(lines):
        if not line or line.startswith(("#", "+", "-")):
            continue
        fields = line.split(":")
        if len(fields) == 10 and ((name is not None and fields[0] == name) or (name is None and fields[2] == str(uid))):
            return index
    return None


MAXSYMLINKS = 32  # sys/param.h
_O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def _etc_fd(etc):
    """An open descriptor of the directory ``etc`` = ``(root, rel)``: ``rel`` walked below the real directory
    ``root`` one component at a time, as the kernel walks a path for a process whose root is ``root`` (an
    absolute link starts again at ``root``, ``..`` stops there), at the moment pw opens its files.

    Inside a jail ``root`` is the jail's root: a chrooted pw sees /etc that way, so no link — not even one the
    jail's root user swaps in while pw runs — leads out of the jail.  On the host ``root`` is the scratch
    root and this is the host's own walk, so ``pw -R DIR`` follows a link in DIR as on FreeBSD.
    """
    root, rel = etc
    fds = [os.open(root, _O_DIR)]
    pending = [c for c in rel.split("/") if c not in ("", ".")][::-1]
    links = 0
    try:
        while pending:
            comp = pending.pop()
            if comp == "..":
                if len(fds) > 1:
                    os.close(fds.pop())
                continue
            try:
                target = os.readlink(comp, dir_fd=fds[-1])
            except OSError as error:
                if error.errno != errno.EINVAL:
                    raise
                try:
                    fds.append(os.open(comp, _O_DIR | os.O_NOFOLLOW, dir_fd=fds[-1]))
                    continue
                except OSError as again:
                    if again.errno != errno.ELOOP:  # swapped for a link since readlink: look again
                        raise
                    target = os.readlink(comp, dir_fd=fds[-1])
            links += 1
            if links > MAXSYMLINKS:
                raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), rel)
            if target.startswith("/"):
                while len(fds) > 1:
                    os.close(fds.pop())
            pending.extend([c for c in target.split("/") if c not in ("", ".")][::-1])
        return fds.pop()
    finally:
        for fd in fds:
            os.close(fd)


def _read_master(etc):
    """The text of master.passwd in the directory ``etc`` (see :func:`_etc_fd`; never through a final link)."""
    dir_fd = _etc_fd(etc)
    try:
        fd = os.open("master.passwd", os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    finally:
        os.close(dir_fd)
    with os.fdopen(fd, encoding="utf-8", errors="surrogateescape") as fh:
        return fh.read()


def _write_master(etc, text):
    """Replace master.passwd in ``etc`` atomically, keeping its mode and owner (as pw's pw_copy() and
    pwd_mkdb's rename do)."""
    dir_fd = _etc_fd(etc)
    try:
        st = os.stat("master.passwd", dir_fd=dir_fd, follow_symlinks=False)
        tmp = f".pw.{secrets.token_hex(6)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                     dir_fd=dir_fd)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as fh:
                fh.write(text)
                os.fchmod(fh.fileno(), st.st_mode & 0o7777)
                os.fchown(fh.fileno(), st.st_uid, st.st_gid)
            os.replace(tmp, "master.passwd", src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            os.unlink(tmp, dir_fd=dir_fd)
            raise
    finally:
        os.close(dir_fd)


def _etc(ctx, rootdir, etcdir):
    """The directory holding master.passwd as ``(root, rel)`` for :func:`_etc_fd` — this process's ``/`` (the
    jail's root inside a jail, else the scratch root) and the directory below it, unresolved — and its name
    in messages."""
    if rootdir is None and etcdir is None:
        directory = "/etc"
    else:
        directory = rootdir if rootdir is not None else etcdir
        canonical, real = ctx.resolve(directory)
        if not os.path.exists(real):
            ctx.errx(EX_OSFILE, f"no such directory `{directory}'")
        if not os.path.isdir(real):
            ctx.errx(EX_OSFILE, f"`{directory}' not a directory")
        if not directory.startswith("/"):
            directory = canonical
        directory = directory.rstrip("/") + "/etc" if rootdir is not None else directory
    canonical, _real = ctx.resolve(directory)
    return (ctx.scratch.real(ctx.view), directory.strip("/")), ctx.host_path(canonical)


def main(ctx, argv):
    rootdir = etcdir = None
    mode = which = None
    arg1 = None
    args = list(argv)
    while args:
        word = args[0]
        if word.startswith("-"):
            if word[1:2] not in ("R", "V"):
                break
            if rootdir is not None or etcdir is not None:
                ctx.errx(1, "Both '-R' and '-V' specified, only one accepted")
            value = word[2:]
            if not value:
                if len(args) < 2:
                    ctx.errx(EX_OSFILE, "no such directory `(null)'")
                value = args.pop(1)
            if word[1] == "R":
                rootdir = value
            else:
                etcdir = value
        elif mode is None and word in MODES:
            mode = word
        elif which is None and word in WHICH:
            which = word
        elif mode is None and which is None and (word in COMBOS or word in COMBOS2):
            which, mode = _combo(word)
        elif word == "help" and len(args) == 1:
            _help(ctx, which, mode)
        elif which is not None and mode is not None:
            arg1 = word
        else:
            ctx.errx(EX_USAGE, f"unknown keyword `{word}'")
        args.pop(0)
    if which is None or mode is None:
        _help(ctx, which, mode)
    if (which, mode) == ("user", "mod"):
        return _usermod(ctx, args, arg1, *_etc(ctx, rootdir, etcdir))
    if (which, mode) == ("user", "show"):
        return _usershow(ctx, args, arg1, *_etc(ctx, rootdir, etcdir))
    ctx.errx(EX_SOFTWARE, f"pw {which}{mode} is not simulated by the rehearsal host")
    return EX_SOFTWARE


def _combo(word):
    index = COMBOS.index(word) if word in COMBOS else COMBOS2.index(word)
    if word in ("lock", "unlock"):
        return "user", word
    return ("user" if index < 7 else "group"), MODES[(index if index < 7 else index - 7) % 5]


def _help(ctx, which, mode):
    if which is None:
        ctx.stderr.write(HELP_WHICH)
    elif mode is None:
        ctx.stderr.write(HELP_MODE.format(which))
    elif (which, mode) == ("user", "mod"):
        ctx.stderr.write(HELP_USERMOD)
    else:
        ctx.errx(EX_SOFTWARE, f"help of pw {which}{mode} is not simulated by the rehearsal host")
    raise Exit(1)


def _user_key(arg1, name, uid):
    """(name, uid) from the positional argument and -n/-u, as pw_user.c reads them."""
    if arg1 is not None:
        if arg1.isdigit():
            uid = int(arg1)  # pw_user.c: an all-digit argument is a uid
        else:
            name = arg1
    return name, uid


def _usermod(ctx, args, arg1, etc, shown_etc):
    opts, _ = getopt(args, ":" + USERMOD_OPTIONS, ctx.prog, ctx.stderr)
    name = uid = fd = None
    precrypted = dryrun = False
    for letter, value in opts:
        if letter == "?":
            ctx.warnx(f"illegal option -- {value}")
        elif letter in ("h", "H"):
            if fd is not None:
                ctx.errx(EX_USAGE, "'-h' and '-H' are mutually exclusive options")
            fd = _checkfd(ctx, value)
            precrypted = letter == "H"
            if precrypted and fd == "-":
                ctx.errx(EX_USAGE, "-H expects a file descriptor")
        elif letter == "n":
            name = value
        elif letter == "u":
            uid = _checkid(ctx, value)
        elif letter == "N":
            dryrun = True
        elif letter not in ("q", "C", "P", "Y", "y"):
            ctx.errx(EX_SOFTWARE, f"usermod -{letter} is not simulated by the rehearsal host")
    name, uid = _user_key(arg1, name, uid)
    if name is None and uid is None:
        ctx.errx(EX_DATAERR, "username or id required")
    try:
        lines = _read_master(etc).split("\n")
    except OSError as error:
        ctx.err(EX_IOERR, f"{shown_etc}/master.passwd", error.errno)
    index = _find(lines, name, uid)
    if index is None:
        ctx.errx(EX_NOUSER, f"no such user `{name}'" if name is not None else f"no such uid `{uid}'")
    fields = lines[index].split(":")
    if fd is None:
        return 0
    new = "*" if fd == "-" else _read_password(ctx, fd, precrypted)
    if fd == "-" and fields[1].startswith("*"):
        return 0
    fields[1] = new
    if dryrun:
        ctx.out(":".join(fields) + "\n")
        return 0
    lines[index] = ":".join(fields)
    try:
        _write_master(etc, "\n".join(lines))
    except OSError as error:
        ctx.errx(EX_IOERR, f"passwd file update: {error.strerror}")
    ctx.scratch.log_nested(ctx.prog, ["pwd_mkdb", "-p", "-d", shown_etc, "-u", fields[0],
                                      f"{shown_etc}/master.passwd"], ran=False)
    return 0


def _usershow(ctx, args, arg1, etc, shown_etc):
    opts, _ = getopt(args, ":" + USERSHOW_OPTIONS, ctx.prog, ctx.stderr)
    name = uid = None
    show_all = False
    for letter, value in opts:
        if letter == "?":
            ctx.warnx(f"illegal option -- {value}")
        elif letter == "n":
            name = value
        elif letter == "u":
            uid = _checkid(ctx, value)
        elif letter == "a":
            show_all = True
        elif letter in ("P", "7", "F"):
            ctx.errx(EX_SOFTWARE, f"usershow -{letter} is not simulated by the rehearsal host")
    try:
        lines = _read_master(etc).split("\n")
    except OSError as error:
        ctx.err(EX_IOERR, f"{shown_etc}/master.passwd", error.errno)
    records = [line for line in lines if line and not line.startswith(("#", "+", "-"))]
    if show_all:
        ctx.out("".join(line + "\n" for line in records))
        return 0
    name, uid = _user_key(arg1, name, uid)
    if name is None and uid is None:
        ctx.errx(EX_DATAERR, "username or id required")
    index = _find(lines, name, uid)
    if index is None:
        ctx.errx(EX_NOUSER, f"no such user `{name}'" if name is not None else f"no such uid `{uid}'")
    ctx.out(lines[index] + "\n")
    return 0
