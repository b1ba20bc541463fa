"""Exceptions raised by the loader-free core.

The Salt modules translate them: ``ValidationError`` and ``JailprovError`` become
``SaltInvocationError`` / ``CommandExecutionError`` in execution functions and
``result: False`` with the message in states.
"""


class JailprovError(Exception):
    """A runtime failure: a command failed, a file is in an odd state, a guard refused."""


class ValidationError(JailprovError):
    """Bad input (pillar or arguments). ``errors`` lists every problem, each naming its key path."""

    def __init__(self, errors):
        if isinstance(errors, str):
            errors = [errors]
        self.errors = list(errors)
        super().__init__("; ".join(self.errors))


class ParseError(JailprovError):
    """A configuration file that cannot be parsed; names file, line and column."""

    def __init__(self, message, filename=None, line=None, column=None):
        self.filename = filename
        self.line = line
        self.column = column
        where = ""
        if filename:
            where += f"{filename}:"
        if line is not None:
            where += f"{line}:"
            if column is not None:
                where += f"{column}:"
        super().__init__(f"{where} {message}".strip() if where else message)
        self.message = message


class CommandError(JailprovError):
    """A command exited non-zero; keeps argv (never secrets), retcode and the tool's own message."""

    def __init__(self, argv, retcode, stdout="", stderr="", what=None):
        self.argv = list(argv)
        self.retcode = retcode
        self.stdout = stdout
        self.stderr = stderr
        msg = (what + ": ") if what else ""
        detail = (stderr or stdout or "").strip()
        msg += f"`{' '.join(self.argv)}` exited {retcode}"
        if detail:
            msg += f": {detail}"
        super().__init__(msg)


class MissingError(JailprovError):
    """Something a step works on does not exist yet (a prisoner root, a base file, a config file).

    In a real run it is an error naming the step that creates it.  In a test run on a fresh host the
    earlier steps *would* create it, so the Salt layer reports the step as a predicted change instead.
    """


class PartialError(JailprovError):
    """A step failed after it had already changed something.

    ``done`` is what it changed (shaped like a state's ``changes``), ``left`` says what is left to do; the
    message carries both, and the Salt state puts ``done`` in its ``changes``.
    """

    def __init__(self, message, done, left=None):
        self.done = dict(done)
        self.left = left
        text = message
        if self.done:
            text += "\nAlready done: " + "; ".join(f"{k}: {v}" for k, v in self.done.items())
        if left:
            text += f"\nLeft to do: {left}"
        super().__init__(text)
