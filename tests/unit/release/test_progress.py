"""release.progress: events at most every 8 MiB or 5 %, and the final one always."""

import pytest

from salt_jail.core.release.progress import Progress


@pytest.mark.parametrize("total, step, expected", [
    (100 << 20, 1 << 20, 20),         # every 5 % (the last one is the final report)
    (None, 1 << 20, 13),              # unknown size: every 8 MiB, plus the final report
    (1000, 1, 20),
])
def test_progress_is_throttled(total, step, expected):
    events = []
    report = Progress(events.append, total, what="release/download")
    done = 0
    for _ in range(100 if total is None else total // step):
        done += step
        report(done)
    report(done, final=True)
    assert len(events) == expected and events[-1]["done"] == done
    assert events[-1]["percent"] == (100 if total else None)


def test_fixed_fields_ride_along_and_a_repeat_is_not_sent():
    events = []
    report = Progress(events.append, 10, what="release/extract", dist="base", prisoner="p1")
    report(0, final=True)
    report(0, final=True)
    assert events == [{"what": "release/extract", "dist": "base", "prisoner": "p1", "done": 0, "total": 10,
                       "percent": 0}]


def test_no_listener_no_events():
    Progress(None, 10, what="release/download")(10, final=True)
