"""hosts(5): map each prisoner address to its FQDN and short name (seed step 6).

Each address gets one line ``<address><TAB><TAB><fqdn> <short>``, the layout of the examples in FreeBSD's
own /etc/hosts.  Lines are matched by their fields, never by position:

* a line for one of the prisoner's addresses (compared as addresses, so ``::1`` equals ``0:0::1``) is that
  address's line: the first one becomes the wanted line — kept byte for byte when its fields already
  match — and further ones are dropped;
* a line for any other address that lists the prisoner's FQDN or short name (compared case-insensitively)
  is stale: those names are removed from it, and the line is dropped when no name is left;
* every other line and every comment stays as it is.

A missing address line takes the place of the first stale line dropped, or is appended at the end.
"""

import ipaddress

from ..io.textedit import join_lines, split_lines


def _address(text):
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return text.lower()


def _fields(line):
    """``(address, names, comment)`` of a hosts line, or ``None`` for a blank or comment-only line."""
    content, hashmark, comment = line.partition("#")
    fields = content.split()
    if len(fields) < 2:
        return None
    return fields[0], fields[1:], hashmark + comment


def set_addresses(text, addresses, fqdn, shortname=None):
    """Make ``text`` map every address in ``addresses`` to ``fqdn`` (and ``shortname``).

    Returns ``(new_text, note)``; the note lists what was added, replaced or removed.
    """
    names = [fqdn] + ([shortname] if shortname and shortname.lower() != fqdn.lower() else [])
    ours = {n.lower() for n in names}
    wanted = {_address(a): a for a in addresses}
    lines, trailing = split_lines(text)
    out, placed, notes = [], set(), []
    slot = None  # where the first fully stale line was
    for line in lines:
        parsed = _fields(line)
        if parsed is None:
            out.append(line)
            continue
        address, line_names, comment = parsed
        key = _address(address)
        if key in wanted:
            if key in placed:
                notes.append(f"removed duplicate line for {address}")
            elif [n.lower() for n in line_names] == [n.lower() for n in names]:
                out.append(line)
                placed.add(key)
            else:
                out.append(_line(wanted[key], names))
                placed.add(key)
                notes.append(f"replaced stale line for {address}")
            continue
        stale = [n for n in line_names if n.lower() in ours]
        if not stale:
            out.append(line)
            continue
        kept = [n for n in line_names if n.lower() not in ours]
        if kept:
            out.append(_line(address, kept) + (" " + comment if comment else ""))
            notes.append(f"removed {' '.join(stale)} from the line for {address}")
        else:
            if slot is None:
                slot = len(out)
            notes.append(f"removed stale line for {address}")
    missing = [_line(a, names) for key, a in wanted.items() if key not in placed]
    if missing:
        notes.append("added " + ", ".join(wanted[k] for k in wanted if k not in placed))
        if slot is None:
            out.extend(missing)
            trailing = True
        else:
            out[slot:slot] = missing
    return join_lines(out, trailing), "; ".join(notes)


def _line(address, names):
    return f"{address}\t\t{' '.join(names)}"
