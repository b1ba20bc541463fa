"""The tests' release mirror that fails on purpose: the rehearsal's plain mirror
(:mod:`salt_jail.rehearsal.mirror`, which ``salt-jail-rehearse`` and ``make demo`` serve) with a handler that
answers chosen URL paths with an HTTP error, a cut body or a body that trickles in, and logs every request.
"""

import os
import time

from salt_jail.rehearsal import mirror


class FaultyHandler(mirror.Handler):
    """Serves the mirror directory, except where ``faults`` (a class attribute, set by :func:`serve`) says
    otherwise; every request is appended to ``log``."""

    faults = {}
    log = []

    def do_GET(self):
        fault = self.faults.get(self.path)
        self.log.append(("GET", self.path, fault))
        if isinstance(fault, int):
            self.send_error(fault)
        elif fault == "truncate":
            self._send_truncated()
        elif isinstance(fault, tuple) and fault[0] == "slow":
            self._send_slowly(*fault[1:])
        else:
            super().do_GET()

    def _send_truncated(self):
        """Announce the full Content-Length, send half the body, close: a dropped download."""
        body = self.send_head()
        if body is None:
            return
        with body:
            size = os.fstat(body.fileno()).st_size
            self.wfile.write(body.read(size // 2))
        self.close_connection = True

    def _send_slowly(self, interval=0.2, limit=120.0):
        """Announce the full Content-Length, then send one byte every ``interval`` seconds until the client
        goes away (or ``limit`` seconds passed): a mirror that never times out and never finishes."""
        body = self.send_head()
        if body is None:
            return
        end = time.monotonic() + limit
        with body:
            try:
                while time.monotonic() < end:
                    byte = body.read(1)
                    if not byte:
                        break
                    self.wfile.write(byte)
                    self.wfile.flush()
                    time.sleep(interval)
            except OSError:
                pass
        self.close_connection = True


def serve(directory, faults=None, log=None):
    """Serve ``directory`` as :func:`salt_jail.rehearsal.mirror.serve` does, with faults.

    Returns ``(base_url, stop)``.  ``faults`` maps a URL path (``/amd64/amd64/14.2-RELEASE/base.txz``) to an
    HTTP status to answer instead (404, 500), to ``"truncate"`` (full Content-Length, half the body, then
    close) or to ``("slow", interval[, limit])`` (one byte every ``interval`` seconds, for at most ``limit``
    seconds); the caller may change it while the server runs.  Each request is appended to ``log`` as
    ``("GET", path, fault)``.
    """
    faults = {} if faults is None else faults
    log = [] if log is None else log
    handler = type("FaultyMirrorHandler", (FaultyHandler,), {"faults": faults, "log": log})
    return mirror.serve(directory, handler)
