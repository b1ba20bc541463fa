"""Seed step 10: the host's rc.conf and jail.conf from the pillar.

Both files are shared with the administrator: :mod:`rcconf` and :mod:`jailconf` edit them in place and
keep every byte that is not ours.  A prisoner's jail.conf block is rendered from the model in a fixed
order (the tutorial's), parsed back before anything is written — the new text must yield exactly the
intended parameters — and written only on difference.  A *running* prisoner whose block changes keeps
running: the block it was started with is kept first (``jail -r`` takes exec.stop, the alias removal and the
unmounts from the file it is given), and its last state applies the change (:mod:`salt_jail.core.features.day2`).
"""

import os
import posixpath
import re

from . import day2, hostaddr, hostledger, lifecycle, thin, vnet
from ..formats import jailconf, rcconf
from ..io import textedit
from ..errors import JailprovError, PartialError, ValidationError
from ..result import StepResult
from ..io.textedit import Root

SYSVIPC_PARAMS = ("sysvmsg", "sysvsem", "sysvshm")


def block_params(cfg, prisoner):
    """The ordered ``(param, value)`` list of a prisoner's jail.conf block."""
    params = []
    if prisoner.jid is not None:
        params.append(("jid", prisoner.jid))
    params.append(("path", prisoner.path))
    if prisoner.ip4:
        params.append(("ip4.addr", list(prisoner.ip4)))
    if prisoner.ip6:
        params.append(("ip6.addr", list(prisoner.ip6)))
    params.append(("host.hostname", prisoner.hostname))
    if cfg.interface and prisoner.network is None:
        params.append(("interface", cfg.interface))
    params += vnet.block_params(prisoner)
    if prisoner.sysvipc:
        mode = "inherit" if prisoner.sysvipc == "inherit" else "new"
        params += [(p, mode) for p in SYSVIPC_PARAMS if p not in prisoner.params]
    params += thin.block_params(cfg, prisoner)
    params += list(vnet.pillar_params(prisoner).items())
    return params


#: The files rc.d/devfs loads rulesets from, in order (etc/defaults/rc.conf: devfs_rulesets=
#: "/etc/defaults/devfs.rules /etc/devfs.rules"); a later header of the same name wins.
DEVFS_RULES_FILES = ("/etc/defaults/devfs.rules", "/etc/devfs.rules")
_DEVFS_HEADER = re.compile(r"^\s*\[(.*)=([0-9]*)\]")


def devfs_ruleset_numbers(host):
    """``{ruleset name: number}`` from the ``[name=N]`` headers of the host's devfs.rules files, read as
    rc.subr's devfs_rulesets_from_file() reads them (``expr "$line" : "\[\(.*\)=[0-9]*\]"``)."""
    numbers = {}
    for path in DEVFS_RULES_FILES:
        state = textedit.read_text(Root.of_host(host), path.lstrip("/"), missing_ok=True)
        for line in (state.text.splitlines() if state else ()):
            match = _DEVFS_HEADER.match(line)
            if match and match.group(2):
                numbers[match.group(1)] = int(match.group(2))
    return numbers


def _numeric_devfs_ruleset(host, prisoner, params):
    """``params`` with a ``devfs_ruleset`` *name* replaced by its number: jail(8) takes only an integer
    (libjail's jailparam_import(): "non-integer value"), rc.d/devfs knows the names."""
    value = dict(params).get("devfs_ruleset")
    if value is None or isinstance(value, bool) or str(value).strip().isdigit():
        return params
    numbers = devfs_ruleset_numbers(host)
    if not isinstance(value, str) or value not in numbers:
        known = ", ".join(f"{n}={numbers[n]}" for n in sorted(numbers, key=numbers.get)) or "none"
        raise ValidationError([
            f"jailprov:prisoners:{prisoner.name}:params:devfs_ruleset (or jailprov:defaults:params:devfs_ruleset): "
            f"{value!r} is neither a number nor a ruleset named in {' or '.join(DEVFS_RULES_FILES)}; jail(8) "
            f"needs the ruleset's number (rulesets there: {known})"])
    return [(k, numbers[value] if k == "devfs_ruleset" else v) for k, v in params]


