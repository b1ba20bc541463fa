"""rc.conf(5): a byte-preserving editor for its sh assignments, and the host's jail/alias plan (issue 5).

**The syntax.**  rc.conf files are sh scripts that rc.subr's ``load_rc_config`` sources with ``.``.  This
module reads the subset that holds configuration, the way sh reads it:

* a *plain assignment* is a logical line holding one word ``NAME=value`` (optionally followed by ``;``),
  then blanks and an optional ``# comment``.  The value may be bare (``KEY=v``), double-quoted
  (``KEY="v"``, where ``\\`` escapes ``$ ` " \\`` and newline), single-quoted (``KEY='v'``, no escapes) or a
  mix of these; a quoted value may span lines.  ``#`` starts a comment only at the start of a word, so
  ``KEY=a#b`` is ``a#b``, as in sh.
* a key assigned several times has its last value, as in sh.
* every other line (comments, blanks, commands, ``if`` blocks, ...) is kept verbatim.  Such a line is an
  error only when it makes a value ambiguous: when it assigns a key (``export KEY=...``, ``a=1 b=2``,
  ``KEY=$(cmd)``, ``: ${KEY:=...}``, ``unset KEY``, or a plain assignment inside an
  ``if``/``case``/``for``/``while``/``{ }`` block) *after* that key's last plain assignment.  Asking for,
  changing or deleting such a key raises :class:`~salt_jail.core.errors.ParseError` naming file and line;
  other keys are unaffected.  A value with a parameter expansion (``KEY="$other"``) is known to be unknown:
  reading it raises too.  A quote left open at the end of the file is an error (sh cannot read the file).
  Files sourced with ``.`` and here-documents are not followed.

Editing replaces only the bytes of one value (:meth:`RcConf.set` keeps the line's quoting style and
trailing comment), appends ``KEY="value"`` at the end, or removes whole assignment lines; everything else
renders byte for byte as it was read.

**Which files.**  ``load_rc_config NAME`` sources ``/etc/defaults/rc.conf``, ``/etc/rc.conf``,
``/etc/rc.conf.local``, then ``rc.conf.d/NAME`` in ``/etc`` and in ``/usr/local/etc`` (rc.subr); later
files win.  /etc/rc.d/jail loads ``jail``; /etc/rc.d/netif loads ``network`` then ``netif``.  So the jail_*
variables may live in ``/etc/rc.conf.d/jail``, but ``ifconfig_*`` aliases placed there are never seen by
netif: they always go to ``/etc/rc.conf``.  :func:`plan_rc_conf` reads every file of both lists (the caller
passes the texts of those that exist, see :func:`rc_conf_sources`), computes each variable's effective
value across them, and edits only ``host.rc_conf`` and ``/etc/rc.conf``.  A wrong value set in a file read
*after* the one salt_jail edits cannot be fixed there: that is an error naming both files.
(``rc.conf.d/NAME`` as a directory of files is not supported.)

**Aliases and gaps.**  network.subr's ``ifalias_af_common`` enumerates the ``ifconfig_IF_aliasN``
variables that are *set* (``list_vars``, then ``sort_lite -n`` on N) and stops only at one whose value is
empty.  A gap in the numbering is therefore harmless on FreeBSD 10 and later (the old "alias0, alias1, ...
must be contiguous" rule belongs to the while-loop of FreeBSD 8 and earlier).  Hence: a new alias takes
the highest N in use on that interface (in any file netif reads) plus one; existing aliases are never
renumbered; a removed prisoner's alias line is deleted, never blanked, and the gap it leaves is kept.  A
new alias is refused when an alias of that interface is set but empty, because netif would stop there and
never configure it.
"""

import dataclasses
import functools
import ipaddress
import posixpath
import re
import typing

from ..errors import JailprovError, ParseError, ValidationError

# --------------------------------------------------------------------------------------------------
# YES/NO

_YES = ("yes", "true", "on", "1")
_NO = ("no", "false", "off", "0")


def checkyesno(text):
    """What rc.subr's ``checkyesno`` makes of ``text``: True, False, or None when it is neither.

    ``yes``/``true``/``on``/``1`` and ``no``/``false``/``off``/``0`` in any (ASCII) case; rc.subr warns
    about anything else and treats it as NO.
    """
    if not text.isascii():
        return None
    lowered = text.lower()
    if lowered in _YES:
        return True
    if lowered in _NO:
        return False
    return None


