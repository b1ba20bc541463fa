"""getopt(3) as FreeBSD's libc implements it, for the stand-ins' option parsing.

Python's :mod:`getopt` differs in the details a strict stand-in must reproduce: FreeBSD stops at the
first operand (no permutation), accepts ``--`` as the end of options, and reports a bad option on
standard error as ``PROG: illegal option -- X`` or ``PROG: option requires an argument -- X`` before the
program's own usage message.  A leading ``:`` in the option string makes getopt(3) silent and lets it
go on past a bad option (returned as ``?``), which ping(8) uses for its first pass over the arguments.
"""


class BadOption(Exception):
    """getopt(3) returned ``?``: an unknown option or a missing argument (already reported unless silenced)."""

    def __init__(self, option):
        super().__init__(option)
        self.option = option


def getopt(argv, optstring, prog, err):
    """Parse ``argv`` (without the program name) like getopt(3).

    Returns ``(options, operands)``: ``options`` is a list of ``(letter, argument_or_None)`` in command-line
    order, ``operands`` the arguments left after the options.  ``err`` is a writable text stream for the
    libc diagnostics; raises :class:`BadOption` where getopt(3) returns ``?``.  With a leading ``:`` a
    bad option is returned as ``("?", letter)`` and parsing goes on (a missing argument still stops it).
    """
    quiet = optstring.startswith(":")
    spec = optstring.lstrip(":")
    options = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        j = 1
        while j < len(arg):
            letter = arg[j]
            where = spec.find(letter)
            if letter == ":" or where < 0:
                if quiet:
                    options.append(("?", letter))
                    j += 1
                    continue
                err.write(f"{prog}: illegal option -- {letter}\n")
                raise BadOption(letter)
            if spec[where + 1:where + 2] == ":":
                if j + 1 < len(arg):
                    value = arg[j + 1:]
                elif i + 1 < len(argv):
                    i += 1
                    value = argv[i]
                else:
                    if not quiet:
                        err.write(f"{prog}: option requires an argument -- {letter}\n")
                    raise BadOption(letter)
                options.append((letter, value))
                break
            options.append((letter, None))
            j += 1
        i += 1
    return options, list(argv[i:])