def _normal(value):
    """A model value as the parser reports it: True, False, or a list of strings."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)]


def conf_d_path(cfg, name):
    return posixpath.join(posixpath.dirname(cfg.jail_conf), "jail.conf.d", f"{name}.conf")


def conf_d_include(cfg):
    return posixpath.join(posixpath.dirname(cfg.jail_conf), "jail.conf.d", "*.conf")


def _parse(text, path):
    return jailconf.parse(text or "", path)


def _set_block(path, name, params):
    """transform for textedit.edit: set the block, then verify the new text parses back to ``params``."""
    return _set_blocks(path, [(name, params)])


def _set_blocks(path, blocks):
    """transform for textedit.edit: set each ``(name, params)`` block, then verify the new text parses back to
    every block's ``params`` — parsing the text once, however many blocks (a first highstate adds them all)."""
    def transform(old):
        doc = _parse(old, path)
        doc.set_blocks(blocks)
        new = doc.render()
        parsed = {}
        for block in _parse(new, path).blocks():
            parsed.setdefault(block.name, block.body)
        for name, params in blocks:
            got = [(p.key, p.value) for p in (parsed.get(name) or ())]
            want = [(k, _normal(v)) for k, v in params]
            if got != want:
                raise JailprovError(f"{path}: the rendered block for {name} does not parse back to the intended "
                                    f"parameters (wanted {want}, parsed {got}); nothing was written")
        return new, ""
    return transform


def _doc_edit(path, method, arg):
    """transform for textedit.edit: one :class:`jailconf.Document` edit (``remove_block``, ``ensure_include``)."""
    def transform(old):
        doc = _parse(old, path)
        getattr(doc, method)(arg)
        return doc.render(), ""
    return transform


def _drop_block(path, name):
    return _doc_edit(path, "remove_block", name)


def _include(path, pattern, own):
    """transform for textedit.edit: ``.include "pattern";`` in ``path`` unless an ``.include`` there already
    reads ``own`` (the prisoner's jail.conf.d file): jail(8) expands includes with glob(3), so an
    administrator's ``.include "/etc/jail.conf.d/*";`` already defines the prisoner, and a second include
    would define it twice."""
    def transform(old):
        doc = _parse(old, path)
        if jailconf.include_covers(doc, path, own) is None:
            doc.ensure_include(pattern)
        return doc.render(), ""
    return transform


def _edit(host, root, path, transform, test):
    """textedit.edit of a host file, creating it — and its directory (jail.conf.d, rc.conf.d), mode 0755 and
    owned by root:wheel as the base system's /etc directories — when missing."""
    directory = host.path(posixpath.dirname(path))
    if not os.path.isdir(directory):
        if test:
            new, note = transform(None)
            return textedit.EditResult(path.lstrip("/"), path, None, new, None, textedit.DEFAULT_MODE, note)
        os.makedirs(directory, mode=0o755, exist_ok=True)   # a concurrent run may have made it
        os.chmod(directory, 0o755)              # whatever the umask
        if os.geteuid() == 0:
            os.chown(directory, 0, 0)           # root:wheel
        hostledger.note_dir(host, posixpath.dirname(path))   # clean removes it again when empty
    return textedit.edit(root, path.lstrip("/"), transform, test=test, create=True)


def _holds(root, path, name):
    if not os.path.isdir(root.real.rstrip("/") + posixpath.dirname(path)):
        return False
    state = textedit.read_text(root, path.lstrip("/"), missing_ok=True)
    return state is not None and name in _parse(state.text, path).jails()


def _wanted_params(host, cfg, prisoner):
    """The parameters the prisoner's block is written with (what :func:`jail_conf` and :func:`new_blocks`
    both write)."""
    return _numeric_devfs_ruleset(host, prisoner, block_params(cfg, prisoner))


