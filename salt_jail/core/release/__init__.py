"""Seed step 2, the base system: fetch each release once, verify it, decompress it once, extract it everywhere.

The package, one module per concern, each usable and tested alone (``tests/unit/release/``):

==================  ==========================================================================================
:mod:`.fetch`       where the files come from: mirrors tried in order, urllib downloads with deadlines,
                    MANIFEST parsing, sha256 verification, the hints when a release is not found
:mod:`.store`       the cache on disk, ``{cache_dir}/{release}/{arch}/``: layout, lock, the per-dist records
                    with their fingerprints; the inventory and pruning of ``jailprov.release_cache``
:mod:`.extract`     decompression once (members checked while the ``.tar`` is written), clearing a root,
                    extraction into a prisoner with system tar and its progress
:mod:`.stamp`       the base stamp in a prisoner's tree and its ``bin/freebsd-version``
:mod:`.prepare`     :func:`fetch_release`: what the cache needs for the pillar's release (plan), then doing it
:mod:`.install`     :func:`install_base` / :func:`install_tree`: the decision from the stamp, then extraction
:mod:`.progress`    the throttled progress events all of them send
==================  ==========================================================================================

Test mode is the plan without the apply, in :mod:`.prepare` and :mod:`.install` alike.  Release, arch, dists,
mirrors and pins come validated from :mod:`salt_jail.core.model` and are not checked again here.

What this module exports is what the rest of salt_jail (features, the Salt modules) and the tests use.
"""

from .extract import clear_root, contents, extract_into, scan_tar
from .fetch import (ARCH_PATHS, ARCHIVE_MIRROR, MAIN_MIRROR, SNAPSHOT_MIRROR, FetchError, ManifestEntry, arch_path,
                    download_deadline, parse_manifest, release_url, sha256_file, urllib_fetch)
from .install import install_base, install_tree
from .prepare import fetch_release
from .progress import Progress
from .stamp import STAMP, STAMP_FORMAT, mark_extracting, read_stamp, userland_version, write_stamp
from .store import release_cache

__all__ = [
    "ARCH_PATHS", "ARCHIVE_MIRROR", "MAIN_MIRROR", "SNAPSHOT_MIRROR", "STAMP", "STAMP_FORMAT",
    "FetchError", "ManifestEntry", "Progress",
    "arch_path", "clear_root", "contents", "download_deadline", "extract_into", "fetch_release", "install_base",
    "install_tree",
    "mark_extracting", "parse_manifest", "read_stamp", "release_cache", "release_url", "scan_tar", "sha256_file",
    "urllib_fetch", "userland_version", "write_stamp",
]
