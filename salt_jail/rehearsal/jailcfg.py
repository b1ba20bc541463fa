"""jail.conf as jail(8) reads it, for the rehearsal's ``jail`` stand-in: its own reader, not the product's.

Written from FreeBSD's usr.sbin/jail sources and jail.conf(5), and sharing no code with
:mod:`salt_jail.core` (a shared parser would make the stand-in agree with the product by construction):

* the lexer is jaillex.l, rule for rule: flex's longest match (the earlier rule on a tie), the start
  conditions ``_`` and ``DQ`` (the rest of a double-quoted string after a ``$`` variable), ``text2lval()``'s
  backslash escapes, and ``instr``, which makes every piece after the first of one string a ``STR1``/``VAR1``;
* the parser is jailparse.y: ``conf`` is jails ``STR '{' conf '}'`` (nested blocks name ``parent.child``),
  parameters ``name``, ``name = value``, ``name += value`` and ``name value``, and stray ``;``; a value is a
  comma list of strings, a string its pieces; top-level parameters go to one global ``*`` jail, created
  where the first of them appears; ``.include "glob";`` (the ``name value`` form, special_param() and
  config.c include_config()) reads the files a glob matches (none is fine) or the one file named (which must
  exist), at that point -- inside a block, into that block -- at most 32 deep;
* the evaluation is config.c's ``load_config()`` and ``add_param()``: wildcard jails (``*``, ``foo.*``)
  apply in file order around the jail's own parameters, the jail's name sets ``name`` (``jid`` for an
  all-digit name), a parameter set again replaces the earlier value unless appended with ``+=``
  (``equalopts()``: ``allow.nomount`` is ``allow.mount``), ``$var``/``${param}`` references are substituted
  per jail (a variable whose value has references is resolved first; loops, unknown variables and arrays
  inline are errors of that jail), and variables are dropped.

:func:`load` returns the jails of a file, each with its parameters as jail(8) holds them (the name as
last written, the list of strings); syntax errors raise :class:`ConfigError` with jail(8)'s message.
"""

import dataclasses
import re

__all__ = ["ConfigError", "Jail", "equalopts", "load", "wild_jail_match", "wild_jail_name"]


class ConfigError(Exception):
    """The configuration cannot be read; ``str()`` is jail(8)'s message (it then exits 1)."""


@dataclasses.dataclass
class Jail:
    """One jail after load_config(): ``params`` as ``[(name, [value, ...])]``; ``errors`` are the
    jail_warnx() messages that fail it (variables not found, loops, redefined parameters)."""

    name: str
    params: list
    errors: list


# --------------------------------------------------------------------------------------------------
# config.c helpers

def equalopts(opt1, opt2):
    """config.c equalopts(): the same parameter, with or without a ``no`` on any component."""
    if opt1 == opt2:
        return True
    if opt1.startswith("no") and opt1[2:] == opt2:
        return True
    if opt2.startswith("no") and opt1 == opt2[2:]:
        return True
    while "." in opt1:
        p = opt1.index(".") + 1
        if opt1[:p] != opt2[:p]:
            break
        opt1, opt2 = opt1[p:], opt2[p:]
        if opt1.startswith("no") and opt1[2:] == opt2:
            return True
        if opt2.startswith("no") and opt1 == opt2[2:]:
            return True
    return False


def wild_jail_name(name):
    """config.c wild_jail_name(): a ``*`` component makes a wildcard jail."""
    at = name.find("*")
    while at != -1:
        if (at == 0 or name[at - 1] == ".") and (at + 1 == len(name) or name[at + 1] == "."):
            return True
        at = name.find("*", at + 1)
    return False


def wild_jail_match(jname, wname):
    """config.c wild_jail_match(): a non-final ``*`` matches one component, a final one the rest."""
    jc, wc = jname, wname
    while "." in jc and "." in wc:
        jd, wd = jc.index("."), wc.index(".")
        if jc[:jd + 1] != wc[:jd + 1] and not wc.startswith("*."):
            return False
        jc, wc = jc[jd + 1:], wc[wd + 1:]
    return jc == wc or wc == "*"


# --------------------------------------------------------------------------------------------------
# jaillex.l

