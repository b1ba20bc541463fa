"""The prisoner steps of the seed procedure (1, 3–7, 9), the host's pw.conf and the UID/GID audit.

Every prisoner step is ``fn(host, cfg, name, test=False) -> StepResult``.  It reads the current state,
computes the wanted one and writes only the difference; ``test=True`` runs the very same code and stops
just before writing, so ``changed``, the comment's subject and the diff are the same in both runs.
Comments use the trio "would be changed" / "was changed" / "is already correct".

Every prisoner step first checks that ``name`` is a present prisoner of the pillar
(:class:`ValidationError` otherwise) and, except step ``root`` which creates it, that the prisoner root
exists as a real directory.  All file access below the prisoner root goes through
:mod:`salt_jail.core.io.textedit`, which resolves paths as the prisoner sees them and never follows a link
out of it.  Prisoner paths passed to commands are host paths (``prisoner.path``).

The rule every step follows (DESIGN.md, threat model): **the host never follows, as root, a path inside a
prisoner that the prisoner's root can change while the step runs.**  Prisoner files go through the
chroot-safe layer above; a tool that must work on the prisoner's own databases (pw for the root password)
runs *confined* — in the running prisoner with ``jexec``, or in a transient jail on the prisoner's path
for that one command when it is stopped — never with ``-R``/``-d``-style root options on a prisoner
path, and no binary of a prisoner's tree ever runs on the host outside a jail.

:data:`STEPS` lists the prisoner steps in seed order for ``provision``.
"""

import ipaddress
import os
import stat

from . import lifecycle, ownership, thin
from ..formats import crontab, passwd, pwconf, syslogconf
from ..io import textedit
from ..tools import jailcmd
from ..formats import hosts as hostsfile
from ..errors import CommandError, JailprovError, MissingError, ValidationError
from ..result import StepResult
from ..io.textedit import Root

#: Where a missing base file comes from.
BASE_HINT = "it is part of the FreeBSD base system, which step 'base' installs"

#: Mode and owner (root:wheel) of a prisoner root.
ROOT_MODE = 0o755


def _prisoner(cfg, name):
    """The present prisoner ``name``, or :class:`ValidationError`."""
    prisoner = cfg.prisoners.get(name)
    if prisoner is None:
        known = ", ".join(cfg.prisoners) or "none"
        raise ValidationError(f"jailprov:prisoners: no prisoner named {name!r} in the pillar (known: {known})")
    if prisoner.absent:
        raise ValidationError(
            f"jailprov:prisoners:{name}: the prisoner is marked absent; it is to be destroyed, not provisioned"
        )
    return prisoner


def _root(host, prisoner):
    """The prisoner root as a :class:`Root`; it must exist and be a real directory (step 'root')."""
    try:
        st = os.lstat(host.path(prisoner.path))
    except FileNotFoundError:
        raise MissingError(
            f"prisoner root {prisoner.path} does not exist; step 'root' (jailprov.prisoner_root {prisoner.name}) creates it"
        ) from None
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise JailprovError(
            f"prisoner root {prisoner.path} is not a directory (a symbolic link or a file); "
            f"step 'root' (jailprov.prisoner_root {prisoner.name}) refuses to use it — remove it"
        )
    return Root(host.path(prisoner.path), prisoner.path)


def _file_result(edit, test):
    """The :class:`StepResult` of one :class:`~salt_jail.core.io.textedit.EditResult`."""
    if not edit.changed:
        comment = f"{edit.shown} is already correct"
    else:
        comment = f"{edit.shown} {'would be' if test else 'was'} changed"
    if edit.note:
        comment += f" ({edit.note})"
    return StepResult(edit.changed, comment, edit.diff)


# --------------------------------------------------------------------------------------------------
# Step 1: the prisoner root


