"""The system crontab (crontab(5), /etc/crontab): comment out ``adjkerntz -a`` (seed step 5).

adjkerntz(8) keeps the kernel's idea of a local-time CMOS clock in step across DST changes.  Jails share
the host's kernel clock and may not set it (rc.d/adjkerntz is ``KEYWORD: nojail``), so the entry is
useless in a prisoner and is commented out there.

An entry of the system crontab is five time fields (or one ``@`` keyword such as ``@daily``), the user,
and the command.  The entry is found by its command — ``adjkerntz -a``, also written
``/sbin/adjkerntz -a`` — whatever its schedule, user or blanks; the only change is a ``#`` in front of
its line, so every other line (including FreeBSD's space-before-command save-entropy line) is untouched.
"""

import posixpath

from ..io.textedit import join_lines, split_lines

ADJKERNTZ = ("adjkerntz", "-a")


def _command(line):
    """The command words of a crontab entry line, or ``None`` for anything that is not an entry."""
    fields = line.split()
    if not fields or "=" in fields[0] or (len(fields) > 1 and fields[1].startswith("=")):
        return None  # blank line or environment assignment (NAME=value, NAME = value)
    time_fields = 1 if fields[0].startswith("@") else 5
    command = fields[time_fields + 1:]  # after the time fields and the user
    return command or None


def _is_adjkerntz(command):
    return command is not None and (posixpath.basename(command[0]),) + tuple(command[1:]) == ADJKERNTZ


def comment_adjkerntz(text):
    """Comment out every active ``adjkerntz -a`` entry of crontab ``text``.  Returns ``(new_text, note)``."""
    lines, trailing = split_lines(text)
    commented, already = [], []
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith("#"):
            if _is_adjkerntz(_command(stripped.lstrip("#"))):
                already.append(number)
        elif _is_adjkerntz(_command(stripped)):
            lines[number - 1] = "#" + line
            commented.append(number)
    if commented:
        note = f"commented out the `adjkerntz -a` entry (line {', '.join(map(str, commented))})"
    elif already:
        note = f"the `adjkerntz -a` entry is already commented out (line {', '.join(map(str, already))})"
    else:
        note = "no `adjkerntz -a` entry in the file; nothing to comment out"
    return join_lines(lines, trailing), note