_ATOM = re.compile(r"[A-Za-z0-9_!%&()\-.:<>?@\[\]^`|~]+|\\(?:[0-7]{1,3}|x[0-9A-Fa-f]{1,2}|.|\n)|[$*+/\\]", re.S)
_WS = re.compile(r"[ \t\r\n]+")
_LINE_COMMENT = re.compile(r"#.*|//.*")
_VAR = re.compile(r"\$[A-Za-z_][A-Za-z_0-9]*")
_BRACED = {"_": re.compile(r"\$\{(?:[^\n{}\\]|\\(?:.|\n))*\}", re.S),
           "DQ": re.compile(r"\$\{(?:[^\n\"{}\\]|\\(?:.|\n))*\}", re.S)}
_BRACED_OPEN = {"_": re.compile(r"\$\{(?:[^\n{}\\]|\\.)*"), "DQ": re.compile(r"\$\{(?:[^\n\"{}\\]|\\.)*")}
_DQ_REST = re.compile(r"[^\"$\\](?:[^\"\\]|\\(?:.|\n))*\"", re.S)
_QUOTED = {"'": re.compile(r"'(?:[^'\\]|\\(?:.|\n))*'", re.S), '"': re.compile(r"\"(?:[^\"\\]|\\(?:.|\n))*\"", re.S)}
_QUOTED_OPEN = {"'": re.compile(r"'(?:[^\n'\\]|\\.)*"), '"': re.compile(r"\"(?:[^\n\"\\]|\\.)*")}

STR, STR1, VAR, VAR1, PLEQ, EOF = "STR", "STR1", "VAR", "VAR1", "PLEQ", "EOF"


@dataclasses.dataclass
class _Token:
    kind: str          # STR STR1 VAR VAR1 PLEQ EOF, or the character itself
    value: str         # the string after text2lval(), or the variable's name
    text: str          # yytext
    line: int          # yylineno after the match