def yesno(value):
    """``"YES"`` or ``"NO"`` for a pillar boolean: a YAML bool, 1/0, or yes/no/true/false/on/off in any case.

    Raises :class:`ValidationError` for anything else.
    """
    if isinstance(value, bool):
        truth = value
    elif isinstance(value, int) and value in (0, 1):
        truth = bool(value)
    elif isinstance(value, str):
        truth = checkyesno(value)
    else:
        truth = None
    if truth is None:
        raise ValidationError(f"{value!r} is not a yes/no value (expected true/false, yes/no, on/off or 1/0)")
    return "YES" if truth else "NO"


# --------------------------------------------------------------------------------------------------
# Quoting

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=")
_BARE_SAFE = re.compile(r"[A-Za-z0-9_.,:/@%+=-]+\Z")
_DQUOTE_SPECIAL = re.compile(r'[$`"\\]')


def quote(value, style="double"):
    """``value`` as an sh word that assigns exactly ``value``.

    ``style`` is the quoting to keep when it can hold the value: ``"bare"`` (only for non-empty values of
    ``[A-Za-z0-9_.,:/@%+=-]``), ``"single"`` (values without ``'``); anything else is double-quoted with
    ``$ ` " \\`` escaped.
    """
    if style == "bare" and _BARE_SAFE.match(value):
        return value
    if style == "single" and "'" not in value:
        return f"'{value}'"
    return '"' + _DQUOTE_SPECIAL.sub(r"\\\g<0>", value) + '"'


def _check_key(key):
    if not isinstance(key, str) or not _NAME.match(key):
        raise ValidationError(f"{key!r} is not an rc.conf variable name "
                              "(letters, digits and _, not starting with a digit)")


def _check_value(key, value):
    if not isinstance(value, str) or "\0" in value:
        raise ValidationError(f"{key}: {value!r} is not a string sh can hold (text without NUL bytes)")


# --------------------------------------------------------------------------------------------------
# Lexer: one logical line at a time, with sh's quoting rules.

_OPERATORS = ("&&", "||", ";;", "<<", ">>", "<&", ">&", ">|")
_METACHARS = ";&|<>()"
_REDIRECTIONS = frozenset({"<", ">", "<<", ">>", "<&", ">&", ">|"})
_BLOCK_OPENERS = frozenset({"if", "case", "for", "while", "until", "{"})
_BLOCK_CLOSERS = frozenset({"fi", "esac", "done", "}"})
_COMMAND_LEADERS = frozenset({"then", "do", "else", "elif", "if", "while", "until", "!", "{"})
_TOUCH = re.compile(r"(?<![\w$])([A-Za-z_][A-Za-z0-9_]*):?=")
_TOUCH_BUILTIN = re.compile(r"\b(?:export|readonly|unset|local)((?:[ \t]+-?[A-Za-z_][A-Za-z0-9_]*)+)")
_SPECIAL_PARAMETER = re.compile(r"[A-Za-z0-9_@*#?$!-]")


class _Unterminated(Exception):
    def __init__(self, position, what):
        super().__init__(what)
        self.position = position
        self.what = what


@dataclasses.dataclass
class _Token:
    start: int
    end: int
    op: bool = False
    literal: bool = True  # a word without parameter expansion or command substitution
    cmdsub: bool = False  # a word with $(...) or `...`


def _skip_backquote(text, i):
    j = i + 1
    while j < len(text):
        if text[j] == "\\":
            j += 2
        elif text[j] == "`":
            return j + 1
        else:
            j += 1
    raise _Unterminated(i, "backquote")


def _skip_balanced(text, i, word):
    """Past the ``)`` or ``}`` closing the ``(`` or ``{`` at ``i`` (of ``$(`` / ``${``)."""
    opener = text[i]
    closer = ")" if opener == "(" else "}"
    depth = 0
    j = i
    while j < len(text):
        c = text[j]
        if c == "\\":
            j += 2
            continue
        if c == "'":
            end = text.find("'", j + 1)
            if end < 0:
                raise _Unterminated(j, "single quote")
            j = end + 1
            continue
        if c == '"':
            j = _scan_double_quoted(text, j, word)
            continue
        if c == opener:
            depth += 1
        elif c == closer:
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    raise _Unterminated(i - 1, "$" + opener)


def _scan_dollar(text, i, word):
    nxt = text[i + 1:i + 2]
    if nxt in ("(", "{"):
        word.literal = False
        word.cmdsub = word.cmdsub or nxt == "("
        return _skip_balanced(text, i + 1, word)
    if nxt and _SPECIAL_PARAMETER.match(nxt):
        word.literal = False
    return i + 1


def _scan_double_quoted(text, i, word):
    """Past the ``"`` closing the one at ``i``."""
    j = i + 1
    while j < len(text):
        c = text[j]
        if c == '"':
            return j + 1
        if c == "\\":
            j += 2
        elif c == "`":
            word.literal = False
            word.cmdsub = True
            j = _skip_backquote(text, j)
        elif c == "$":
            j = _scan_dollar(text, j, word)
        else:
            j += 1
    raise _Unterminated(i, "double quote")


