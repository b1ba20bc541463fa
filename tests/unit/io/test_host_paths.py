"""Issue 12, finding 7: the product resolves host paths below a scratch root as a chroot would — with
``ln -s /elsewhere ROOT/home`` the prisoners of ``jail_root: /home/jail`` live in ``ROOT/elsewhere/jail``, and the
machine's /elsewhere is never written or deleted."""

import json
import os

import pytest

from salt_jail.core import model
from salt_jail.core.features import lifecycle, root as root_step
from salt_jail.core.io.host import Host
from tests.support.tree import snapshot


def test_a_link_in_the_scratch_root_never_leads_the_product_out(rehearsal_root, tmp_path):
    outside = tmp_path / "elsewhere"
    (outside / "jail").mkdir(parents=True)
    (outside / "jail" / "keep").write_text("the machine's own file\n")
    before = snapshot(outside)
    os.symlink(str(outside), os.path.join(rehearsal_root, "home"))   # absolute: the machine's /tmp/.../elsewhere
    host = Host(root=rehearsal_root, bindir=os.path.join(rehearsal_root, ".rehearsal", "bin"))
    assert host.path("/home/jail/p1") == os.path.join(rehearsal_root, str(outside).lstrip("/"), "jail", "p1")

    cfg = model.parse({"jail_root": "/home/jail", "release": "14.2-RELEASE",
                       "prisoners": {"p1": {"hostname": "p1.example.org"}}})
    assert root_step.ensure_root(host, cfg, "p1").changed
    prisoner = os.path.join(rehearsal_root, str(outside).lstrip("/"), "jail", "p1")
    assert os.path.isdir(prisoner)                       # inside the scratch root, as a chroot resolves it
    os.makedirs(os.path.join(prisoner, "var/db"))       # as step base leaves it: jailprov's install stamp
    with open(os.path.join(prisoner, "var/db/jailprov-base.json"), "w", encoding="utf-8") as fh:
        json.dump({"format": 1, "state": "installed"}, fh)
    gone = model.parse({"jail_root": "/home/jail", "release": "14.2-RELEASE", "absent": ["p1"]})
    assert lifecycle.destroy(host, gone, "p1").changed
    assert not os.path.exists(prisoner)
    assert snapshot(outside) == before                       # never written, never deleted


@pytest.mark.parametrize("follow", [False, True])
def test_host_path_resolves_like_a_chroot(tmp_path, follow):
    root = tmp_path / "r"
    (root / "usr/home").mkdir(parents=True)
    os.symlink("usr/home", root / "home")            # relative, inside
    os.symlink("/usr/home", root / "abs")            # absolute: from the scratch root
    os.symlink("../../../../../..", root / "up")     # climbing: stops at the scratch root
    os.symlink("/usr/home", root / "usr/home/last")  # a final link: followed only when asked
    host = Host(root=str(root))
    assert host.path("/home/x") == str(root / "usr/home/x")
    assert host.path("/abs/x") == str(root / "usr/home/x")
    assert host.path("/up/etc") == str(root / "etc")
    assert host.path("/home/last", follow=follow) == str(root / ("usr/home" if follow else "usr/home/last"))
    assert Host(root="/").path("/a/../b") == "/b"
