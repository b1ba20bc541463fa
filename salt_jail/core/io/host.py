"""The host the core acts on: a filesystem root and one command runner.

On a real FreeBSD host ``root`` is ``/`` and commands resolve to their FreeBSD paths.  In a rehearsal
``root`` is a scratch directory and commands resolve to the stand-ins in ``bindir``.  Either way the
core passes *host paths* (``/etc/jail.conf``, ``/home/jail/prisoner1``) in argv, exactly as it would on
FreeBSD; :meth:`Host.path` maps a host path to the real path for Python-side file I/O.
"""

import dataclasses
import errno
import os
import subprocess

from ..errors import CommandError

# Where each tool lives on FreeBSD.  argv[0] given to Host.run is one of these names.
FREEBSD_PATHS = {
    "jail": "/usr/sbin/jail",
    "jls": "/usr/sbin/jls",
    "jexec": "/usr/sbin/jexec",
    "mount": "/sbin/mount",
    "umount": "/sbin/umount",
    "devfs": "/sbin/devfs",
    "chflags": "/bin/chflags",
    "service": "/usr/sbin/service",
    "ifconfig": "/sbin/ifconfig",
    "ping": "/sbin/ping",
    "pw": "/usr/sbin/pw",
    "tar": "/usr/bin/tar",
    "sysctl": "/sbin/sysctl",
    "xz": "/usr/bin/xz",
    "zfs": "/sbin/zfs",
    "zpool": "/sbin/zpool",
}


@dataclasses.dataclass
class CmdResult:
    retcode: int
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self):
        return self.retcode == 0


class SubprocessRunner:
    """Runs argv lists with :mod:`subprocess` (used outside Salt: rehearsal CLI, tests, benchmarks).

    Inside Salt the execution module supplies a runner built on ``cmd.run_all`` instead.
    """

    def __call__(self, argv, stdin=None, env=None, cwd=None, secret=False):
        proc = subprocess.run(
            list(argv),
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            cwd=cwd,
            check=False,
        )
        return CmdResult(proc.returncode, proc.stdout, proc.stderr)


#: Symbolic links followed while resolving one path below a scratch root (FreeBSD's MAXSYMLINKS).
MAXSYMLINKS = 32


def _in_root(root, host_path, follow):
    """``host_path`` resolved below directory ``root`` with chroot semantics (see :meth:`Host.path`)."""
    root = os.path.normpath(root)
    pending = [c for c in host_path.split("/") if c not in ("", ".")][::-1]
    done = []
    links = 0
    while pending:
        comp = pending.pop()
        if comp == "..":
            if done:
                done.pop()
            continue
        current = os.path.join(root, *done, comp)
        if (pending or follow) and os.path.islink(current):
            links += 1
            if links > MAXSYMLINKS:
                raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), host_path)
            target = os.readlink(current)
            if target.startswith("/"):
                done = []
            pending.extend([c for c in target.split("/") if c not in ("", ".")][::-1])
            continue
        done.append(comp)
    return os.path.join(root, *done)


@dataclasses.dataclass
class Host:
    """A filesystem root plus the command runner.

    ``runner(argv, stdin=None, env=None, cwd=None, secret=False) -> CmdResult``; ``secret=True`` asks
    the runner not to log stdin or output.
    """

    root: str = "/"
    runner: object = dataclasses.field(default_factory=SubprocessRunner)
    bindir: str = None
    #: The run's :class:`~salt_jail.core.io.memo.QueryMemo` (answers of read-only queries, :meth:`query`), or
    #: None to ask every time.  A command run through this host that may change it (:func:`memo.may_change_host`:
    #: it may have started a jail or mounted something) empties it.
    memo: object = None

    def path(self, host_path, follow=False):
        """The real path of a host path (``/etc/rc.conf`` → ``<root>/etc/rc.conf``).

        Below a rehearsal's scratch root the path is resolved **as a chroot would**, one component at a
        time: an absolute symbolic link starts again at the scratch root, ``..`` stops there, so no link
        leads the product's own file I/O out of the scratch root (``ln -s /elsewhere ROOT/home`` makes
        ``/home/jail`` ``ROOT/elsewhere/jail``, never the machine's /elsewhere).  A final symbolic link is
        left as it is (callers ``lstat`` it and refuse links where a prisoner could have made them) unless
        ``follow``.  On a real host (root ``/``) the kernel resolves paths and nothing is done here.
        """
        if not host_path.startswith("/"):
            raise ValueError(f"host path must be absolute: {host_path!r}")
        if self.root in ("/", ""):
            return os.path.normpath(host_path)
        return _in_root(self.root, host_path, follow)

    def tool(self, name):
        if self.bindir:
            return os.path.join(self.bindir, name)
        return FREEBSD_PATHS.get(name, name)

    def run(self, argv, stdin=None, env=None, cwd=None, secret=False):
        """Run a FreeBSD tool by name; returns :class:`CmdResult` whatever the exit status."""
        if self.memo is not None:
            self.memo.command(argv)
        return self._run(argv, stdin=stdin, env=env, cwd=cwd, secret=secret)

    def check(self, argv, stdin=None, env=None, cwd=None, secret=False, what=None):
        """Like :meth:`run` but raises :class:`CommandError` on a non-zero exit."""
        return self._checked(self.run(argv, stdin=stdin, env=env, cwd=cwd, secret=secret), argv, what)

    def query(self, argv, what=None):
        """A read-only query (``jls -v --libxo json``, ``mount -p``) checked like :meth:`check`.

        With a :attr:`memo` the answer is kept and given again until a command that may change the host runs
        through this host: a highstate asks ``jls`` once, not once per prisoner.  A failed query is not kept.
        """
        if self.memo is None:
            return self.check(argv, what=what)
        return self.memo.answer(argv, lambda: self._checked(self._run(argv), argv, what))

    def _run(self, argv, **kwargs):
        argv = list(argv)
        return self.runner([self.tool(argv[0])] + argv[1:], **kwargs)

    @staticmethod
    def _checked(res, argv, what):
        if res.retcode != 0:
            raise CommandError(argv, res.retcode, res.stdout, res.stderr, what=what)
        return res