def _scan_word_part(text, i, word):
    """Past the character (or quoted string, or expansion) at ``i`` inside a word."""
    c = text[i]
    if c == "\\":
        return min(i + 2, len(text))
    if c == "'":
        end = text.find("'", i + 1)
        if end < 0:
            raise _Unterminated(i, "single quote")
        return end + 1
    if c == '"':
        return _scan_double_quoted(text, i, word)
    if c == "`":
        word.literal = False
        word.cmdsub = True
        return _skip_backquote(text, i)
    if c == "$":
        return _scan_dollar(text, i, word)
    return i + 1


def _scan_logical_line(text, pos):
    """``(end, tokens, comment_start)`` of the logical line starting at ``pos``.

    ``end`` is just past its newline (or the end of the text); quoted newlines and backslash-newline
    continue the line.
    """
    tokens = []
    word = None
    comment = None
    i = pos
    while i < len(text):
        c = text[i]
        if c in " \t\n" or c in _METACHARS:
            if word is not None:
                word.end = i
                tokens.append(word)
                word = None
            if c == "\n":
                return i + 1, tokens, comment
            if c in _METACHARS:
                op = text[i:i + 2] if text[i:i + 2] in _OPERATORS else c
                tokens.append(_Token(i, i + len(op), op=True))
                i += len(op)
            else:
                i += 1
            continue
        if word is None:
            if c == "#":
                comment = i
                newline = text.find("\n", i)
                i = len(text) if newline < 0 else newline
                continue
            word = _Token(i, i)
        i = _scan_word_part(text, i, word)
    if word is not None:
        word.end = len(text)
        tokens.append(word)
    return len(text), tokens, comment


def _block_depth(text, tokens, depth):
    """``depth`` after the ``if``/``case``/``for``/``while``/``{`` openers and closers among ``tokens``."""
    command_position = True
    for token in tokens:
        word = text[token.start:token.end]
        if token.op:
            command_position = word not in _REDIRECTIONS
            continue
        if command_position:
            if word in _BLOCK_OPENERS:
                depth += 1
            elif word in _BLOCK_CLOSERS:
                depth = max(0, depth - 1)
        command_position = word in _COMMAND_LEADERS or (command_position and bool(_ASSIGNMENT.match(word)))
    return depth


def _decode(raw):
    """``(value, style)`` that sh assigns for the value word ``raw`` (quotes removed, escapes applied)."""
    out = []
    kinds = []
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == "'":
            end = raw.index("'", i + 1)
            out.append(raw[i + 1:end])
            kinds.append("single")
            i = end + 1
        elif c == '"':
            i += 1
            while raw[i] != '"':
                if raw[i] == "\\" and raw[i + 1] in '$`"\\\n':
                    if raw[i + 1] != "\n":
                        out.append(raw[i + 1])
                    i += 2
                else:
                    out.append(raw[i])
                    i += 1
            kinds.append("double")
            i += 1
        else:
            if c == "\\":
                if raw[i + 1:i + 2] not in ("", "\n"):
                    out.append(raw[i + 1])
                i += 2
            else:
                out.append(c)
                i += 1
            if not kinds or kinds[-1] != "bare":
                kinds.append("bare")
    if not kinds:
        style = "bare"
    elif len(kinds) == 1:
        style = kinds[0]
    else:
        style = "mixed"
    return "".join(out), style


# --------------------------------------------------------------------------------------------------
# The parsed file


@dataclasses.dataclass(frozen=True)
class Assignment:
    """The effective plain assignment of a key.

    ``value`` is what sh assigns when ``literal``; otherwise (a value with ``$var`` or ``$(...)``) it is
    the value's text as written.  ``style`` is ``double``, ``single``, ``bare`` or ``mixed``.
    """

    key: str
    value: str
    literal: bool
    style: str
    lineno: int


@dataclasses.dataclass(frozen=True)
class _Line:
    text: str
    key: typing.Optional[str] = None  # set for a plain assignment
    value_start: int = 0  # the value word, relative to the line
    value_end: int = 0
    literal: bool = True
    touches: frozenset = frozenset()  # names an opaque line (or a block-level assignment) may assign
    reason: str = ""  # why those assignments are opaque


def _opaque_names(code):
    names = set(_TOUCH.findall(code))
    for group in _TOUCH_BUILTIN.findall(code):
        names.update(word.lstrip("-") for word in group.split())
    return frozenset(names)