def _plan_jail_conf(host, cfg, prisoner, test):
    """Compute (and unless ``test`` apply) the jail.conf edits; returns ([EditResult], block_changed)."""
    root = Root.of_host(host)
    name = prisoner.name
    params = _wanted_params(host, cfg, prisoner)
    edits, moves = [], []
    own = conf_d_path(cfg, name)
    if cfg.jail_conf_layout == "jail.conf.d":
        target = own
        edits.append(_edit(host, root, cfg.jail_conf, _include(cfg.jail_conf, conf_d_include(cfg), own), test))
        if _holds(root, cfg.jail_conf, name):
            moves.append(textedit.edit(root, cfg.jail_conf.lstrip("/"), _drop_block(cfg.jail_conf, name),
                                       test=test))
    else:
        target = cfg.jail_conf
        if _holds(root, own, name):
            leftover = _parse(textedit.read_text(root, own.lstrip("/")).text, own)
            leftover.remove_block(name)
            if leftover.statements:
                moves.append(textedit.edit(root, own.lstrip("/"), _drop_block(own, name), test=test))
            else:
                moves.append(textedit.ensure_absent(root, own.lstrip("/"), test=test))
    block_edit = _edit(host, root, target, _set_block(target, name, params), test)
    edits += moves + [block_edit]
    return edits, block_edit.changed or any(e.changed for e in moves)


def _check_rc_jail_conf(host, cfg):
    """rc.d/jail starts jails from rc.conf's ``jail_conf``; blocks written elsewhere would never start."""
    root = Root.of_host(host)
    for path in ("/etc/rc.conf.local", "/etc/rc.conf", cfg.host.rc_conf):
        state = textedit.read_text(root, path.lstrip("/"), missing_ok=True)
        value = rcconf.parse(state.text, path).get("jail_conf") if state else None
        if value and posixpath.normpath(value) != cfg.jail_conf:
            raise JailprovError(f"{path} sets jail_conf=\"{value}\", so rc.d/jail reads {value}, but "
                                f"jailprov:jail_conf is {cfg.jail_conf}; set jailprov:jail_conf: {value} in the "
                                "pillar (or remove jail_conf from rc.conf)")


def jail_conf(host, cfg, name, test=False):
    """The prisoner's block in jail.conf (or jail.conf.d/NAME.conf), per ``jail_conf_layout``.

    Blocks of other jails and every byte outside the prisoner's block are kept.  A prisoner is never stopped
    here: before its block is first rewritten, the block it runs with is kept (:func:`day2.keep_started_block`)
    and its last state (:func:`day2.converge`) applies the change live or restarts it, once everything else
    it needs is in place.
    """
    prisoner = cfg.prisoners.get(name)
    if prisoner is None or prisoner.absent:
        raise JailprovError(f"jailprov:prisoners: {name!r} is not a present prisoner of the pillar")
    _check_rc_jail_conf(host, cfg)
    thin.refuse_conversion(host, cfg, prisoner)
    edits, block_changed = _plan_jail_conf(host, cfg, prisoner, test=True)
    changed = any(e.changed for e in edits)
    diff = "".join(e.diff for e in edits if e.changed)
    if not changed:
        return StepResult(False, f"jail.conf entry of {name} is already correct")
    clashes = [e for e in hostaddr.conflicts(host, cfg) if e.startswith(f"jailprov:prisoners:{name}:")]
    if clashes:
        raise ValidationError(clashes)
    files = ", ".join(dict.fromkeys(e.shown for e in edits if e.changed))
    kept = day2.keep_started_block(host, cfg, name, test=test) if block_changed else ""
    running = block_changed and lifecycle.find_running(host, name) is not None
    if not test:
        try:
            hostledger.note(host, _plan_jail_conf(host, cfg, prisoner, test=False)[0])
        except JailprovError as exc:
            left, _ = _plan_jail_conf(host, cfg, prisoner, test=True)
            pending = {e.shown for e in left if e.changed}
            done = [e.shown for e in edits if e.changed and e.shown not in pending]
            raise PartialError(f"cannot write the jail.conf entry of {name}: {exc}",
                               {"files": done, **({"kept": kept} if kept else {})} if done or kept else {},
                               left="write " + ", ".join(sorted(pending))) from None
    comment = f"{files} {'would be' if test else 'was'} changed"
    if running:
        comment += (f"; {name} keeps running on its current configuration until its last state "
                    f"(jailprov-{name}-running) applies the change live or restarts it")
    if kept:
        comment += f" ({kept})"
    return StepResult(True, comment, diff)


