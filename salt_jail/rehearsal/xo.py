"""The parts of libxo(3) the stand-ins need: ``--libxo`` parsing and libxo's exact JSON layout.

The JSON writer reproduces libxo's non-pretty output byte for byte (contrib/libxo/libxo/libxo.c):
``{"__version": "2", `` when the first container opens (xo_emit_top()), ``"name": {`` / ``"name": [`` for
containers and lists with ``, `` between siblings, ``"field":value`` with ``,`` between fields, leaf-list
values with ``,``, a newline after closing a top-level container, and ``}\\n`` from xo_finish() (``{ }\\n``
when nothing was opened).  Only the text and JSON styles are simulated.
"""

import json

#: A libxo style the rehearsal does not simulate, or a malformed --libxo argument.
EX_SOFTWARE = 70


class LibxoError(Exception):
    """A --libxo argument libxo refuses (``message`` is libxo's warning) or the rehearsal cannot play."""

    def __init__(self, message, code=1):
        super().__init__(message)
        self.message = message
        self.code = code


def parse_args(argv):
    """xo_parse_args(): ``(style, argv without the --libxo options)``; style is ``text`` or ``json``."""
    style = "text"
    rest = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("--libxo"):
            rest.append(arg)
            i += 1
            continue
        tail = arg[len("--libxo"):]
        if tail == "":
            i += 1
            if i >= len(argv):
                raise LibxoError("missing libxo option")
            spec = argv[i]
        elif tail[0] in ":=":
            spec = tail if tail[0] == ":" else tail[1:]
        else:
            raise LibxoError(f"unknown libxo option: '{arg}'")
        style = _style(spec, style)
        i += 1
    return style, rest


def _style(spec, style):
    if spec.startswith(":"):
        letters = {"J": "json", "T": "text"}
        for letter in spec[1:]:
            if letter not in letters:
                raise LibxoError(f"libxo option ':{letter}' is not simulated by the rehearsal host", EX_SOFTWARE)
            style = letters[letter]
        return style
    for word in spec.split(","):
        name = word.partition("=")[0]
        if name in ("json", "text"):
            style = name
        elif name in ("xml", "html", "pretty", "warn", "xpath", "info", "warn-xml", "columns", "dtrt", "flush",
                      "keys", "ignore-close", "not-first", "no-locale", "no-top", "units", "underscores", "indent"):
            raise LibxoError(f"libxo option '{name}' is not simulated by the rehearsal host", EX_SOFTWARE)
        else:
            raise LibxoError(f"unknown option: '{name}'")
    return style


class JsonWriter:
    """libxo's JSON style for one program run (see the module docstring)."""

    def __init__(self, version=None):
        self.version = version
        self.parts = []
        self.top_emitted = False
        self.stack = [{"kind": "top", "not_first": False}]

    def _frame(self):
        return self.stack[-1]

    def _sibling(self):
        frame = self._frame()
        sep = ", " if frame["not_first"] else ""
        frame["not_first"] = True
        return sep

    def _top(self):
        if not self.top_emitted:
            self.top_emitted = True
            self.parts.append("{")
            if self.version:
                self.parts.append(f'"__version": "{self.version}", ')

    def open_container(self, name):
        self._top()
        self.parts.append(f'{self._sibling()}"{name}": {{')
        self.stack.append({"kind": "container", "not_first": False})

    def open_list(self, name):
        self._top()
        self.parts.append(f'{self._sibling()}"{name}": [')
        self.stack.append({"kind": "list", "not_first": False})

    def open_instance(self):
        self.parts.append(self._sibling() + "{")
        self.stack.append({"kind": "instance", "not_first": False})

    def _comma(self):
        frame = self._frame()
        if frame["not_first"]:
            self.parts.append(",")
        frame["not_first"] = True

    def field(self, name, value, quote=True):
        """A ``"name":value`` member; ``value`` is already formatted (quoted unless ``quote`` is False)."""
        self._comma()
        self.parts.append(f'"{name}":' + (json.dumps(value, ensure_ascii=False) if quote else str(value)))

    def leaf(self, value):
        """One quoted value of the open (leaf-)list."""
        self._comma()
        self.parts.append(json.dumps(value, ensure_ascii=False))

    def close(self):
        """Close the innermost container, list or instance."""
        frame = self.stack.pop()
        end = {"container": "}", "list": "]", "instance": "}"}[frame["kind"]]
        newline = "\n" if frame["kind"] == "container" and len(self.stack) == 1 else ""
        self.parts.append(end + newline)
        self._frame()["not_first"] = True

    def finish(self):
        """xo_finish(): close everything still open; returns the whole output."""
        while len(self.stack) > 1:
            self.close()
        self.parts.append("}\n" if self.top_emitted else "{ }\n")
        return "".join(self.parts)
