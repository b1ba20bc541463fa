"""release.install: what install_base decides from a prisoner's stamp and contents, in test mode (nothing fetched,
nothing written: the configured mirror does not exist, and the tree is the same before and after)."""

import dataclasses
import json
import os

import pytest

from salt_jail.core import release
from salt_jail.core.errors import JailprovError, ValidationError
from tests.support import releases as support

SHA = "ab" * 32


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


@pytest.mark.parametrize("name, absent, error", [("nope", False, "no prisoner 'nope'"), ("p1", True, "marked absent")])
def test_unknown_or_absent_prisoner(tmp_path, name, absent, error):
    cfg = support.config(tmp_path, ["http://127.0.0.1:9"])
    if absent:
        cfg.prisoners["p1"] = dataclasses.replace(cfg.prisoners["p1"], absent=True)
    with pytest.raises(ValidationError, match=error):
        release.install_base(support.host(), cfg, name, test=True)
