"""pw.conf(5): the defaults pw(8) uses for new accounts (seed step 7).

Values are written as ``pw useradd -D`` writes them (write_userconfig() in usr.sbin/pw/pw_conf.c):
``keyword = value`` for numbers, ``keyword = "value"`` for strings, each group of keys after pw's own
comment line.  Existing lines are read as pw's parser reads them (read_userconfig()): the keyword is the
first token up to a blank or ``=``, the value the next token up to a blank, ``=`` or ``,``, with one pair
of quotes removed — so ``minuid 1000``, ``minuid=1000`` and ``defaultpasswd = no`` are all understood.

A key whose value already means the wanted value is left exactly as written.  A key with another value
is rewritten in the canonical form on its own line (every occurrence: pw applies the last one), keeping a
comment that ends the line.  A
missing key goes after the last line of its group (``minuid``/``maxuid``, ``mingid``/``maxgid``), or at
the end under pw's comment.  A file that does not exist yet is created with pw's header.
"""

import re

from ..io.textedit import join_lines, split_lines

#: pw_conf.c's header of a freshly written file.
HEADER = ["#", "# pw.conf - user/group configuration defaults", "#"]

#: The keys this module sets, in pw_conf.c's order, grouped under pw's comment for each group.
GROUPS = (
    ("# Password for new users? no=nologin yes=loginid none=blank random=random", ("defaultpasswd",)),
    ("# Range of valid default user ids", ("minuid", "maxuid")),
    ("# Range of valid default group ids", ("mingid", "maxgid")),
)
NUMERIC = frozenset({"minuid", "maxuid", "mingid", "maxgid"})

#: passwd_val() in pw_conf.c: the spellings pw accepts for each defaultpasswd method.
_PASSWD_METHODS = {
    **dict.fromkeys(("yes", "true", "1", "on"), "yes"),
    **dict.fromkeys(("no", "false", "0", "off"), "no"),
    "random": "random",
    "none": "none",
}

_KEYWORD = re.compile(r"[ \t\r=]+")
_VALUE = re.compile(r"[ \t\r,=]+")


def settings(pw_range, defaultpasswd):
    """The five pw.conf values for a :class:`~salt_jail.core.model.PwRange` and a defaultpasswd method."""
    return {
        "defaultpasswd": defaultpasswd,
        "minuid": pw_range.uid.lo,
        "maxuid": pw_range.uid.hi,
        "mingid": pw_range.gid.lo,
        "maxgid": pw_range.gid.hi,
    }


def parse_line(line):
    """``(keyword, value)`` as pw's parser reads ``line``; ``None`` for a comment or blank line.

    ``value`` is ``None`` when the keyword has none.
    """
    tokens = _KEYWORD.split(line.lstrip(" \t\r="), maxsplit=1)
    keyword = tokens[0]
    if not keyword or keyword.startswith("#"):
        return None
    rest = tokens[1].lstrip(" \t\r,=") if len(tokens) > 1 else ""
    raw = _VALUE.split(rest, maxsplit=1)[0] if rest else ""
    return keyword, _unquote(raw)


def _unquote(token):
    """pw_conf.c unquote(): a leading quote is dropped and the token ends at the matching quote."""
    if token[:1] in ('"', "'"):
        end = token.find(token[0], 1)
        token = token[1:] if end == -1 else token[1:end]
    return token or None


def _same(key, current, wanted):
    if current is None:
        return False
    if key in NUMERIC:
        return current.isdigit() and int(current) == wanted
    if key == "defaultpasswd":
        return _PASSWD_METHODS.get(current) == wanted
    return current == wanted


def format_line(key, value):
    """The line pw writes for ``key``: ``minuid = 1000``, ``defaultpasswd = "no"``."""
    return f"{key} = {value}" if key in NUMERIC else f'{key} = "{value}"'


def _inline_comment(line):
    """The comment ending ``line`` (``  # our range``, with the blanks before it), or "".  pw's parser stops at
    the value's token and never reads the rest, so an administrator may annotate a line; a rewritten line
    keeps it."""
    for index, char in enumerate(line):
        if char == "#" and index and line[index - 1] in " \t" and parse_line(line[:index]) == parse_line(line):
            start = len(line[:index].rstrip(" \t"))
            return line[start:]
    return ""


def set_values(text, values):
    """Set ``values`` (``{key: value}``, keys from :data:`GROUPS`) in pw.conf ``text``.

    ``text`` is ``None`` for a file that does not exist yet.  Returns ``(new_text, note)``.
    """
    if text is None:
        lines, trailing = list(HEADER), True
    else:
        lines, trailing = split_lines(text)
    notes = []
    last_line = {}  # key -> index of its last line
    for index, line in enumerate(lines):
        parsed = parse_line(line)
        if parsed is None or parsed[0] not in values:
            continue
        key, current = parsed
        last_line[key] = index
        if not _same(key, current, values[key]):
            lines[index] = format_line(key, values[key]) + _inline_comment(line)
            notes.append(f"{key} {current if current is not None else '(empty)'} -> {values[key]}")
    inserts, tail = [], []  # (after index, lines) for keys joining their group; new groups for the end
    for comment, keys in GROUPS:
        missing = [k for k in keys if k in values and k not in last_line]
        if not missing:
            continue
        notes += [f"added {k} = {values[k]}" for k in missing]
        new = [format_line(k, values[k]) for k in missing]
        present = [last_line[k] for k in keys if k in last_line]
        if present:
            inserts.append((max(present), new))
        else:
            tail += ["", comment] + new
    for after, new in sorted(inserts, reverse=True):
        lines[after + 1:after + 1] = new
    if tail:
        lines += tail if lines else tail[1:]
        trailing = True
    return join_lines(lines, trailing), "created the file" if text is None else "; ".join(notes)
