"""release.fetch alone: FreeBSD's mirror layout, MANIFEST parsing, and Mirrors against a local HTTP mirror
(127.0.0.1) — failover, sha256 verification, content validation, and the hints when a release is not found."""

import os

import pytest

from salt_jail.core import model
from salt_jail.core.errors import JailprovError, ParseError, ValidationError
from salt_jail.core.release import fetch
from salt_jail.rehearsal import mirror
from tests.support import releases as support

SHA = "ab" * 32


@pytest.mark.parametrize("arch, path", [
    ("amd64", "amd64/amd64"), ("arm64", "arm64/aarch64"), ("i386", "i386/i386"),
    ("riscv64", "riscv/riscv64"), ("armv7", "arm/armv7"),
])
def test_release_urls_follow_freebsds_layout(arch, path):
    assert fetch.release_url("https://download.freebsd.org/releases/", "14.2-RELEASE", arch, "base.txz") == \
        f"https://download.freebsd.org/releases/{path}/14.2-RELEASE/base.txz"


def test_unknown_arch():
    with pytest.raises(ValidationError, match="unknown architecture 'aarch64'; expected one of amd64, arm64"):
        fetch.arch_path("aarch64")


def test_every_arch_the_model_admits_has_a_release_path():
    """The cache and the mirrors rely on the model for the arch (no check of their own): the two lists agree."""
    assert set(model.ARCHES) == set(fetch.ARCH_PATHS)


MANIFEST = (
    f'base.txz\t{SHA}\t26523\tbase\t"Base system (MANDATORY)"\ton\n'
    f'kernel-dbg.txz\t{SHA.upper()}\t57\tkernel_dbg\t"Kernel (Debugging)"\toff\n'
    "\n"
)


