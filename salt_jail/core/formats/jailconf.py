"""jail.conf(5): a lossless parser, a canonical renderer, an in-place editor and jail(8)'s own evaluation.

The grammar is jail(8)'s, not a guess from the man page.  The lexer mirrors FreeBSD 14's
``usr.sbin/jail/jaillex.l`` rule for rule (flex longest match, the ``DQ`` start condition for
variables inside double quotes, ``text2lval()`` escape handling).  The grammar mirrors
``usr.sbin/jail/jailparse.y``, and :func:`effective_params` mirrors ``load_config()`` and
``add_param()`` in ``usr.sbin/jail/config.c``.  In short:

* Statements: ``name;``, ``name = v, v;``, ``name += v;`` and ``name v;`` (no ``=``), where the
  name is one word or a quoted string, and ``$var`` instead of a name defines a variable.
  ``name { ... }`` is a jail block.  Blocks may nest: ``web { app { } }`` defines ``web.app``.
  Stray ``;`` are allowed.  ``.include "glob";`` (the ``name v`` form) reads other files, also
  inside a block, where the included parameters belong to that block.
* A value is a comma list of strings.  A string is pieces written without whitespace between
  them: bare words, ``'single'`` and ``"double"`` quoted strings, backslash escapes, and ``$var``
  or ``${param}`` references.  ``"a"'b'c`` is the one string ``abc``.
* Bare words are ``[A-Za-z0-9_!%&()\\-.:<>?@[]^`|~]`` runs, plus the single characters
  ``$ * + / \\``.  So ``/usr/local`` is fine bare, but ``//`` and ``/*`` start comments.
* Escapes (``\\n``, ``\\t``, octal ``\\101``, hex ``\\x41``, ``\\<newline>`` to continue a line,
  ``\\`` + anything else for that character) work in bare words and in both kinds of quotes.
  Variables are substituted in bare words and double quotes, never in single quotes.
* Comments (``#``, ``//``, ``/* */``) may go wherever whitespace may.

Two consequences that differ from a casual reading of jail.conf(5):

* A name is a single lexer token, so an unquoted partial wildcard ``foo.* {`` is a syntax
  error in jail(8) (``foo.`` and ``*`` are two tokens).  Write ``"foo.*" {``.
* Top-level parameters form ONE pseudo-jail ``*``, placed where the first top-level parameter
  appears.  A top-level parameter written after a jail block therefore does not override that
  block (jailparse.y ``global_jail``).  ``*`` sections are ordinary wildcard jails: one placed
  after a jail overrides it.

Value model (:attr:`Param.value`): ``True`` for a bare boolean (``persist;``), ``False`` for the
``no`` prefix (``allow.nomount;`` is ``allow.mount`` = ``False``) or a value of ``false``, otherwise a
list of strings.  Like jail(8), a single value ``true``/``false`` (any case, quoted or not) is a
boolean.  References stay as written (``"/jails/$name"``).

Rendering (:func:`render_value`) is bare only for ``[A-Za-z0-9._-]+``.  Everything else is
double-quoted, with a backslash before ``"``, ``\\`` and ``$``, ``\\n``/``\\t``/``\\r`` for those
characters, and a three-digit octal escape for other control characters.  This round-trips under
jail(8)'s own rules.  Inside double quotes, jaillex.l's string rule consumes every backslash
together with the next character, so ``\\"`` never ends the string.  ``text2lval()`` handles a
backslash before it looks for ``$``, so ``\\$`` is a literal dollar and never starts a variable.
A three-digit octal escape cannot absorb a following digit.  NUL cannot be written (jail(8)
keeps strings as C strings), so it is refused.

Editing keeps the file's own bytes.  :class:`Document` holds the exact text, and every
statement records its span.  :meth:`Document.set_block` and :meth:`Document.remove_block` splice
one block's lines, and the text is parsed again.
"""

import bisect
import dataclasses
import fnmatch as _fnmatch
import functools
import glob as _glob
import os
import posixpath
import re

from ..errors import JailprovError, ParseError, ValidationError

__all__ = [
    "Block", "Document", "Include", "Param", "Ref", "Str",
    "defined_jails", "effective_params", "fs_reader", "parse", "render_block", "render_value",
]

#: Values written without quotes: what jail.conf(5) says needs no quoting.
_BARE_RE = re.compile(r"[A-Za-z0-9._-]+")
#: Parameter names render_block accepts (the pillar model uses the same rule).
_PARAM_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_INDENT = "    "
#: glob(3) sets GLOB_MAGCHAR for these; jail(8) then accepts a pattern matching nothing.
_GLOB_MAGIC = "*?["
_MAX_INCLUDE_DEPTH = 32  # config.c MAX_INCLUDE_DEPTH

# ---------------------------------------------------------------------------------------------
# Syntax tree


@dataclasses.dataclass(frozen=True)
class Ref:
    """A ``$name`` or ``${name}`` reference inside a string. ``raw`` is the text as written."""

    name: str
    raw: str


@dataclasses.dataclass(frozen=True)
class Str:
    """One string of a value: literal text (escapes decoded) and :class:`Ref` pieces, in order."""

    pieces: tuple
    raw: str

    @property
    def text(self):
        """The decoded string with references as written (``"/jails/$name"``)."""
        return "".join(p if isinstance(p, str) else p.raw for p in self.pieces)

    @property
    def refs(self):
        """Names of the variables and parameters this string refers to."""
        return tuple(p.name for p in self.pieces if isinstance(p, Ref))


