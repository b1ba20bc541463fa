"""Release paths, MANIFEST parsing, the tar member check, progress throttling and the install decisions.

The decisions are exercised through ``install_base(test=True)``, which neither downloads nor writes, so
no mirror is contacted (the configured one does not exist).
"""

import dataclasses
import json
import os
import tarfile

import pytest

from salt_jail.core import release
from salt_jail.core.errors import JailprovError, ParseError, ValidationError
from tests.support import releases as support

SHA = "ab" * 32


@pytest.mark.parametrize("arch, path", [
    ("amd64", "amd64/amd64"), ("arm64", "arm64/aarch64"), ("i386", "i386/i386"),
    ("riscv64", "riscv/riscv64"), ("armv7", "arm/armv7"),
])
def test_release_urls_follow_freebsds_layout(arch, path):
    assert release.release_url("https://download.freebsd.org/releases/", "14.2-RELEASE", arch, "base.txz") == \
        f"https://download.freebsd.org/releases/{path}/14.2-RELEASE/base.txz"


def test_unknown_arch():
    with pytest.raises(ValidationError, match="unknown architecture 'aarch64'; expected one of amd64, arm64"):
        release.arch_path("aarch64")


MANIFEST = (
    f'base.txz\t{SHA}\t26523\tbase\t"Base system (MANDATORY)"\ton\n'
    f'kernel-dbg.txz\t{SHA.upper()}\t57\tkernel_dbg\t"Kernel (Debugging)"\toff\n'
    "\n"
)


def test_manifest_parses_every_column():
    entries = release.parse_manifest(MANIFEST)
    assert entries["base.txz"] == release.ManifestEntry("base.txz", SHA, 26523, "base", "Base system (MANDATORY)",
                                                        True)
    assert entries["kernel-dbg.txz"].sha256 == SHA and not entries["kernel-dbg.txz"].default_on


@pytest.mark.parametrize("line, words", [
    (f"base.txz {SHA} 1 base \"Base\" on", "expected 6 tab-separated fields"),
    (f'base.txz\t{SHA[:-1]}\t1\tbase\t"Base"\ton', "is not 64 hexadecimal digits"),
    (f'base.txz\t{SHA}\tmany\tbase\t"Base"\ton', "file count 'many' is not a number"),
    (f"base.txz\t{SHA}\t1\tbase\tBase\ton", "is not in double quotes"),
    (f'base.txz\t{SHA}\t1\tbase\t"Base"\tyes', "should be on or off"),
    (f'base.txz\t{SHA}\t1\tbase\t"Base"\ton', "base.txz is listed twice"),
])
def test_manifest_bad_line_names_file_and_line(line, words):
    text = f'base.txz\t{SHA}\t1\tbase\t"Base"\ton\n' if "twice" in words else "\n"
    with pytest.raises(ParseError, match=words) as err:
        release.parse_manifest(text + line + "\n", "MANIFEST")
    assert err.value.line == 2 and str(err.value).startswith("MANIFEST:2:")


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
    count, problem = release.scan_tar(_tar(tmp_path, OK + extra))
    if words is None:
        assert (count, problem) == (len(OK + extra), None)
    else:
        assert words in problem


def test_scan_tar_reports_a_corrupt_archive(tmp_path):
    path = _tar(tmp_path, OK)
    data = path.read_bytes()
    path.write_bytes(data[:512] + b"garbage!" * 64 + data[1024:])
    _, problem = release.scan_tar(path)
    assert problem.startswith("not a valid tar archive after member 1")


def _write_in_pieces(data, part, piece):
    """What _build_tar does: write ``data`` to ``part`` in pieces while _ScanWhileWriting reads it."""
    with open(part, "wb") as dst:
        scan = release._ScanWhileWriting(str(part))
        for i in range(0, len(data), piece):
            dst.write(data[i:i + piece])
            dst.flush()
            scan.grew(len(data[i:i + piece]))
    return scan.result()


@pytest.mark.parametrize("extra, words", MEMBER_CASES)
@pytest.mark.parametrize("piece", [700, 1 << 20])      # headers split across writes; all at once
def test_scan_while_writing_agrees_with_scan_tar(tmp_path, extra, words, piece):
    src = _tar(tmp_path, OK + extra)
    assert _write_in_pieces(src.read_bytes(), tmp_path / "growing.tar", piece) == release.scan_tar(src)


def test_scan_while_writing_a_corrupt_or_cut_archive(tmp_path):
    src = _tar(tmp_path, OK)
    data = src.read_bytes()
    corrupt = data[:512] + b"garbage!" * 64 + data[1024:]
    _, problem = _write_in_pieces(corrupt, tmp_path / "corrupt.tar", 300)
    assert problem.startswith("not a valid tar archive after member 1")
    # the writer gives up half way (a decompression error): the scan ends, nothing hangs
    part = tmp_path / "cut.tar"
    with open(part, "wb") as dst:
        scan = release._ScanWhileWriting(str(part))
        dst.write(data[:1500])
        dst.flush()
        scan.grew(1500)
    scan.stop()
    assert not scan._thread.is_alive()


