"""A state run asks ``jls``/``mount -p`` once, not once per state — and never trusts an answer across a
foreign state (a ``cmd.run`` may have started or stopped a jail) or a command of its own."""

from salt_jail import rehearsal

# A hand-written jail.conf: the running state starts whatever rc.d/jail would start, from this file.
JAIL_CONF = """\
prisoner1 { path = /home/jail/prisoner1; persist; }
prisoner2 { path = /home/jail/prisoner2; persist; }
"""


def _prepare(scratch):
    rehearsal.setup(str(scratch))
    (scratch / "etc" / "jail.conf").write_text(JAIL_CONF)
    for name in ("prisoner1", "prisoner2"):
        (scratch / "home" / "jail" / name).mkdir(parents=True)


def _queries(scratch, since=0):
    argvs = [c["argv"] if isinstance(c, dict) else c for c in rehearsal.commands(str(scratch))[since:]]
    return [a[0] for a in argvs]


def _apply(loaders, sls):
    ret = loaders.modules.state.template_str(sls)
    return {state["__id__"]: state for state in getattr(ret, "raw", ret).values()}


def test_one_jls_for_many_states_and_a_foreign_state_drops_it(loaders, scratch):
    _prepare(scratch)
    bindir = scratch / ".rehearsal" / "bin"
    sls = f"""
start-1:
  jailprov.running:
    - order: 1
    - name: prisoner1
start-2:
  jailprov.running:
    - order: 2
    - name: prisoner2
check-1:
  jailprov.running:
    - order: 3
    - name: prisoner1
check-2:
  jailprov.running:
    - order: 4
    - name: prisoner2
foreign-stop:
  cmd.run:
    - order: 5
    - name: {bindir}/jail -r prisoner1
again-1:
  jailprov.running:
    - order: 6
    - name: prisoner1
"""
    before = len(rehearsal.commands(str(scratch)))
    states = _apply(loaders, sls)
    assert all(s["result"] for s in states.values()), [(k, s["comment"]) for k, s in states.items() if not s["result"]]
    # started (each jail -c empties what was kept), then check-1 and check-2 share one jls
    assert states["start-1"]["changes"] and states["start-2"]["changes"]
    assert not states["check-1"]["changes"] and not states["check-2"]["changes"]
    # the foreign state stopped prisoner1: the kept answer is dropped, prisoner1 is seen stopped and started
    assert states["again-1"]["changes"], states["again-1"]
    tools = _queries(scratch, before)
    # start-1: jls, jail -c, jls (its jid); start-2 reuses that answer: jail -c, jls; check-1 and check-2
    # ask nothing; the foreign jail -r (logged too) drops the answer: again-1 asks jls again
    assert tools == ["jls", "jail", "jls", "jail", "jls", "jail", "jls", "jail", "jls"], tools


def test_direct_calls_always_ask(loaders, scratch):
    _prepare(scratch)
    before = len(rehearsal.commands(str(scratch)))
    loaders.modules.jailprov.list()
    loaders.modules.jailprov.list()
    assert _queries(scratch, before).count("jls") == 2
