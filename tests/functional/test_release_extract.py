"""Base system step end to end: a real HTTP mirror on 127.0.0.1, real xz archives, the real system tar.

FreeBSD-only tools are stand-ins (tests/support/releases.py): ``chflags -R 0`` clears Linux
immutable bits, which stand for ``schg`` here (set with ``chattr +i`` after extraction, as bsdtar restores
``SCHILY.fflags=schg``: the system tar here may be GNU tar, which skips those records).
"""

import dataclasses
import io
import json
import lzma
import os
import shutil
import subprocess
import tarfile

import pytest

from salt_jail.core import release
from salt_jail.core.errors import CommandError, JailprovError
from salt_jail.rehearsal import mirror
from tests.support import faulty_mirror, releases as support

RELEASE_PATH = "/amd64/amd64/14.2-RELEASE"


@pytest.fixture(scope="session")
def mirror_dir(tmp_path_factory):
    """The small synthetic 14.2 and 14.3 releases, generated once for the session."""
    root = tmp_path_factory.mktemp("mirror")
    gen = tmp_path_factory.mktemp("mirror-cache")
    for rel in ("14.2-RELEASE", "14.3-RELEASE"):
        mirror.make_release(root, release=rel, cache_dir=gen)
    return root


@dataclasses.dataclass
class Server:
    url: str
    directory: str
    faults: dict
    log: list

    def gets(self, name):
        return [path for _, path, _ in self.log if path.endswith("/" + name)]


def _serve(directory, request):
    faults, log = {}, []
    url, stop = faulty_mirror.serve(directory, faults, log)
    request.addfinalizer(stop)
    return Server(url, str(directory), faults, log)


@pytest.fixture
def server(mirror_dir, request):
    return _serve(mirror_dir, request)


@pytest.fixture
def runner():
    return support.Runner()


@pytest.fixture
def host(runner):
    return support.host(runner)


@pytest.fixture(autouse=True)
def _unflag(tmp_path):
    yield
    support.clear_immutable(tmp_path)


@pytest.fixture
def immutable(tmp_path):
    if not support.chattr_supported(tmp_path):
        pytest.skip("chattr +i (the rehearsal's schg) is not supported on this file system")


def _root(cfg, name="p1"):
    return cfg.prisoners[name].path


def _cache(cfg):
    return os.path.join(cfg.cache_dir, cfg.release, cfg.arch)


def _read(path):
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def _copy_release(src_mirror, dst_mirror, manifest_sha=None):
    """A mirror of its own holding the session's 14.2 base.txz, optionally with a lying MANIFEST."""
    src, dst = support.release_dir(src_mirror), support.release_dir(dst_mirror)
    os.makedirs(dst)
    os.link(os.path.join(src, "base.txz"), os.path.join(dst, "base.txz"))
    manifest = _read(os.path.join(src, "MANIFEST"))
    if manifest_sha:
        real = manifest.split("\t")[1]
        manifest = manifest.replace(real, manifest_sha)
    with open(os.path.join(dst, "MANIFEST"), "w", encoding="ascii") as fh:
        fh.write(manifest)
    return support.sha256(os.path.join(src, "base.txz"))


# --- the happy path --------------------------------------------------------------------------------

def test_first_install_extracts_everything_tar_keeps_then_nothing_to_do(tmp_path, server, host):
    cfg = support.config(tmp_path, [server.url])
    res = release.install_base(host, cfg, "p1")
    assert res.changed and res.data["downloaded"] and res.data["decompressed"]
    root = _root(cfg)
    assert _read(f"{root}/etc/syslog.conf").splitlines()[6] == \
        "*.err;kern.warning;auth.notice;mail.crit\t\t/dev/console"
    assert _read(f"{root}/etc/crontab").splitlines()[21] == "1,31\t0-5\t*\t*\t*\troot\tadjkerntz -a"
    assert os.stat(f"{root}/usr/bin/su").st_mode & 0o7777 == 0o4555            # setuid kept by tar -p
    assert os.stat(f"{root}/usr/bin/cc").st_ino == os.stat(f"{root}/usr/bin/clang").st_ino
    assert os.stat(f"{root}/rescue/sh").st_ino == os.stat(f"{root}/rescue/rescue").st_ino
    assert os.readlink(f"{root}/etc/termcap") == "/usr/share/misc/termcap"
    assert os.stat(f"{root}/tmp").st_mode & 0o7777 == 0o1777
    stamp = release.read_stamp(host, root)
    manifest_sha = _read(os.path.join(support.release_dir(server.directory), "MANIFEST")).split("\t")[1]
    assert stamp["state"] == "installed" and stamp["dists"]["base"]["sha256"] == manifest_sha
    assert server.gets("MANIFEST") == [f"{RELEASE_PATH}/MANIFEST"] and len(server.gets("base.txz")) == 1

    again = release.install_base(host, cfg, "p1")
    assert not again.changed and "already installed" in again.comment
    shutil.rmtree(cfg.cache_dir)                        # an installed prisoner does not need the archive
    assert not release.install_base(host, cfg, "p1").changed
    assert len(server.log) == 2


