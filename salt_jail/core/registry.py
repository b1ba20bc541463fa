"""The one ordered declaration of jailprov's steps: what runs, in which order, under which name.

Everything that lists steps derives from :data:`PRISONER_STEPS` and :data:`HOST_STEPS`:

- ``jailprov.provision`` (:mod:`salt_jail.core.features.provision`) runs :func:`prisoner_steps` in order;
- the formula: ``jailprov.formula_names`` hands :func:`formula_steps` to ``map.jinja``, ``prisoners.sls``
  renders one state per entry (each requiring the one before it, plus the host states it names) and
  ``running.sls`` requires the last one that gates the start (:func:`last_before_start`);
- the execution and state modules generate one function per prisoner step, named by its id, and keep
  every older name working through :data:`ALIASES`;
- ``jailprov.provision``'s documentation and the README's step table (:func:`readme_table`, checked by a test).

Adding a prisoner step is one :class:`Step` below plus the feature module that implements it.

The step contract (every feature function named here)
------------------------------------------------------
``fn(host, cfg, name, test=False, **options) -> StepResult`` for a prisoner step (``fn(host, cfg, test=False)``
for a host step).  It reads the current state, computes the wanted one (the plan: what would change, the
diff) and applies only the difference — ``test=True`` runs the very same code and stops just before the
first write, so ``changed``, the comment's subject and the diff are the same in a dry run and in a real run.
Comments use the trio "would be changed" / "was changed" / "is already correct".  Errors are
:class:`~salt_jail.core.errors.JailprovError`\\ s naming what was expected; a
:class:`~salt_jail.core.errors.MissingError` says that an earlier step creates what this one works on (a dry
run on a fresh host reports it as a predicted change).  A step that writes below a prisoner's root goes
through :mod:`salt_jail.core.io.textedit` (DESIGN.md, threat model).

Names: a step's id is its SLS id suffix (``jailprov-<prisoner>-<id>``), its execution function
(``jailprov.<id>``) and its state function (``jailprov.<id>``).  The names these functions had before the
registry stay as documented aliases (:data:`ALIASES`) for SLS files and scripts written against them; the
formula calls the state functions by their ids.
"""

import dataclasses
import inspect
import re
import textwrap
import types
import typing

from .features import prisoner as prisoner_
from .features import clock, day2, hostconf, lifecycle, prisoner_files, root, root_password, thin, uid_ranges, zfsprov
from . import release


def _always(cfg, prisoner):  # pylint: disable=unused-argument
    return True


def _thin(cfg, prisoner):  # pylint: disable=unused-argument
    return prisoner.type == "thin"


def _zfs(cfg, prisoner):  # pylint: disable=unused-argument
    return cfg.zfs is not None


@dataclasses.dataclass(frozen=True)
class Step:
    """One prisoner step.

    ``id``: the one name (SLS id suffix, execution and state function).  ``fn``: the feature function the
    execution and state functions call.  ``doc``: what it makes true, for the generated functions' and the
    README's documentation.  ``seed``: the FreeBSD tutorial's step number (or the capability) for the README.
    ``applies(cfg, prisoner)``: whether the prisoner has this step at all (thin-only ``fstab``, ZFS-only
    ``dataset``/``snapshots``).  ``requires``: the host states (SLS ids) the formula makes it require besides the
    prisoner's step before it.  ``fetches``: it takes the release ``fetcher`` and ``progress`` callback.
    ``options``: extra keyword arguments of the execution and state functions, with their defaults.
    ``follow_move``: with a move of the prisoner's root pending, the execution function works on the old root
    (:func:`salt_jail.core.features.day2.step_config`).  ``gates_start``: the prisoner's last state
    (``jailprov-<name>-running``) requires it.  ``provision_fn``: what ``jailprov.provision``, which runs one
    prisoner alone, calls instead of ``fn``.  ``exec_alias``/``state_alias``: the names the functions had before.
    """

    id: str
    fn: typing.Callable
    doc: str
    seed: str = ""
    applies: typing.Callable = _always
    requires: tuple = ()
    fetches: bool = False
    options: tuple = ()
    follow_move: bool = True
    gates_start: bool = True
    provision_fn: typing.Optional[typing.Callable] = None
    exec_alias: typing.Optional[str] = None
    state_alias: typing.Optional[str] = None

    @property
    def summary(self):
        """The first sentence of :attr:`doc` (sentences end with a full stop and two spaces), on one line."""
        return " ".join(self.doc.split(".  ", 1)[0].rstrip(".").split()) + "."