@dataclasses.dataclass(frozen=True)
class Param:
    """A parameter or variable statement.

    ``name`` is decoded and, for a variable, has no ``$``.  ``op`` is ``"="``, ``"+="``, ``""``
    (the ``name value;`` form) or ``None`` (valueless: ``persist;``).
    """

    name: str
    variable: bool
    op: object
    strings: tuple
    raw: str
    start: int
    end: int
    line: int
    column: int

    @property
    def key(self):
        """Canonical name: ``allow.mount`` for ``allow.nomount;``, ``$var`` for a variable."""
        if self.variable:
            return "$" + self.name
        return _model(self.name, [s.text for s in self.strings])[0]

    @property
    def value(self):
        """``True``, ``False`` or a list of strings (see the module docstring)."""
        return _model(self.name, [s.text for s in self.strings])[1]


@dataclasses.dataclass(frozen=True)
class Include:
    """``.include "pattern", ...;``: files (globs) jail(8) reads at this point."""

    patterns: tuple
    raw: str
    start: int
    end: int
    line: int
    column: int


@dataclasses.dataclass(frozen=True)
class Block:
    """A jail block. ``name`` is the full name (``web.app`` for ``app`` nested in ``web``)."""

    name: str
    label: str
    body: tuple
    nested: bool
    raw: str
    start: int
    end: int
    line: int
    column: int


# ---------------------------------------------------------------------------------------------
# Lexer (jaillex.l)

_WS_RE = re.compile(r"[ \t\r\n]+")
_LINE_COMMENT_RE = re.compile(r"(?:#|//)[^\n]*")
_C_COMMENT_RE = re.compile(r"/\*(?:[^*]|\*+[^*/])*\*+/")
_ATOM_RE = re.compile(r"[A-Za-z0-9_!%&()\-.:<>?@\[\]^`|~]+")
_ESCAPE_RE = re.compile(r"\\(?:[0-7]{1,3}|x[0-9A-Fa-f]{1,2}|[\s\S])")
_SQ_RE = re.compile(r"'(?:[^'\\]|\\[\s\S])*'")
_DQ_RE = re.compile(r'"(?:[^"\\]|\\[\s\S])*"')
_VAR_RE = re.compile(r"\$[A-Za-z_][A-Za-z_0-9]*")
_VAR_BRACED_RE = re.compile(r"\$\{(?:\\[\s\S]|[^\n{}])*\}")
_DQ_VAR_BRACED_RE = re.compile(r'\$\{(?:\\[\s\S]|[^\n"{}])*\}')
_C_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11}


@dataclasses.dataclass(frozen=True)
class _Token:
    kind: str  # STR STR1 VAR VAR1 PLEQ = , ; { } CHAR EOF
    value: object  # bytes for STR*, the name for VAR*, the character otherwise
    start: int
    end: int
    raw: str  # the source text


def _unescape(text, start, end, tovar):
    """jaillex.l ``text2lval()``: decode text[start:end] into bytes.

    With ``tovar`` it stops at the first unescaped ``$`` and also returns that offset (else
    ``None``).  Like the C code, a NUL produced by an escape ends the token's string.
    """
    out = bytearray()
    i = start
    stop = None
    while i < end:
        c = text[i]
        if c != "\\":
            if tovar and c == "$":
                stop = i
                break
            out += c.encode("utf-8", "surrogateescape")
            i += 1
            continue
        c = text[i + 1] if i + 1 < end else "\0"
        i += 2
        if "0" <= c <= "7":
            code = ord(c) - 48
            for _ in range(2):
                if i < end and "0" <= text[i] <= "7":
                    code = code * 8 + ord(text[i]) - 48
                    i += 1
            out.append(code & 0xFF)
        elif c in _C_ESCAPES:
            out.append(_C_ESCAPES[c])
        elif c == "x":
            code = 0
            for _ in range(2):
                if i < end and text[i] in "0123456789abcdefABCDEF":
                    code = code * 16 + int(text[i], 16)
                    i += 1
            out.append(code)
        elif c != "\n":  # backslash-newline continues the line and yields nothing
            out += c.encode("utf-8", "surrogateescape")
    return bytes(out).split(b"\0", 1)[0], stop


