"""The prisoner's root user as a test plays it: it waits until the host's command has started — its checks
are done — and then atomically swaps a directory of the prisoner for a symbolic link with
``renameat2(RENAME_EXCHANGE)``, the way a real attack works.  (A thread that merely flips a link as fast as it
can mostly trips the checks and proves nothing.)

"Has started" is made exact by a hook: :func:`hook_tool` puts a small wrapper in front of a stand-in of the
rehearsal host (``pw``, ``mount``) that, each time the tool is started — by the product on the host, or
inside a jail by ``jexec`` or jail(8) — signals and waits until the attacker has swapped before running the
real stand-in.  So each attempt wins the race for certain whenever the product leaves one open.
"""

import contextlib
import ctypes
import ctypes.util
import os
import stat
import threading
import time

RENAME_EXCHANGE = 1 << 1
AT_FDCWD = -100

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
try:
    _renameat2 = _libc.renameat2
    _renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
except AttributeError:  # glibc < 2.28
    _renameat2 = None

_WRAPPER = """#!/bin/sh
# issue 12 race hook: signal that {tool} started, wait (bounded) for the attacker, then run the stand-in
case " $* " in
{pattern})
    : > "{signals}/started.$$"
    i=0
    while [ ! -e "{signals}/go" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done
    ;;
esac
exec "{real}" "$@"
"""


def exchange(path_a, path_b):
    """Swap two names atomically (``renameat2(..., RENAME_EXCHANGE)``)."""
    if _renameat2 is None:
        raise OSError("renameat2 is not available in this libc")
    if _renameat2(AT_FDCWD, os.fsencode(path_a), AT_FDCWD, os.fsencode(path_b), RENAME_EXCHANGE) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), path_a)


def hook_tool(scratch_root, tool, pattern="*"):
    """Put the signalling wrapper in front of stand-in ``tool``; returns the signals directory.

    Only a command line matching the sh ``case`` ``pattern`` (its arguments joined by spaces, with a space
    before and after) signals: ``"* -t *"`` for a mount(8) that mounts, not ``mount -p``.
    """
    bindir = os.path.join(scratch_root, ".rehearsal", "bin")
    signals = os.path.join(scratch_root, ".rehearsal", f"race-{tool}")
    os.makedirs(signals, exist_ok=True)
    real = os.path.join(bindir, f".{tool}.real")
    if not os.path.exists(real):
        os.rename(os.path.join(bindir, tool), real)
    wrapper = os.path.join(bindir, tool)
    with open(wrapper, "w", encoding="utf-8") as fh:
        fh.write(_WRAPPER.format(tool=tool, signals=signals, real=real, pattern=pattern))
    os.chmod(wrapper, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    return signals


class Attacker(threading.Thread):
    """Waits (bounded) for the hooked tool to start, then swaps ``directory`` for a link to ``target``.

    ``swapped`` tells whether the swap happened in this attempt; ``restore()`` puts the directory back.
    """

    def __init__(self, signals, directory, target, timeout=10.0):
        super().__init__(daemon=True)
        self.signals = signals
        self.directory = directory
        self.link = directory + ".evil"
        self.target = target
        self.timeout = timeout
        self.swapped = False
        self.error = None
        self.give_up = threading.Event()
        for name in os.listdir(signals):
            os.unlink(os.path.join(signals, name))
        os.symlink(target, self.link)

    def run(self):
        try:
            deadline = time.monotonic() + self.timeout
            while time.monotonic() < deadline and not self.give_up.is_set():
                if any(n.startswith("started.") for n in os.listdir(self.signals)):
                    exchange(self.directory, self.link)  # directory is now the link, .evil the directory
                    self.swapped = True
                    break
                time.sleep(0.002)
        except OSError as err:  # pragma: no cover - reported by the test
            self.error = err
        finally:
            with open(os.path.join(self.signals, "go"), "w", encoding="utf-8"):
                pass

    def finish(self):
        """The host's call returned: stop waiting for a start that will not come, and wait for the thread."""
        self.give_up.set()
        self.join(self.timeout + 5)

    def restore(self):
        if self.swapped:
            exchange(self.directory, self.link)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.link)
