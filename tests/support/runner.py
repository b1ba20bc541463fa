"""The tests' one fake command runner: what :class:`~salt_jail.core.io.host.Host` calls instead of running a
FreeBSD tool.

It records every call (argv, stdin, env, cwd, secret) and answers in this order:

1. a *script* (:meth:`FakeRunner.expect`): when one is given, each command must be the next expected one,
   exactly, in order — an unexpected or missing command fails the test (:meth:`FakeRunner.assert_done`);
2. *replies by argv prefix* (:meth:`FakeRunner.on`): the last registered rule whose prefix (or predicate)
   matches the command answers it;
3. the *default reply* given to the constructor; ``None`` makes any other command fail the test.

Commands are matched with the tool by name (``["jail", "-c", ...]``), whatever path ``Host`` gave it
(``/usr/sbin/jail`` or a stand-in's path).  A reply is a :class:`CmdResult`, or a function of the
:class:`Call` that returns one (and may act on the files, as the real tool would).
"""

import dataclasses
import json
import os

from salt_jail.core.io.host import CmdResult


@dataclasses.dataclass
class Call:
    """One command the runner got.  ``argv[0]`` is the tool's path as ``Host`` resolved it."""

    argv: list
    stdin: str = None
    env: dict = None
    cwd: str = None
    secret: bool = False

    @property
    def tool(self):
        """The tool's name (``jail`` for ``/usr/sbin/jail``)."""
        return os.path.basename(self.argv[0])

    @property
    def command(self):
        """The argv with the tool by name: ``["jail", "-c", "p1"]``."""
        return [self.tool] + list(self.argv[1:])


def _matcher(match):
    if callable(match):
        return match
    prefix = list(match)
    return lambda command: command[:len(prefix)] == prefix


def _result(reply, call):
    return reply(call) if callable(reply) else reply


class FakeRunner:
    """A scripted, recording command runner (see the module docstring).

    ``default``: the reply to a command no script entry or rule answers — a :class:`CmdResult`, a function
    of the :class:`Call`, or ``None`` (such a command fails the test).
    """

    def __init__(self, default=lambda call: CmdResult(0)):
        self.default = default
        self.calls = []
        self._rules = []
        self._script = []

    def on(self, match, reply=None, *, stdout="", stderr="", retcode=0):
        """Answer the commands that start with ``match`` (a list: tool by name, then arguments) or for which
        ``match(command)`` is true with ``reply`` (a :class:`CmdResult` or a function of the :class:`Call`),
        by default ``CmdResult(retcode, stdout, stderr)``.  A later rule wins over an earlier one; a reply
        function that returns ``None`` only watched the call and hands it on to the earlier rules."""
        self._rules.append((_matcher(match), CmdResult(retcode, stdout, stderr) if reply is None else reply))
        return self

    def expect(self, match, stdout="", stderr="", retcode=0, effect=None):
        """Expect ``match`` (an exact command, tool by name, or a predicate on it) as the next command; answer
        ``CmdResult(retcode, stdout, stderr)`` after calling ``effect(command)`` when given."""
        self._script.append((match if callable(match) else list(match), CmdResult(retcode, stdout, stderr), effect))
        return self

    def pending(self):
        """The expected commands that have not run yet."""
        return [expected for expected, _, _ in self._script]

    def assert_done(self):
        assert not self._script, f"expected commands that never ran: {self.pending()}"

    def __call__(self, argv, stdin=None, env=None, cwd=None, secret=False):
        call = Call(list(argv), stdin, env, cwd, secret)
        self.calls.append(call)
        command = call.command
        if self._script:
            expected, result, effect = self._script.pop(0)
            assert expected(command) if callable(expected) else command == expected, \
                f"ran {command}, expected {expected}"
            if effect is not None:
                effect(command)
            return result
        for match, reply in reversed(self._rules):
            result = _result(reply, call) if match(command) else None
            if result is not None:
                return result
        assert self.default is not None, f"unexpected command {command}"
        return _result(self.default, call)

    def commands(self, *tools):
        """The commands run (tool by name), only those of ``tools`` when given."""
        return [c.command for c in self.calls if not tools or c.tool in tools]

    @property
    def log(self):
        """Every argv as it was run (``argv[0]`` the tool's path)."""
        return [c.argv for c in self.calls]


def jls_json(jails):
    """``jls -v --libxo json`` output listing ``jails`` (dicts of jls fields)."""
    return json.dumps({"__version": "2", "jail-information": {"jail": list(jails)}})


def play_jails(runner, running, follow_jail=False):
    """Make ``runner`` answer ``jls`` with the jails of ``running`` ({name: path}, which the test may change;
    jid = position + 1).  With ``follow_jail``, ``jail ... -c NAME`` adds NAME (at /home/jail/NAME) and
    ``jail ... -r NAME`` removes it, as the kernel would."""

    def jls(call):
        return CmdResult(0, jls_json({"jid": i + 1, "name": n, "hostname": n, "path": p, "state": "ACTIVE",
                                      "ipv4_addrs": [], "ipv6_addrs": []} for i, (n, p) in enumerate(running.items())))

    def jail(call):
        name = call.argv[-1]
        if "-c" in call.argv:
            running[name] = f"/home/jail/{name}"
        elif "-r" in call.argv:
            del running[name]
        return CmdResult(0)

    runner.on(["jls"], jls)
    if follow_jail:
        runner.on(["jail"], jail)
    return runner
