"""The query memo: the answers of read-only host queries (``jls``, ``mount -p``, ``zfs list``...) kept for a run.

A highstate of N prisoners asks the host the same questions once per state; with a memo it asks once per run,
and again only after a command that may have changed the answer.  The interface, all of it:

``QueryMemo()``
    an empty memo, for one run.  Whoever drives the run creates it (the Salt adapter: once per state run, see
    ``salt_jail/states/jailprov.py``) and hands it to :class:`~salt_jail.core.io.host.Host` (``memo=``).
``memo.answer(argv, ask)``
    the kept answer of read-only query ``argv``, or ``ask()``'s (kept when ``ask`` returns; an exception, a
    failed query, is not kept).  :meth:`Host.query` calls it.
``memo.command(argv)``
    tell the memo that ``argv`` is about to run: every answer is dropped unless ``argv`` is known to change
    nothing (:func:`may_change_host`).  :meth:`Host.run` calls it for every command.
``memo.invalidate()``
    drop every answer: something outside this memo's sight may have changed the host (the Salt adapter calls it
    when a state of another module ran between two jailprov states).
``memo.notes``
    a dict of what the run keeps for its later calls besides the host's answers (the validated pillar model,
    test mode's predictions of one step for a later one); it lives as long as the memo and is not emptied by
    :meth:`invalidate`: it holds no answer of the host.

Loader-free: nothing here knows Salt.  How a run is identified and where the memo is kept between the calls of
one run is the adapter's business.
"""

#: Commands that never change the host, whatever their arguments.
_READ_ONLY_TOOLS = frozenset({"jls", "ping"})
#: Subcommands of ``zfs``/``zpool`` that only read.
_READ_ONLY_SUBCOMMANDS = {"zfs": frozenset({"list", "get"}), "zpool": frozenset({"list", "get", "status"})}
#: Options of ``mount``/``ifconfig`` that only list (``mount -p``, ``ifconfig -a``); any operand makes it a change.
_LISTING_OPTIONS = {"mount": frozenset({"-p", "-v"}), "ifconfig": frozenset({"-a", "-l", "-u", "-d"})}

#: Options of ``sysctl`` that only read (``sysctl -n kern.securelevel``).
_SYSCTL_READ_OPTIONS = frozenset({"-n", "-a", "-q", "-N", "-d"})


def may_change_host(argv):
    """Whether running ``argv`` (a tool name or path, then its arguments) may change what a query answers.

    Conservative: only an allow-list of read-only forms says no — ``jls``, ``ping``, ``zfs list|get``,
    ``zpool list|get|status``, ``mount`` and ``ifconfig`` with listing options only, ``sysctl`` reading names
    (no ``name=value``).  Everything else (``jail -c/-r/-m``, ``mount -t``, ``umount``, ``zfs create``,
    ``jexec``, ``service``, ``tar``...) may change the host.
    """
    argv = list(argv)
    if not argv:
        return False
    tool = str(argv[0]).rsplit("/", 1)[-1]
    args = [str(a) for a in argv[1:]]
    if tool in _READ_ONLY_TOOLS:
        return False
    if tool in _READ_ONLY_SUBCOMMANDS:
        sub = next((a for a in args if not a.startswith("-")), None)
        return sub not in _READ_ONLY_SUBCOMMANDS[tool]
    if tool in _LISTING_OPTIONS:
        return any(a not in _LISTING_OPTIONS[tool] for a in args)
    if tool == "sysctl":
        return not args or any("=" in a or (a.startswith("-") and a not in _SYSCTL_READ_OPTIONS) for a in args)
    return True


class QueryMemo:
    """The kept answers of one run's read-only queries (see the module's docstring for the interface)."""

    def __init__(self):
        self._answers = {}
        self.notes = {}

    def answer(self, argv, ask):
        """The kept answer of ``argv``, or ``ask()``'s, kept for the next call (not when ``ask`` raises)."""
        key = tuple(argv)
        try:
            return self._answers[key]
        except KeyError:
            pass
        got = ask()
        self._answers[key] = got
        return got

    def command(self, argv):
        """``argv`` is about to run: drop every answer if it may change the host (:func:`may_change_host`)."""
        if self._answers and may_change_host(argv):
            self._answers.clear()

    def invalidate(self):
        """Drop every answer (not the :attr:`notes`)."""
        self._answers.clear()

    def __len__(self):
        """How many answers are kept."""
        return len(self._answers)

    def __contains__(self, argv):
        return tuple(argv) in self._answers

    def __repr__(self):
        return f"<QueryMemo {len(self._answers)} answers, notes {sorted(self.notes)}>"