def ensure_root(host, cfg, name, test=False):
    """Step 1: ``jail_root/NAME`` is a directory owned by root:wheel with mode 0755.

    A missing jail_root is created (mode 0755).  An existing jail_root writable by everyone is an error,
    not something fixed silently: any local user could then replace a prisoner root with a symbolic
    link, and the mode of a directory the administrator chose is theirs to change.  A prisoner root
    that is a symbolic link (or a file) is refused, and so is an existing non-empty directory without
    jailprov's install stamp (:mod:`~salt_jail.core.features.ownership`): jailprov adopts nothing silently, so
    ``jail_root: /home`` with a prisoner ``alice`` leaves the user's /home/alice as it was.
    """
    prisoner = _prisoner(cfg, name)
    actions = []
    jail_root = host.path(cfg.jail_root, follow=True)
    try:
        st = os.stat(jail_root)  # host-side links (/home -> /usr/home) are the host admin's
    except FileNotFoundError:
        actions.append(f"create {cfg.jail_root}")
    else:
        if not stat.S_ISDIR(st.st_mode):
            raise JailprovError(f"jail_root {cfg.jail_root} exists and is not a directory")
        if st.st_mode & stat.S_IWOTH:
            raise JailprovError(
                f"jail_root {cfg.jail_root} is writable by everyone (mode {stat.S_IMODE(st.st_mode):04o}): any "
                f"local user could swap a prisoner root for a symbolic link; run `chmod o-w {cfg.jail_root}`"
            )
    real = host.path(prisoner.path)
    try:
        st = os.lstat(real)
    except FileNotFoundError:
        st = None
        actions.append(f"create {prisoner.path} (mode {ROOT_MODE:04o}, root:wheel)")
    else:
        if stat.S_ISLNK(st.st_mode):
            raise JailprovError(
                f"prisoner root {prisoner.path} is a symbolic link to {os.readlink(real)}; refusing to use it "
                "(a prisoner root must be a real directory — remove the link)"
            )
        if not stat.S_ISDIR(st.st_mode):
            raise JailprovError(f"prisoner root {prisoner.path} exists and is not a directory; remove it")
        ownership.refuse_adoption(host, prisoner.path, name, ownership.listing(host, prisoner.path))
        if stat.S_IMODE(st.st_mode) != ROOT_MODE:
            actions.append(f"chmod {stat.S_IMODE(st.st_mode):04o} -> {ROOT_MODE:04o}")
        if (st.st_uid, st.st_gid) != (0, 0):
            actions.append(f"chown {st.st_uid}:{st.st_gid} -> root:wheel")
    if actions and not test:
        try:
            os.makedirs(jail_root, mode=0o755, exist_ok=True)
            if st is None:
                os.mkdir(real, ROOT_MODE)
            fd = os.open(real, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
            try:
                os.fchmod(fd, ROOT_MODE)
                os.fchown(fd, 0, 0)
            finally:
                os.close(fd)
        except OSError as err:
            raise JailprovError(f"cannot set up prisoner root {prisoner.path}: {err.strerror}") from None
    if not actions:
        return StepResult(False, f"prisoner root {prisoner.path} is already correct")
    verb = "would be" if test else "was"
    return StepResult(True, f"prisoner root {prisoner.path} {verb} changed: {'; '.join(actions)}",
                      data={"actions": actions})


# --------------------------------------------------------------------------------------------------
# Steps 3-6: files copied or edited


def resolv_conf(host, cfg, name, test=False):
    """Step 3: the prisoner's ``etc/resolv.conf`` has the content and mode of the host's file -- with its
    ``nameserver`` lines replaced by the prisoner's ``resolvers`` when the pillar gives them.  A copied
    loopback nameserver (a non-VNET prisoner cannot reach the host's) is warned about in the comment."""
    prisoner = _prisoner(cfg, name)
    root = _root(host, prisoner)
    source = cfg.host.resolv_conf
    src = textedit.read_text(
        Root.of_host(host), source,
        hint="step resolv_conf copies it into each prisoner; create it (resolvconf -u, or nameserver lines) "
             "or point jailprov:host:resolv_conf at another file",
    )
    if prisoner.resolvers:
        text = _with_nameservers(src.text, prisoner.resolvers)
        note = f"the host's {source} with jailprov:prisoners:{name}:resolvers as nameservers"
    else:
        text, note = src.text, f"copied from the host's {source}"
    edit = textedit.edit(
        root, "etc/resolv.conf", lambda old: (text, "" if old == text else note),
        test=test, mode=src.mode, create=True,
    )
    result = _file_result(edit, test)
    loopback = [] if prisoner.resolvers or _vnet(prisoner) else _loopback_nameservers(text)
    if loopback:
        result.comment += (
            f"; WARNING: {source} names the nameserver {loopback[0]}, the host's loopback (local_unbound?): "
            f"inside prisoner {name} a loopback address is the prisoner's own first address (sys/kern/kern_jail.c, "
            f"prison_remote_ip4()), where no resolver listens, so DNS fails there. Give it resolvers it can "
            f"reach with jailprov:prisoners:{name}:resolvers (e.g. [192.168.11.1])")
    return result


def _nameserver_lines(text):
    """``(index, address)`` of resolv.conf(5) ``nameserver`` lines (the keyword starts the line)."""
    out = []
    for index, line in enumerate(text.splitlines()):
        words = line.split()
        if len(words) >= 2 and words[0] == "nameserver":
            out.append((index, words[1]))
    return out


def _with_nameservers(text, addresses):
    """``text`` with its nameserver lines replaced by one per address, where the first one was."""
    lines = text.splitlines()
    found = [index for index, _ in _nameserver_lines(text)]
    at = found[0] if found else len(lines)
    kept = [line for index, line in enumerate(lines) if index not in found]
    at -= sum(1 for index in found if index < at)
    kept[at:at] = [f"nameserver {address}" for address in addresses]
    return "\n".join(kept) + "\n"


def _loopback_nameservers(text):
    addresses = []
    for _, address in _nameserver_lines(text):
        try:
            if ipaddress.ip_address(address.split("%", 1)[0]).is_loopback:
                addresses.append(address)
        except ValueError:
            continue
    return addresses


def _vnet(prisoner):
    """A VNET prisoner has a network stack, and a loopback, of its own."""
    return prisoner.params.get("vnet") in (True, "new") or bool(getattr(prisoner, "vnet", False))


def syslog_console(host, cfg, name, test=False):
    """Step 4: the console rule of the prisoner's ``etc/syslog.conf`` is commented out."""
    root = _root(host, _prisoner(cfg, name))
    return _file_result(
        textedit.edit(root, "etc/syslog.conf", syslogconf.comment_console_rule, test=test, hint=BASE_HINT), test
    )


def crontab_adjkerntz(host, cfg, name, test=False):
    """Step 5: the ``adjkerntz -a`` entry of the prisoner's ``etc/crontab`` is commented out."""
    root = _root(host, _prisoner(cfg, name))
    return _file_result(
        textedit.edit(root, "etc/crontab", crontab.comment_adjkerntz, test=test, hint=BASE_HINT), test
    )


def hosts(host, cfg, name, test=False):
    """Step 6: the prisoner's ``etc/hosts`` maps each of its addresses to its FQDN and short name."""
    prisoner = _prisoner(cfg, name)
    root = _root(host, prisoner)
    addresses = list(prisoner.ip4) + list(prisoner.ip6)
    if prisoner.network is not None:  # a VNET prisoner's own addresses (salt_jail.core.features.vnet)
        addresses = [a for a in (prisoner.network.address4, prisoner.network.address6) if a]
    if not addresses:
        return StepResult(False, f"prisoner {name} has no ip4/ip6 address; {root.show('etc/hosts')} left alone")
    edit = textedit.edit(
        root, "etc/hosts",
        lambda old: hostsfile.set_addresses(old, addresses, prisoner.hostname, prisoner.shortname),
        test=test, hint=BASE_HINT,
    )
    return _file_result(edit, test)


# --------------------------------------------------------------------------------------------------
# Step 7: pw.conf and the id audit


def _pw_conf(root, pw_range, defaultpasswd, test):
    values = pwconf.settings(pw_range, defaultpasswd)
    edit = textedit.edit(root, "etc/pw.conf", lambda old: pwconf.set_values(old, values), test=test, create=True)
    return _file_result(edit, test)


def pw_conf(host, cfg, name, test=False):
    """Step 7: the prisoner's ``etc/pw.conf`` carries its pw_range and defaultpasswd."""
    prisoner = _prisoner(cfg, name)
    root = _root(host, prisoner)
    if prisoner.pw_range is None:
        return StepResult(False, f"no pw_range for prisoner {name}; {root.show('etc/pw.conf')} left alone")
    return _pw_conf(root, prisoner.pw_range, prisoner.defaultpasswd, test)


def host_pw_conf(host, cfg, test=False):
    """Step 7 on the host: ``/etc/pw.conf`` carries ``jailprov:host``'s pw_range and defaultpasswd."""
    if cfg.host.pw_range is None:
        return StepResult(False, "no jailprov:host:pw_range; /etc/pw.conf left alone")
    return _pw_conf(Root.of_host(host), cfg.host.pw_range, cfg.host.defaultpasswd, test)


def _parse(root, rel, parser):
    """``parser(text, shown_path)`` of the base file ``rel`` below ``root``."""
    return parser(textedit.read_text(root, rel, hint=BASE_HINT).text, root.show(rel))


def _accounts(root):
    """The parsed ``etc/master.passwd`` and ``etc/group`` below ``root``."""
    return _parse(root, "etc/master.passwd", passwd.parse_master_passwd), _parse(root, "etc/group", passwd.parse_group)


def audit_ids(host, cfg):
    """Step 7's check: UIDs/GIDs shared between the host and the prisoners, or outside their pw_range.

    Reads the host's and every present prisoner's master.passwd and group; changes nothing.  Owners are
    labelled ``host`` and by prisoner name.  A prisoner whose root or account files cannot be read is
    listed under ``skipped`` with the reason.  See :func:`salt_jail.core.formats.passwd.audit_ids` for the rules.
    """
    owners = {"host": (cfg.host.pw_range, *_accounts(Root.of_host(host)))}
    skipped = {}
    for prisoner in cfg.present:
        try:
            owners[prisoner.name] = (prisoner.pw_range, *_accounts(_root(host, prisoner)))
        except JailprovError as err:
            skipped[prisoner.name] = str(err)
    report = passwd.audit_ids(owners)
    report["skipped"] = skipped
    return report


# --------------------------------------------------------------------------------------------------
# Step 9: inside the prisoner


def wall_cmos_clock(host, cfg, name, test=False):
    """Step 9: ``etc/wall_cmos_clock`` exists when the pillar says the CMOS clock keeps local time.

    adjkerntz(8) reads only the file's presence.  ``wall_cmos_clock: false`` in the pillar removes it,
    so the pillar fully decides.
    """
    prisoner = _prisoner(cfg, name)
    root = _root(host, prisoner)
    rel = "etc/wall_cmos_clock"
    if prisoner.wall_cmos_clock:
        edit = textedit.edit(
            root, rel,
            lambda old: ("", "created: the CMOS clock keeps local time") if old is None else (old, ""),
            test=test, create=True,
        )
    else:
        edit = textedit.ensure_absent(root, rel, test=test)
    return _file_result(edit, test)


def localtime(host, cfg, name, test=False):
    """Step 9: ``etc/localtime`` is a symlink to ``/usr/share/zoneinfo/<timezone>``, and that zone file
    exists inside the prisoner (checked as the prisoner resolves it)."""
    prisoner = _prisoner(cfg, name)
    root = _root(host, prisoner)
    if prisoner.timezone is None:
        return StepResult(False, f"no timezone for prisoner {name}; {root.show('etc/localtime')} left alone")
    zone = f"usr/share/zoneinfo/{prisoner.timezone}"
    if not textedit.is_regular_file(thin.base_view(host, cfg, prisoner, root), zone):
        raise JailprovError(
            f"time zone {prisoner.timezone!r} is not installed in prisoner {name}: {root.show(zone)} does not "
            "exist inside the prisoner (check the name, e.g. Asia/Tokyo, and that base is installed)"
        )
    return _file_result(textedit.ensure_symlink(root, "etc/localtime", "/" + zone, test=test), test)


def _root_hash(root):
    user = passwd.find_user(_parse(root, "etc/master.passwd", passwd.parse_master_passwd), "root")
    if user is None:
        raise JailprovError(f"{root.show('etc/master.passwd')} has no root account")
    return user.password


def root_password(host, cfg, name, test=False):
    """Step 9: root's password hash in the prisoner equals the pillar's (``locked`` = ``*``).

    Compares with the hash in the prisoner's ``etc/master.passwd`` (read through the chroot-safe file
    layer) and, when different, runs pw(8) **confined to the prisoner** with the hash on stdin
    (``-h -`` for ``locked``, which sets ``*``): ``jexec NAME /usr/sbin/pw usermod root -H 0`` in the
    running prisoner, or, when it is stopped, in a transient jail on its path for that one command
    (:func:`~salt_jail.core.tools.jailcmd.transient_jail_argv`: ``jail -c path=ROOT command=/usr/sbin/pw ...``;
    jail(8) passes its standard input to the command and removes the jail when it exits).

    The rule (DESIGN.md, threat model): the host never follows, as root, a path inside a prisoner that
    the prisoner's root can change while the step runs.  ``pw -R ROOT`` (and ``pwd_mkdb -d``) resolve
    ``ROOT/etc/master.passwd`` as plain host paths: a prisoner that swaps its ``etc`` for a link to
    ``../../../etc`` after any check and before pw opens it makes pw rewrite the host's own
    master.passwd.  Confined, pw resolves every path inside the prisoner's root, so such a link can
    only lead back into the prisoner.  The pw that runs is the prisoner's own, in the jail: a prisoner
    that replaced it can only lie about success, which the read-back catches.
    The hash never appears in argv, comments, diffs, data or errors.
    """
    prisoner = _prisoner(cfg, name)
    root = _root(host, prisoner)
    if prisoner.root_password is None:
        return StepResult(False, f"no root_password for prisoner {name}; root's password left alone")
    locked = prisoner.root_password == "locked"
    wanted = "*" if locked else prisoner.root_password
    if _hash_is(_root_hash(root), wanted):
        return StepResult(False, f"root password of prisoner {name} is already correct")
    what = "locked (set to *)" if locked else "changed"
    if test:
        return StepResult(True, f"root password of prisoner {name} would be {what}")
    pw = jailcmd.pw_root_password_argv(locked)
    running = lifecycle.find_running(host, name)
    if running is not None:
        argv = jailcmd.jexec_argv(name, pw, login=False)
    else:
        argv = jailcmd.transient_jail_argv(prisoner.path, pw)
    res = host.run(argv, stdin=None if locked else wanted + "\n", secret=True)
    if not res.ok:
        raise CommandError(
            argv, res.retcode, _scrub(res.stdout, wanted), _scrub(res.stderr, wanted),
            what=f"setting the root password of prisoner {name}",
        )
    if not _hash_is(_root_hash(root), wanted):
        raise JailprovError(
            f"`{' '.join(argv)}` succeeded but root's password in {root.show('etc/master.passwd')} did not change"
        )
    return StepResult(True, f"root password of prisoner {name} was {what}")


def _hash_is(current, wanted):
    """Whether root's hash ``current`` is what ``wanted`` asks for.  ``*`` (locked) is met by any hash that
    starts with ``*``: ``pw usermod -h -`` leaves such a hash alone (usr.sbin/pw/pw_user.c, pw_set_passwd():
    ``if (!pwd->pw_passwd || *pwd->pw_passwd != '*') pwd->pw_passwd = "*";``), e.g. ``*LOCKED*$6$...``
    from ``pw lock``, and no crypt(3) hash starts with ``*``, so none of them lets anyone log in."""
    return current.startswith("*") if wanted == "*" else current == wanted


def _scrub(text, secret):
    return (text or "").replace(secret, "<hash>")


# --------------------------------------------------------------------------------------------------
# VNET: the prisoner's own network configuration (salt_jail.core.features.vnet)


def network(host, cfg, name, test=False):
    """A VNET prisoner's ``etc/rc.conf`` holds its interface, address and default routes; when it runs, its
    live address and routes are changed to match (``jexec NAME ifconfig``/``route``).  Shared-IP: no change."""
    from . import lifecycle, vnet  # pylint: disable=import-outside-toplevel

    prisoner = _prisoner(cfg, name)
    if prisoner.network is None:
        return vnet.prisoner_network(host, cfg, name, None, test=test)
    root = _root(host, prisoner)
    running = lifecycle.find_running(host, name) is not None
    return vnet.prisoner_network(host, cfg, name, root, test=test, running=running)


#: The prisoner steps in seed order, as ``(step_id, function)``.
STEPS = (
    ("root", ensure_root),
    ("resolv_conf", resolv_conf),
    ("syslog", syslog_console),
    ("crontab", crontab_adjkerntz),
    ("hosts", hosts),
    ("pw_conf", pw_conf),
    ("wall_cmos_clock", wall_cmos_clock),
    ("localtime", localtime),
    ("root_password", root_password),
)
