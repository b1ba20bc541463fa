"""FreeBSD's own 14.x syslog.conf, crontab and hosts (../shared/freebsd-ref/) through the transforms.

Skipped when the reference directory is absent.  Located via $SALT_JAIL_SHARED, else ``shared`` beside
the repository.
"""

import os
import pathlib

import pytest

from salt_jail.core.formats.crontab import comment_adjkerntz
from salt_jail.core.formats.hosts import set_addresses
from salt_jail.core.formats.syslogconf import comment_console_rule
from salt_jail.core.io.textedit import unified_diff

REPO = pathlib.Path(__file__).resolve().parents[3]
SHARED = pathlib.Path(os.environ.get("SALT_JAIL_SHARED") or REPO.parent / "shared")
REF = SHARED / "freebsd-ref"


def _read(name):
    path = REF / name
    if not path.is_file():
        pytest.skip(f"FreeBSD reference file {path} is not available")
    return path.read_text()


def _changed_lines(diff):
    body = [ln for ln in diff.splitlines() if not ln.startswith(("---", "+++", "@@"))]
    return [ln for ln in body if ln.startswith("-")], [ln for ln in body if ln.startswith("+")]


@pytest.mark.parametrize("name,transform,line_number,line", [
    ("etc/syslog.conf", comment_console_rule, 7, "*.err;kern.warning;auth.notice;mail.crit\t\t/dev/console"),
    ("etc/crontab", comment_adjkerntz, 22, "1,31\t0-5\t*\t*\t*\troot\tadjkerntz -a"),
    ("alt/crontab.system-crontab-variant", comment_adjkerntz, 22, "1,31\t0-5\t*\t*\t*\troot\tadjkerntz -a"),
])
def test_freebsd_14_file_loses_exactly_the_tutorial_line(name, transform, line_number, line):
    old = _read(name)
    assert old.split("\n")[line_number - 1] == line  # the tutorial's line number holds in 14.x
    new, note = transform(old)
    removed, added = _changed_lines(unified_diff(name, old, new))
    assert removed == ["-" + line]
    assert added == ["+#" + line]
    assert f"line {line_number}" in note
    assert transform(new)[0] == new


def test_freebsd_hosts_keeps_every_line():
    old = _read("etc/hosts")
    new, _ = set_addresses(old, ["10.0.0.5"], "web.example.org", "web")
    removed, added = _changed_lines(unified_diff("etc/hosts", old, new))
    assert (removed, added) == ([], ["+10.0.0.5\t\tweb.example.org web"])
