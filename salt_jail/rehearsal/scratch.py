"""The scratch host: a directory that plays a FreeBSD host's filesystem, and where the simulated kernel lives.

Layout under the scratch root ``R``::

    R/etc, R/home, ...              the host's files, named by host paths (/etc/rc.conf is R/etc/rc.conf)
    R/.rehearsal/bin/<tool>         the stand-in wrappers (see :mod:`salt_jail.rehearsal`)
    R/.rehearsal/kernel.json        the simulated kernel (:mod:`salt_jail.rehearsal.simkernel`)
    R/.rehearsal/kernel.lock        flock(2)ed around every read-modify-write of kernel.json
    R/.rehearsal/commands.log       one JSON array per line: the argv of every stand-in the product ran
    R/.rehearsal/nested.log         one JSON object per line: commands a stand-in ran on its own behalf
                                    (jail(8)'s ifconfig/mount, pw's pwd_mkdb, commands inside a jail)

Every path a stand-in receives is a *host path* and is resolved here with chroot semantics (an absolute
symlink restarts at the scratch root, ``..`` stops at it), so no stand-in ever touches a file outside
the scratch root, whatever links the tree holds.
"""

import contextlib
import errno
import fcntl
import json
import os
import threading

from .simkernel import Kernel

#: Directory of the rehearsal's own files, below the scratch root.
STATE_DIR = ".rehearsal"
#: Environment variable set in every process a stand-in starts: the FreeBSD name of that stand-in.
#: A stand-in that finds it logs itself to nested.log instead of commands.log.
BY_ENV = "SALT_JAIL_REHEARSAL_BY"
#: Environment variable set in every process running "inside" a jail: the jail's jid.
JID_ENV = "SALT_JAIL_REHEARSAL_JID"
#: Symbolic links followed while resolving one path (FreeBSD's MAXSYMLINKS).
MAXSYMLINKS = 32

_local = threading.local()


class Scratch:
    """One scratch root: path mapping, the kernel state and the command logs."""

    def __init__(self, root):
        self.root = os.path.realpath(root)
        self.dir = os.path.join(self.root, STATE_DIR)
        self.bindir = os.path.join(self.dir, "bin")
        self.tmpdir = os.path.join(self.dir, "tmp")
        self.state_file = os.path.join(self.dir, "kernel.json")
        self.lock_file = os.path.join(self.dir, "kernel.lock")
        self.commands_log = os.path.join(self.dir, "commands.log")
        self.nested_log = os.path.join(self.dir, "nested.log")

    # -- paths ------------------------------------------------------------------------------------
    def real(self, host_path):
        """The real path of ``host_path`` by plain joining (no symlink handling): for the rehearsal's own
        files and for paths already resolved with :meth:`resolve`."""
        if not host_path.startswith("/"):
            raise ValueError(f"host path must be absolute: {host_path!r}")
        return os.path.normpath(os.path.join(self.root, host_path.lstrip("/")))

    def resolve(self, path, view="/", follow=True):
        """Resolve ``path`` with chroot semantics inside ``view`` (a host path: ``/``, or a jail's path).

        Returns ``(canonical, real)``: the path as the view names it once symlinks and ``..`` are gone
        (``/usr/home/jail/web`` for ``/home/jail/web`` when ``/home`` links to ``usr/home``), and its real
        path under the scratch root.  With ``follow`` a final symlink is resolved too.  The path need
        not exist; raises :class:`OSError` (ELOOP) for a symlink loop.
        """
        top = self.real(view)
        pending = [c for c in path.split("/") if c not in ("", ".")]
        done = []
        links = 0
        while pending:
            comp = pending.pop(0)
            if comp == "..":
                if done:
                    done.pop()
                continue
            current = os.path.join(top, *done, comp)
            if (pending or follow) and os.path.islink(current):
                links += 1
                if links > MAXSYMLINKS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
                target = os.readlink(current)
                if target.startswith("/"):
                    done = []
                pending = [c for c in target.split("/") if c not in ("", ".")] + pending
                continue
            done.append(comp)
        return "/" + "/".join(done), os.path.join(top, *done)

    def to_host(self, real_path):
        """The host path of a real path below the scratch root (inverse of :meth:`real`)."""
        rel = os.path.relpath(real_path, self.root)
        return "/" if rel == "." else "/" + rel

    # -- kernel state -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def kernel(self, write=True):
        """The simulated kernel, locked: exclusive (and saved on exit) with ``write``, shared without.

        Transactions must be short and never nest (a stand-in starting another stand-in in the same
        process does it outside any transaction), so processes never wait for each other for long.
        """
        if getattr(_local, "in_transaction", False):
            raise RuntimeError("rehearsal kernel transactions do not nest")
        _local.in_transaction = True
        try:
            with open(self.lock_file, "a+", encoding="utf-8") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX if write else fcntl.LOCK_SH)
                with open(self.state_file, encoding="utf-8") as fh:
                    before = fh.read()
                kernel = Kernel(json.loads(before))
                yield kernel
                if write:
                    after = json.dumps(kernel.data, indent=1, sort_keys=True)
                    if after != before:
                        tmp = self.state_file + ".tmp"
                        with open(tmp, "w", encoding="utf-8") as fh:
                            fh.write(after)
                        os.replace(tmp, self.state_file)
        finally:
            _local.in_transaction = False

    def write_initial_state(self, data):
        """Create kernel.json with ``data`` unless it exists (setup's ``ensure`` semantics)."""
        with open(self.lock_file, "a+", encoding="utf-8") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not os.path.exists(self.state_file):
                tmp = self.state_file + ".tmp"
                with open(tmp, "w", encoding="utf-8") as fh:
                    fh.write(json.dumps(data, indent=1, sort_keys=True))
                os.replace(tmp, self.state_file)

    # -- logs -------------------------------------------------------------------------------------
    def log_command(self, argv):
        """Append a command the product ran to commands.log."""
        self._append(self.commands_log, argv)

    def log_nested(self, by, argv, **details):
        """Append a command a stand-in ran (or only recorded, ``ran=False``) to nested.log."""
        self._append(self.nested_log, {"by": by, "argv": list(argv), **details})

    @staticmethod
    def _append(path, record):
        line = json.dumps(record) + "\n"
        with open(path, "a", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            fh.write(line)

    @staticmethod
    def read_log(path):
        """The records of a log file, oldest first (empty when it does not exist)."""
        try:
            with open(path, encoding="utf-8") as fh:
                return [json.loads(line) for line in fh if line.strip()]
        except FileNotFoundError:
            return []
