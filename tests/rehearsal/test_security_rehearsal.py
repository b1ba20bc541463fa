"""Issue 12, finding 7: the rehearsal never reaches outside its scratch root (the product's side of it, host
paths resolved as a chroot would, is tested in tests/unit/io/test_host_paths.py).

* ``python -m salt_jail.rehearse --root DIR`` refuses ``/``, and a non-empty DIR it did not create itself; it
  says what it removes from a root it did create.
"""

import pytest

from salt_jail import rehearse


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
