"""What a stand-in runs with: its name, its streams, the scratch host, and the jail it runs in (if any)."""

import errno
import os
import sys

from .scratch import BY_ENV, JID_ENV, Scratch


#: strerror(3) texts where FreeBSD's libc words them differently from the host's.
_FREEBSD_STRERROR = {
    errno.EADDRNOTAVAIL: "Can't assign requested address",
    errno.EAFNOSUPPORT: "Address family not supported by protocol family",
    errno.EBUSY: "Device busy",
    errno.EXDEV: "Cross-device link",
    errno.ENOTSUP: "Operation not supported",
}


def strerror(code):
    """FreeBSD's strerror(3) text for errno ``code``."""
    return _FREEBSD_STRERROR.get(code) or os.strerror(code)


class Exit(Exception):
    """Leave the stand-in with exit status ``code`` (its message is already on standard error)."""

    def __init__(self, code):
        super().__init__(code)
        self.code = code


class Context:
    """One stand-in invocation.

    ``prog`` is the FreeBSD name of the tool (``jail``); ``by`` is the stand-in that started this one (None
    when the product did); ``jail`` is the kernel record of the jail the process runs in (None on the
    host), which sets :attr:`view`, the host path every absolute path argument is relative to.
    """

    def __init__(self, scratch, prog, stdin=None, stdout=None, stderr=None, jail=None, by=None):
        self.scratch = scratch
        self.prog = prog
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.jail = jail
        self.by = by

    @classmethod
    def from_environment(cls, root, prog):
        """The context of a stand-in started as a process: nesting and jail come from the environment."""
        scratch = Scratch(root)
        jail = None
        jid = os.environ.get(JID_ENV)
        if jid:
            with scratch.kernel(write=False) as kernel:
                jail = kernel.find_jail(jid=int(jid))
        return cls(scratch, prog, jail=jail, by=os.environ.get(BY_ENV))

    @property
    def view(self):
        """The host path of this process's ``/``: the jail's path inside a jail, else ``/``."""
        return self.jail["path"] if self.jail else "/"

    # -- messages (err(3)/warn(3) style) -------------------------------------------------------------
    def out(self, text):
        self.stdout.write(text)

    def warnx(self, message):
        self.stderr.write(f"{self.prog}: {message}\n")

    def warn(self, message, error):
        """warn(3): ``message: strerror(errno)``; ``error`` is an :class:`OSError` or an errno value."""
        code = error.errno if isinstance(error, OSError) else error
        self.warnx(f"{message}: {strerror(code)}")

    def errx(self, code, message):
        self.warnx(message)
        raise Exit(code)

    def err(self, code, message, error):
        self.warn(message, error)
        raise Exit(code)

    # -- paths --------------------------------------------------------------------------------------
    def resolve(self, path, follow=True):
        """``(canonical, real)`` of a path argument, seen from :attr:`view` with chroot semantics.

        A relative path is taken from the current directory, which must be inside the view (the
        stand-ins never touch a file outside the scratch root).
        """
        if not path.startswith("/"):
            top = self.scratch.real(self.view)
            cwd = os.getcwd()
            if cwd != top and not cwd.startswith(top.rstrip("/") + "/"):
                raise OSError(errno.EXDEV, "relative path outside the rehearsal scratch root", path)
            path = os.path.relpath(cwd, top) + "/" + path
        return self.scratch.resolve(path, view=self.view, follow=follow)

    def view_path(self, real):
        """The path a real path below the scratch root has as seen from :attr:`view`."""
        host = self.scratch.to_host(real)
        return host[len(self.view.rstrip("/")):] or "/"

    def host_path(self, view_path):
        """The host path of a path seen from :attr:`view` (``/etc/rc`` in jail ``/home/jail/web`` is
        ``/home/jail/web/etc/rc``)."""
        return (self.view.rstrip("/") + view_path) if view_path != "/" else self.view

    # -- nesting ------------------------------------------------------------------------------------
    def nested(self, prog):
        """The context of stand-in ``prog`` run by this one in-process (as the FreeBSD tool runs it)."""
        return Context(self.scratch, prog, self.stdin, self.stdout, self.stderr, jail=self.jail, by=self.prog)