def _plain_assignment(text, tokens):
    """``(key, value_start, value_end, literal)`` when ``tokens`` are one ``NAME=value`` word (+ ``;``)."""
    words = tokens
    if words and words[-1].op and text[words[-1].start:words[-1].end] == ";":
        words = words[:-1]
    if len(words) != 1 or words[0].op or words[0].cmdsub:
        return None
    word = words[0]
    match = _ASSIGNMENT.match(text, word.start, word.end)
    if not match:
        return None
    return match.group(1), match.end(), word.end, word.literal


@functools.lru_cache(maxsize=16)
def _parse_lines(text, filename):
    """The lines of ``text`` as a tuple of frozen :class:`_Line` (memoized: a run reads the same rc.conf once
    per state, and every result is immutable, so one parse serves them all)."""
    return tuple(_scan_lines(text, filename))


def _scan_lines(text, filename):
    lines = []
    depth = 0
    pos = 0
    while pos < len(text):
        try:
            end, tokens, comment = _scan_logical_line(text, pos)
        except _Unterminated as err:
            lineno = text.count("\n", 0, err.position) + 1
            raise ParseError(f"unterminated {err.what}: sh cannot read the rest of the file",
                             filename, lineno) from None
        line_text = text[pos:end]
        plain = _plain_assignment(text, tokens) if depth == 0 else None
        if plain:
            key, value_start, value_end, literal = plain
            lines.append(_Line(line_text, key, value_start - pos, value_end - pos, literal))
        else:
            was_in_block = depth > 0
            depth = _block_depth(text, tokens, depth)
            code = text[pos:comment if comment is not None else end]
            if was_in_block or depth > 0:
                reason = "inside an if/case/for/while block or a function"
            elif any(token.cmdsub for token in tokens):
                reason = "with a command substitution"
            else:
                reason = "on a line with other shell commands"
            lines.append(_Line(line_text, touches=_opaque_names(code), reason=reason))
        pos = end
    return lines


#: The last indexes built by :func:`_index`: ``{id(lines): (lines, index)}``.
_INDEXES = {}
_INDEXES_MAX = 16


def _index(lines):
    """``(last, opaque, linenos)`` of ``lines`` (a tuple of :class:`_Line`): the index of each key's last plain
    assignment, the indexes of the opaque lines that may assign each name, and each line's number (one more at
    the end) — built once per text and shared like the parsed lines, so that a lookup does not scan the file (a
    plan looks up every variable; every state reads rc.conf)."""
    kept = _INDEXES.get(id(lines))
    if kept is not None and kept[0] is lines:
        return kept[1]
    last, opaque, linenos = {}, {}, [1]
    for i, line in enumerate(lines):
        if line.key:
            last[line.key] = i
        for name in line.touches:
            opaque.setdefault(name, []).append(i)
        linenos.append(linenos[-1] + line.text.count("\n"))
    if len(_INDEXES) >= _INDEXES_MAX:
        _INDEXES.pop(next(iter(_INDEXES)))
    _INDEXES[id(lines)] = (lines, (last, opaque, linenos))
    return last, opaque, linenos