class _Lexer:
    """Yields :class:`_Token` objects exactly as jaillex.l would, then one EOF token."""

    def __init__(self, text, fail):
        self.text = text
        self.fail = fail  # fail(offset, message) -> ParseError
        self.instr = False  # jaillex.l ``instr``: the next piece is glued to the previous one

    def _token(self, kind, value, start, end):
        return _Token(kind, value, start, end, self.text[start:end])

    def _piece(self, value, start, end, var=False):
        kind = ("VAR" if var else "STR") + ("1" if self.instr else "")
        self.instr = True
        return self._token(kind, value, start, end)

    def tokens(self):
        """Tokens in file order; whitespace and comments only end the current string."""
        text, pos, n = self.text, 0, len(self.text)
        while pos < n:
            c = text[pos]
            two = text[pos:pos + 2]
            if two == "/*":
                match = _C_COMMENT_RE.match(text, pos)
                if not match:
                    raise self.fail(pos, "unterminated comment (no closing '*/')")
                pos = match.end()
                self.instr = False
            elif c in " \t\r\n#" or two == "//":
                pos = (_WS_RE if c in " \t\r\n" else _LINE_COMMENT_RE).match(text, pos).end()
                self.instr = False
            elif two == "+=" or c in ",;={}":
                size = 2 if two == "+=" else 1
                self.instr = False
                yield self._token("PLEQ" if size == 2 else c, text[pos:pos + size], pos, pos + size)
                pos += size
            else:
                for token in self._pieces(pos):
                    yield token
                    pos = token.end
        yield self._token("EOF", "", n, n)

    def _pieces(self, pos):
        """The string piece(s), or the unexpected character, at ``pos``."""
        text, c = self.text, self.text[pos]
        if c == '"':
            match = _DQ_RE.match(text, pos)
            if not match:
                raise self.fail(pos, "unterminated string (no closing '\"')")
            return self._double_quoted(pos, match.end())
        if c == "'":
            match = _SQ_RE.match(text, pos)
            if not match:
                raise self.fail(pos, "unterminated string (no closing \"'\")")
            return [self._piece(_unescape(text, pos + 1, match.end() - 1, False)[0], pos, match.end())]
        if c == "$":
            return [self._variable(pos, _VAR_BRACED_RE)]
        if c == "\\":
            match = _ESCAPE_RE.match(text, pos)
            end = match.end() if match else pos + 1
            return [self._piece(_unescape(text, pos, end, False)[0], pos, end)]
        if c in "*+/":
            return [self._piece(c.encode(), pos, pos + 1)]
        match = _ATOM_RE.match(text, pos)
        if match:
            return [self._piece(match.group().encode(), pos, match.end())]
        return [self._token("CHAR", c, pos, pos + 1)]

    def _variable(self, pos, braced_re):
        """``$name``, ``${name}``, or a lone ``$`` that stands for itself."""
        text = self.text
        match = braced_re.match(text, pos)
        if match:
            name = _unescape(text, pos + 2, match.end() - 1, False)[0]
            return self._piece(name.decode("utf-8", "surrogateescape"), pos, match.end(), var=True)
        if text.startswith("${", pos):
            raise self.fail(pos, "unterminated variable (no closing '}')")
        match = _VAR_RE.match(text, pos)
        if match:
            return self._piece(match.group()[1:], pos, match.end(), var=True)
        return self._piece(b"$", pos, pos + 1)

    def _double_quoted(self, pos, end):
        """A double-quoted string: one piece, or several when it holds variables (``DQ`` state)."""
        text = self.text
        close = end - 1
        value, stop = _unescape(text, pos + 1, close, True)
        tokens = [self._piece(value, pos, close if stop is None else stop)]
        cur = stop
        while cur is not None and cur < close:
            if text[cur] == "$":
                token = self._variable(cur, _DQ_VAR_BRACED_RE)
            elif text[cur] == "\\":
                stop = _ESCAPE_RE.match(text, cur).end()
                token = self._piece(_unescape(text, cur, stop, False)[0], cur, stop)
            else:
                value, stop = _unescape(text, cur, close, True)
                token = self._piece(value, cur, close if stop is None else stop)
            tokens.append(token)
            cur = token.end
        tokens[-1] = dataclasses.replace(tokens[-1], end=end)  # its span takes the closing quote
        return tokens


# ---------------------------------------------------------------------------------------------
# Parser (jailparse.y)


def _shorten(text, limit=40):
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _describe(token):
    if token.kind == "EOF":
        return "end of file"
    if token.kind == "CHAR":
        return f"the character {token.value!r} (only allowed inside quotes)"
    return "'" + _shorten(token.raw) + "'"


class _Parser:
    """Recursive descent over jailparse.y's grammar, keeping every statement's source span."""

    def __init__(self, text, filename):
        self.text = text
        self.filename = filename
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self._tokens = _Lexer(text, self.fail).tokens()
        self.tok = next(self._tokens)

    def position(self, offset):
        """1-based (line, column) of a character offset."""
        line = bisect.bisect_right(self._line_starts, offset)
        return line, offset - self._line_starts[line - 1] + 1

    def fail(self, offset, message):
        line, column = self.position(offset)
        return ParseError(message, self.filename, line, column)

    def advance(self):
        token, self.tok = self.tok, next(self._tokens)
        return token

    def statements(self, block=None):
        """``conf``: statements up to EOF (top level) or up to the block's ``}`` (not consumed).

        ``block`` is ``(full name, line)`` of the enclosing block.
        """
        items = []
        while True:
            tok = self.tok
            if tok.kind == "EOF":
                if block is not None:
                    raise self.fail(tok.start, f"expected '}}' to close jail block \"{block[0]}\" "
                                               f"(opened on line {block[1]}), found end of file")
                return items
            if tok.kind == "}":
                if block is not None:
                    return items
                raise self.fail(tok.start, "unexpected '}': no jail block is open here")
            if tok.kind == ";":
                self.advance()
            elif tok.kind == "STR":
                name = self.advance()
                items.append(self.block(name, block) if self.tok.kind == "{" else self.param(name))
            elif tok.kind == "VAR":
                items.append(self.param(self.advance()))
            else:
                where = "a parameter, a jail block or '}'" if block else "a parameter or a jail block"
                raise self.fail(tok.start, f"expected {where}, found {_describe(tok)}")

    def block(self, name_tok, parent):
        label = name_tok.value.decode("utf-8", "surrogateescape")
        full = f"{parent[0]}.{label}" if parent else label
        line, column = self.position(name_tok.start)
        self.advance()  # '{'
        body = self.statements((full, line))
        close = self.advance()  # '}'
        return Block(full, label, tuple(body), parent is not None, self.text[name_tok.start:close.end],
                     name_tok.start, close.end, line, column)

    def param(self, name_tok):
        variable = name_tok.kind == "VAR"
        name = name_tok.value if variable else name_tok.value.decode("utf-8", "surrogateescape")
        nxt = self.tok
        if nxt.kind == ";":
            op, strings = None, []
        elif nxt.kind in ("=", "PLEQ"):
            op = self.advance().value
            if self.tok.kind not in ("STR", "VAR"):
                raise self.fail(self.tok.start, f"expected a value after '{op}', found {_describe(self.tok)}")
            strings = self.value()
        elif nxt.kind in ("STR", "VAR"):
            op, strings = "", self.value()
        elif nxt.kind in ("STR1", "VAR1"):
            raise self.fail(nxt.start, f"{_describe(nxt)} is glued to '{name_tok.raw}': a jail or parameter "
                                       f"name must be one word or one quoted string "
                                       f"(quote it: \"{name_tok.raw}{nxt.raw}\")")
        else:
            raise self.fail(nxt.start, f"expected '=', '+=', a value or ';' after '{name_tok.raw}', "
                                       f"found {_describe(nxt)}")
        if self.tok.kind != ";":
            last, _, last_end = strings[-1]
            line = self.position(self.tok.start)[0]
            raise self.fail(last_end, f"expected ';' after value {_shorten(last.raw)} "
                                      f"(found {_describe(self.tok)} on line {line})")
        semi = self.advance()
        line, column = self.position(name_tok.start)
        raw = self.text[name_tok.start:semi.end]
        if not variable and op == "" and name == ".include":
            for string, start, _ in strings:
                if string.refs:
                    raise self.fail(start, "variables not permitted in '.include' filename")
            return Include(tuple(s.text for s, _, _ in strings), raw, name_tok.start, semi.end, line, column)
        return Param(name, variable, op, tuple(s for s, _, _ in strings), raw, name_tok.start, semi.end,
                     line, column)

    def value(self):
        """``value``: one or more comma-separated strings, each as ``(Str, start, end)``."""
        strings = [self.string()]
        while self.tok.kind == ",":
            self.advance()
            if self.tok.kind not in ("STR", "VAR"):
                raise self.fail(self.tok.start, f"expected a value after ',', found {_describe(self.tok)}")
            strings.append(self.string())
        return strings

    def string(self):
        """``string``: a STR or VAR and the STR1/VAR1 pieces glued to it, as ``(Str, start, end)``."""
        tokens = [self.advance()]
        while self.tok.kind in ("STR1", "VAR1"):
            tokens.append(self.advance())
        pieces = []
        for token in tokens:
            if token.kind.startswith("VAR"):
                pieces.append(Ref(token.value, token.raw))
            elif pieces and isinstance(pieces[-1], bytes):
                pieces[-1] += token.value
            else:
                pieces.append(token.value)
        decoded = tuple(p.decode("utf-8", "surrogateescape") if isinstance(p, bytes) else p
                        for p in pieces if p != b"")
        start, end = tokens[0].start, tokens[-1].end
        return Str(decoded, self.text[start:end]), start, end