@dataclasses.dataclass(frozen=True)
class HostStep:
    """One host-wide state of the formula (declared here for the documentation and the names; ``host.sls`` and
    ``release.sls`` hold their requisites).  ``sls_id``: its SLS id; ``exec_name``/``state_name``: its functions."""

    id: str
    fn: typing.Callable
    doc: str
    sls_id: str
    exec_name: str
    state_name: str
    seed: str = ""


#: The prisoner steps, in the order ``jailprov.provision`` and the formula run them.
PRISONER_STEPS = (
    Step("dataset", zfsprov.dataset, applies=_zfs, requires=("jailprov-zfs",), fetches=True, seed="zfs",
         provision_fn=zfsprov.provision_dataset, state_alias="dataset_present",
         doc="The prisoner's root is its dataset (``storage: dataset``) or a clone of the release snapshot "
             "(``storage: clone``, ``zfs clone -p``), mounted on its path, with the pillar's ``zfs_properties`` set "
             "locally.  ``storage: directory``: no change.  ``jailprov.provision`` also makes the host's datasets "
             "here (the formula has state ``jailprov-zfs`` for that)."),
    Step("root", day2.ensure_root, seed="1", follow_move=False, provision_fn=root.ensure_root,
         exec_alias="prisoner_root", state_alias="prisoner_root",
         doc="The prisoner's root ``jail_root/NAME`` exists as a root-owned directory (mode 0755).  A pending move "
             "of its root (a new ``jail_root``) is checked here and left to its last state."),
    Step("base", release.install_base, seed="2", requires=("jailprov-release",), fetches=True,
         options=(("force", False),), exec_alias="install_base", state_alias="base_installed",
         doc="The verified release is extracted into the prisoner's root with the system tar (``tar -xpf``), once "
             "(stamped; never re-extracted).  A prisoner stamped with another release is an error (extraction does "
             "not upgrade: use freebsd-update) unless ``force=True``."),
    Step("fstab", thin.fstab, seed="thin", applies=_thin,
         doc="A thin prisoner's ``/etc/fstab.NAME`` lists exactly its read-only nullfs mounts of the release tree, "
             "which jail(8) mounts at every start (``mount.fstab`` in its jail.conf block).  A running prisoner "
             "whose fstab changes is stopped with the old one and started again; a running prisoner whose live "
             "mounts (``mount -p``) differ from a correct fstab fails with the restart it needs."),
    Step("resolv_conf", prisoner_files.resolv_conf, seed="3",
         doc="The prisoner's ``/etc/resolv.conf`` equals the host's (content and mode), with its nameserver lines "
             "replaced by the prisoner's ``resolvers`` when the pillar gives them."),
    Step("syslog", prisoner_files.syslog_console, seed="4", exec_alias="syslog_console", state_alias="syslog_console",
         doc="The ``*.err;kern.warning;auth.notice;mail.crit  /dev/console`` rule of the prisoner's "
             "``/etc/syslog.conf`` is commented out (matched by its fields, never by line number; no other byte "
             "changes)."),
    Step("crontab", prisoner_files.crontab_adjkerntz, seed="5", exec_alias="crontab_adjkerntz",
         state_alias="crontab_adjkerntz",
         doc="The ``adjkerntz -a`` entry of the prisoner's ``/etc/crontab`` is commented out (a jail cannot set "
             "the kernel's clock; only the host needs it)."),
    Step("hosts", prisoner_files.hosts, seed="6",
         doc="The prisoner's ``/etc/hosts`` maps each of its addresses to ``FQDN shortname``; a stale line for the "
             "same hostname or address is replaced, never duplicated."),
    Step("pw_conf", uid_ranges.pw_conf, seed="7",
         doc="The prisoner's ``/etc/pw.conf`` carries its UID/GID range (minuid/maxuid/mingid/maxgid) and "
             "``defaultpasswd``, written as pw(8) writes them; other keys and comments stay."),
    Step("devfs", lifecycle.mount_devfs, seed="8", exec_alias="mount_devfs", state_alias="devfs_mounted",
         doc="devfs is mounted on the prisoner's ``/dev`` with its ruleset in one step (``mount -t devfs -o "
             "ruleset=N``), after checking the ruleset is loaded.  A prisoner with ``mount.devfs`` set is left to "
             "jail(8)."),
    Step("wall_cmos_clock", clock.wall_cmos_clock, seed="9",
         doc="``/etc/wall_cmos_clock`` exists in the prisoner (removed when ``wall_cmos_clock: false``)."),
    Step("localtime", clock.localtime, seed="9",
         doc="The prisoner's ``/etc/localtime`` links to ``/usr/share/zoneinfo/<timezone>``, and that zone file "
             "exists inside the prisoner."),
    Step("root_password", root_password.root_password, seed="9",
         doc="The prisoner's root password hash is the pillar's: pw runs confined to the prisoner, ``jexec NAME "
             "/usr/sbin/pw usermod root -H 0`` when it runs, else in a transient jail on its path (``jail -c "
             "path=ROOT command=/usr/sbin/pw usermod root -H 0``), the hash on stdin (``locked`` → ``-h -``); never "
             "``pw -R`` on a prisoner path.  The hash never appears in argv, logs or the return."),
    Step("snapshots", zfsprov.declared_snapshots, seed="zfs", applies=_zfs, gates_start=False,
         state_alias="snapshots_present",
         doc="The prisoner's declared ``snapshots`` exist (each taken once; never retaken, never removed)."),
)