class RcConf:
    """An rc.conf text: read values, edit them in place, render the text (see the module docstring).

    Build one with :func:`parse`.
    """

    def __init__(self, text, filename=None):
        self.filename = filename
        self._lines = _parse_lines(text, filename)

    def _lookup_index(self):
        """:func:`_index` of the current lines."""
        return _index(self._lines)

    def render(self):
        """The text, byte-identical to the parsed one when nothing was changed."""
        return "".join(line.text for line in self._lines)

    def names(self):
        """Every variable name the text assigns (plainly or not), in order of first appearance."""
        seen = {}
        for line in self._lines:
            for name in ([line.key] if line.key else sorted(line.touches)):
                seen.setdefault(name, None)
        return list(seen)

    def _lineno(self, index):
        return self._lookup_index()[2][index]

    def _last_index(self, key):
        return self._lookup_index()[0].get(key)

    def _ambiguous(self, key, after):
        """ParseError for the first opaque assignment of ``key`` after line index ``after``, or None."""
        for i in self._lookup_index()[1].get(key, ()):
            if i > after:
                line = self._lines[i]
                return ParseError(
                    f"{key} is assigned {line.reason}; salt_jail reads and edits only plain "
                    f'{key}="value" lines outside shell blocks', self.filename, self._lineno(i))
        return None

    def lookup(self, key):
        """The effective :class:`Assignment` of ``key``, or None when the text does not assign it.

        Raises :class:`ParseError` when a line salt_jail does not evaluate may assign ``key`` after its
        last plain assignment.
        """
        index = self._last_index(key)
        error = self._ambiguous(key, -1 if index is None else index)
        if error:
            raise error
        if index is None:
            return None
        line = self._lines[index]
        raw = line.text[line.value_start:line.value_end]
        value, style = _decode(raw) if line.literal else (raw, "mixed")
        return Assignment(key, value, line.literal, style, self._lineno(index))

    def get(self, key, default=None):
        """The value sh gives ``key`` (``default`` when unassigned); ParseError when it cannot be known."""
        found = self.lookup(key)
        if found is None:
            return default
        if not found.literal:
            raise ParseError(f"{key}={found.value} uses shell expansion; salt_jail cannot tell its value",
                             self.filename, found.lineno)
        return found.value

    def set(self, key, value):
        """Give ``key`` the value ``value``; True when the text changed.

        The last assignment is edited in place, keeping its quoting style (when it can hold the value) and
        whatever follows the value on its line; a key not assigned yet is appended as ``key="value"``.
        """
        _check_key(key)
        _check_value(key, value)
        current = self.lookup(key)
        if current is not None and current.literal and current.value == value:
            return False
        if current is not None:
            index = self._last_index(key)
            line = self._lines[index]
            edited = line.text[:line.value_start] + quote(value, current.style) + line.text[line.value_end:]
            texts = [other.text for other in self._lines]
            texts[index] = edited
            self._lines = _parse_lines("".join(texts), self.filename)
            return True
        text = self.render()
        if text and not text.endswith("\n"):
            text += "\n"
        appended = _parse_lines(f"{text}{key}={quote(value)}\n", self.filename)
        if appended[-1].key != key:
            raise ParseError(f"cannot append {key}: the file's last command is not finished "
                             "(an open block or a trailing backslash)", self.filename, self._lineno(len(self._lines)))
        self._lines = appended
        return True

    def set_all(self, items):
        """:meth:`set` for each ``(key, value)`` of ``items``, in order; True when the text changed.  The keys
        not assigned yet are appended together, parsing the text once (not once per key)."""
        items = list(items)
        new = []
        for key, value in items:
            _check_key(key)
            _check_value(key, value)
            if self.lookup(key) is None and key not in dict(new):
                new.append((key, value))
        changed = [self.set(key, value) for key, value in items if (key, value) not in new]
        if not new:
            return any(changed)
        text = self.render()
        if text and not text.endswith("\n"):
            text += "\n"
        appended = _parse_lines(text + "".join(f"{key}={quote(value)}\n" for key, value in new), self.filename)
        if [line.key for line in appended[len(appended) - len(new):]] != [key for key, _ in new]:
            raise ParseError(f"cannot append {new[0][0]}: the file's last command is not finished "
                             "(an open block or a trailing backslash)", self.filename, self._lineno(len(self._lines)))
        self._lines = appended
        return True

    def delete(self, key):
        """Remove every plain assignment line of ``key``; True when the text changed.

        Raises :class:`ParseError` when ``key`` is also assigned in a line salt_jail does not evaluate.
        """
        error = self._ambiguous(key, -1)
        if error:
            raise error
        kept = [line for line in self._lines if line.key != key]
        if len(kept) == len(self._lines):
            return False
        self._lines = _parse_lines("".join(line.text for line in kept), self.filename)
        return True


def parse(text, filename=None):
    """Parse rc.conf ``text``; ``filename`` only names the file in error messages."""
    return RcConf(text, filename)


# --------------------------------------------------------------------------------------------------
# The host plan

RC_CONF = "/etc/rc.conf"
RC_CONF_LOCAL = "/etc/rc.conf.local"
#: The files /etc/rc.d/jail sources (``load_rc_config jail``), in order: a later assignment wins.
JAIL_RC_FILES = (RC_CONF, RC_CONF_LOCAL, "/etc/rc.conf.d/jail", "/usr/local/etc/rc.conf.d/jail")
#: The files /etc/rc.d/netif sources (``load_rc_config network``, then ``netif``), in order.
NETIF_RC_FILES = (RC_CONF, RC_CONF_LOCAL, "/etc/rc.conf.d/network", "/usr/local/etc/rc.conf.d/network",
                  "/etc/rc.conf.d/netif", "/usr/local/etc/rc.conf.d/netif")
#: etc/defaults/rc.conf:724-729, the value of a jail variable nobody sets.
JAIL_DEFAULTS = {"jail_enable": "NO", "jail_parallel_start": "NO", "jail_list": "", "jail_conf": "/etc/jail.conf"}

_IF_PUNCT = re.compile(r"[.\-/+]")  # get_if_var's _punct in network.subr
_ADDRESS_VAR = re.compile(r"(?:ifconfig_(?P<if>.+?)(?:_alias(?P<n>\d+)|_aliases|_ipv6)?|ipv4_addrs_(?P<if4>.+))\Z")
_IFS = re.compile(r"[ \t\n]+")