def parse(text, filename=None):
    """Parse jail.conf text into a :class:`Document`; ``Document.render()`` gives ``text`` back.

    Raises :class:`ParseError` (file, line, column and what was expected) where jail(8) would
    report a syntax error.
    """
    return Document(text, filename, _statements(text, filename))


@functools.lru_cache(maxsize=16)
def _statements(text, filename):
    """The parsed statements of ``text``, memoized: they are frozen, and a highstate reads the same
    jail.conf once per prisoner and step (without the cache a rerun is quadratic in the number of jails)."""
    return tuple(_Parser(text, filename).statements())


# ---------------------------------------------------------------------------------------------
# Rendering


def render_value(value):
    """One jail.conf string for ``value``: bare when only ``[A-Za-z0-9._-]``, else double-quoted.

    The result parses back to exactly ``value``, with no variable substitution (see the module
    docstring for why).  Raises :class:`ValidationError` for NUL or text that is not valid
    Unicode (lone surrogates).
    """
    if not isinstance(value, str):
        raise ValidationError(f"jail.conf value must be a string, got {type(value).__name__}")
    if _BARE_RE.fullmatch(value):
        return value
    out = ['"']
    for ch in value:
        code = ord(ch)
        if ch in '"\\$':
            out.append("\\" + ch)
        elif ch in "\n\t\r":
            out.append({"\n": "\\n", "\t": "\\t", "\r": "\\r"}[ch])
        elif code == 0:
            raise ValidationError(f"jail.conf value {value!r} contains NUL, which jail(8) cannot represent")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\{code:03o}")
        elif 0xD800 <= code <= 0xDFFF:
            raise ValidationError(f"jail.conf value {value!r} is not valid Unicode text")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _render_param(key, value, errors):
    """``key = value;`` for render_block, or ``None`` after adding to ``errors``."""
    if not isinstance(key, str) or not _PARAM_NAME_RE.fullmatch(key):
        errors.append(f"{key!r} is not a jail.conf parameter name (expected e.g. allow.raw_sockets)")
        return None
    if value is True:
        return f"{key};"
    if value is False:
        return f"{key} = false;"
    items = value if isinstance(value, (list, tuple)) else [value]
    rendered = []
    for item in items:
        if isinstance(item, int) and not isinstance(item, bool):
            rendered.append(str(item))
        elif isinstance(item, str):
            try:
                rendered.append(render_value(item))
            except ValidationError as err:
                errors.append(f"{key}: {err}")
                return None
        else:
            errors.append(f"{key}: expected true/false, a number, a string or a list of strings, "
                          f"got {value!r}")
            return None
    if not rendered:
        errors.append(f"{key}: an empty list cannot be written to jail.conf")
        return None
    return f"{key} = {', '.join(rendered)};"


def render_block(name, params):
    """The canonical text of one jail block, ending with a newline.

    ``params`` is an ordered list of ``(param_name, value)``; a value is ``True`` (``name;``),
    ``False`` (``name = false;``), an int, a string or a list of strings/ints (``a, b``).
    Raises :class:`ValidationError` listing every bad name or value.
    """
    errors = []
    head = None
    if not isinstance(name, str) or not name:
        errors.append(f"jail name must be a non-empty string, got {name!r}")
    else:
        try:
            head = render_value(name)
        except ValidationError as err:
            errors.append(f"jail name: {err}")
    body = [_render_param(key, value, errors) for key, value in params]
    if errors:
        raise ValidationError(errors)
    return "".join([f"{head} {{\n", *(f"{_INDENT}{line}\n" for line in body), "}\n"])


