"""syslogconf.comment_console_rule: old text -> new text, table-driven."""

import pathlib

import pytest

from salt_jail.core.formats.syslogconf import comment_console_rule

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "files"
RULE = "*.err;kern.warning;auth.notice;mail.crit"
OTHER = "*.notice;authpriv.none\t/var/log/messages\n"

CASES = [
    # (id, old, new, words expected in the note)
    ("two-tabs", f"{RULE}\t\t/dev/console\n{OTHER}", f"#{RULE}\t\t/dev/console\n{OTHER}", "line 1"),
    ("spaces", f"# hdr\n{RULE}   /dev/console\n", f"# hdr\n#{RULE}   /dev/console\n", "line 2"),
    ("leading-and-trailing-blanks", f" {RULE}\t/dev/console \n", f"# {RULE}\t/dev/console \n", "commented out"),
    ("no-trailing-newline", f"{OTHER}{RULE}\t\t/dev/console", f"{OTHER}#{RULE}\t\t/dev/console", "line 2"),
    ("crlf-kept", f"{RULE}\t/dev/console\r\n", f"#{RULE}\t/dev/console\r\n", "line 1"),
    ("already-commented", f"#{RULE}\t\t/dev/console\n", f"#{RULE}\t\t/dev/console\n", "already"),
    ("already-commented-spaced", f"#  {RULE} /dev/console\n", f"#  {RULE} /dev/console\n", "already"),
    ("missing", OTHER, OTHER, "no console rule"),
    ("empty-file", "", "", "no console rule"),
    ("other-action-untouched", f"{RULE}\t/var/log/console.log\n", f"{RULE}\t/var/log/console.log\n", "no console"),
    ("other-selector-untouched", "*.err\t/dev/console\n", "*.err\t/dev/console\n", "no console rule"),
    ("selector-is-exact", f"{RULE};user.none\t/dev/console\n", f"{RULE};user.none\t/dev/console\n", "no console"),
    ("inside-program-block", f"!sshd\n{RULE}\t/dev/console\n", f"!sshd\n{RULE}\t/dev/console\n", "block"),
    ("hash-bang-is-a-block", f"#!sshd\n{RULE}\t/dev/console\n", f"#!sshd\n{RULE}\t/dev/console\n", "block"),
    ("inside-host-block", f"+loghost\n{RULE}\t/dev/console\n", f"+loghost\n{RULE}\t/dev/console\n", "block"),
    ("block-ended", f"!sshd\n!*\n{RULE}\t/dev/console\n", f"!sshd\n!*\n#{RULE}\t/dev/console\n", "line 3"),
    ("commented-bang-is-comment", f"# !devd\n{RULE}\t/dev/console\n", f"# !devd\n#{RULE}\t/dev/console\n", "line 2"),
    ("two-rules", f"{RULE}\t/dev/console\n{RULE} /dev/console\n", f"#{RULE}\t/dev/console\n#{RULE} /dev/console\n",
     "line 1, 2"),
]


@pytest.mark.parametrize("old,new,note", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_comment_console_rule(old, new, note):
    got, got_note = comment_console_rule(old)
    assert got == new
    assert note in got_note


@pytest.mark.parametrize("name,line", [("syslog.conf", 7), ("syslog.conf-13", 8)])
def test_fixture_layouts_change_exactly_one_line(name, line):
    old = (FIXTURES / name).read_text()
    new, note = comment_console_rule(old)
    old_lines, new_lines = old.split("\n"), new.split("\n")
    changed = [i for i, (a, b) in enumerate(zip(old_lines, new_lines), start=1) if a != b]
    assert changed == [line]
    assert new_lines[line - 1] == "#" + old_lines[line - 1]
    assert f"line {line}" in note


def test_second_pass_is_no_change():
    once, _ = comment_console_rule((FIXTURES / "syslog.conf").read_text())
    twice, note = comment_console_rule(once)
    assert twice == once
    assert "already" in note