def rc_conf_sources(cfg):
    """The host paths :func:`plan_rc_conf` reads: rc.d/jail's files, then netif's when ``host.rc_aliases``.

    Pass the texts of those that exist.
    """
    paths = JAIL_RC_FILES + (NETIF_RC_FILES if cfg.host.rc_aliases else ())
    return tuple(dict.fromkeys(paths))


@dataclasses.dataclass(frozen=True)
class RcConfPlan:
    """What :func:`plan_rc_conf` wants: ``files`` maps each host path to change to its new text; ``notes``
    are sentences for the state comment."""

    files: dict
    notes: tuple


class _Layers:
    """The rc.conf files one rc script sources, in order, of which salt_jail edits ``target``."""

    def __init__(self, confs, paths, target):
        self.order = [(path, confs[path]) for path in paths]
        self.target = target

    def conf(self, path):
        return next(conf for name, conf in self.order if name == path)

    def names(self):
        return list(dict.fromkeys(name for _, conf in self.order for name in conf.names()))

    def assigned_in(self, key):
        """The last file that assigns ``key`` in any form, or None."""
        return next((path for path, conf in reversed(self.order) if key in conf.names()), None)

    def effective(self, key):
        """``(path, Assignment)`` of the assignment rc.subr ends up with, or None."""
        for path, conf in reversed(self.order):
            found = conf.lookup(key)
            if found is not None:
                return path, found
        return None

    def value(self, key, default=None):
        """The effective value of ``key``; ParseError when it cannot be known."""
        found = self.effective(key)
        if found is None:
            return default
        return self.conf(found[0]).get(key)

    def known_value(self, key):
        """The effective value of ``key``, or None when it is unset or cannot be known."""
        try:
            return self.value(key)
        except ParseError:
            return None

    def write(self, key, value, notes):
        """Make ``value`` the effective value of ``key`` by editing the target file."""
        self.write_all([(key, value)], notes)

    def write_all(self, items, notes):
        """:meth:`write` for each ``(key, value)`` of ``items`` (distinct keys), in one edit of the target."""
        paths = [path for path, _ in self.order]
        found = [self.effective(key) for key, _ in items]
        for (key, _), where in zip(items, found):
            if where is not None and paths.index(where[0]) > paths.index(self.target):
                path, assignment = where
                raise JailprovError(
                    f"{path}:{assignment.lineno}: {key} set there overrides {self.target} ({path} is read after "
                    f"it), and salt_jail edits only {self.target} (jailprov:host:rc_conf): remove {key} from {path}")
        self.conf(self.target).set_all(items)
        for (key, value), where in zip(items, found):
            if where is not None and where[0] != self.target:
                notes.append(f"{key} in {where[0]} (line {where[1].lineno}) is now overridden by "
                             f'{key}="{value}" in {self.target}, which is read after it.')


def plan_rc_conf(cfg, texts, remove=()):
    """The host's rc.conf changes for ``cfg``: jail_enable, jail_list, jail_parallel_start and aliases.

    ``texts`` maps host paths of :func:`rc_conf_sources` to their current text (leave out files that do
    not exist); ``remove`` names prisoners being destroyed.  Only ``cfg.host.rc_conf`` and, with
    ``host.rc_aliases``, ``/etc/rc.conf`` are edited.  Applying the plan and planning again changes
    nothing.

    * ``jail_enable`` becomes YES unless it already means yes (``yes``, ``on``, ... are kept).
    * ``jail_list``: with ``host.jail_list: auto`` an empty or unset list stays so (it means every jail in
      jail.conf) and a non-empty one gets each present prisoner appended; ``explicit`` also fills an empty
      list.  The admin's names stay first, in order; names compare as whole words; ``remove`` takes names
      out.
    * ``jail_parallel_start`` follows ``host.parallel_start`` unless that is None.
    * ``host.rc_aliases``: one ``ifconfig_<if>_aliasN="inet <ip> netmask 255.255.255.255"`` (IPv6:
      ``"inet6 <ip> prefixlen 128"``) in /etc/rc.conf per prisoner address not configured on the interface
      yet (see the module docstring for numbering and gaps); a removed prisoner's own alias lines go.
    """
    _check_host(cfg)
    remove = frozenset(remove)
    confs = {path: parse(texts.get(path, ""), filename=path) for path in rc_conf_sources(cfg)}
    notes = []
    _plan_jail_variables(cfg, _Layers(confs, JAIL_RC_FILES, cfg.host.rc_conf), remove, notes)
    if cfg.host.rc_aliases:
        _plan_aliases(cfg, _Layers(confs, NETIF_RC_FILES, RC_CONF), remove, notes)
    files = {}
    for path, conf in confs.items():
        new = conf.render()
        if new != texts.get(path, ""):
            files[path] = new
    return RcConfPlan(files, tuple(notes))