# ---------------------------------------------------------------------------------------------
# Document and editing


def _walk(statements):
    """Every block, depth first, in file order (jail(8) creates parents before children)."""
    for statement in statements:
        if isinstance(statement, Block):
            yield statement
            yield from _walk(statement.body)


def wild_jail_name(name):
    """config.c ``wild_jail_name()``: some dot-separated component is exactly ``*``."""
    return "*" in name.split(".")


class Document:
    """A parsed jail.conf: its exact text plus the statements in it (build it with :func:`parse`).

    Edits change the text and parse it again, so :meth:`render` always returns the current
    file and every byte outside the edited block is kept.
    """

    def __init__(self, text, filename, statements):
        self.filename = filename
        self._text = text
        self.statements = statements

    def render(self):
        """The file's text (byte for byte the parsed text when nothing was changed)."""
        return self._text

    def blocks(self):
        """Every jail block (including ``*`` sections and nested blocks) in file order."""
        return list(_walk(self.statements))

    def jails(self):
        """Names of the jails this file defines, in order; wildcard sections are left out."""
        return [b.name for b in _walk(self.statements) if not wild_jail_name(b.name)]

    def block(self, name):
        """The statements of jail block ``name``, or ``None`` when the file has no such block."""
        found = self._find(name)
        return None if found is None else found.body

    def set_block(self, name, params):
        """Make block ``name`` read :func:`render_block(name, params) <render_block>`.

        An existing block is replaced in place: its whole lines when nothing else shares them,
        otherwise just its own text; the administrator's comments in it stay (:meth:`_keep_comments`).
        A missing block is added at the end, after one blank line.  Returns ``True`` when the text changed.
        """
        new = render_block(name, params)
        found = self._find(name, editing=True)
        if found is None:
            return self._update(self._appended(new))
        new = self._keep_comments(found, [key for key, _value in params], new)
        text = self._text
        start, end, _ = self._line_span(found)
        if not text[start:end].endswith("\n"):
            new = new[:-1]  # something else follows the '}' on its line, or the file ends there
        return self._update(text[:start] + new + text[end:])

    def set_blocks(self, blocks):
        """:meth:`set_block` for each ``(name, params)`` of ``blocks``, in order; returns ``True`` when the text
        changed.  When none of them is in the file yet (a first highstate adds every prisoner's block) they are
        appended and the text is parsed once, not once per block."""
        blocks = list(blocks)
        names = [name for name, _params in blocks]
        existing = {b.name for b in _walk(self.statements)}
        if len(set(names)) < len(names) or existing.intersection(names):
            return any([self.set_block(name, params) for name, params in blocks])
        text = self._text
        for name, params in blocks:
            text = self._appended(render_block(name, params), text)
        return self._update(text)

    def _keep_comments(self, found, keys, new):
        """``new`` (a rendered block, one line per key of ``keys``) with the comments of block ``found``: a
        comment line stays before the parameter that followed it, a comment ending a parameter's line stays at
        the end of that parameter's line; comments of parameters that are gone, and those before the closing
        brace, go before the closing brace."""
        text = self._text
        open_at = text.find("{", found.start)
        close_at = found.end - 1
        if open_at < 0 or close_at <= open_at:
            return new
        params = [s for s in found.body if isinstance(s, Param)]
        leading, trailing, pending = {}, {}, []
        offset = open_at + 1
        for line in text[open_at + 1:close_at].split("\n"):
            end = offset + len(line)
            stripped = line.strip()
            on_line = [p for p in params if offset <= p.start < end]
            if on_line:
                key = on_line[0].key
                leading.setdefault(key, []).extend(pending)
                pending = []
                rest = text[on_line[-1].end:end].strip() if on_line[-1].end <= end else ""
                if rest.startswith(("#", "//")):
                    trailing[key] = rest
            elif stripped.startswith(("#", "//")):           # line comments: safe to move whole
                pending.append(stripped)
            offset = end + 1
        if not (leading or trailing or pending):
            return new
        lines = new.split("\n")
        head, body, tail = lines[0], lines[1:1 + len(keys)], lines[1 + len(keys):]
        out = [head]
        for key, line in zip(keys, body):
            out += [f"{_INDENT}{c}" for c in leading.pop(key, [])]
            out.append(f"{line} {trailing.pop(key)}" if key in trailing else line)
        rest = [c for cs in leading.values() for c in cs] + list(trailing.values()) + pending
        out += [f"{_INDENT}{c}" for c in rest]
        return "\n".join(out + tail)

    def remove_block(self, name):
        """Remove block ``name`` and the blank line before it (the one :meth:`set_block` adds).

        Nothing else is removed; a block at the top of the file takes the blank line after it
        instead.  Returns ``True`` when the text changed.
        """
        found = self._find(name, editing=True)
        if found is None:
            return False
        text = self._text
        start, end, whole = self._line_span(found)
        if whole and start > 0:
            prev = text.rfind("\n", 0, start - 1) + 1
            if not text[prev:start].strip():
                start = prev
        elif whole:
            newline = text.find("\n", end)
            if newline != -1 and not text[end:newline].strip():
                end = newline + 1
        return self._update(text[:start] + text[end:])

    def has_include(self, pattern):
        """Whether a top-level ``.include`` names exactly ``pattern`` (includes inside a block
        belong to that block and do not count)."""
        return any(isinstance(s, Include) and pattern in s.patterns for s in self.statements)

    def ensure_include(self, pattern):
        """Add ``.include "pattern";`` at the end unless :meth:`has_include`. Returns whether it changed."""
        if self.has_include(pattern):
            return False
        quoted = render_value(pattern)
        if not quoted.startswith('"'):
            quoted = f'"{quoted}"'
        return self._update(self._appended(f".include {quoted};\n"))

    def _find(self, name, editing=False):
        """The one block named ``name`` (or ``None``); refuses duplicates, and nested blocks when editing."""
        matches = [b for b in _walk(self.statements) if b.name == name]
        where = self.filename or "jail.conf"
        if len(matches) > 1:
            lines = ", ".join(str(b.line) for b in matches)
            raise JailprovError(f"{where}: jail \"{name}\" is defined {len(matches)} times (lines {lines}); "
                                f"merge them by hand, salt_jail will not guess which one to edit")
        found = matches[0] if matches else None
        if editing and found is not None and found.nested:
            raise JailprovError(f"{where}:{found.line}: jail \"{name}\" is a block nested in another "
                                f"block; salt_jail only edits top-level blocks")
        return found

    def _line_span(self, block):
        """``(start, end, whole)``: the block's span, widened over the blanks that share its first
        line and the rest of its last line (through the newline) when that is blank."""
        text = self._text
        start, end = block.start, block.end
        line_start = text.rfind("\n", 0, start) + 1
        newline = text.find("\n", end)
        line_end = len(text) if newline == -1 else newline + 1
        lead = not text[line_start:start].strip(" \t")
        trail = not text[end:line_end].strip()
        return (line_start if lead else start), (line_end if trail else end), lead and trail

    def _appended(self, chunk, text=None):
        """The text (or ``text``) with ``chunk`` added at the end, after one blank line."""
        text = self._text if text is None else text
        if text and not text.endswith("\n"):
            text += "\n"
        return text + ("\n" if text else "") + chunk

    def _update(self, text):
        if text == self._text:
            return False
        self.statements = parse(text, self.filename).statements
        self._text = text
        return True


