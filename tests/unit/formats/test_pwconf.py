"""pwconf: pw's parser and the value setter, table-driven."""

import pytest

from salt_jail.core.model import IdRange, PwRange
from salt_jail.core.formats.pwconf import format_line, parse_line, set_values, settings

VALUES = settings(PwRange(IdRange(2000, 2999), IdRange(3000, 3999)), "no")

CREATED = """\
#
# pw.conf - user/group configuration defaults
#

# Password for new users? no=nologin yes=loginid none=blank random=random
defaultpasswd = "no"

# Range of valid default user ids
minuid = 2000
maxuid = 2999

# Range of valid default group ids
mingid = 3000
maxgid = 3999
"""

PARSE = [
    ("minuid = 1000", ("minuid", "1000")),
    ("minuid 1000", ("minuid", "1000")),
    ("minuid=1000", ("minuid", "1000")),
    ("  minuid\t=\t1000  # trailing", ("minuid", "1000")),
    ('defaultpasswd = "no"', ("defaultpasswd", "no")),
    ("defaultpasswd = 'random'", ("defaultpasswd", "random")),
    ("defaultpasswd=no", ("defaultpasswd", "no")),
    ('shells = "sh","csh"', ("shells", "sh")),
    ("minuid", ("minuid", None)),
    ('defaultpasswd = ""', ("defaultpasswd", None)),
    ("# minuid = 5", None),
    ("#minuid = 5", None),
    ("", None),
    ("   ", None),
]


@pytest.mark.parametrize("line,expected", PARSE, ids=[p[0] or "empty" for p in PARSE])
def test_parse_line_reads_like_pw(line, expected):
    assert parse_line(line) == expected


@pytest.mark.parametrize("key,value,line", [
    ("minuid", 1000, "minuid = 1000"),
    ("maxgid", 32000, "maxgid = 32000"),
    ("defaultpasswd", "random", 'defaultpasswd = "random"'),
])
def test_format_line_as_pw_writes(key, value, line):
    assert format_line(key, value) == line


FULL = 'defaultpasswd = "no"\nminuid = 2000\nmaxuid = 2999\nmingid = 3000\nmaxgid = 3999\n'

PASSWD_COMMENT = "# Password for new users? no=nologin yes=loginid none=blank random=random"
UID_COMMENT = "# Range of valid default user ids"
GID_COMMENT = "# Range of valid default group ids"

CASES = [
    # (id, old, new, words in the note)
    ("created", None, CREATED, "created the file"),
    ("already-correct", FULL, FULL, ""),
    ("other-spellings-with-same-values-kept",
     "defaultpasswd no\nminuid=2000\nmaxuid 2999\nmingid='3000'\nmaxgid 3999",
     "defaultpasswd no\nminuid=2000\nmaxuid 2999\nmingid='3000'\nmaxgid 3999", ""),
    ("boolean-spelling-of-no", FULL.replace('"no"', "false"), FULL.replace('"no"', "false"), ""),
    ("changed-value-rewritten-in-canonical-form",
     'defaultpasswd = "yes"\nminuid=1000\nmaxuid = 2999\nmingid = 3000\nmaxgid 3999\n',
     'defaultpasswd = "no"\nminuid = 2000\nmaxuid = 2999\nmingid = 3000\nmaxgid 3999\n',
     "defaultpasswd yes -> no; minuid 1000 -> 2000"),
    ("missing-key-joins-its-group",
     "# mine\nminuid=1000\nmingid = 3000\nmaxgid = 3999\n",
     f"# mine\nminuid = 2000\nmaxuid = 2999\nmingid = 3000\nmaxgid = 3999\n\n{PASSWD_COMMENT}\n"
     'defaultpasswd = "no"\n',
     "added maxuid = 2999"),
    ("every-occurrence-fixed", FULL + "minuid 5\n", FULL + "minuid = 2000\n", "minuid 5 -> 2000"),
    ("other-keys-and-comments-kept", '# site defaults\nhome = "/usr/home"\n' + FULL,
     '# site defaults\nhome = "/usr/home"\n' + FULL, ""),
    ("commented-key-does-not-count",
     '#minuid = 2000\ndefaultpasswd = "no"\nmaxuid = 2999\nmingid = 3000\nmaxgid = 3999\n',
     '#minuid = 2000\ndefaultpasswd = "no"\nmaxuid = 2999\nminuid = 2000\nmingid = 3000\nmaxgid = 3999\n',
     "added minuid = 2000"),
    ("missing-groups-appended-with-pw-comments", 'defaultpasswd = "no"\n',
     f'defaultpasswd = "no"\n\n{UID_COMMENT}\nminuid = 2000\nmaxuid = 2999\n\n'
     f"{GID_COMMENT}\nmingid = 3000\nmaxgid = 3999\n", "added mingid = 3000"),
    ("no-trailing-newline-append", 'defaultpasswd = "no"',
     f'defaultpasswd = "no"\n\n{UID_COMMENT}\nminuid = 2000\nmaxuid = 2999\n\n'
     f"{GID_COMMENT}\nmingid = 3000\nmaxgid = 3999\n", "added"),
    ("no-trailing-newline-kept-in-place", "minuid 1\nmaxuid 2999\nmingid 3000\nmaxgid 3999\ndefaultpasswd no",
     "minuid = 2000\nmaxuid 2999\nmingid 3000\nmaxgid 3999\ndefaultpasswd no", "minuid 1 -> 2000"),
    ("invalid-number-replaced", FULL.replace("maxuid = 2999", "maxuid = lots"), FULL, "maxuid lots -> 2999"),
    ("empty-file", "", CREATED[CREATED.index("# Password"):], "added defaultpasswd"),
]


@pytest.mark.parametrize("old,new,note", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_set_values(old, new, note):
    got, got_note = set_values(old, VALUES)
    assert got == new
    assert note in got_note
    assert set_values(got, VALUES) == (got, "")  # idempotent


@pytest.mark.parametrize("old, new", [
    ("minuid = 1000   # host users start here\n", "minuid = 10000   # host users start here\n"),
    ("minuid=1000\t#x\n", "minuid = 10000\t#x\n"),
    ('defaultpasswd = "yes" # ask\n', 'defaultpasswd = "no" # ask\n'),
])
def test_a_changed_line_keeps_its_inline_comment(old, new):
    """Issue 15: pw's parser ignores what follows the value; an administrator's note there stays."""
    key = new.split(" ", 1)[0].split("=", 1)[0]
    value = 10000 if key == "minuid" else "no"
    assert set_values(old, {key: value})[0] == new