def text2lval(text, triml, trimr, tovar):
    """jaillex.l text2lval(): ``(value, at)``, ``at`` the offset in ``text`` of the first unescaped ``$``
    when ``tovar`` (the value then stops there), else None."""
    out = []
    s, se = triml, len(text) - trimr
    while s < se:
        c = text[s]
        if c != "\\":
            if tovar and c == "$":
                return "".join(out), s
            out.append(c)
            s += 1
            continue
        s += 1
        c = text[s] if s < len(text) else ""
        if "0" <= c <= "7":
            value = int(c)
            for _ in range(2):
                if s + 1 < se and "0" <= text[s + 1] <= "7":
                    s += 1
                    value = 8 * value + int(text[s])
            out.append(chr(value & 0xFF))
        elif c == "x":
            value = 0
            digits = 0
            while digits < 2 and s + 1 < se and text[s + 1] in "0123456789ABCDEFabcdef":
                s += 1
                value = value * 16 + int(text[s], 16)
                digits += 1
            out.append(chr(value))
        elif c == "\n":
            pass                      # a backslash-newline continues the string
        else:
            out.append({"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}.get(c, c))
        s += 1
    return "".join(out), None


class _Lexer:
    def __init__(self, text, filename):
        self.text = text
        self.filename = filename
        self.pos = 0
        self.line = 1
        self.state = "_"
        self.instr = False

    def error(self, message):
        raise ConfigError(f"{self.filename} line {self.line}: {message}")

    def _candidates(self):
        """``(length, rule)`` of every rule matching at the current position (flex picks the longest)."""
        text, pos, found = self.text, self.pos, []

        def add(rule, match):
            if match:
                found.append((match.end() - pos, rule))

        if self.state == "_":
            add("ws", _WS.match(text, pos))
            add("comment", _LINE_COMMENT.match(text, pos))
            if text.startswith("/*", pos):
                end = text.find("*/", pos + 2)
                found.append((end + 2 - pos, "comment") if end != -1 else (len(text) - pos, "open_comment"))
            if text.startswith("+=", pos):
                found.append((2, "pleq"))
            if text[pos] in ",;={}":
                found.append((1, "punct"))
        add("atom", _ATOM.match(text, pos))
        if self.state == "_":
            for quote in "'\"":
                add("quoted", _QUOTED[quote].match(text, pos))
        else:
            add("dq_rest", _DQ_REST.match(text, pos))
            if text[pos] == '"':
                found.append((1, "dq_end"))
        add("var", _VAR.match(text, pos))
        add("braced", _BRACED[self.state].match(text, pos))
        if self.state == "_":
            for quote in "'\"":
                add("open_string", _QUOTED_OPEN[quote].match(text, pos))
        add("open_var", _BRACED_OPEN[self.state].match(text, pos))
        if self.state == "_" and text[pos] != "\n":
            found.append((1, "char"))
        found.append((1, "other"))
        return found

    def _piece(self, kind, value, text):
        piece = _Token((kind + "1") if self.instr else kind, value, text, self.line)
        self.instr = True
        return piece

    def next(self):
        """The next token (jaillex.l's yylex())."""
        while True:
            if self.pos >= len(self.text):
                return _Token(EOF, "", "", self.line)
            candidates = self._candidates()
            best = max(length for length, _ in candidates)
            rule = next(rule for length, rule in candidates if length == best)
            start, text = self.pos, self.text[self.pos:self.pos + best]
            self.pos += best
            self.line += text.count("\n")
            if rule in ("ws", "comment"):
                self.instr = False
            elif rule == "pleq":
                self.instr = False
                return _Token(PLEQ, "+=", text, self.line)
            elif rule == "punct":
                self.instr = False
                return _Token(text, text, text, self.line)
            elif rule == "atom":
                return self._piece(STR, text2lval(text, 0, 0, False)[0], text)
            elif rule == "quoted" and text[0] == "'":
                return self._piece(STR, text2lval(text, 1, 1, False)[0], text)
            elif rule in ("quoted", "dq_rest"):
                value, at = text2lval(text, 1 if text[0] == '"' else 0, 1, True)
                if at is None:
                    self.state = "_"
                else:                                        # BEGIN DQ; yyless(at)
                    self.state = "DQ"
                    self.pos = start + at
                    self.line -= text[at:].count("\n")
                    text = text[:at]
                return self._piece(STR, value, text)
            elif rule == "dq_end":
                self.state = "_"
            elif rule == "var":
                return self._piece(VAR, text2lval(text, 1, 0, False)[0], text)
            elif rule == "braced":
                return self._piece(VAR, text2lval(text, 2, 1, False)[0], text)
            elif rule == "open_comment":
                self.error("unterminated comment")
            elif rule == "open_string":
                self.error("unterminated string")
            elif rule == "open_var":
                self.error("unterminated variable")
            elif rule == "char":
                return _Token(text, text, text, self.line)
            else:                                            # .|\n: BEGIN _; yyless(0)
                self.pos, self.state = start, "_"
                self.line -= text.count("\n")


# --------------------------------------------------------------------------------------------------
# jailparse.y

@dataclasses.dataclass
class _String:
    """cfstring: the text with the variables still to substitute, as ``[name, position]``."""

    text: str
    vars: list


@dataclasses.dataclass
class _Param:
    """cfparam."""

    name: str
    values: list                     # of _String
    var: bool = False                # PF_VAR: $name = ...
    append: bool = False             # PF_APPEND: +=
    nameval: bool = False            # PF_NAMEVAL: "name value" (no = or +=)
    immutable: bool = False          # PF_IMMUTABLE: jid and name
    gen: int = 0
    bad: bool = False


@dataclasses.dataclass
class _CfJail:
    name: str
    params: list
    seq: int = 0


class _Parser:
    MAX_INCLUDE_DEPTH = 32

    def __init__(self, read):
        self.read = read
        self.jails = []
        self.global_jail = None
        self.current = []            # the stack of open jail blocks
        self.depth = 0

    def parse(self, text, filename):
        lexer = _Lexer(text, filename)
        self.tok = lexer.next()
        self.lexer = lexer
        self._conf(nested=False)

    # -- tokens --------------------------------------------------------------------------------------
    def _advance(self):
        tok = self.tok
        self.tok = self.lexer.next()
        return tok

    def _syntax_error(self):
        tok = self.tok
        if tok.kind == EOF:
            raise ConfigError(f"{self.lexer.filename}: unexpected EOF")
        raise ConfigError(f"{self.lexer.filename} line {tok.line}: {tok.text}: syntax error")

    # -- grammar -------------------------------------------------------------------------------------
    def _conf(self, nested):
        while True:
            kind = self.tok.kind
            if kind == EOF and not nested or kind == "}" and nested:
                return
            if kind == ";":
                self._advance()
            elif kind == STR and self._peek_kind() == "{":
                self._jail()
            else:
                param = self._param()
                if self.tok.kind != ";":
                    self._syntax_error()
                self._advance()
                if not self._special(param):
                    self._owner().params.append(param)

    def _peek_kind(self):
        saved = (self.lexer.pos, self.lexer.line, self.lexer.state, self.lexer.instr)
        kind = self.lexer.next().kind
        self.lexer.pos, self.lexer.line, self.lexer.state, self.lexer.instr = saved
        return kind

    def _jail(self):
        name = self._advance().value
        self._advance()                                     # {
        if self.current:
            name = f"{self.current[-1].name}.{name}"
        jail = _CfJail(name, [])
        self.jails.append(jail)
        self.current.append(jail)
        self._conf(nested=True)
        if self.tok.kind != "}":
            self._syntax_error()
        self._advance()
        self.current.pop()

    def _owner(self):
        if self.current:
            return self.current[-1]
        if self.global_jail is None:
            self.global_jail = _CfJail("*", [])
            self.jails.append(self.global_jail)
        return self.global_jail

    def _param(self):
        if self.tok.kind not in (STR, VAR):
            self._syntax_error()
        name_tok = self._advance()
        param = _Param(name_tok.value, [], var=name_tok.kind == VAR)
        if self.tok.kind in ("=", PLEQ):
            param.append = self._advance().kind == PLEQ
            param.values = self._value()
        elif self.tok.kind in (STR, VAR):
            param.nameval = True
            param.values = self._value()
        return param

    def _value(self):
        values = [self._string()]
        while self.tok.kind == ",":
            self._advance()
            values.append(self._string())
        return values

    def _string(self):
        if self.tok.kind not in (STR, VAR):
            self._syntax_error()
        string = _String("", [])
        first = True
        while True:
            tok = self.tok
            if tok.kind == (STR if first else STR1):
                string.text += tok.value
            elif tok.kind == (VAR if first else VAR1):
                string.vars.append([tok.value, len(string.text)])
            else:
                return string
            first = False
            self._advance()

    def _special(self, param):
        """jailparse.y special_param() and config.c include_config(): ``.include "file-or-glob";`` reads, at
        this point (in the open block, if any), each file a glob matches -- none is fine -- or the one file
        named, which must exist.  A relative name is taken from the including file's directory."""
        if param.var or param.append or not param.nameval or param.name != ".include":
            return False
        filename = self.lexer.filename
        for string in param.values:
            if string.vars:
                raise ConfigError(f"{filename} line {self.lexer.line}: variables not permitted in '.include' "
                                  "filename")
            name = string.text
            if not name.startswith("/") and "/" in filename:
                name = filename.rsplit("/", 1)[0] + "/" + name
            if self.depth >= self.MAX_INCLUDE_DEPTH:
                raise ConfigError(f"{name}: maximum {self.MAX_INCLUDE_DEPTH} nested includes")
            found = [(path, _bytes(content)) for path, content in self.read(_text(name))]
            if not found and not any(c in name for c in "*?["):
                raise ConfigError(f"{name}: No such file or directory")
            saved = (self.lexer, self.tok)
            self.depth += 1
            try:
                for path, text in found:
                    self.parse(text, path)
            finally:
                self.depth -= 1
                self.lexer, self.tok = saved
        return True


# --------------------------------------------------------------------------------------------------
# config.c load_config()

def _copy(param):
    return dataclasses.replace(param, values=[_String(s.text, [list(v) for v in s.vars]) for s in param.values],
                               gen=0, bad=False)


def _add_param(jail, params, param, errors):
    """config.c add_param(): append (``+=``) or replace; a ``no`` name replaces the name as written."""
    found = next((q for q in params if equalopts(q.name, param.name)), None)
    if found is None:
        params.append(_copy(param))
        return
    if found.var != param.var:
        errors.append(f'variable "${param.name}" cannot have the same name as a parameter.')
        return
    if found.immutable:
        errors.append(f'cannot redefine parameter "{found.name}".')
        return
    found.name = param.name
    new = _copy(param).values
    if not param.append or not new:
        found.values = []
    found.values += new
    found.append = found.append or param.append


def _resolve(params, errors):
    """The variable substitution of load_config(), in place; returns False when the jail failed."""
    ok = True
    pgen = 0
    i = 0
    while i < len(params):
        p = params[i]
        pgen += 1
        p.gen = pgen
        restart = True
        while restart:
            restart = False
            si = 0
            while si < len(p.values) and not restart:
                s = p.values[si]
                while s.vars:
                    vname, pos = s.vars[0]
                    vp = next((q for q in params if q.name == vname), None)
                    failure = None
                    if vp is None or not vp.values:
                        failure = f'{p.name}: variable "{vname}" not found'
                    elif vp.bad:
                        failure = ""
                    elif vp.gen == pgen:
                        failure = f"{vname}: variable loop"
                    elif any(vs.vars for vs in vp.values):
                        vp.gen = pgen                          # resolve that one first, where p is
                        params.remove(vp)
                        i = params.index(p)
                        params.insert(i, vp)
                        p = vp
                        restart = True
                        break
                    elif len(vp.values) > 1 and (s.text or len(s.vars) > 1):
                        failure = f"{p.name}: array cannot be substituted inline"
                    if failure is not None:
                        if failure:
                            errors.append(failure)
                        ok = False
                        for q in params:
                            if q.gen == pgen:
                                q.bad = True
                        s.vars.pop(0)
                        continue
                    first = vp.values[0].text
                    s.text = s.text[:pos] + first + s.text[pos:]
                    s.vars.pop(0)
                    for later in s.vars:
                        later[1] += len(first)
                    for extra in vp.values[1:]:
                        si += 1
                        p.values.insert(si, _String(extra.text, []))
                si += 1
        i += 1
    return ok


def load(text, filename, read):
    """config.c load_config() on ``text`` (the file ``filename``).  ``read(pattern)`` returns
    ``[(path, text)]`` of the files an ``.include`` glob matches.  Returns the non-wildcard jails in file
    order as :class:`Jail`; raises :class:`ConfigError` for what makes jail(8) exit."""
    parser = _Parser(read)
    parser.parse(_bytes(text), filename)
    wild = []
    real = []
    for seq, jail in enumerate(parser.jails, start=1):
        jail.seq = seq
        (wild if wild_jail_name(jail.name) else real).append(jail)
    out = []
    for jail in real:
        params, errors = [], []
        key = "jid" if _numeric(jail.name) else "name"
        params.append(_Param(key, [_String(jail.name, [])], append=True, immutable=True))
        did_self = False
        for wj in wild:
            if jail.seq < wj.seq and not did_self:
                for param in jail.params:
                    _add_param(jail, params, param, errors)
                did_self = True
            if wild_jail_match(jail.name, wj.name):
                for param in wj.params:
                    _add_param(jail, params, param, errors)
        if not did_self:
            for param in jail.params:
                _add_param(jail, params, param, errors)
        _resolve(params, errors)
        out.append(Jail(_text(jail.name), [(_text(p.name), [_text(s.text) for s in p.values])
                                           for p in params if not p.var], errors))
    return out


def _bytes(text):
    """jail(8) reads bytes: work on them, one character a byte (an escape like ``\\303`` makes a byte)."""
    return text.encode("utf-8", "surrogateescape").decode("latin-1")


def _text(chars):
    """A C string of :func:`_bytes` characters back as text: it ends at the first NUL."""
    return chars.split("\0", 1)[0].encode("latin-1").decode("utf-8", "surrogateescape")


def _numeric(name):
    """``strtol(name, &ep, 10) && !*ep``: a non-zero number with nothing after it."""
    match = re.fullmatch(r"\s*([+-]?\d+)", name)
    return bool(match and int(match.group(1)) != 0)
