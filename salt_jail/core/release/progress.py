"""Progress events of the release steps (download, decompression, extraction), throttled."""

PROGRESS_BYTES = 8 << 20
PROGRESS_PERCENT = 5


class Progress:
    """Calls ``progress(event)`` at most every 8 MiB or 5 %, and for ``final`` reports not yet sent.

    ``event`` holds the fixed fields (``what``: ``release/download``, ``release/decompress`` or
    ``release/extract``, and the URL, dist or prisoner); each call adds ``done``, ``total`` and ``percent``.
    """

    def __init__(self, progress, total, **event):
        self.progress = progress
        self.total = total
        self.event = event
        self.last = None

    def __call__(self, done, final=False):
        if self.progress is None or done == self.last:
            return
        step = done - (self.last or 0)
        if final or step >= PROGRESS_BYTES or (self.total and 100 * step >= PROGRESS_PERCENT * self.total):
            self.last = done
            percent = 100 * done // self.total if self.total else None
            self.progress(dict(self.event, done=done, total=self.total, percent=percent))
