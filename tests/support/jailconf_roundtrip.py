"""Round trips of jail.conf that can fail: through the parsed statements, and against the rehearsal's reader.

``Document.render()`` returns the text it was given, so "parses and renders byte-identical" holds even for a
parser that returns no statement at all.  These helpers check what the parser *understood*:

* :func:`canonical` writes a document again from its parsed statements alone (names, operators, decoded
  strings, references), never from the stored text; parsing that must give the same statements
  (:func:`shape`) and the same parameters for every jail;
* :func:`standin_params` reads a file with the rehearsal ``jail`` stand-in's own reader
  (:mod:`salt_jail.rehearsal.jailcfg`, written separately from usr.sbin/jail's jaillex.l, jailparse.y and
  config.c) in the product's value model, to compare with :func:`salt_jail.core.formats.jailconf.effective_params`.
"""

import re

from salt_jail.core.formats import jailconf
from salt_jail.rehearsal import jailcfg

_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")


def _literal(text):
    """``text`` inside double quotes, escaped so that jaillex.l reads it back unchanged."""
    out = []
    for char in text:
        if char in '"\\$':
            out.append("\\" + char)
        elif char in "\n\t\r":
            out.append({"\n": "\\n", "\t": "\\t", "\r": "\\r"}[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\{ord(char):03o}")
        else:
            out.append(char)
    return "".join(out)


def _string(string):
    body = "".join(_literal(p) if isinstance(p, str) else "${" + p.name + "}" for p in string.pieces)
    return f'"{body}"'


def _name(param):
    if param.variable:
        return "$" + param.name if _VAR_NAME.fullmatch(param.name) else "${" + param.name + "}"
    return f'"{_literal(param.name)}"'


def canonical(statements, indent=""):
    """jail.conf text written from ``statements``' parsed fields only, one statement a line."""
    lines = []
    for st in statements:
        if isinstance(st, jailconf.Block):
            lines.append(f'{indent}"{_literal(st.label)}" {{')
            lines.append(canonical(st.body, indent + "    ").rstrip("\n"))
            lines.append(f"{indent}}}")
        elif isinstance(st, jailconf.Include):
            lines.append(f"{indent}.include " + ", ".join(f'"{_literal(p)}"' for p in st.patterns) + ";")
        else:
            value = ", ".join(_string(s) for s in st.strings)
            op = {None: "", "": " ", "=": " = ", "+=": " += "}[st.op]
            lines.append(f"{indent}{_name(st)}{op}{value};")
    return "\n".join(line for line in lines if line) + "\n"


def shape(statements):
    """What the parser understood of ``statements``, without any source text: blocks with their labels and
    bodies, includes with their patterns, parameters with name, kind, operator and each string's pieces."""
    out = []
    for st in statements:
        if isinstance(st, jailconf.Block):
            out.append(("block", st.name, shape(st.body)))
        elif isinstance(st, jailconf.Include):
            out.append(("include", st.patterns))
        else:
            out.append(("param", st.name, st.variable, st.op,
                        [tuple(p if isinstance(p, str) else ("ref", p.name) for p in s.pieces) for s in st.strings]))
    return out


def product_params(text, filename, read):
    """``{jail: effective parameters}`` of ``text`` with the product's reader."""
    doc = jailconf.parse(text, filename)
    return {jail: jailconf.effective_params(doc, jail, read=read) for jail in jailconf.defined_jails(doc, read=read)}


def _bool_word(values):
    if not values:
        return True
    return {"true": True, "false": False}.get(values[-1].lower()) if len(values) == 1 else None


def standin_params(text, filename, read):
    """``{jail: parameters}`` of ``text`` read by the rehearsal's jail(8) reader, in the product's value
    model: a valueless ``name;`` is True, a ``no`` name False, a single true/false a boolean, else the list."""
    out = {}
    for jail in jailcfg.load(text, filename, read):
        assert jail.errors == [], (jail.name, jail.errors)
        params = {}
        for name, values in jail.params:
            head, dot, last = name.rpartition(".")
            word = _bool_word(values)
            if last.startswith("no") and len(last) > 2 and word is not None:
                params[f"{head}{dot}{last[2:]}"] = not word
            elif word is not None and (not values or name not in ("name", "jid")):
                params[name] = word
            else:
                params[name] = list(values)
        out[jail.name] = params
    return out