# ---------------------------------------------------------------------------------------------
# Evaluation (config.c load_config)


def _strip_no(name):
    """``allow.mount`` for ``allow.nomount``; ``None`` when the last component has no ``no`` prefix."""
    head, dot, last = name.rpartition(".")
    if last.startswith("no") and len(last) > 2:
        return head + dot + last[2:]
    return None


def _model(name, texts):
    """(key, value) of a parameter in the value model, read the way jail(8)'s bool_param() does."""
    negated = _strip_no(name)
    if not texts:
        flag = True
    elif len(texts) == 1 and texts[0].lower() in ("true", "false"):
        flag = texts[0].lower() == "true"
    else:
        return name, list(texts)
    return (negated, not flag) if negated else (name, flag)


def equalopts(a, b):
    """config.c ``equalopts()``: the same parameter, with or without a ``no`` prefix."""
    def negations(x, y):
        return (x.startswith("no") and x[2:] == y) or (y.startswith("no") and x == y[2:])

    if a == b or negations(a, b):
        return True
    while "." in a:
        cut = a.index(".") + 1
        if a[:cut] != b[:cut]:
            return False
        a, b = a[cut:], b[cut:]
        if negations(a, b):
            return True
    return False


def wild_jail_match(jname, wname):
    """config.c ``wild_jail_match()``: a ``*`` component matches one component, a final one the rest."""
    while "." in jname and "." in wname:
        jhead, jname = jname.split(".", 1)
        whead, wname = wname.split(".", 1)
        if jhead != whead and whead != "*":
            return False
    return jname == wname or wname == "*"


#: jail(8)'s internal and well-known kernel parameters (config.c ``intparams``): a variable may
#: not share a name with one of them.
_KNOWN_PARAMS = (
    "allow.dying", "command", "depend", "exec.clean", "exec.consolelog", "exec.fib", "exec.jail_user",
    "exec.poststart", "exec.poststop", "exec.prepare", "exec.prestart", "exec.prestop", "exec.release",
    "exec.created", "exec.start", "exec.stop", "exec.system_jail_user", "exec.system_user",
    "exec.timeout", "interface", "ip_hostname", "mount", "mount.devfs", "mount.fdescfs", "mount.procfs",
    "mount.fstab", "stop.timeout", "vnet.interface", "zfs.dataset", "allow.chflags", "allow.mount",
    "allow.raw_sockets", "allow.set_hostname", "allow.socket_af", "allow.sysvipc", "devfs_ruleset",
    "host.hostname", "ip4.addr", "ip6.addr", "jid", "name", "path", "persist", "securelevel", "vnet",
)
#: Parameters jail(8) refuses to set twice for one jail (PF_IMMUTABLE).
_IMMUTABLE = ("jid", "name")


class _CfString:
    """A string being resolved: literal text plus ``(position, name)`` of each reference."""

    def __init__(self, text, refs=()):
        self.text = text
        self.refs = list(refs)

    @classmethod
    def from_str(cls, string):
        text, refs = "", []
        for piece in string.pieces:
            if isinstance(piece, Ref):
                refs.append((len(text), piece.name))
            else:
                text += piece
        return cls(text, refs)


class _CfParam:
    """config.c ``struct cfparam``: one parameter or variable of one jail."""

    def __init__(self, name, strings, variable=False, append=False, immutable=False):
        self.name = name
        self.strings = strings
        self.variable = variable
        self.append = append
        self.immutable = immutable
        self.gen = 0

    @classmethod
    def from_param(cls, param):
        return cls(param.name, [_CfString.from_str(s) for s in param.strings],
                   variable=param.variable, append=param.op == "+=")


@dataclasses.dataclass
class _CfJail:
    """config.c ``struct cfjail``: a jail (or wildcard) record and its statements, in order."""

    name: str
    where: str
    params: list


