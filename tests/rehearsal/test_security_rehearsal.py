"""Issue 12, finding 7: the rehearsal never reaches outside its scratch root.

* The product resolves host paths below the scratch root as a chroot would: with ``ln -s /elsewhere ROOT/home``
  the prisoners of ``jail_root: /home/jail`` live in ``ROOT/elsewhere/jail``, and the machine's /elsewhere is
  never written or deleted.
* ``python -m salt_jail.rehearse --root DIR`` refuses ``/``, and a non-empty DIR it did not create itself; it
  says what it removes from a root it did create.
"""

import json
import os

import pytest

from salt_jail import rehearse
from salt_jail.core import model
from salt_jail.core.features import lifecycle, steps
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
    assert steps.ensure_root(host, cfg, "p1").changed
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


@pytest.fixture
def no_removal(monkeypatch):
    """Stop rehearse.main before it builds anything, and make any removal outside a tmp dir impossible."""
    class Built(Exception):
        pass

    def prepare(*_args, **_kwargs):
        raise Built()

    real_rmtree = rehearse.shutil.rmtree

    def rmtree(path, *args, **kwargs):
        assert str(path).startswith("/tmp/"), f"rehearse tried to remove {path}"
        return real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(rehearse, "prepare", prepare)
    monkeypatch.setattr(rehearse.shutil, "rmtree", rmtree)
    monkeypatch.setattr(rehearse, "_clear_flags", lambda path: None)
    return Built


def test_rehearse_refuses_the_filesystem_root(no_removal, capsys):
    assert rehearse.main(["--root", "/"]) == 2
    assert "refusing --root /: it is the filesystem root" in capsys.readouterr().err


def test_rehearse_refuses_a_directory_it_did_not_create(no_removal, tmp_path, capsys):
    mine = tmp_path / "thesis"
    mine.mkdir()
    (mine / "chapter1.tex").write_text("years of work\n")
    assert rehearse.main(["--root", str(mine)]) == 2
    assert "is not empty (chapter1.tex) and is not a scratch root this command created" in capsys.readouterr().err
    assert (mine / "chapter1.tex").read_text() == "years of work\n"


def test_rehearse_empties_only_a_root_it_created_and_says_what_it_removes(no_removal, tmp_path, capsys):
    root = tmp_path / "scratch"
    with pytest.raises(no_removal):                      # a new directory: created and marked
        rehearse.main(["--root", str(root)])
    assert (root / rehearse.MARK).is_file()
    (root / "home").mkdir()
    capsys.readouterr()
    with pytest.raises(no_removal):                      # its own root: emptied, saying so
        rehearse.main(["--root", str(root)])
    assert f"== removing the previous rehearsal under {root} (2 entries: .rehearsal, home)" in capsys.readouterr().out
    assert not (root / "home").exists() and (root / rehearse.MARK).is_file()