#: The host-wide states of the formula, in its order (``release.sls``, then ``host.sls``).
HOST_STEPS = (
    HostStep("release", release.fetch_release, sls_id="jailprov-release", exec_name="fetch_release",
             state_name="release_fetched", seed="2",
             doc="The pillar's release is downloaded once, verified against MANIFEST (or the pinned sha256) and "
                 "cached decompressed."),
    HostStep("zfs", zfsprov.host_datasets, sls_id="jailprov-zfs", exec_name="zfs_host", state_name="zfs_host",
             seed="zfs",
             doc="The prisoners' parent dataset is mounted on ``jail_root``; for clone prisoners, the release "
                 "dataset holds the verified release with its snapshot."),
    HostStep("host_pw_conf", uid_ranges.host_pw_conf, sls_id="jailprov-host-pw_conf", exec_name="host_pw_conf",
             state_name="host_pw_conf", seed="7",
             doc="The host's ``/etc/pw.conf`` carries ``jailprov:host:pw_range`` and ``defaultpasswd``."),
    HostStep("rc_conf", hostconf.rc_conf, sls_id="jailprov-host-rc_conf", exec_name="host_rc_conf", state_name="rc_conf",
             seed="10",
             doc="``jail_enable``, ``jail_list``, ``jail_parallel_start`` and (``host:rc_aliases``) the prisoners' "
                 "interface aliases in the host's rc.conf, edited in place."),
    HostStep("unmanaged", hostconf.unmanaged, sls_id="jailprov-host-unmanaged", exec_name="unmanaged",
             state_name="unmanaged_reported",
             doc="Jails on this host that the pillar does not manage are reported, never touched."),
    HostStep("jail_conf", hostconf.new_blocks, sls_id="jailprov-host-jail_conf", exec_name="jail_conf_new",
             state_name="jail_conf_new", seed="10",
             doc="The blocks of every new prisoner are added to the shared jail.conf in one edit; each prisoner's "
                 "``jailprov-NAME-jail_conf`` then finds its block correct (and rewrites a changed one)."),
)

#: ``(kind, old name, step id)`` of every name a prisoner step's function had before the registry
#: (kind ``exec`` or ``state``); the execution and state modules keep each one as an alias of ``jailprov.<id>``.
ALIASES = tuple(
    (kind, old, step.id)
    for step in PRISONER_STEPS
    for kind, old in (("exec", step.exec_alias), ("state", step.state_alias))
    if old and old != step.id
)

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def check(steps=None):
    """Raise ValueError unless every step id and alias is a plain identifier and used once (the formula renders
    them, and the modules define functions by these names)."""
    steps = PRISONER_STEPS if steps is None else steps
    seen = set()
    for step in steps:
        for name in (step.id, step.exec_alias, step.state_alias):
            if name is not None and not _NAME.match(name):
                raise ValueError(f"step name {name!r} is not a lower-case identifier")
        if step.id in seen:
            raise ValueError(f"step id {step.id!r} is declared twice")
        seen.add(step.id)
    return steps


check()


def prisoner_steps(cfg, name):
    """The steps prisoner ``name`` of ``cfg`` has, in order; :class:`ValidationError` unless it is a present
    prisoner of the pillar."""
    prisoner = prisoner_.present(cfg, name)
    return [step for step in PRISONER_STEPS if step.applies(cfg, prisoner)]


