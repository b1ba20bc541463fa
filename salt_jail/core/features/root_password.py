"""Step ``root_password``: root's password hash in the prisoner, set by pw(8) confined to the prisoner (seed step 9).

The rule this step follows (DESIGN.md, threat model): **the host never follows, as root, a path inside a
prisoner that the prisoner's root can change while the step runs.**  A tool that must work on the prisoner's own
databases (pw for the root password) runs *confined* — in the running prisoner with ``jexec``, or in a transient
jail on the prisoner's path for that one command when it is stopped — never with ``-R``/``-d``-style root options
on a prisoner path, and no binary of a prisoner's tree ever runs on the host outside a jail.
"""

from . import lifecycle, prisoner as prisoner_
from ..errors import CommandError, JailprovError
from ..formats import passwd
from ..tools import jailcmd
from ..result import StepResult


def _root_hash(root):
    user = passwd.find_user(prisoner_.parse_base_file(root, "etc/master.passwd", passwd.parse_master_passwd), "root")
    if user is None:
        raise JailprovError(f"{root.show('etc/master.passwd')} has no root account")
    return user.password


def root_password(host, cfg, name, test=False):
    """Step 9: root's password hash in the prisoner equals the pillar's (``locked`` = ``*``).

    Compares with the hash in the prisoner's ``etc/master.passwd`` (read through the chroot-safe file
    layer) and, when different, runs pw(8) **confined to the prisoner** with the hash on stdin
    (``-h -`` for ``locked``, which sets ``*``): ``jexec NAME /usr/sbin/pw usermod root -H 0`` in the
    running prisoner, or, when it is stopped, in a transient jail on its path for that one command
    (:func:`~salt_jail.core.tools.jailcmd.transient_jail_argv`: ``jail -c path=ROOT command=/usr/sbin/pw ...``;
    jail(8) passes its standard input to the command and removes the jail when it exits).

    The rule (DESIGN.md, threat model): the host never follows, as root, a path inside a prisoner that
    the prisoner's root can change while the step runs.  ``pw -R ROOT`` (and ``pwd_mkdb -d``) resolve
    ``ROOT/etc/master.passwd`` as plain host paths: a prisoner that swaps its ``etc`` for a link to
    ``../../../etc`` after any check and before pw opens it makes pw rewrite the host's own
    master.passwd.  Confined, pw resolves every path inside the prisoner's root, so such a link can
    only lead back into the prisoner.  The pw that runs is the prisoner's own, in the jail: a prisoner
    that replaced it can only lie about success, which the read-back catches.
    The hash never appears in argv, comments, diffs, data or errors.
    """
    prisoner = prisoner_.present(cfg, name)
    root = prisoner_.open_root(host, prisoner)
    if prisoner.root_password is None:
        return StepResult(False, f"no root_password for prisoner {name}; root's password left alone")
    locked = prisoner.root_password == "locked"
    wanted = "*" if locked else prisoner.root_password
    if _hash_is(_root_hash(root), wanted):
        return StepResult(False, f"root password of prisoner {name} is already correct")
    what = "locked (set to *)" if locked else "changed"
    if test:
        return StepResult(True, f"root password of prisoner {name} would be {what}")
    pw = jailcmd.pw_root_password_argv(locked)
    running = lifecycle.find_running(host, name)
    if running is not None:
        argv = jailcmd.jexec_argv(name, pw, login=False)
    else:
        argv = jailcmd.transient_jail_argv(prisoner.path, pw)
    res = host.run(argv, stdin=None if locked else wanted + "\n", secret=True)
    if not res.ok:
        raise CommandError(
            argv, res.retcode, _scrub(res.stdout, wanted), _scrub(res.stderr, wanted),
            what=f"setting the root password of prisoner {name}",
        )
    if not _hash_is(_root_hash(root), wanted):
        raise JailprovError(
            f"`{' '.join(argv)}` succeeded but root's password in {root.show('etc/master.passwd')} did not change"
        )
    return StepResult(True, f"root password of prisoner {name} was {what}")


def _hash_is(current, wanted):
    """Whether root's hash ``current`` is what ``wanted`` asks for.  ``*`` (locked) is met by any hash that
    starts with ``*``: ``pw usermod -h -`` leaves such a hash alone (usr.sbin/pw/pw_user.c, pw_set_passwd():
    ``if (!pwd->pw_passwd || *pwd->pw_passwd != '*') pwd->pw_passwd = "*";``), e.g. ``*LOCKED*$6$...``
    from ``pw lock``, and no crypt(3) hash starts with ``*``, so none of them lets anyone log in."""
    return current.startswith("*") if wanted == "*" else current == wanted


def _scrub(text, secret):
    return (text or "").replace(secret, "<hash>")