def _expand_include(pattern, including, read, depth):
    """The parsed files of one ``.include`` pattern, resolved like config.c ``include_config()``."""
    where = including or "jail.conf"
    if depth > _MAX_INCLUDE_DEPTH:
        raise JailprovError(f"{where}: maximum include depth ({_MAX_INCLUDE_DEPTH}) exceeded at "
                            f".include \"{pattern}\" (does a file include itself?)")
    if not pattern.startswith("/") and including and "/" in including:
        pattern = posixpath.join(posixpath.dirname(including), pattern)
    if read is None:
        raise JailprovError(f"{where}: cannot follow .include \"{pattern}\": no reader was given")
    files = sorted(read(pattern))
    if not files and not any(c in pattern for c in _GLOB_MAGIC):
        raise JailprovError(f"{where}: included file {pattern} does not exist")
    return [parse(text, filename) for filename, text in files]


def _collect(doc, read):
    """All jail records in jail(8)'s creation order: blocks, and the ``*`` pseudo-jail of top-level
    parameters, created where the first one appears (across included files too)."""
    jails = []
    top = []  # the pseudo-jail, once created

    def walk(statements, filename, current, depth):
        for st in statements:
            if isinstance(st, Block):
                jail = _CfJail(f"{current.name}.{st.label}" if current else st.label,
                               f"{filename or 'jail.conf'}:{st.line}", [])
                jails.append(jail)
                walk(st.body, filename, jail, depth)
            elif isinstance(st, Include):
                for pattern in st.patterns:
                    for included in _expand_include(pattern, filename, read, depth + 1):
                        walk(included.statements, included.filename, current, depth + 1)
            elif current is not None:
                current.params.append(st)
            else:
                if not top:
                    top.append(_CfJail("*", f"{filename or 'jail.conf'}:{st.line}", []))
                    jails.append(top[0])
                top[0].params.append(st)

    walk(doc.statements, doc.filename, None, 0)
    return jails


class _Collected:
    """:func:`_collect`'s records of one configuration, indexed: ``jails`` in creation order, ``by_name`` (the
    records of each name), ``wild`` (the positions of wildcard records), ``names`` (the non-wildcard names, in
    order).  Never changed once built: :func:`_evaluate` builds its own parameters from the records."""

    def __init__(self, jails):
        self.jails = jails
        self.by_name = {}
        for index, jail in enumerate(jails):
            self.by_name.setdefault(jail.name, []).append(index)
        self.wild = [index for index, jail in enumerate(jails) if wild_jail_name(jail.name)]
        self.names = [name for name in self.by_name if not wild_jail_name(name)]


#: The last configurations collected: ``{id(statements): (statements, filename, [(pattern, files read)], _Collected)}``.
_COLLECTED = {}
_COLLECTED_MAX = 16


def _collected(doc, read):
    """:func:`_collect` of ``doc``, indexed (:class:`_Collected`), kept for the same parsed text while every file
    its ``.include`` lines read reads the same again: a highstate evaluates the same jail.conf once per prisoner
    and step, and collecting it each time made every state cost in proportion to the number of jails."""
    key = id(doc.statements)
    kept = _COLLECTED.get(key)
    if (kept is not None and kept[0] is doc.statements and kept[1] == doc.filename
            and all(read is not None and sorted(read(pattern)) == files for pattern, files in kept[2])):
        return kept[3]
    reads = []

    def recording(pattern):
        files = sorted(read(pattern))
        reads.append((pattern, files))
        return files

    result = _Collected(_collect(doc, recording if read is not None else None))
    if len(_COLLECTED) >= _COLLECTED_MAX:
        _COLLECTED.pop(next(iter(_COLLECTED)))
    _COLLECTED[key] = (doc.statements, doc.filename, reads, result)
    return result


def _load(doc_or_path, read):
    if isinstance(doc_or_path, Document):
        return doc_or_path
    path = os.fspath(doc_or_path)
    if read is None:
        raise JailprovError(f"{path}: cannot read it: no reader was given")
    files = read(path)
    if not files:
        raise JailprovError(f"{path}: no such file")
    filename, text = files[0]
    return parse(text, filename)


def _fail(jail, message):
    return JailprovError(f"{jail.where}: jail \"{jail.name}\": {message}")


def _add(jail, params, param):
    """config.c ``add_param()``: add a parameter, or replace/append to the one it names."""
    existing = next((p for p in params if equalopts(p.name, param.name)), None)
    if existing is None:
        if param.variable and any(equalopts(param.name, known) for known in _KNOWN_PARAMS):
            raise _fail(jail, f"variable \"${param.name}\" cannot have the same name as a parameter")
        param.immutable = param.immutable or any(equalopts(param.name, n) for n in _IMMUTABLE)
        params.append(param)
        return
    if existing.variable != param.variable:
        raise _fail(jail, f"variable \"${param.name}\" cannot have the same name as a parameter")
    if existing.immutable:
        raise _fail(jail, f"cannot redefine parameter \"{existing.name}\"")
    existing.name = param.name
    if not param.append or not param.strings:
        existing.strings = []
    existing.strings.extend(param.strings)