def test_twenty_prisoners_cost_one_download_and_one_decompression(tmp_path, server, host):
    names = [f"p{i}" for i in range(20)]
    cfg = support.config(tmp_path, [server.url], prisoners=names)
    events = []
    results = [release.install_base(host, cfg, n, progress=events.append) for n in names]
    assert [r.data["decompressed"] for r in results] == [True] + [False] * 19
    assert len(server.gets("base.txz")) == 1
    decompress_done = [e for e in events if e["what"] == "release/decompress" and e["done"] == e["total"]]
    assert len(decompress_done) == 1
    extracted = [e for e in events if e["what"] == "release/extract" and e["done"] == e["total"]]
    assert sorted(e["prisoner"] for e in extracted) == sorted(names)
    crontab = _read(f"{_root(cfg, 'p0')}/etc/crontab")
    assert all(_read(f"{_root(cfg, n)}/etc/crontab") == crontab for n in names)


def test_test_mode_writes_and_downloads_nothing(tmp_path, server, host):
    cfg = support.config(tmp_path, [server.url], prisoners=("p1", "p2"))
    before = support.snapshot(tmp_path)
    res = release.install_base(host, cfg, "p1", test=True)
    assert res.changed and "would be downloaded and decompressed" in res.comment
    assert "would extract 14.2-RELEASE (amd64) base into" in res.comment
    assert support.snapshot(tmp_path) == before and server.log == []

    release.install_base(host, cfg, "p1")
    before = support.snapshot(tmp_path)
    res = release.install_base(host, cfg, "p2", test=True)
    assert res.changed and res.comment == f"would extract 14.2-RELEASE (amd64) base into {_root(cfg, 'p2')}"
    assert not release.install_base(host, cfg, "p1", test=True).changed
    assert support.snapshot(tmp_path) == before and len(server.log) == 2


def test_progress_events_carry_bytes_done_and_total(tmp_path, server, host):
    events = []
    release.install_base(host, support.config(tmp_path, [server.url]), "p1", progress=events.append)
    assert {e["what"] for e in events} == {"release/download", "release/decompress", "release/extract"}
    for e in events:
        assert 0 <= e["done"] <= e["total"] and e["percent"] == 100 * e["done"] // e["total"]
    downloads = [e for e in events if e.get("url", "").endswith("base.txz")]
    assert downloads[-1]["done"] == downloads[-1]["total"] == os.path.getsize(
        os.path.join(support.release_dir(server.directory), "base.txz"))


# --- verification ----------------------------------------------------------------------------------

def test_digest_mismatch_never_extracts_and_keeps_no_file(tmp_path, mirror_dir, request, host):
    bad = "0" * 64
    actual = _copy_release(mirror_dir, tmp_path / "m", manifest_sha=bad)
    srv = _serve(tmp_path / "m", request)
    cfg = support.config(tmp_path, [srv.url])
    with pytest.raises(JailprovError) as err:
        release.install_base(host, cfg, "p1")
    assert f"expected {bad}, actual {actual}" in str(err.value)
    assert sorted(os.listdir(_cache(cfg))) == [".lock"]     # no base.txz, no .part, and not the MANIFEST either
    assert not os.path.exists(_root(cfg))


@pytest.mark.parametrize("manifest_ok, pin_ok, installs", [(False, True, True), (True, False, False)])
def test_pinned_digest_wins_over_manifest(tmp_path, mirror_dir, request, host, manifest_ok, pin_ok, installs):
    real = support.sha256(os.path.join(support.release_dir(mirror_dir), "base.txz"))
    _copy_release(mirror_dir, tmp_path / "m", manifest_sha=None if manifest_ok else "1" * 64)
    srv = _serve(tmp_path / "m", request)
    pin = real if pin_ok else "2" * 64
    cfg = support.config(tmp_path, [srv.url], sha256={"base": pin})
    if installs:
        res = release.install_base(host, cfg, "p1")
        assert res.data["dists"]["base"] == {"sha256": real, "verified_by": "pinned in jailprov:sha256:base"}
    else:
        with pytest.raises(JailprovError, match=f"expected {pin}, actual {real}"):
            release.install_base(host, cfg, "p1")
    assert srv.gets("MANIFEST") == []                    # every dist pinned: MANIFEST not needed


