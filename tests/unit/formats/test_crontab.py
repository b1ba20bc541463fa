"""crontab.comment_adjkerntz: old text -> new text, table-driven."""

import pathlib

import pytest

from salt_jail.core.formats.crontab import comment_adjkerntz

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "files"
ENTROPY = "*/11\t*\t*\t*\t*\toperator /usr/libexec/save-entropy\n"
ADJ = "1,31\t0-5\t*\t*\t*\troot\tadjkerntz -a"

CASES = [
    # (id, old, new, words expected in the note)
    ("tabs", f"{ENTROPY}{ADJ}\n", f"{ENTROPY}#{ADJ}\n", "line 2"),
    ("spaces", "1,31 0-5 * * * root adjkerntz -a\n", "#1,31 0-5 * * * root adjkerntz -a\n", "line 1"),
    ("full-path", "1,31 0-5 * * * root /sbin/adjkerntz   -a\n", "#1,31 0-5 * * * root /sbin/adjkerntz   -a\n",
     "commented out"),
    ("other-schedule-and-user", "*/30 * * * * toor adjkerntz -a\n", "#*/30 * * * * toor adjkerntz -a\n", "line 1"),
    ("at-keyword", "@hourly root adjkerntz -a\n", "#@hourly root adjkerntz -a\n", "line 1"),
    ("no-trailing-newline", f"{ENTROPY}{ADJ}", f"{ENTROPY}#{ADJ}", "line 2"),
    ("already-commented", f"#{ADJ}\n", f"#{ADJ}\n", "already"),
    ("already-commented-spaced", f"# {ADJ}\n", f"# {ADJ}\n", "already"),
    ("missing", ENTROPY, ENTROPY, "no `adjkerntz -a` entry"),
    ("other-flag-untouched", "1 0 * * * root adjkerntz -i\n", "1 0 * * * root adjkerntz -i\n", "no `adjkerntz"),
    ("argument-is-not-command", "1 0 * * * root echo adjkerntz -a\n", "1 0 * * * root echo adjkerntz -a\n",
     "no `adjkerntz"),
    ("too-few-fields", "1,31 0-5 * * root adjkerntz -a\n", "1,31 0-5 * * root adjkerntz -a\n", "no `adjkerntz"),
    ("environment-line", "ADJ=adjkerntz -a\n", "ADJ=adjkerntz -a\n", "no `adjkerntz"),
    ("prose-comment-is-not-an-entry", "# UTC time.  See adjkerntz(8) for details.\n",
     "# UTC time.  See adjkerntz(8) for details.\n", "no `adjkerntz"),
]


@pytest.mark.parametrize("old,new,note", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_comment_adjkerntz(old, new, note):
    got, got_note = comment_adjkerntz(old)
    assert got == new
    assert note in got_note


def test_fixture_changes_only_the_adjkerntz_line():
    old = (FIXTURES / "crontab").read_text()
    new, _ = comment_adjkerntz(old)
    old_lines, new_lines = old.split("\n"), new.split("\n")
    assert [i for i, (a, b) in enumerate(zip(old_lines, new_lines)) if a != b] == [12]
    assert new_lines[12] == "#" + ADJ
    assert ENTROPY.rstrip("\n") in new_lines  # the space-before-command line is untouched
    assert comment_adjkerntz(new)[0] == new
