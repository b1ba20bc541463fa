"""Issue 16: extraction, the slowest step, reports progress while tar runs, not only at 0 and 100 %."""

import os
import tarfile
import time

import pytest

from salt_jail.core import release
from salt_jail.core.release import extract as extraction
from salt_jail.core.io.host import CmdResult
from salt_jail.rehearsal import mirror
from tests.support import releases as support


def slow_tar(call):
    """The real archive, extracted member by member with a pause, so the extraction lasts about a second."""
    argv = call.argv
    archive, target = argv[argv.index("-xpf") + 1], argv[argv.index("-C") + 1]
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        pause = 1.0 / max(1, len(members))
        for member in members:
            tar.extract(member, target, filter="tar")
            time.sleep(pause)
    return CmdResult(0)


@pytest.fixture
def served(tmp_path_factory, request):
    directory = tmp_path_factory.mktemp("i16-progress-mirror")
    mirror.make_release(str(directory))
    url, stop = mirror.serve(str(directory))
    request.addfinalizer(stop)
    return url


@pytest.fixture(autouse=True)
def _unflag(tmp_path):
    yield
    support.clear_immutable(tmp_path)


def test_extraction_reports_as_it_goes(tmp_path, served, monkeypatch):
    monkeypatch.setattr(extraction, "EXTRACT_POLL_SECONDS", 0.05)
    events = []
    cfg = support.config(tmp_path, [served])
    release.install_base(support.host(support.Runner().on(["tar"], slow_tar)), cfg, "p1", progress=events.append)
    extract = [e for e in events if e["what"] == "release/extract"]
    total = extract[0]["total"]
    assert total == os.path.getsize(os.path.join(cfg.cache_dir, cfg.release, cfg.arch, "base.tar"))
    assert extract[0]["done"] == 0 and extract[-1]["done"] == total
    between = [e["done"] for e in extract[1:-1]]
    assert len(between) >= 3, extract                      # at least every 5 % of a one-second extraction
    assert between == sorted(between) and 0 < between[0] and between[-1] < total
    assert all(e["prisoner"] == "p1" and e["dist"] == "base" and e["percent"] == 100 * e["done"] // total
               for e in extract)


def test_estimate_counts_what_tar_would_have_read(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "motd").write_bytes(b"x" * 513)
    (root / "link").symlink_to("/nonexistent")
    watch = extraction.ExtractWatch(str(root), None)
    # etc (512) + motd (512 header + 1024 data) + link (512)
    assert watch.estimate() == 512 + 512 + 1024 + 512


def test_no_thread_without_a_listener(tmp_path):
    report = release.Progress(None, 100, what="release/extract")
    with extraction.ExtractWatch(str(tmp_path), report) as watch:
        assert watch.thread is None