@pytest.mark.parametrize("name, fault, words", [
    ("MANIFEST", 404, ["cannot fetch MANIFEST of 14.2-RELEASE (amd64) from any mirror", "HTTP 404",
                       "past its end of life",
                       "http://ftp-archive.freebsd.org/pub/FreeBSD-Archive/old-releases/amd64/amd64/14.2-RELEASE/",
                       "add http://ftp-archive.freebsd.org/pub/FreeBSD-Archive/old-releases to jailprov:mirrors"]),
    ("base.txz", 500, ["cannot fetch base.txz", "HTTP 500"]),
    ("base.txz", "truncate", ["download truncated: received"]),
])
def test_server_failures_are_clear_errors_and_leave_nothing(tmp_path, server, host, name, fault, words):
    server.faults[f"{RELEASE_PATH}/{name}"] = fault
    cfg = support.config(tmp_path, [server.url])
    with pytest.raises(JailprovError) as err:
        release.install_base(host, cfg, "p1")
    for word in words:
        assert word in str(err.value)
    assert not [f for f in os.listdir(_cache(cfg)) if f.endswith((".txz", ".part", ".tar"))]
    assert not os.path.exists(_root(cfg))
    if fault != 404:
        assert "end of life" not in str(err.value)


def test_connection_refused(tmp_path, host):
    cfg = support.config(tmp_path, [support.refused_url()])
    with pytest.raises(JailprovError, match="cannot connect: .*Connection refused"):
        release.install_base(host, cfg, "p1")


def test_mirrors_are_tried_in_order(tmp_path, server, request, host):
    (tmp_path / "empty").mkdir()
    empty = _serve(tmp_path / "empty", request)
    broken = _serve(support.release_dir(server.directory), request)     # wrong layout: 404 everywhere
    cfg = support.config(tmp_path, [support.refused_url(), empty.url, broken.url, server.url])
    res = release.fetch_release(host, cfg)
    assert res["dists"]["base"]["source"] == f"{server.url}{RELEASE_PATH}/base.txz"
    for bad in (empty, broken):                    # each file walks the list from the top
        assert len(bad.gets("MANIFEST")) == len(bad.gets("base.txz")) == 1
    assert release.install_base(host, cfg, "p1").changed


def test_file_and_salt_mirrors(tmp_path, mirror_dir, host):
    cfg = support.config(tmp_path, [f"file://{mirror_dir}"])
    assert release.fetch_release(host, cfg)["downloaded"]

    calls = []

    def salt_fetcher(url, dest, progress):
        calls.append(url)
        shutil.copyfile(os.path.join(mirror_dir, url[len("salt://releases/"):]), dest)

    cfg = support.config(tmp_path / "salt", ["salt://releases"])
    with pytest.raises(JailprovError, match="fetched through Salt"):
        release.fetch_release(host, cfg)
    assert release.install_base(host, cfg, "p1", fetcher=salt_fetcher).changed
    assert calls == [f"salt://releases{RELEASE_PATH}/MANIFEST", f"salt://releases{RELEASE_PATH}/base.txz"]


# --- unsafe archives -------------------------------------------------------------------------------

@pytest.mark.parametrize("members, words", [
    ([(".", "dir", None), ("./etc", "dir", None), ("./../escaped", "file", b"x")], "'..' component"),
    ([(".", "dir", None), ("/tmp/jailprov-absolute-member", "file", b"x")], "has an absolute path"),
])
def test_unsafe_archive_is_rejected_before_anything_is_extracted(tmp_path, request, host, members, words):
    support.write_release(tmp_path / "m", members)
    srv = _serve(tmp_path / "m", request)
    cfg = support.config(tmp_path, [srv.url])
    events = []
    for _ in range(2):                                # the verdict is recorded: no second decompression
        with pytest.raises(JailprovError, match=words) as err:
            release.install_base(host, cfg, "p1", progress=events.append)
        assert "refusing to extract 14.2-RELEASE base.txz" in str(err.value)
    assert len([e for e in events if e["what"] == "release/decompress" and e["done"] == e["total"]]) == 1
    assert not os.path.exists(_root(cfg)) and not os.path.exists(tmp_path / "jails" / "escaped")
    assert not os.path.exists("/tmp/jailprov-absolute-member")
    assert not os.path.exists(os.path.join(_cache(cfg), "base.tar"))


