"""release.extract alone, on tmp archives: the member check (security: nothing an archive holds may land outside
the prisoner's root), the scan while the tar is written, decompression once, extraction with the system tar."""

import lzma
import os
import tarfile

import pytest

from salt_jail.core.errors import JailprovError
from salt_jail.core.release import extract
from salt_jail.core.release.progress import Progress
from tests.support import releases as support


def _tar(tmp_path, members):
    path = tmp_path / "t.tar"
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        support.add_members(tar, members)
    return path


OK = [(".", "dir", None), ("./bin", "dir", None), ("./bin/test", "file", None), ("./bin/[", "hardlink", "./bin/test"),
      ("./etc/termcap", "symlink", "/usr/share/misc/termcap"), ("./sys", "symlink", "usr/src/sys"),
      ("./usr/lib/libc.so", "symlink", "../../lib/libc.so.7")]


MEMBER_CASES = [
    ([], None),
    ([("./lib", "symlink", "/lib"), ("./lib", "dir", None), ("./lib/x", "file", None)], None),   # link replaced
    ([("/etc/passwd", "file", None)], "member '/etc/passwd' has an absolute path"),
    ([("./etc/../../x", "file", None)], "has a '..' component"),
    ([("../x", "dir", None)], "has a '..' component"),
    ([("./x", "hardlink", "../../etc/master.passwd")], "hard link './x' points to '../../etc/master.passwd', outside"),
    ([("./x", "hardlink", "/etc/master.passwd")], "outside the archive"),
    ([("./dev/mem", "chr", None)], "is a device node"),
    ([("./dev/ada0", "blk", None)], "is a device node"),
    ([("./etc", "symlink", "/etc"), ("./etc/rc.conf", "file", None)],
     "member './etc/rc.conf' would be written through the symbolic link 'etc'"),
    ([("./usr", "symlink", "../.."), ("./usr/bin/x", "file", None)], "through the symbolic link 'usr'"),
]


@pytest.mark.parametrize("extra, words", MEMBER_CASES)
def test_scan_tar_rejects_members_that_leave_the_root(tmp_path, extra, words):
    count, problem = extract.scan_tar(_tar(tmp_path, OK + extra))
    if words is None:
        assert (count, problem) == (len(OK + extra), None)
    else:
        assert words in problem


def test_scan_tar_reports_a_corrupt_archive(tmp_path):
    path = _tar(tmp_path, OK)
    data = path.read_bytes()
    path.write_bytes(data[:512] + b"garbage!" * 64 + data[1024:])
    _, problem = extract.scan_tar(path)
    assert problem.startswith("not a valid tar archive after member 1")


def _write_in_pieces(data, part, piece):
    """What decompress does: write ``data`` to ``part`` in pieces while ScanWhileWriting reads it."""
    with open(part, "wb") as dst:
        scan = extract.ScanWhileWriting(str(part))
        for i in range(0, len(data), piece):
            dst.write(data[i:i + piece])
            dst.flush()
            scan.grew(len(data[i:i + piece]))
    return scan.result()


@pytest.mark.parametrize("extra, words", MEMBER_CASES)
@pytest.mark.parametrize("piece", [700, 1 << 20])      # headers split across writes; all at once
def test_scan_while_writing_agrees_with_scan_tar(tmp_path, extra, words, piece):
    src = _tar(tmp_path, OK + extra)
    assert _write_in_pieces(src.read_bytes(), tmp_path / "growing.tar", piece) == extract.scan_tar(src)


def test_scan_while_writing_a_corrupt_or_cut_archive(tmp_path):
    src = _tar(tmp_path, OK)
    data = src.read_bytes()
    corrupt = data[:512] + b"garbage!" * 64 + data[1024:]
    _, problem = _write_in_pieces(corrupt, tmp_path / "corrupt.tar", 300)
    assert problem.startswith("not a valid tar archive after member 1")
    # the writer gives up half way (a decompression error): the scan ends, nothing hangs
    part = tmp_path / "cut.tar"
    with open(part, "wb") as dst:
        scan = extract.ScanWhileWriting(str(part))
        dst.write(data[:1500])
        dst.flush()
        scan.grew(1500)
    scan.stop()
    assert not scan._thread.is_alive()


# --- decompression once ------------------------------------------------------------------------------