def _check_host(cfg):
    errors = []
    if cfg.host.rc_conf not in JAIL_RC_FILES:
        errors.append(f"jailprov:host:rc_conf: {cfg.host.rc_conf} is not read by /etc/rc.d/jail "
                      f"(expected {RC_CONF} or /etc/rc.conf.d/jail)")
    if cfg.host.jail_list not in ("auto", "explicit"):
        errors.append(f"jailprov:host:jail_list: {cfg.host.jail_list!r} (expected auto or explicit)")
    if cfg.host.rc_aliases and not cfg.interface:
        errors.append("jailprov:host:rc_aliases: needs jailprov:interface, the interface that carries the aliases")
    if errors:
        raise ValidationError(errors)


def _managed(cfg, remove):
    return [prisoner for prisoner in cfg.present if prisoner.name not in remove]


def _words(value):
    """``value`` split as sh splits an unquoted expansion (IFS: space, tab, newline)."""
    return [word for word in _IFS.split(value) if word]


def _ensure_yesno(layers, key, wanted, notes):
    if checkyesno(layers.value(key, JAIL_DEFAULTS[key])) is not wanted:
        layers.write(key, "YES" if wanted else "NO", notes)


def _plan_jail_conf(cfg, layers, notes):
    """rc.d/jail reads ``$jail_conf`` (etc/defaults/rc.conf: ``jail_conf="/etc/jail.conf"``) both for its own
    parse and for ``jail -f $jail_conf -c`` at boot: a pillar ``jail_conf`` elsewhere must be in rc.conf, or
    the jails start now (``jail -f PATH``) but not after a reboot.  An administrator's own different
    ``jail_conf`` is left alone, with a note: the jail.conf step refuses to write where rc.d/jail does not read."""
    current = layers.value("jail_conf", JAIL_DEFAULTS["jail_conf"])
    if posixpath.normpath(current) == cfg.jail_conf:
        return
    assigned = layers.effective("jail_conf")
    if assigned is not None and posixpath.normpath(current) != JAIL_DEFAULTS["jail_conf"]:
        path, assignment = assigned
        notes.append(f"{path}:{assignment.lineno}: jail_conf=\"{current}\", so rc.d/jail reads {current}, but "
                     f"jailprov:jail_conf is {cfg.jail_conf}: left alone; set jailprov:jail_conf: {current} in the "
                     f"pillar (or remove jail_conf from {path})")
        return
    layers.write("jail_conf", cfg.jail_conf, notes)


def _plan_jail_variables(cfg, layers, remove, notes):
    _ensure_yesno(layers, "jail_enable", True, notes)
    _plan_jail_conf(cfg, layers, notes)
    if cfg.host.parallel_start is not None:
        _ensure_yesno(layers, "jail_parallel_start", yesno(cfg.host.parallel_start) == "YES", notes)

    words = _words(layers.value("jail_list", JAIL_DEFAULTS["jail_list"]))
    kept = [word for word in words if word not in remove]
    if kept or words or cfg.host.jail_list == "explicit":
        kept += [p.name for p in _managed(cfg, remove) if p.name not in kept]
    if kept != words:
        layers.write("jail_list", " ".join(kept), notes)
        if not kept:
            notes.append("jail_list is now empty, which /etc/rc.d/jail reads as every jail in jail.conf: "
                         "jails you had left out of the list will start at boot.")

    sysvipc = layers.assigned_in("jail_sysvipc_allow")
    if sysvipc:
        notes.append(f"jail_sysvipc_allow in {sysvipc} has no effect on jails defined in jail.conf: "
                     "/etc/rc.d/jail reads it only for obsolete rc.conf-defined jails (with both "
                     "jail_<name>_rootdir and jail_<name>_hostname set). Set `sysvipc: true` for the "
                     "prisoner in the jailprov pillar instead.")
    for prisoner in cfg.present:
        suffix = re.sub(r"[^A-Za-z0-9]", "_", prisoner.name)  # rc.d/jail: tr /. _ | tr -c '[:alnum:]' _
        rootdir = layers.known_value(f"jail_{suffix}_rootdir")
        hostname = layers.known_value(f"jail_{suffix}_hostname")
        if rootdir and hostname:
            notes.append(f"jail_{suffix}_rootdir and jail_{suffix}_hostname are set: /etc/rc.d/jail builds "
                         f"/var/run/jail.{prisoner.name}.conf from the obsolete jail_{suffix}_* variables and "
                         f"ignores jail.conf for {prisoner.name}; remove them.")