def _corrupt_tar():
    """An xz stream holding a tar whose second header is garbage (tar would skip ahead; we refuse)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in ("./a", "./b", "./c"):
            tar.addfile(tarfile.TarInfo(name), io.BytesIO(b""))
    data = raw.getvalue()
    return lzma.compress(data[:512] + b"garbage!" * 64 + data[1024:])


@pytest.mark.parametrize("data, words", [
    (b"not an xz file at all", "matches its sha256 but is not a valid xz archive"),
    (lzma.compress(b"\0" * 100000)[:-40], "matches its sha256 but is not a valid xz archive"),
    (_corrupt_tar(), "not a valid tar archive after member 1: unreadable header at byte 512"),
])
def test_broken_archive_matching_its_manifest_is_refused(tmp_path, request, host, data, words):
    support.write_raw_release(tmp_path / "m", data)
    cfg = support.config(tmp_path, [_serve(tmp_path / "m", request).url])
    with pytest.raises(JailprovError, match=words):
        release.install_base(host, cfg, "p1")
    assert not os.path.exists(_root(cfg))
    assert not [f for f in os.listdir(_cache(cfg)) if f.endswith((".tar", ".part"))]


# --- the cache is re-verified before every use -----------------------------------------------------

def _tamper(path):
    st = os.stat(path)
    with open(path, "r+b") as fh:
        fh.seek(st.st_size // 2)
        byte = fh.read(1)
        fh.seek(st.st_size // 2)
        fh.write(bytes([byte[0] ^ 0xFF]))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))        # same size, same mtime: only ctime tells


def test_tampered_tar_is_rebuilt_from_the_verified_archive(tmp_path, server, host):
    cfg = support.config(tmp_path, [server.url], prisoners=("p1", "p2"))
    release.install_base(host, cfg, "p1")
    _tamper(os.path.join(_cache(cfg), "base.tar"))
    res = release.install_base(host, cfg, "p2")
    assert res.data["decompressed"] and not res.data["downloaded"]
    assert "base.tar changed since it was built" in res.comment
    assert _read(f"{_root(cfg, 'p2')}/etc/master.passwd") == _read(f"{_root(cfg, 'p1')}/etc/master.passwd")


def test_tampered_archive_is_fetched_again(tmp_path, server, host):
    cfg = support.config(tmp_path, [server.url], prisoners=("p1", "p2"))
    release.install_base(host, cfg, "p1")
    _tamper(os.path.join(_cache(cfg), "base.txz"))
    res = release.install_base(host, cfg, "p2")
    assert res.data["downloaded"] and "cached base.txz does not match" in res.comment
    assert len(server.gets("base.txz")) == 2


# --- interrupted extractions, flags, guards --------------------------------------------------------

def _interrupt(host, cfg, name="p1"):
    """Make an installed prisoner look like an extraction that died half way."""
    root = _root(cfg, name)
    stamp = dict(release.read_stamp(host, root), state="extracting")
    with open(f"{root}/{release.STAMP}", "w") as fh:
        json.dump(stamp, fh)
    with open(f"{root}/half-written", "w") as fh:
        fh.write("partial")


def test_interrupted_extraction_is_cleared_and_redone(tmp_path, server, host, runner, immutable):
    cfg = support.config(tmp_path, [server.url])
    root = _root(cfg)
    release.install_base(host, cfg, "p1")
    support.set_immutable(root, mirror.SCHG_FILES[:4])
    _interrupt(host, cfg)
    res = release.install_base(host, cfg, "p1")
    assert res.changed and res.data["cleared"] and "an earlier extraction was interrupted" in res.comment
    assert ["/bin/chflags", "-R", "0", root] in runner.log
    assert not os.path.exists(f"{root}/half-written")
    assert release.read_stamp(host, root)["state"] == "installed"
    assert not release.install_base(host, cfg, "p1").changed


def test_without_clearing_flags_the_redo_fails_clearly(tmp_path, server, host, runner, immutable):
    cfg = support.config(tmp_path, [server.url])
    release.install_base(host, cfg, "p1")
    support.set_immutable(_root(cfg), ["usr/bin/su"])
    _interrupt(host, cfg)
    runner.chflags_clears = False
    with pytest.raises(JailprovError, match="Operation not permitted.*chflags -R 0 did not clear"):
        release.install_base(host, cfg, "p1")


@pytest.mark.parametrize("level, error, words", [
    (1, JailprovError, "kern.securelevel is 1, and system flags such as schg cannot be removed"),
    (0, CommandError, "clearing file flags before re-extracting"),
])
def test_flags_that_cannot_be_cleared(tmp_path, server, host, runner, level, error, words):
    cfg = support.config(tmp_path, [server.url])
    release.install_base(host, cfg, "p1")
    _interrupt(host, cfg)
    runner.chflags_fails, runner.securelevel = True, level
    with pytest.raises(error, match=words):
        release.install_base(host, cfg, "p1")
    assert os.path.exists(f"{_root(cfg)}/half-written")          # nothing removed


def test_other_release_is_an_error_unless_forced(tmp_path, server, host, runner):
    cfg = support.config(tmp_path, [server.url])
    root = _root(cfg)
    release.install_base(host, cfg, "p1")
    newer = dataclasses.replace(cfg, release="14.3-RELEASE")
    before = support.snapshot(root)
    with pytest.raises(JailprovError) as err:
        release.install_base(host, newer, "p1")
    assert "holds 14.2-RELEASE (amd64) base, but the pillar asks for 14.3-RELEASE" in str(err.value)
    assert "freebsd-update -b " + root in str(err.value) and "force=True" in str(err.value)
    assert support.snapshot(root) == before

    runner.running["p1"] = 3
    with pytest.raises(JailprovError, match="prisoner p1 is running"):
        release.install_base(host, newer, "p1", force=True)
    del runner.running["p1"]
    res = release.install_base(host, newer, "p1", force=True)
    assert res.changed and res.data["cleared"]
    assert release.read_stamp(host, root)["release"] == "14.3-RELEASE"
    assert release.userland_version(host, root) == "14.3-RELEASE"


def test_prisoner_upgraded_in_place_is_left_alone(tmp_path, server, host):
    cfg = support.config(tmp_path, [server.url])
    root = _root(cfg)
    release.install_base(host, cfg, "p1")
    with open(f"{root}/bin/freebsd-version", "w") as fh:          # what freebsd-update leaves behind
        fh.write('#!/bin/sh\nUSERLAND_VERSION="14.3-RELEASE-p2"\n')
    res = release.install_base(host, dataclasses.replace(cfg, release="14.3-RELEASE"), "p1")
    assert not res.changed and "bin/freebsd-version reports 14.3-RELEASE" in res.comment


def test_foreign_files_are_not_overwritten_without_force(tmp_path, server, host):
    cfg = support.config(tmp_path, [server.url])
    root = _root(cfg)
    os.makedirs(f"{root}/home/user")
    with open(f"{root}/home/user/data", "w") as fh:
        fh.write("precious")
    with pytest.raises(JailprovError, match="is not empty and has no var/db/jailprov-base.json"):
        release.install_base(host, cfg, "p1")
    assert os.path.exists(f"{root}/home/user/data") and server.log == []
    res = release.install_base(host, cfg, "p1", force=True)
    assert res.data["cleared"] and not os.path.exists(f"{root}/home/user/data")


# --- disk full -------------------------------------------------------------------------------------

@pytest.fixture
def tiny_root(tmp_path):
    """The prisoner root on a 1 MiB tmpfs (the small base needs ~2.5 MB)."""
    root = tmp_path / "jails" / "p1"
    root.mkdir(parents=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(root)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    yield root
    subprocess.run(["umount", str(root)], check=False)


def test_disk_full_leaves_an_incomplete_prisoner_that_the_next_run_redoes(tmp_path, server, host, tiny_root):
    cfg = support.config(tmp_path, [server.url])
    with pytest.raises(JailprovError) as err:
        release.install_base(host, cfg, "p1")
    assert "No space left on device" in str(err.value) and "next run clears it" in str(err.value)
    assert release.read_stamp(host, str(tiny_root))["state"] == "extracting"     # never looks complete
    subprocess.run(["mount", "-o", "remount,size=64m", str(tiny_root)], check=True)
    res = release.install_base(host, cfg, "p1")
    assert res.changed and res.data["cleared"]
    assert release.read_stamp(host, str(tiny_root))["state"] == "installed"