def formula_steps(cfg, name):
    """What ``prisoners.sls`` renders for prisoner ``name``: ``[{id, state, requires}]`` in order."""
    return [{"id": step.id, "requires": list(step.requires)}
            for step in prisoner_steps(cfg, name)]


def last_before_start(cfg, name):
    """The id of the prisoner's last step that its ``running`` state requires (None without any)."""
    gating = [step.id for step in prisoner_steps(cfg, name) if step.gates_start]
    return gating[-1] if gating else None


def by_id(step_id):
    """The prisoner step ``step_id`` (KeyError naming the known ones otherwise)."""
    for step in PRISONER_STEPS:
        if step.id == step_id:
            return step
    raise KeyError(f"no prisoner step {step_id!r} (known: {', '.join(s.id for s in PRISONER_STEPS)})")


def order_text():
    """The prisoner steps in order, for documentation: ``dataset [zfs], root, base, fstab [thin], ...``."""
    marks = {_thin: " [thin prisoners]", _zfs: " [with jailprov:zfs]"}
    return ", ".join(step.id + marks.get(step.applies, "") for step in PRISONER_STEPS)


def readme_table():
    """The README's step table (Markdown), generated from the registry; a test checks the README holds it."""
    rows = ["| # | step (SLS id `jailprov-NAME-<step>`) | what it makes true | execution and state function "
            "| older names (aliases) |", "|---|---|---|---|---|"]
    for step in PRISONER_STEPS:
        old = sorted({n for n in (step.exec_alias, step.state_alias) if n and n != step.id})
        rows.append(f"| {step.seed} | `{step.id}` | {step.summary} | `jailprov.{step.id}` | "
                    f"{', '.join(f'`jailprov.{n}`' for n in old) or '—'} |")
    rows += ["", "| # | host state (SLS id) | what it makes true | execution function | state function |",
             "|---|---|---|---|---|"]
    for step in HOST_STEPS:
        rows.append(f"| {step.seed} | `{step.sls_id}` | {' '.join(step.doc.split())} | `jailprov.{step.exec_name}` | "
                    f"`jailprov.{step.state_name}` |")
    return "\n".join(rows).replace("``", "`") + "\n"


# ------------------------------------------------------------------------------------------------
# The functions the execution and state modules generate from the registry
# ------------------------------------------------------------------------------------------------
REQUIRED = inspect.Parameter.empty


def module_function(name, body, params, doc):
    """``body`` (a function defined in the module that publishes it) named ``name``, with the signature ``params``
    (``(argument, default)`` pairs, default :data:`REQUIRED` for a required one) and the docstring ``doc``: Salt's
    loader reads both (argument matching, ``sys.doc``), so a generated function is documented like a written one.

    No wrapper: Salt injects per-call globals (a state's ``__running__``, ``__instance_id__``) into the globals
    of the function it calls, which must be the module's own."""
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    body.__signature__ = inspect.Signature([inspect.Parameter(arg, kind, default=default) for arg, default in params])
    body.__name__ = body.__qualname__ = name
    body.__doc__ = doc
    return body


def alias_function(func, old, kind):
    """A copy of ``func`` (same code, closure and module globals: see :func:`module_function`) under the ``old``
    name it had before the registry, documented as an alias."""
    alias = types.FunctionType(func.__code__, func.__globals__, old, func.__defaults__, func.__closure__)
    alias.__kwdefaults__ = func.__kwdefaults__
    alias.__signature__ = inspect.signature(func)
    alias.__module__ = func.__module__
    alias.__qualname__ = old
    alias.__doc__ = (f"\n    Alias of {'state ' if kind == 'state' else ''}``jailprov.{func.__name__}`` (the name it had "
                     "before the step registry; kept working).\n"
                     + re.sub(rf"\bjailprov\.{func.__name__}(?=[ :])", f"jailprov.{old}", func.__doc__))
    return alias


def doc_text(step):
    """The step's documentation as the first paragraph of a module function's docstring (indented, wrapped)."""
    return textwrap.fill(step.doc, 112, initial_indent="    ", subsequent_indent="    ")


def generate(namespace, kind, make):
    """Define in ``namespace`` (a module's globals) the function ``make(step)`` of every prisoner step under its
    id, then the aliases of ``kind`` (``exec`` or ``state``) of the older names."""
    for step in PRISONER_STEPS:
        namespace[step.id] = make(step)
        namespace[step.id].__module__ = namespace["__name__"]    # so it is: defined there (module_function)
    for alias_kind, old, step_id in ALIASES:
        if alias_kind == kind:
            namespace[old] = alias_function(namespace[step_id], old, kind)