def _resolve(jail, params, param, gen):
    """Substitute the references of one parameter (config.c ``find_vars``).

    Returns a parameter that must be resolved first (its own value still has references),
    else ``None`` once ``param`` is fully substituted.
    """
    index = 0
    while index < len(param.strings):
        string = param.strings[index]
        while string.refs:
            pos, ref = string.refs[0]
            source = next((p for p in params if p.name == ref), None)
            if source is None or not source.strings:
                raise _fail(jail, f"{param.name}: variable \"{ref}\" not found")
            if source.gen == gen:
                raise _fail(jail, f"{ref}: variable loop")
            if any(s.refs for s in source.strings):
                return source
            first, *rest = source.strings
            if rest and (string.text or len(string.refs) > 1):
                raise _fail(jail, f"{param.name}: array cannot be substituted inline")
            string.text = string.text[:pos] + first.text + string.text[pos:]
            string.refs = [(p + len(first.text), name) for p, name in string.refs[1:]]
            for extra in rest:  # a list variable alone in a string becomes several strings
                index += 1
                param.strings.insert(index, _CfString(extra.text))
        index += 1
    return None


def _evaluate(collected, name):
    """config.c ``load_config()`` for the one jail ``name`` of ``collected`` (:class:`_Collected`)."""
    jails = collected.jails
    positions = [] if wild_jail_name(name) else collected.by_name.get(name, [])
    matches = [jails[i] for i in positions]
    if not matches:
        raise JailprovError(f"jail \"{name}\" is not defined in the configuration")
    if len(matches) > 1:
        places = ", ".join(j.where for j in matches)
        raise JailprovError(f"jail \"{name}\" is defined {len(matches)} times ({places})")
    jail = matches[0]
    seq = positions[0]

    # The jail's name sets "name", or "jid" when it is a non-zero number (strtol semantics).
    numeric = re.fullmatch(r"\s*[+-]?[0-9]+", name) and int(name) != 0
    params = [_CfParam("jid" if numeric else "name", [_CfString(name)], immutable=True)]
    own_done = False
    for index in collected.wild:
        wild = jails[index]
        if seq < index and not own_done:
            for st in jail.params:
                _add(jail, params, _CfParam.from_param(st))
            own_done = True
        if wild_jail_match(name, wild.name):
            for st in wild.params:
                _add(jail, params, _CfParam.from_param(st))
    if not own_done:
        for st in jail.params:
            _add(jail, params, _CfParam.from_param(st))
    if not any(equalopts(p.name, "name") for p in params):
        params.append(_CfParam("name", [_CfString(name)], immutable=True))

    gen = 0
    index = 0
    while index < len(params):
        param = params[index]
        gen += 1
        param.gen = gen
        while (needed := _resolve(jail, params, param, gen)) is not None:
            needed.gen = gen  # resolve what it refers to first, moved before it as jail(8) does
            params.remove(needed)
            params.insert(params.index(param), needed)
            param = needed
        index = params.index(param) + 1

    return dict(_model(p.name, [s.text for s in p.strings]) for p in params if not p.variable)


def effective_params(doc_or_path, name, read=None):
    """The parameters of jail ``name`` as jail(8) sees them: ``{param: True | False | [str, ...]}``.

    Applies, in jail(8)'s order, the top-level parameters, ``*`` and matching partial wildcard
    sections, and the jail's own block (later wins, ``+=`` appends, ``allow.nomount`` replaces
    ``allow.mount``).  Then ``$var``/``${param}`` references are substituted for this jail,
    wherever they were defined.  Variables are left out, and ``name`` is included.
    ``doc_or_path`` is a :class:`Document` or a path passed to ``read``.
    ``read(pattern) -> [(filename, text), ...]`` expands an ``.include`` glob; see :func:`fs_reader`.
    Raises :class:`JailprovError` where jail(8) would refuse the jail (unknown variable, variable
    loop, redefined ``name``/``jid``, missing include) or when ``name`` is not defined exactly once.
    """
    return _evaluate(_collected(_load(doc_or_path, read), read), name)


def defined_jails(doc_or_path, read=None):
    """Names of all (non-wildcard) jails defined by the file and everything it includes, in order."""
    return list(_collected(_load(doc_or_path, read), read).names)


def fs_reader(root="/"):
    """A ``read`` callback for :func:`effective_params` that reads files under ``root``.

    Patterns and the returned file names are host paths (``/etc/jail.conf.d/web.conf``).  Globs
    expand like glob(3), sorted and without dot files.
    """
    def read(pattern):
        real = os.path.join(_glob.escape(root), pattern.lstrip("/"))
        found = []
        for path in sorted(_glob.glob(real)):
            if os.path.isfile(path):
                with open(path, encoding="utf-8", errors="surrogateescape") as fh:
                    found.append(("/" + os.path.relpath(path, root).replace(os.sep, "/"), fh.read()))
        return found
    return read


def _normal_slashes(path):
    return re.sub(r"/+", "/", path)


def glob_match(pattern, path):
    """Whether glob(3) pattern ``pattern`` (as ``.include`` expands it) matches host path ``path``.

    Runs of ``/`` count as one; ``*``, ``?`` and ``[...]`` never match ``/``; a component starting with
    ``.`` is matched only by a pattern component starting with ``.`` (glob(3) without GLOB_PERIOD).
    """
    pattern_parts = _normal_slashes(pattern).split("/")
    path_parts = _normal_slashes(path).split("/")
    if len(pattern_parts) != len(path_parts):
        return False
    for want, got in zip(pattern_parts, path_parts):
        if got.startswith(".") and not want.startswith("."):
            return False
        if not _fnmatch.fnmatchcase(got, want):
            return False
    return True


def include_covers(doc, including, path):
    """The first top-level ``.include`` pattern of ``doc`` (the file ``including``) that reads ``path``, or
    None.  A relative pattern is relative to the including file's directory, as config.c resolves it."""
    for statement in doc.statements:
        if not isinstance(statement, Include):
            continue
        for pattern in statement.patterns:
            resolved = pattern
            if not resolved.startswith("/") and including and "/" in including:
                resolved = posixpath.join(posixpath.dirname(including), resolved)
            if glob_match(resolved, path):
                return pattern
    return None