def _txz(tmp_path, members):
    path = tmp_path / "base.txz"
    with lzma.open(path, "wb") as xz, tarfile.open(fileobj=xz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        support.add_members(tar, members)
    return path


def test_decompress_writes_the_tar_with_its_digest_and_member_count(tmp_path):
    src = _txz(tmp_path, OK)
    events = []
    dest = tmp_path / "base.tar"
    built = extract.decompress(str(src), str(dest), Progress(events.append, src.stat().st_size,
                                                             what="release/decompress"), "/c/base.txz")
    with lzma.open(src) as xz:
        plain = xz.read()
    assert dest.read_bytes() == plain and not (tmp_path / "base.tar.part").exists()
    assert built == {"sha256": support.sha256(dest), "members": len(OK), "problem": None}
    assert events[-1] == {"what": "release/decompress", "done": src.stat().st_size, "total": src.stat().st_size,
                          "percent": 100}


@pytest.mark.parametrize("extra, words", [c for c in MEMBER_CASES if c[1]])
def test_decompress_keeps_no_tar_of_an_unsafe_archive(tmp_path, extra, words):
    src = _txz(tmp_path, OK + extra)
    built = extract.decompress(str(src), str(tmp_path / "base.tar"), Progress(None, 1), "/c/base.txz")
    assert words in built["problem"]
    assert sorted(os.listdir(tmp_path)) == ["base.txz"]


def test_decompress_of_what_is_not_xz(tmp_path):
    src = tmp_path / "base.txz"
    src.write_bytes(b"not xz at all" * 100)
    with pytest.raises(JailprovError, match="^/c/base.txz matches its sha256 but is not a valid xz archive"):
        extract.decompress(str(src), str(tmp_path / "base.tar"), Progress(None, 1), "/c/base.txz")
    assert sorted(os.listdir(tmp_path)) == ["base.txz"]


# --- extraction into a root --------------------------------------------------------------------------

def test_extract_into_runs_tar_with_numeric_owners_and_reports_0_then_the_total(tmp_path):
    tar = _tar(tmp_path, OK[:3] + [("./etc/motd", "file", b"hello\n")])
    root = tmp_path / "root"
    root.mkdir()
    runner = support.Runner()
    events = []
    report = Progress(events.append, tar.stat().st_size, what="release/extract", dist="base", prisoner="p1")
    extract.extract_into(support.host(runner), str(tar), str(root), "base", "14.2-RELEASE", report)
    assert (root / "etc/motd").read_bytes() == b"hello\n"
    assert [a[1:] for a in runner.commands("tar")] == [["-xpf", str(tar), "--numeric-owner", "-C", str(root)]]
    assert [e["done"] for e in events] == [0, tar.stat().st_size]


def test_a_failed_extraction_says_the_next_run_redoes_it(tmp_path):
    bad = tmp_path / "bad.tar"
    bad.write_bytes(b"\x01" * 4096)
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(JailprovError, match=r"extracting base of 14.2-RELEASE into .* failed .*the next run clears it"):
        extract.extract_into(support.host(), str(bad), str(root), "base", "14.2-RELEASE", Progress(None, 4096))


def test_contents_ignores_lost_and_found(tmp_path):
    (tmp_path / "lost+found").mkdir()
    assert extract.contents(str(tmp_path)) == [] and extract.contents(str(tmp_path / "missing")) == []
    (tmp_path / "x").touch()
    assert extract.contents(str(tmp_path)) == ["x"]


def test_clear_root_refuses_while_the_prisoner_runs(tmp_path):
    runner = support.Runner()
    runner.running["p1"] = 7
    (tmp_path / "bin").mkdir()
    with pytest.raises(JailprovError, match=r"prisoner p1 is running \(jid 7\); stop it"):
        extract.clear_root(support.host(runner), str(tmp_path), "p1")
    assert (tmp_path / "bin").exists() and runner.commands("chflags") == []


def test_clear_root_clears_flags_then_empties_the_root_but_keeps_it(tmp_path):
    runner = support.Runner()
    root = tmp_path / "root"
    (root / "usr/bin").mkdir(parents=True)
    (root / "lost+found").mkdir()
    (root / "etc").symlink_to("/etc")
    extract.clear_root(support.host(runner), str(root), "p1")
    assert [a[1:] for a in runner.commands("chflags")] == [["-R", "0", str(root)]]
    assert sorted(os.listdir(root)) == ["lost+found"] and os.path.exists("/etc")