@pytest.mark.parametrize("total, step, expected", [
    (100 << 20, 1 << 20, 20),         # every 5 % (the last one is the final report)
    (None, 1 << 20, 13),              # unknown size: every 8 MiB, plus the final report
    (1000, 1, 20),
])
def test_progress_is_throttled(total, step, expected):
    events = []
    report = release._Progress(events.append, total, what="release/download")
    done = 0
    for _ in range(100 if total is None else total // step):
        done += step
        report(done)
    report(done, final=True)
    assert len(events) == expected and events[-1]["done"] == done
    assert events[-1]["percent"] == (100 if total else None)


def test_unsupported_scheme_is_a_fetch_error(tmp_path):
    with pytest.raises(release.FetchError, match="no fetcher for gopher:// URLs"):
        release.urllib_fetch("gopher://example.org/x", str(tmp_path / "x"))


def test_404_on_the_archive_mirror_points_at_the_release_name(tmp_path, monkeypatch):
    def not_found(url, dest, progress, **_limits):
        raise release.FetchError(url, "HTTP 404 Not Found", status=404)

    monkeypatch.setattr(release, "urllib_fetch", not_found)
    cfg = support.config(tmp_path, [release.ARCHIVE_MIRROR])
    with pytest.raises(JailprovError) as err:
        release.fetch_release(support.host(), cfg)
    assert "not on the archive mirror either: check jailprov:release" in str(err.value)
    assert "end of life" not in str(err.value)


def test_404_of_a_snapshot_build_names_the_snapshot_mirror(tmp_path, monkeypatch):
    """An ALPHA build is a snapshot: download.freebsd.org has it under snapshots/, never under releases/."""
    def not_found(url, dest, progress, **_limits):
        raise release.FetchError(url, "HTTP 404 Not Found", status=404)

    monkeypatch.setattr(release, "urllib_fetch", not_found)
    cfg = support.config(tmp_path, ["https://download.freebsd.org/releases"], release="15.0-ALPHA1")
    with pytest.raises(JailprovError) as err:
        release.fetch_release(support.host(), cfg)
    text = str(err.value)
    assert "https://download.freebsd.org/releases/amd64/amd64/15.0-ALPHA1/MANIFEST" in text   # the URL tried
    assert "published under snapshots/" in text
    assert "https://download.freebsd.org/snapshots/amd64/amd64/15.0-ALPHA1/" in text           # where it is
    assert "end of life" not in text


def test_missing_dist_lists_the_names_jailprov_dists_takes(tmp_path):
    """MANIFEST's 4th column is a distname (base_dbg: release/scripts/make-manifest.sh writes the stem with "-"
    made "_"); jailprov:dists takes the file stem (base-dbg), as the mirror's file names do."""
    cfg = support.config(tmp_path, ["file:///nowhere"], dists=["lib32-dbg", "base"])
    cache = os.path.join(cfg.cache_dir, cfg.release, cfg.arch)
    os.makedirs(cache)
    with open(os.path.join(cache, "MANIFEST"), "w", encoding="utf-8") as fh:
        fh.write(f"base.txz\t{'0' * 64}\t10\tbase\t\"Base system (MANDATORY)\"\ton\n"
                 f"base-dbg.txz\t{'1' * 64}\t10\tbase_dbg\t\"Base system (Debugging)\"\toff\n")
    with pytest.raises(JailprovError) as err:
        release.fetch_release(support.host(), cfg)
    assert "MANIFEST has no line for lib32-dbg.txz" in str(err.value)
    assert "jailprov:dists can name: base, base-dbg" in str(err.value) and "base_dbg" not in str(err.value)


@pytest.mark.parametrize("field, value, words", [
    ("dists", ("base", "../etc"), "jailprov:dists: '../etc' is not a distribution name"),
    ("release", "../14.2", "jailprov:release: '../14.2' cannot name a directory"),
    ("sha256", {"base": "xyz"}, "jailprov:sha256:base: expected 64 hexadecimal digits"),
    ("mirrors", (), "jailprov:mirrors: no mirror"),
])
def test_config_that_cannot_name_a_cache_path_is_rejected(tmp_path, field, value, words):
    cfg = dataclasses.replace(support.config(tmp_path, ["http://127.0.0.1:9"]), **{field: value})
    with pytest.raises(ValidationError, match=words):
        release.fetch_release(support.host(), cfg, test=True)


# --- what install_base decides (test mode: nothing fetched, nothing written) -----------------------

def _stamp(state="installed", rel="14.2-RELEASE", dists=("base",)):
    return {"format": 1, "state": state, "release": rel, "arch": "amd64", "installed_at": "2025-01-01T00:00:00+00:00",
            "dists": {d: {"sha256": SHA} for d in dists}}


def _prepare(root, stamp=None, files=(), userland=None, raw_stamp=None):
    os.makedirs(root, exist_ok=True)
    for rel in files:
        os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
        open(os.path.join(root, rel), "w").close()
    if stamp is not None or raw_stamp is not None:
        os.makedirs(os.path.join(root, "var/db"), exist_ok=True)
        with open(os.path.join(root, release.STAMP), "w") as fh:
            fh.write(raw_stamp if raw_stamp is not None else json.dumps(stamp))
    if userland:
        os.makedirs(os.path.join(root, "bin"), exist_ok=True)
        with open(os.path.join(root, "bin/freebsd-version"), "w") as fh:
            fh.write(f'#!/bin/sh\nUSERLAND_VERSION="{userland}"\necho $USERLAND_VERSION\n')


DECISIONS = [
    # (prepare kwargs or None for a missing root, force, dists, expected: ("extract"|"clear"|"none", words) or error)
    (None, False, None, ("extract", "would extract 14.2-RELEASE (amd64) base into")),
    ({}, False, None, ("extract", "would extract")),
    ({"files": ["lost+found/x"]}, False, None, ("extract", "would extract")),
    ({"stamp": _stamp("extracting"), "files": ["bin/sh"]}, False, None,
     ("clear", "would clear {root} (an earlier extraction was interrupted), then extract")),
    ({"stamp": _stamp()}, False, None, ("none", "is already installed in {root} (since 2025-01-01")),
    ({"stamp": _stamp()}, True, None, ("none", "is already installed")),
    ({"stamp": _stamp(rel="14.1-RELEASE")}, False, None,
     (JailprovError, "holds 14.1-RELEASE (amd64) base, but the pillar asks for 14.2-RELEASE (amd64) base. "
                     "Extracting a base does not upgrade a prisoner")),
    ({"stamp": _stamp(rel="14.1-RELEASE")}, True, None, ("clear", "would clear {root} (force=True)")),
    ({"stamp": _stamp(rel="14.1-RELEASE"), "userland": "14.2-RELEASE-p3"}, False, None,
     ("none", "was extracted from 14.1-RELEASE and bin/freebsd-version reports 14.2-RELEASE")),
    ({"stamp": _stamp()}, False, ("base", "lib32"),
     (JailprovError, "but the pillar asks for 14.2-RELEASE (amd64) base+lib32")),
    ({"files": ["home/user/data"]}, False, None,
     (JailprovError, "is not empty and has no var/db/jailprov-base.json: it holds files jailprov did not install")),
    ({"files": ["home/user/data"]}, True, None, ("clear", "would clear")),
    ({"files": ["etc/rc"], "userland": "14.2-RELEASE"}, False, None,
     ("none", "has no var/db/jailprov-base.json (not installed by jailprov) and bin/freebsd-version reports")),
    ({"raw_stamp": "{not json"}, False, None, (JailprovError, "is not a jailprov base stamp")),
    ({"stamp": {"state": "bogus"}}, False, None, (JailprovError, "is not a jailprov base stamp")),
]


@pytest.mark.parametrize("prepare, force, dists, expected", DECISIONS)
def test_install_decisions(tmp_path, prepare, force, dists, expected):
    cfg = support.config(tmp_path, ["http://127.0.0.1:9"])
    if dists:
        cfg = dataclasses.replace(cfg, dists=dists)
    root = cfg.prisoners["p1"].path
    if prepare is not None:
        _prepare(root, **prepare)
    before = support.snapshot(tmp_path)
    kind, words = expected
    if isinstance(kind, type):
        with pytest.raises(kind, match=words.replace("(", r"\(").replace(")", r"\)").replace("+", r"\+")):
            release.install_base(support.host(), cfg, "p1", test=True, force=force)
    else:
        res = release.install_base(support.host(), cfg, "p1", test=True, force=force)
        assert words.format(root=root) in res.comment
        assert res.changed == (kind != "none")
        if res.changed:
            assert res.data["cleared"] == (kind == "clear") and res.data["downloaded"]
    assert support.snapshot(tmp_path) == before


def test_stamp_is_read_inside_the_prisoner_never_through_its_symlinks(tmp_path):
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps(_stamp()))
    root = tmp_path / "jails" / "p1"
    (root / "var" / "db").mkdir(parents=True)
    os.symlink(str(outside), root / release.STAMP)          # resolves to <root>/<tmp>/outside.json
    assert release.read_stamp(support.host(), str(root)) is None
    os.symlink("../../../outside.json", root / "var/db/other")
    assert release.read_stamp(support.host(), str(root)) is None


@pytest.mark.parametrize("name, absent, error", [("nope", False, "no prisoner 'nope'"), ("p1", True, "marked absent")])
def test_unknown_or_absent_prisoner(tmp_path, name, absent, error):
    cfg = support.config(tmp_path, ["http://127.0.0.1:9"])
    if absent:
        cfg.prisoners["p1"] = dataclasses.replace(cfg.prisoners["p1"], absent=True)
    with pytest.raises(ValidationError, match=error):
        release.install_base(support.host(), cfg, name, test=True)
