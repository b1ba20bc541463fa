"""jexec(8): run a command inside a running simulated jail (usr.sbin/jexec/jexec.c, FreeBSD 14).

``jexec [-l] [-u username | -U username] jail [command ...]``.  The jail is a jid (taken as is, like
jail_getid(); attaching to a jid with no jail fails with ``jexec: jail_attach(7): Invalid argument``) or a
name (``jexec: jail "x" not found``).  The command runs in the jail root; with ``-l`` in a clean
environment (``TERM`` kept, ``USER``/``HOME``/``SHELL`` of the user, ``PATH`` the ``path`` of the user's
login class in the jail's login.conf -- ``/sbin:/bin:/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin:~/bin``
in a stock one -- else ``/bin:/usr/bin``) from the user's home directory (``jexec: chdir: /root: No such file or directory`` when the jail has none).  ``-u`` names a
user of the host's master.passwd, ``-U`` one of the jail's; the user only sets that environment (the
command runs as root).  Without a command the user's shell runs with ``-i``.

How the command runs, and why ``ping`` inside a rehearsal jail is always the stand-in, is described in
:mod:`salt_jail.rehearsal.sandbox`; its exit status is jexec's.  Errors exit 1 as in jexec.c.
"""

import errno
import os
import subprocess

from .. import cli, sandbox
from ..bsdgetopt import BadOption, getopt
from ..context import Exit

USAGE = "usage: jexec [-l] [-u username | -U username] jail [command ...]\n"


def _usage(ctx):
    ctx.stderr.write(USAGE)
    raise Exit(1)


def _user(ctx, view, username):
    """get_user_info(): the passwd entry of ``username`` (or of uid 0) seen from ``view``, or exit."""
    user = sandbox.user_entry(ctx.scratch, view, name=username)
    if user is None:
        ctx.errx(1, f"{username}: no such user" if username else "unknown uid: 0")
    return user


def main(ctx, argv):
    try:
        opts, args = getopt(argv, "lnu:U:", ctx.prog, ctx.stderr)
    except BadOption:
        _usage(ctx)
    clean = uflag = Uflag = False
    username = None
    for letter, value in opts:
        if letter == "l":
            clean = True
        elif letter in "uU":
            username = value
            uflag, Uflag = uflag or letter == "u", Uflag or letter == "U"
    if not args or (uflag and Uflag):
        _usage(ctx)
    user = _user(ctx, ctx.view, username) if uflag or (clean and not Uflag) else None

    target = args[0]
    with ctx.scratch.kernel(write=False) as kernel:
        if target.isdigit():
            jail = kernel.find_jail(jid=int(target))
            if jail is None:
                ctx.err(1, f"jail_attach({int(target)})", errno.EINVAL)
        else:
            jail = kernel.find_jail(name=target)
            if jail is None:
                ctx.errx(1, f'jail "{target}" not found')
    env = dict(os.environ)
    cwd = ctx.scratch.resolve("/", view=jail["path"])[1]
    if clean or username is not None:
        if Uflag:
            user = _user(ctx, jail["path"], username)
        if clean:
            env = {"PATH": "/bin:/usr/bin"}
            if "TERM" in os.environ:
                env["TERM"] = os.environ["TERM"]
        env.update(USER=user.name, HOME=user.home, SHELL=user.shell or "/bin/sh")
        if clean:
            # setusercontext(LOGIN_SETPATH): the PATH of the login class
            env["PATH"] = sandbox.login_path(ctx.scratch, jail["path"], user) or env["PATH"]
            home = ctx.scratch.resolve(user.home, view=jail["path"])[1]
            if not os.path.isdir(home):
                ctx.err(1, f"chdir: {user.home}", errno.ENOENT)
            cwd = home
    command = args[1:] or [env.get("SHELL") or "/bin/sh", "-i"]
    ctx.stdout.flush()
    ctx.stderr.flush()
    try:
        return sandbox.run(ctx.scratch, jail, command, env=env, cwd=cwd, by=ctx.prog, standins=cli.TOOLS)
    except OSError as error:
        ctx.err(1, f"{'execvp' if args[1:] else 'execlp'}: {command[0]}", error)
    except subprocess.SubprocessError as error:
        ctx.errx(1, f"execvp: {command[0]}: {error}")
    return 1