def test_manifest_parses_every_column():
    entries = fetch.parse_manifest(MANIFEST)
    assert entries["base.txz"] == fetch.ManifestEntry("base.txz", SHA, 26523, "base", "Base system (MANDATORY)",
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
        fetch.parse_manifest(text + line + "\n", "MANIFEST")
    assert err.value.line == 2 and str(err.value).startswith("MANIFEST:2:")


def test_unsupported_scheme_is_a_fetch_error(tmp_path):
    with pytest.raises(fetch.FetchError, match="no fetcher for gopher:// URLs"):
        fetch.urllib_fetch("gopher://example.org/x", str(tmp_path / "x"))


def test_default_deadline_is_the_idle_timeout_plus_the_transfer_at_the_minimum_rate():
    assert fetch.download_deadline(0) == fetch.TIMEOUT
    assert fetch.download_deadline(fetch.MIN_RATE * 10) == fetch.TIMEOUT + 10
    assert fetch.download_deadline(1000, min_rate=300) == fetch.TIMEOUT + 4       # rounded up


def _not_found(url, dest, progress, **_limits):
    raise fetch.FetchError(url, "HTTP 404 Not Found", status=404)


@pytest.mark.parametrize("tried, says, never", [
    (fetch.ARCHIVE_MIRROR, ["not on the archive mirror either: check jailprov:release"], "end of life"),
    (fetch.MAIN_MIRROR, ["may be past its end of life", f"add {fetch.ARCHIVE_MIRROR} to jailprov:mirrors"],
     "not on the archive mirror"),
])
def test_404_points_at_the_archive_mirror_or_the_release_name(tmp_path, monkeypatch, tried, says, never):
    monkeypatch.setattr(fetch, "urllib_fetch", _not_found)
    mirrors = fetch.Mirrors(support.config(tmp_path, [tried]))
    with pytest.raises(JailprovError) as err:
        mirrors.manifest(str(tmp_path / "MANIFEST"))
    assert all(words in str(err.value) for words in says) and never not in str(err.value)


def test_404_of_a_snapshot_build_names_the_snapshot_mirror(tmp_path, monkeypatch):
    """An ALPHA build is a snapshot: download.freebsd.org has it under snapshots/, never under releases/."""
    monkeypatch.setattr(fetch, "urllib_fetch", _not_found)
    cfg = support.config(tmp_path, ["https://download.freebsd.org/releases"], release="15.0-ALPHA1")
    with pytest.raises(JailprovError) as err:
        fetch.Mirrors(cfg).manifest(str(tmp_path / "MANIFEST"))
    text = str(err.value)
    assert "https://download.freebsd.org/releases/amd64/amd64/15.0-ALPHA1/MANIFEST" in text   # the URL tried
    assert "published under snapshots/" in text
    assert "https://download.freebsd.org/snapshots/amd64/amd64/15.0-ALPHA1/" in text           # where it is
    assert "end of life" not in text


# --- against a local mirror ------------------------------------------------------------------------

@pytest.fixture
def served(tmp_path, request):
    """A mirror on 127.0.0.1 holding a tiny base.txz and its MANIFEST; returns (url, sha256 of base.txz)."""
    directory = tmp_path / "mirror"
    digest = support.write_release(str(directory), [("./bin", "dir", None), ("./bin/sh", "file", b"#!")])
    url, stop = mirror.serve(str(directory))
    request.addfinalizer(stop)
    return url, digest


def test_failover_to_the_next_mirror_and_the_file_placed_only_once_verified(tmp_path, served):
    url, digest = served
    events = []
    mirrors = fetch.Mirrors(support.config(tmp_path, [support.refused_url(), url]), progress=events.append)
    dest = str(tmp_path / "base.txz")
    got_url, got_digest = mirrors.download("base.txz", dest, digest)
    assert got_url == f"{url}/amd64/amd64/14.2-RELEASE/base.txz" and got_digest == digest
    assert support.sha256(dest) == digest and not os.path.exists(dest + ".part")
    assert events[-1]["what"] == "release/download" and events[-1]["url"] == got_url and events[-1]["percent"] == 100


def test_bytes_of_another_sha256_are_not_kept(tmp_path, served):
    url, _digest = served
    mirrors = fetch.Mirrors(support.config(tmp_path, [url, url]))
    dest = str(tmp_path / "base.txz")
    with pytest.raises(fetch.MirrorsFailed) as err:
        mirrors.download("base.txz", dest, "0" * 64)
    assert err.value.mismatch and len(err.value.failures) == 2
    assert "sha256 mismatch: expected " + "0" * 64 in str(err.value)
    assert "cannot fetch base.txz of 14.2-RELEASE (amd64) from any mirror" in str(err.value)
    assert not os.path.exists(dest) and not os.path.exists(dest + ".part")


def test_a_manifest_that_does_not_parse_is_not_kept(tmp_path, served):
    url, _digest = served
    with open(os.path.join(support.release_dir(str(tmp_path / "mirror")), "MANIFEST"), "w") as fh:
        fh.write("this is not a MANIFEST\n")
    dest = str(tmp_path / "MANIFEST")
    with pytest.raises(fetch.MirrorsFailed, match="expected 6 tab-separated fields") as err:
        fetch.Mirrors(support.config(tmp_path, [url])).manifest(dest)
    assert not err.value.mismatch and not os.path.exists(dest) and not os.path.exists(dest + ".part")


def test_a_manifest_that_parses_is_kept(tmp_path, served):
    url, digest = served
    dest = str(tmp_path / "MANIFEST")
    fetch.Mirrors(support.config(tmp_path, [url])).manifest(dest)
    assert fetch.parse_manifest(fetch.read_text(dest))["base.txz"].sha256 == digest


def test_other_schemes_go_to_the_callers_fetcher(tmp_path):
    calls = []

    def fetcher(url, dest, progress):
        calls.append(url)
        with open(dest, "wb") as fh:
            fh.write(b"hello")

    mirrors = fetch.Mirrors(support.config(tmp_path, ["salt://releases"]), fetcher=fetcher)
    dest = str(tmp_path / "base.txz")
    url, digest = mirrors.download("base.txz", dest)
    assert calls == [url] == ["salt://releases/amd64/amd64/14.2-RELEASE/base.txz"]
    assert digest == fetch.sha256_file(dest)
    with pytest.raises(JailprovError, match="salt:// .* are fetched through Salt"):
        fetch.Mirrors(support.config(tmp_path, ["salt://releases"])).download("base.txz", dest)


def test_a_fetcher_that_writes_nothing_is_a_failure(tmp_path):
    mirrors = fetch.Mirrors(support.config(tmp_path, ["salt://releases"]), fetcher=lambda url, dest, progress: None)
    with pytest.raises(JailprovError, match="the fetcher returned without writing the file"):
        mirrors.download("base.txz", str(tmp_path / "base.txz"))