def rc_conf(host, cfg, test=False):
    """``jail_enable``, ``jail_list``, ``jail_parallel_start`` and (with ``host.rc_aliases``) the prisoners'
    ``ifconfig_<if>_aliasN`` lines, edited in place."""
    root = Root.of_host(host)
    texts = {}
    for path in rcconf.rc_conf_sources(cfg):
        state = textedit.read_text(root, path.lstrip("/"), missing_ok=True)
        if state is not None:
            texts[path] = state.text
    plan = rcconf.plan_rc_conf(cfg, texts)
    # host.rc_conf may be /etc/rc.conf.d/jail on a host without /etc/rc.conf.d: created like jail.conf.d.
    edits = [_edit(host, root, path, lambda old, new=new: (new, ""), test)
             for path, new in plan.files.items()]
    changed = [e for e in edits if e.changed]
    if not test:
        hostledger.note(host, changed)              # what clean gives back (core/features/clean.py)
    notes = "".join(f"\nNote: {n}" for n in plan.notes)
    if not changed:
        return StepResult(False, "rc.conf jail settings are already correct" + notes)
    files = ", ".join(e.shown for e in changed)
    return StepResult(True, f"{files} {'would be' if test else 'was'} changed{notes}",
                      "".join(e.diff for e in changed))


def unmanaged(host, cfg):
    """Jails defined in the host's jail.conf (and what it includes) or running, that the pillar does not
    manage: reported, never touched."""
    read = jailconf.fs_reader(host.root)
    defined = []
    if read(cfg.jail_conf):
        defined = jailconf.defined_jails(cfg.jail_conf, read=read)
    running = [j["name"] for j in lifecycle.running_jails(host)]
    return [n for n in dict.fromkeys(defined + running) if n not in cfg.prisoners]


def new_blocks(host, cfg, test=False):
    """The blocks of every new prisoner in the shared jail.conf, in one edit: one diff for the file, however
    many prisoners a first highstate adds (each prisoner's :func:`jail_conf` then finds its block correct).

    New: a present prisoner that no configuration file defines yet (neither jail.conf nor its own
    jail.conf.d file) and that is not running, so nothing is stopped or restarted here.  Every other
    prisoner — a changed block, a running jail, a move between layouts — is left to its own
    :func:`jail_conf`.  With ``jail_conf_layout: jail.conf.d`` each prisoner has a file of its own, and
    nothing is done here.  Returns a :class:`StepResult` whose ``data`` lists the prisoners (``added``).
    """
    if cfg.jail_conf_layout == "jail.conf.d":
        return StepResult(False, "jail.conf.d layout: each prisoner's block is in its own file")
    _check_rc_jail_conf(host, cfg)
    root = Root.of_host(host)
    new = [p for p in cfg.present
           if not _holds(root, cfg.jail_conf, p.name) and not _holds(root, conf_d_path(cfg, p.name), p.name)
           and lifecycle.find_running(host, p.name) is None]
    if not new:
        return StepResult(False, f"no new prisoner to add to {cfg.jail_conf}")
    add_all = _set_blocks(cfg.jail_conf, [(p.name, _wanted_params(host, cfg, p)) for p in new])
    edit = _edit(host, root, cfg.jail_conf, add_all, test)
    if not test:
        hostledger.note(host, [edit])
    names = [p.name for p in new]
    if not edit.changed:
        return StepResult(False, f"{cfg.jail_conf} already defines {', '.join(names)}")
    verb = "would be changed" if test else "was changed"
    return StepResult(True, f"{edit.shown} {verb} (the blocks of the new prisoners {', '.join(names)})",
                      edit.diff, data={"added": names})
