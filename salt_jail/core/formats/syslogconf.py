"""syslog.conf(5): comment out the rule that copies errors to the console (seed step 4).

A jail has no console of its own, so the stock rule ``*.err;kern.warning;auth.notice;mail.crit  /dev/console``
is commented out in each prisoner.  The rule is found by its fields — selector and action, any blanks
between them — never by line number (it is line 7 in 14.x and line 8 in 13.x, whose file began with
``# $FreeBSD$``).  The only change is a ``#`` in front of that line; every other byte stays.

Only rules outside any filter block count: after a program (``!prog``), host (``+host``/``-host``) or
property (``:prop, op, "value"``) specification the same rule applies to that subset only and is left
alone.  As in syslogd, ``#!prog``, ``#+host``, ``#-host`` and ``#:prop`` are block specifications, not
comments, and ``*`` (``!*``, ``+*``, ``:*``) ends a block.
"""

from ..io.textedit import join_lines, split_lines

CONSOLE_SELECTOR = "*.err;kern.warning;auth.notice;mail.crit"
CONSOLE_ACTION = "/dev/console"


def _block_spec(stripped):
    """``(kind, spec)`` when the stripped line starts a filter block, else ``None``.

    Mirrors syslogd's parser: a ``#`` directly followed by ``!``, ``+``, ``-`` or ``:`` is not a comment;
    an empty spec or ``*`` ends the block (reported as ``"*"``).
    """
    body = stripped[1:] if stripped[:1] == "#" else stripped
    kind = {"!": "program", "+": "host", "-": "host", ":": "property"}.get(body[:1])
    if kind is None:
        return None
    value = body[1:].strip()
    return kind, (value if value and not value.startswith("*") else "*")


def _is_console_rule(text):
    return text.split() == [CONSOLE_SELECTOR, CONSOLE_ACTION]


def comment_console_rule(text):
    """Comment out the console rule in syslog.conf ``text``.  Returns ``(new_text, note)``.

    Already commented or absent: the text comes back unchanged and the note says which.
    """
    lines, trailing = split_lines(text)
    filters = {}
    commented, already, in_block = [], [], []
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        spec = _block_spec(stripped)
        if spec is not None:
            kind, value = spec
            if value == "*":
                filters.pop(kind, None)
            else:
                filters[kind] = value
            continue
        if stripped.startswith("#"):
            if _is_console_rule(stripped.lstrip("#")):
                already.append(number)
            continue
        if _is_console_rule(stripped):
            if filters:
                in_block.append(number)
            else:
                lines[number - 1] = "#" + line
                commented.append(number)
    rule = f"`{CONSOLE_SELECTOR} {CONSOLE_ACTION}`"
    if commented:
        note = f"commented out the console rule {rule} (line {', '.join(map(str, commented))})"
    elif already:
        note = f"the console rule is already commented out (line {', '.join(map(str, already))})"
    elif in_block:
        where = ", ".join(map(str, in_block))
        note = f"no console rule {rule} outside a program/host/property block (only at line {where})"
    else:
        note = f"no console rule {rule} in the file; nothing to comment out"
    return join_lines(lines, trailing), note