def _prisoner_addresses(prisoner):
    addresses = []
    for key, values in (("ip4", prisoner.ip4), ("ip6", prisoner.ip6)):
        for value in values:
            try:
                addresses.append(ipaddress.ip_interface(value).ip)
            except ValueError:
                raise ValidationError(
                    f"jailprov:prisoners:{prisoner.name}:{key}: {value!r} is not an IP address") from None
    return addresses


def _expand(token):
    """The addresses of an ifconfig address argument: ``a.b.c.d[/len]``, IPv6, or a range ``a.b.c.1-9``."""
    address = token.split("/", 1)[0]
    octets = address.split(".")
    ranged = [i for i, octet in enumerate(octets) if "-" in octet]
    try:
        if len(octets) == 4 and len(ranged) == 1:
            low, high = (int(part) for part in octets[ranged[0]].split("-", 1))
            return [ipaddress.IPv4Address(".".join(octets[:ranged[0]] + [str(n)] + octets[ranged[0] + 1:]))
                    for n in range(low, min(high, 255) + 1)]
        return [ipaddress.ip_address(address)]
    except ValueError:
        return []


def _addresses(value):
    """The addresses an ``ifconfig_*``/``ipv4_addrs_*`` value configures.

    Every argument that is an address (or an IPv4 range) counts, with or without the ``inet``/``inet6``
    keyword before it (network.subr and ifconfig(8) accept both), except the one after ``netmask``,
    ``broadcast`` or ``prefixlen``.
    """
    tokens = value.split()
    found = []
    for i, token in enumerate(tokens):
        if not i or tokens[i - 1] not in ("netmask", "broadcast", "prefixlen"):
            found.extend(_expand(token))
    return found


def _alias_value(address):
    if address.version == 4:
        return f"inet {address} netmask 255.255.255.255"
    return f"inet6 {address} prefixlen 128"


def _plan_aliases(cfg, layers, remove, notes):
    vif = _IF_PUNCT.sub("_", cfg.interface)
    own = re.compile(rf"ifconfig_{re.escape(vif)}_alias(\d+)\Z")
    rc_conf = layers.conf(RC_CONF)
    wanted = list(dict.fromkeys(ip for p in _managed(cfg, remove) for ip in _prisoner_addresses(p)))

    # Removal first: delete the rc.conf alias lines holding exactly one removed prisoner's address.
    gone = set()
    for name in sorted(remove):
        prisoner = cfg.prisoners.get(name)
        if prisoner is None:
            notes.append(f"{name} is not in the pillar: its addresses are unknown, so any "
                         f"ifconfig_{vif}_aliasN line for it stays in {RC_CONF}.")
            continue
        gone.update(ip for ip in _prisoner_addresses(prisoner) if ip not in wanted)
    for key in rc_conf.names():
        if own.match(key):
            try:
                value = rc_conf.get(key)
            except ParseError:
                continue
            addresses = _addresses(value) if value is not None else []
            if len(addresses) == 1 and addresses[0] in gone:
                rc_conf.delete(key)

    # What netif configures today, on this interface and elsewhere.
    numbers = []
    here, elsewhere = {}, {}
    empty = None
    for key in layers.names():
        match = _ADDRESS_VAR.match(key)
        if not match:
            continue
        interface = match.group("if") or match.group("if4")
        if interface == vif and match.group("n") is not None:
            numbers.append(int(match.group("n")))
        value = layers.known_value(key)
        if value is None:
            continue
        if interface == vif and match.group("n") is not None and value == "":
            empty = empty or key
        for address in _addresses(value):
            (here if interface == vif else elsewhere).setdefault(address, key)

    missing = [ip for ip in wanted if ip not in here]
    if missing and empty:
        path = layers.effective(empty)[0]
        raise JailprovError(
            f'{path}: {empty}="" is empty, and network.subr stops reading ifconfig_{vif}_aliasN variables at '
            f"an empty one: a new alias after it would never be configured at boot. Remove the {empty} line.")
    number = max(numbers, default=-1) + 1
    for address in missing:
        if address in elsewhere:
            notes.append(f"{address} is also configured by {elsewhere[address]}; it is added to "
                         f"{cfg.interface} as well.")
    layers.write_all([(f"ifconfig_{vif}_alias{number + i}", _alias_value(address))
                      for i, address in enumerate(missing)], notes)
    if wanted:
        notes.append(f"jail.conf sets interface = {cfg.interface}, so jail(8) adds each prisoner address to "
                     f"{cfg.interface} when the jail starts and removes it when the jail stops, including the "
                     f"alias {RC_CONF} configured at boot: after `service jail stop NAME` the address is gone "
                     f"until netif configures {cfg.interface} again.")
